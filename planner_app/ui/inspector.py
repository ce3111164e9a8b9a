"""The inspector: edit the selected device(s), link(s) or note.

Every keystroke is validated against the core record (``model_validate`` of
the edited copy); a bad value shows its message under the field and changes
nothing, a good one is pushed as an edit command that merges with the next
keystroke on the same field, so one undo reverts a whole typed value. With
several devices (or links) selected, the fields they share are edited
together.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["InspectorPanel", "DEVICE_FIELDS", "LINK_FIELDS", "validated_update"]

from typing import Any, TypeVar

import shiboken6
from pydantic import BaseModel, ValidationError
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from planner_app.core.topology.catalog import Catalog
from planner_app.core.topology.records import DeviceKind, Tier
from planner_app.ui.canvas.scene import TopologyScene
from planner_app.ui.commands import (
    EditDevicesCommand,
    EditLinksCommand,
    EditNoteCommand,
    RenameDeviceCommand,
)
from planner_app.ui.document import TopologyDocument
from planner_app.ui.forms import FieldSpec, RecordForm

DEVICE_FIELDS = [
    FieldSpec("id", "Id", "text", tooltip="unique id; links and workloads follow a rename"),
    FieldSpec("name", "Name", "text"),
    FieldSpec("kind", "Kind", "choice", choices=[k.value for k in DeviceKind]),
    FieldSpec("tier", "Tier", "choice", choices=[t.value for t in Tier]),
    FieldSpec("cpu_cores", "CPU cores", "int", 1, 4096),
    FieldSpec("peak_gflops_fp32", "Peak fp32", "float", 0.001, 1e7, 3, " GFLOPS"),
    FieldSpec("fp16_speedup", "fp16 speed-up", "float", 0.01, 100, 2, " ×"),
    FieldSpec("int8_speedup", "int8 speed-up", "float", 0.01, 100, 2, " ×"),
    FieldSpec("memory_mb", "Memory", "float", 1, 1e8, 0, " MB"),
    FieldSpec("memory_bandwidth_gb_per_s", "Memory bandwidth", "float", 0.01, 1e5, 2, " GB/s"),
    FieldSpec("power_idle_w", "Idle power", "float", 0, 1e5, 2, " W"),
    FieldSpec("power_active_w", "Active power", "float", 0, 1e5, 2, " W"),
    FieldSpec("radio_power_w", "Radio power", "float", 0, 1e4, 2, " W"),
    FieldSpec("battery", "On battery", "bool"),
    FieldSpec("cost_usd_per_hour", "Cost", "float", 0, 1e4, 4, " $/h"),
    FieldSpec("precisions", "Precisions", "flags", choices=["fp32", "fp16", "int8"]),
    FieldSpec("privacy_zone", "Privacy zone", "edit_choice",
              tooltip="devices in the same zone may see each other's raw data; empty = public"),
    FieldSpec("agent_url", "Agent URL", "text", tooltip="http(s)://host:port of the planner agent on this device"),
]

LINK_FIELDS = [
    FieldSpec("id", "Id", "readonly"),
    FieldSpec("a", "From (a)", "readonly"),
    FieldSpec("b", "To (b)", "readonly"),
    FieldSpec("medium", "Medium", "edit_choice", choices=["ethernet", "wifi", "lte", "5g", "fiber", "wan"]),
    FieldSpec("bandwidth_ab_mbps", "Bandwidth a→b", "float", 0.001, 1e6, 3, " Mbps"),
    FieldSpec("bandwidth_ba_mbps", "Bandwidth b→a", "float", 0.001, 1e6, 3, " Mbps"),
    FieldSpec("latency_ms", "Latency", "float", 0, 1e5, 2, " ms"),
    FieldSpec("jitter_ms", "Jitter", "float", 0, 1e5, 2, " ms"),
    FieldSpec("loss_pct", "Loss", "float", 0, 99.99, 2, " %"),
    FieldSpec("cost_usd_per_gb", "Traffic cost", "float", 0, 1e3, 4, " $/GB"),
]

NOTE_FIELDS = [FieldSpec("text", "Text", "multiline")]

_SINGLE_ONLY = {"id", "name", "a", "b", "agent_url"}  # never set on several records at once


RecordT = TypeVar("RecordT", bound=BaseModel)


def validated_update(records: Sequence[RecordT], name: str, value: Any) -> tuple[list[RecordT], str]:
    """Copies of ``records`` with ``name`` set to ``value``, validated.

    Returns ``(new_records, "")`` or ``([], message)`` naming what is wrong.
    """
    out: list[RecordT] = []
    for rec in records:
        data = rec.model_dump()
        data[name] = value
        try:
            out.append(type(rec).model_validate(data))
        except ValidationError as exc:
            err = exc.errors()[0]
            msg = str(err.get("msg", "invalid value"))
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            rid = getattr(rec, "id", "")
            return [], (f"{rid}: {msg}" if len(records) > 1 else msg)
    return out, ""


class InspectorPanel(QWidget):
    """Properties of the selection, editable, with inline validation."""

    def __init__(self, doc: TopologyDocument, scene: TopologyScene, cat: Catalog,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc, self.scene, self.catalog = doc, scene, cat
        self.device_ids: list[str] = []
        self.link_ids: list[str] = []
        self.note_id: str | None = None
        self.title = QLabel(self)
        self.title.setStyleSheet("font-weight: 600; font-size: 13px; padding: 4px 6px;")
        self.title.setWordWrap(True)
        self.stack = QStackedWidget(self)
        self.empty = QLabel("Select a device, link or note to edit it.\n\n"
                            "Drag presets from the palette onto the canvas; drag from a device's "
                            "round handle to another device to link them.", self)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: #607D8B; padding: 10px;")
        self.device_form = RecordForm(DEVICE_FIELDS, self)
        self.link_form = RecordForm(LINK_FIELDS, self)
        self.note_form = RecordForm(NOTE_FIELDS, self)
        self.device_preset = self._preset_combo([(p.id, p.name) for p in cat.devices])
        self.link_preset = self._preset_combo([(p.id, p.name) for p in cat.links])
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self._page(self.device_form, self.device_preset))
        self.stack.addWidget(self._page(self.link_form, self.link_preset))
        self.stack.addWidget(self._page(self.note_form, None))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.stack, 1)
        self.device_form.edited.connect(self._on_device_edited)
        self.link_form.edited.connect(self._on_link_edited)
        self.note_form.edited.connect(self._on_note_edited)
        self.device_preset.activated.connect(self._on_device_preset)
        self.link_preset.activated.connect(self._on_link_preset)
        scene.selectionChanged.connect(self.refresh)
        doc.deviceChanged.connect(self._on_model_changed)
        doc.linkChanged.connect(self._on_model_changed)
        doc.noteChanged.connect(self._on_model_changed)
        doc.topologyReset.connect(self.refresh)
        doc.titleChanged.connect(self._on_title_changed)
        self.refresh()

    def _on_title_changed(self) -> None:
        if self.stack.currentIndex() == 0:  # the summary names the topology (a Save As may rename it)
            self.refresh()

    def _preset_combo(self, items: list[tuple[str, str]]) -> QComboBox:
        combo = QComboBox(self)
        combo.addItem("Apply a catalog preset…", "")
        for pid, name in items:
            combo.addItem(name, pid)
        return combo

    def _page(self, form: RecordForm, preset: QComboBox | None) -> QWidget:
        page = QWidget(self)
        col = QVBoxLayout(page)
        col.setContentsMargins(0, 0, 0, 0)
        if preset is not None:
            row = QHBoxLayout()
            row.setContentsMargins(6, 0, 6, 0)
            row.addWidget(QLabel("Preset", page))
            row.addWidget(preset, 1)
            col.addLayout(row)
        scroll = QScrollArea(page)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(form)
        col.addWidget(scroll, 1)
        return page

    # -- showing --------------------------------------------------------------------------
    def refresh(self) -> None:
        """Show what is selected now."""
        scene = self.scene
        if not shiboken6.isValid(scene):  # the window is being torn down
            return
        if self._renaming:
            return
        self.device_ids = scene.selected_device_ids()
        self.link_ids = [] if self.device_ids else scene.selected_link_ids()
        notes = [] if (self.device_ids or self.link_ids) else scene.selected_note_ids()
        self.note_id = notes[0] if len(notes) == 1 else None
        for form in (self.device_form, self.link_form, self.note_form):
            form.clear_errors()
        if self.device_ids:
            records = [self.doc.topology.device(i) for i in self.device_ids]
            zones = sorted({d.privacy_zone for d in self.doc.topology.devices} - {""})
            combo = self.device_form.editors["privacy_zone"]
            assert isinstance(combo, QComboBox)
            if [combo.itemText(i) for i in range(combo.count())] != ["", *zones]:
                combo.blockSignals(True)
                combo.clear()
                combo.addItems(["", *zones])
                combo.blockSignals(False)
            self._show(self.device_form, records, 1)
            self.title.setText(records[0].label if len(records) == 1 else f"{len(records)} devices")
        elif self.link_ids:
            records = [self.doc.topology.link(i) for i in self.link_ids]
            self._show(self.link_form, records, 2)
            self.title.setText(f"Link {records[0].a} ↔ {records[0].b}" if len(records) == 1 else f"{len(records)} links")
        elif self.note_id:
            self._show(self.note_form, [self.doc.note(self.note_id)], 3)
            self.title.setText("Note")
        else:
            self.stack.setCurrentIndex(0)
            topo = self.doc.topology
            self.title.setText(f"{topo.name}: {len(topo.devices)} devices, {len(topo.links)} links")

    def _show(self, form: RecordForm, records: Sequence[BaseModel], page: int) -> None:
        # one dump per record: dumping per field per record made Select All of 1,000 devices take seconds
        dumps = [r.model_dump(mode="json") for r in records]
        first = dumps[0]
        mixed = {k for k in first if any(d[k] != first[k] for d in dumps[1:])}
        form.set_values(first, mixed)
        for name in form.editors:
            form.set_field_enabled(name, len(records) == 1 or name not in _SINGLE_ONLY)
        self.stack.setCurrentIndex(page)

    def _on_model_changed(self, item_id: str) -> None:
        if item_id in self.device_ids or item_id in self.link_ids or item_id == self.note_id:
            self.refresh()

    # -- editing ---------------------------------------------------------------------------
    def _on_device_edited(self, name: str, value: Any) -> None:
        if name == "id":
            self._rename(value)
            return
        records = [self.doc.topology.device(i) for i in self.device_ids]
        new, error = validated_update(records, name, value)
        self.device_form.set_error(name, error)
        if new and any(n != o for n, o in zip(new, records, strict=True)):
            label = next(s.label for s in DEVICE_FIELDS if s.name == name)
            self.doc.push(EditDevicesCommand(self.doc, new, f"Edit {label.lower()}",
                                             merge_key=(name, tuple(self.device_ids))))

    def _rename(self, new_id: str) -> None:
        if len(self.device_ids) != 1:
            return
        old_id = self.device_ids[0]
        if new_id == old_id:
            self.device_form.set_error("id", "")
            return
        _, error = validated_update([self.doc.topology.device(old_id)], "id", new_id)
        if not error and (self.doc.topology.has_device(new_id)
                          or any(x.id == new_id for x in self.doc.topology.links)):
            error = f"id {new_id!r} is already used"
        self.device_form.set_error("id", error)
        if error:
            return
        # the item is re-created under the new id: keep this page (and the
        # keyboard focus in the id field) instead of flashing the empty page
        self._renaming = True
        try:
            self.doc.push(RenameDeviceCommand(self.doc, old_id, new_id, merge=True))
            self.scene.select_ids([new_id])
        finally:
            self._renaming = False
        self.refresh()

    _renaming = False

    def _on_link_edited(self, name: str, value: Any) -> None:
        records = [self.doc.topology.link(i) for i in self.link_ids]
        new, error = validated_update(records, name, value)
        self.link_form.set_error(name, error)
        if new and any(n != o for n, o in zip(new, records, strict=True)):
            label = next(s.label for s in LINK_FIELDS if s.name == name)
            self.doc.push(EditLinksCommand(self.doc, new, f"Edit link {label.lower()}",
                                           merge_key=(name, tuple(self.link_ids))))

    def _on_note_edited(self, name: str, value: Any) -> None:
        if self.note_id is None:
            return
        note = self.doc.note(self.note_id)
        new, error = validated_update([note], name, value)
        self.note_form.set_error(name, error)
        if new and new[0] != note:
            self.doc.push(EditNoteCommand(self.doc, new, "Edit note", merge_key=(name, self.note_id)))

    def _on_device_preset(self, index: int) -> None:
        preset_id = self.device_preset.itemData(index)
        self.device_preset.setCurrentIndex(0)
        if not preset_id or not self.device_ids:
            return
        preset = self.catalog.device_preset(preset_id)
        new = []
        for dev in (self.doc.topology.device(i) for i in self.device_ids):
            # the preset brings the figures; the device keeps its identity, place and zone
            made = preset.make_device(dev.id, name=dev.name, x=dev.position.x, y=dev.position.y)
            new.append(made.model_copy(update={"privacy_zone": dev.privacy_zone, "agent_url": dev.agent_url}))
        self.doc.push(EditDevicesCommand(self.doc, new, f"Apply preset {preset.name}"))

    def _on_link_preset(self, index: int) -> None:
        preset_id = self.link_preset.itemData(index)
        self.link_preset.setCurrentIndex(0)
        if not preset_id or not self.link_ids:
            return
        preset = self.catalog.link_preset(preset_id)
        new = [preset.make_link(link.id, link.a, link.b)
               for link in (self.doc.topology.link(i) for i in self.link_ids)]
        self.doc.push(EditLinksCommand(self.doc, new, f"Apply preset {preset.name}"))
