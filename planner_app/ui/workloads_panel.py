"""The workloads panel: where requests come from, how fast, and what they must meet.

A list of the topology's workloads with Add/Remove, and a form for the chosen
one (source device, consumer, model, rate, input shapes, SLO, accuracy budget,
privacy). Edits are validated like the inspector's and are undoable.
"""

from __future__ import annotations

__all__ = ["WorkloadsPanel", "WORKLOAD_FIELDS", "BROWSE_MODEL", "parse_shapes", "format_shapes"]

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from planner_app.core.models import SAMPLE_MODELS
from planner_app.core.topology.records import Workload
from planner_app.ui.commands import AddWorkloadCommand, EditWorkloadCommand, RemoveWorkloadCommand
from planner_app.ui.document import TopologyDocument
from planner_app.ui.forms import FieldSpec, RecordForm
from planner_app.ui.inspector import validated_update
from planner_app.ui.workload_checks import WorkloadProblem

WORKLOAD_FIELDS = [
    FieldSpec("name", "Name", "text"),
    FieldSpec("source", "Source device", "choice", tooltip="where the raw input is produced"),
    FieldSpec("consumer", "Result to", "choice", tooltip="device that consumes the result (default: the source)"),
    FieldSpec("model", "Model", "edit_choice",
              tooltip="The model this workload plans: one of the loaded models, a sample (sample:NAME), an ONNX "
                      "file path (relative to the topology file), or Browse… for a file"),
    FieldSpec("rate_rps", "Rate", "float", 0.001, 1e6, 3, " req/s"),
    FieldSpec("input_shapes", "Input shapes", "text", tooltip="name: 1x3x224x224; other: 1x128"),
    FieldSpec("slo_ms", "Latency SLO", "optional_float", 0, 1e6, 1, " ms"),
    FieldSpec("accuracy_budget_pct", "Accuracy budget", "optional_float", -1, 100, 2, " %",
              tooltip="largest allowed loss of top-1 agreement vs fp32; 'none' = no limit"),
    FieldSpec("privacy", "Privacy", "choice", choices=["none", "raw_input_in_zone"],
              tooltip="raw_input_in_zone: the raw input never leaves the source's privacy zone"),
    FieldSpec("private_tensors", "Private tensors", "text", tooltip="comma-separated tensor names that must stay in the zone"),
]

_SAME_AS_SOURCE = "(same as source)"
#: the model combo's last entry: choose an ONNX file
BROWSE_MODEL = "Browse…"
_BLANK_FORM = {"name": "", "source": "", "consumer": "", "model": "", "rate_rps": 1.0, "input_shapes": "",
               "slo_ms": None, "accuracy_budget_pct": None, "privacy": "none", "private_tensors": ""}


