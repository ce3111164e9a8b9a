"""The Model panel: load a model for a workload, its summary, unit table and "where to cut" chart.

A model comes from the combo (``sample:`` models listed, a recent file, or
Browse…), the Planning menu, the toolbar or a dropped ``.onnx`` file. A model
with dynamic dimensions asks for their values first (prefilled from the
workload). The unit table lists name, op, FLOPs, params, output bytes and the
measured time per profiled level; the chart shows time and output size per
unit, and clicking a bar selects the unit (the table follows) with the
cheapest cuts marked.
"""

from __future__ import annotations

__all__ = ["ModelPanel"]

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from planner_app.core.models import SAMPLE_MODELS
from planner_app.ui.deferred import Deferred, wrapped_label
from planner_app.ui.dialogs import Dialogs
from planner_app.ui.jobs import Job
from planner_app.ui.panels.charts import UnitChart
from planner_app.ui.panels.shapes_dialog import dynamic_inputs
from planner_app.ui.planning_model import PlanningModel

_BROWSE = "Browse…"


def _num(value: float, unit: str = "") -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}".strip()


class ModelPanel(QWidget):
    """Model of the current workload (see the module docstring)."""

    def __init__(self, model: PlanningModel, dialogs: Dialogs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.dialogs = model, dialogs
        self.workload_combo = QComboBox()
        self.workload_combo.setToolTip("The workload this model serves (each workload plans with its own model)")
        self.source_combo = QComboBox()
        self.source_combo.setEditable(True)
        self.source_combo.setMinimumContentsLength(24)
        self.source_combo.addItems([f"sample:{n}" for n in SAMPLE_MODELS] + [_BROWSE])
        self.source_combo.setToolTip("sample:NAME, a path to an .onnx file, or Browse…")
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip("Load the model for the workload (drop an .onnx file on the window too)")
        self.summary = wrapped_label("No model loaded: pick a sample or an .onnx file and press Load.", 2)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 6)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.chart = UnitChart()
        self.table.setMinimumHeight(60)  # the dock may be short: the table scrolls, the chart shrinks

        top = QHBoxLayout()
        top.addWidget(QLabel("Workload"))
        top.addWidget(self.workload_combo, 1)
        top.addWidget(QLabel("Model"))
        top.addWidget(self.source_combo, 2)
        top.addWidget(self.load_button)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        split.setSizes([420, 520])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

        self.load_button.clicked.connect(self._on_load_clicked)
        self.source_combo.activated.connect(self._on_source_activated)
        self.workload_combo.activated.connect(lambda _i: self.model.set_workload(self.workload_combo.currentText()))
        self.chart.unitClicked.connect(self.model.select_unit)
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        model.workloadChanged.connect(self._on_workload_changed)
        model.cleared.connect(self._on_workload_changed)
        self.refresh_later = Deferred(self._refresh, self, self)
        model.modelLoaded.connect(self.refresh_later)
        model.profileUpdated.connect(self.refresh_later)
        model.unitSelected.connect(self._on_unit_selected)
        model.doc.workloadsChanged.connect(self._fill_workloads)
        self._on_workload_changed()

    # -- loading ----------------------------------------------------------------------------
    def _on_source_activated(self, _index: int) -> None:
        if self.source_combo.currentText() == _BROWSE:
            self.browse()

    def browse(self) -> Job | None:
        """Ask for an .onnx file and load it."""
        start = str(self.model.doc.path.parent) if self.model.doc.path else str(Path.cwd())
        path = self.dialogs.choose_model(self, start)
        if not path:
            self.source_combo.setEditText(self.model.current.model_ref.model if self.model.current else "")
            return None
        self.source_combo.setEditText(path)
        return self.load(path)

    def _on_load_clicked(self) -> None:
        text = self.source_combo.currentText().strip()
        if text == _BROWSE:
            self.browse()
        else:
            self.load(text or None)

    def load(self, spec: str | None, workload: str | None = None) -> Job | None:
        """Load ``spec`` (a path or ``sample:NAME``; None: the workload's model) for the workload;
        asks for dynamic dimensions first. None when the user cancelled or nothing can start."""
        name = workload or self.model.workload
        if name is None:
            what = Path(spec).name if spec else "a model"
            self.dialogs.error(self, "Cannot load model", f"Cannot load {what}: the topology has no workload. Add "
                               "one in the Workloads panel (where requests come from), then load its model.")
            return None
        shapes = None
        if spec and not spec.startswith("sample:") and Path(spec).is_file():
            dynamic = dynamic_inputs(spec)
            if dynamic:
                prefill = dict(self.model.doc.topology.workload(name).input_shapes)
                shapes = self.dialogs.ask_input_shapes(self, Path(spec).name, dynamic, prefill)
                if shapes is None:
                    return None
                # shapes the workload declares are its own; the dialog fills only the rest
                shapes = {k: v for k, v in shapes.items() if k not in prefill}
        try:
            job = self.model.load_model(spec, shapes, name)
        except Exception as exc:  # noqa: BLE001 - a planner error, shown
            self.dialogs.error(self, "Cannot load model", str(exc))
            return None
        self.load_button.setEnabled(False)
        job.ended.connect(lambda: self.load_button.setEnabled(True))
        return job

    # -- showing ----------------------------------------------------------------------------
    def _fill_workloads(self) -> None:
        self.workload_combo.blockSignals(True)
        self.workload_combo.clear()
        self.workload_combo.addItems(self.model.workload_names())
        if self.model.workload:
            self.workload_combo.setCurrentText(self.model.workload)
        self.workload_combo.blockSignals(False)

    def _on_workload_changed(self, *_args: object) -> None:
        self._fill_workloads()
        cur = self.model.current
        if cur is not None:
            self.source_combo.setEditText(cur.model_ref.model)
        elif self.model.workload:
            self.source_combo.setEditText(self.model.model_spec_for(self.model.workload))
        self.refresh_later()

    def _refresh(self, *_args: object) -> None:
        cur = self.model.current
        if cur is None:
            self.summary.setText("No model loaded for this workload: pick a sample or an .onnx file and press Load.")
            self.table.setRowCount(0)
            self.chart.clear_chart("load a model to see its units")
            return
        mg = cur.source.graph
        s = mg.summary()
        ops = ", ".join(f"{op} ×{n}" for op, n in list(s["ops_by_count"].items())[:6])
        dyn = f" · dynamic dims {s['dynamic_dims']}" if s["dynamic_dims"] else ""
        self.summary.setText(
            f"<b>{mg.name}</b> ({cur.model_ref.model}) · {s['units']} units, {s['nodes']} nodes · "
            f"{_num(s['flops'], 'FLOPs')} · {_num(s['params'])} params · {s['model_bytes'] / 1e6:.2f} MB · "
            f"inputs {mg.inputs}{dyn}<br><small>ops: {ops}</small>")
        profile = self.model.profile
        levels = [lv for lv, lp in (profile.levels.items() if profile else []) if lp.applicable and lp.unit_ms]
        headers = ["#", "unit", "op", "FLOPs", "params", "output"] + [f"{lv} ms" for lv in levels]
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(mg.units))
        for r, u in enumerate(mg.units):
            cells = [str(u.id), u.name, "+".join(dict.fromkeys(u.op_types))[:40], _num(u.flops),
                     _num(u.param_bytes, "B"), _num(u.output_bytes, "B")]
            assert profile is not None or not levels
            cells += [f"{profile.levels[lv].unit_ms[r]:.3f}" for lv in levels] if profile else []
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c != 1 and c != 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self._draw_chart()

    def chart_times(self) -> tuple[list[float], str]:
        """Per-unit figures the chart shows: measured fp32 ms when profiled, else MFLOPs."""
        cur = self.model.current
        assert cur is not None
        profile = self.model.profile
        fp32 = profile.levels.get("fp32") if profile else None
        if fp32 is not None and fp32.applicable and len(fp32.unit_ms) == len(cur.source.graph.units):
            return list(fp32.unit_ms), "time at fp32 (ms, measured)"
        return [u.flops / 1e6 for u in cur.source.graph.units], "MFLOPs (profile to see times)"

    def _draw_chart(self) -> None:
        cur = self.model.current
        if cur is None:
            return
        mg = cur.source.graph
        values, label = self.chart_times()
        self.chart.plot_item.setLabel("left", label)
        cuts = [c.position for c in mg.cheapest_cuts(3)] if len(mg.units) > 1 else []
        self.chart.show_units([u.name for u in mg.units], values, [u.output_bytes / 1e3 for u in mg.units],
                              self.model.selected_unit, cuts)

    def _on_unit_selected(self, unit: int) -> None:
        self._draw_chart()
        self.table.blockSignals(True)
        if unit >= 0 and unit < self.table.rowCount():
            self.table.selectRow(unit)
            first = self.table.item(unit, 0)
            if first is not None:
                self.table.scrollToItem(first)
        else:
            self.table.clearSelection()
        self.table.blockSignals(False)

    def _on_table_selection(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        self.model.select_unit(min(rows) if rows else None)