def parse_shapes(text: str) -> dict[str, list[int]]:
    """``"x: 1x3x224x224; y: 1x10"`` → ``{"x": [1, 3, 224, 224], "y": [1, 10]}``.

    Raises ValueError naming the part that does not parse.
    """
    out: dict[str, list[int]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        m = re.fullmatch(r"([^:]+):\s*(\d+(?:\s*[x×,]\s*\d+)*)", part)
        if not m:
            raise ValueError(f"cannot read {part!r}: write name: 1x3x224x224 (parts separated by ';')")
        out[m.group(1).strip()] = [int(v) for v in re.split(r"\s*[x×,]\s*", m.group(2))]
    return out


def format_shapes(shapes: dict[str, list[int]]) -> str:
    """The inverse of :func:`parse_shapes`."""
    return "; ".join(f"{k}: {'x'.join(map(str, v))}" for k, v in shapes.items())


class WorkloadsPanel(QWidget):
    """List, add, remove and edit the workloads of a document."""

    def __init__(self, doc: TopologyDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.problems: list[WorkloadProblem] = []
        self.list = QListWidget(self)
        self.add_button = QPushButton("Add", self)
        self.remove_button = QPushButton("Remove", self)
        self.form = RecordForm(WORKLOAD_FIELDS, self, columns=2)
        #: asks for a model file (the window sets it; None: Browse… is not offered)
        self.model_browser: Callable[[], str | None] | None = None
        self._loaded_models: list[str] = []
        self.model_combo.activated.connect(self._on_model_activated)
        self.set_model_choices([])
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        left.addLayout(buttons)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 4, 4, 4)
        row.addLayout(left, 1)
        row.addWidget(scroll, 2)
        self.add_button.clicked.connect(self.add_workload)
        self.remove_button.clicked.connect(self.remove_current)
        self.list.currentRowChanged.connect(lambda _row: self._show_current())
        self.form.edited.connect(self._on_edited)
        doc.workloadsChanged.connect(self._reload)
        doc.topologyReset.connect(self._reload)
        doc.deviceAdded.connect(lambda _id: self._reload())
        doc.deviceRemoved.connect(lambda _id: self._reload())
        doc.itemsRemoved.connect(lambda *_ids: self._reload())
        doc.itemsInserted.connect(lambda *_ids: self._reload())
        self._reload()

    # -- the model field ---------------------------------------------------------------------
    @property
    def model_combo(self) -> QComboBox:
        combo = self.form.editors["model"]
        assert isinstance(combo, QComboBox)
        return combo

    def set_model_choices(self, loaded: list[str]) -> None:
        """Offer the ``loaded`` models first, then every sample, then Browse… (the text typed stays)."""
        self._loaded_models = list(dict.fromkeys(loaded))
        samples = [f"sample:{n}" for n in SAMPLE_MODELS if f"sample:{n}" not in self._loaded_models]
        combo = self.model_combo
        wanted = self._loaded_models + samples + [BROWSE_MODEL]
        if [combo.itemText(i) for i in range(combo.count())] == wanted:
            return
        text = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(self._loaded_models + samples)
        for i in range(len(self._loaded_models)):
            combo.setItemData(i, "loaded in the Model panel", Qt.ItemDataRole.ToolTipRole)
        if self._loaded_models:
            combo.insertSeparator(len(self._loaded_models))
        combo.addItem(BROWSE_MODEL)
        combo.setEditText(text)
        combo.blockSignals(False)

    def _on_model_activated(self, index: int) -> None:
        if self.model_combo.itemText(index) != BROWSE_MODEL:
            return
        row = self.list.currentRow()
        current = self.doc.topology.workloads[row].model or "" if 0 <= row < len(self.doc.topology.workloads) else ""
        path = self.model_browser() if self.model_browser is not None else None
        self.form.set_values({"model": path or current})
        if path:
            self._on_edited("model", path, merge=False)

    # -- showing -----------------------------------------------------------------------------
    def _reload(self) -> None:
        row = max(0, self.list.currentRow())
        names = [f"{w.name}  ({w.source}, {w.rate_rps:g} req/s)" for w in self.doc.topology.workloads]
        self.list.blockSignals(True)
        if [self.list.item(i).text() for i in range(self.list.count())] != names:
            self.list.clear()
            self.list.addItems(names)
        self.list.setCurrentRow(min(row, len(names) - 1))
        self.list.blockSignals(False)
        self._colour_rows()
        devices = [d.id for d in self.doc.topology.devices]
        for name, extra in (("source", []), ("consumer", [_SAME_AS_SOURCE])):
            combo = self.form.editors[name]
            assert isinstance(combo, QComboBox)
            wanted = extra + devices
            if [combo.itemText(i) for i in range(combo.count())] != wanted:
                combo.blockSignals(True)
                combo.clear()
                combo.addItems(wanted)
                combo.blockSignals(False)
        self._show_current()

    def _show_current(self) -> None:
        row = self.list.currentRow()
        has = 0 <= row < len(self.doc.topology.workloads)
        self.form.setEnabled(has)
        self.remove_button.setEnabled(has)
        self.form.clear_errors()
        if not has:
            # blank, not the last workload shown (it may belong to a file no longer open)
            self.form.set_values(_BLANK_FORM)
            return
        w = self.doc.topology.workloads[row]
        self.form.set_values({
            "name": w.name, "source": w.source, "consumer": w.consumer or _SAME_AS_SOURCE,
            "model": w.model or "", "rate_rps": w.rate_rps, "input_shapes": format_shapes(w.input_shapes),
            "slo_ms": w.slo_ms, "accuracy_budget_pct": w.accuracy_budget_pct, "privacy": w.privacy,
            "private_tensors": ", ".join(w.private_tensors),
        })
        self._show_model_problem()

    def show_problems(self, problems: list[WorkloadProblem]) -> None:
        """Mark invalid workloads: a red row (orange for warnings) whose tooltip says why."""
        self.problems = list(problems)
        self._colour_rows()
        self._show_model_problem()  # only that message: the fields may hold text being typed

    def _show_model_problem(self) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self.doc.topology.workloads):
            return
        name = self.doc.topology.workloads[row].name
        self.form.set_error("model", next((p.message for p in self.problems
                                           if p.workload == name and p.field == "model"), ""))

    def _colour_rows(self) -> None:
        workloads = self.doc.topology.workloads
        for row in range(min(self.list.count(), len(workloads))):
            item = self.list.item(row)
            mine = [p for p in self.problems if p.workload == workloads[row].name]
            if not mine:
                item.setBackground(QBrush())
                item.setForeground(QBrush())
                item.setToolTip("")
                continue
            error = any(p.severity == "error" for p in mine)
            item.setBackground(QColor("#FFEBEE") if error else QColor("#FFF3E0"))
            item.setForeground(QColor("#C62828") if error else QColor("#E65100"))
            item.setToolTip("\n".join(("⚠ " if p.severity == "warning" else "✖ ") + p.message for p in mine))

    # -- editing -------------------------------------------------------------------------------
    def add_workload(self) -> str | None:
        """Add a workload from the selected-or-first device; returns its name."""
        topo = self.doc.topology
        if not topo.devices:
            return None
        names = {w.name for w in topo.workloads}
        i = 1
        while f"workload-{i}" in names:
            i += 1
        source = next((d.id for d in topo.devices if str(d.tier) == "device"), topo.devices[0].id)
        w = Workload(name=f"workload-{i}", source=source, rate_rps=1.0)
        self.doc.push(AddWorkloadCommand(self.doc, w))
        self.list.setCurrentRow(len(topo.workloads) - 1)
        return w.name

    def remove_current(self) -> None:
        """Remove the selected workload."""
        row = self.list.currentRow()
        if 0 <= row < len(self.doc.topology.workloads):
            self.doc.push(RemoveWorkloadCommand(self.doc, self.doc.topology.workloads[row].name))

    def _on_edited(self, name: str, value: Any, merge: bool = True) -> None:
        row = self.list.currentRow()
        if not 0 <= row < len(self.doc.topology.workloads) or (name == "model" and value == BROWSE_MODEL):
            return  # Browse… is a question, answered in _on_model_activated
        try:
            value = self._to_model(name, value)
        except ValueError as exc:
            self.form.set_error(name, str(exc))
            return
        current = self.doc.topology.workloads[row]
        new, error = validated_update([current], name, value)
        if not error and name == "name" and any(w.name == value for i, w in enumerate(self.doc.topology.workloads) if i != row):
            error = f"another workload is already called {value!r}"
        self.form.set_error(name, error)
        if new and not error and new[0] != current:
            # typing merges into one undo step; a file chosen with Browse… is a step of its own
            self.doc.push(EditWorkloadCommand(self.doc, row, new[0], merge_key=name if merge else None))

    @staticmethod
    def _to_model(name: str, value: Any) -> Any:
        if name == "input_shapes":
            return parse_shapes(value)
        if name == "consumer":
            return None if value in (_SAME_AS_SOURCE, "") else value
        if name == "model":
            return value or None
        if name == "accuracy_budget_pct" and value is not None and value < 0:
            return None
        if name == "private_tensors":
            return [t.strip() for t in value.split(",") if t.strip()]
        return value
