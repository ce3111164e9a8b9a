"""The edited topology: the core model, its undo stack and its change events.

:class:`TopologyDocument` owns one :class:`~planner_app.core.topology.records.Topology`
and the :class:`QUndoStack` of edits made to it. The primitive mutations below
are called only by the undo commands in :mod:`planner_app.ui.commands`; each
one changes the core record and then emits a signal naming what changed. The
canvas, inspector and panels listen to those signals and redraw themselves:
they never keep their own copy of domain data.

Example
-------
>>> doc = TopologyDocument()                       # doctest: +SKIP
>>> doc.deviceAdded.connect(print)                 # doctest: +SKIP
>>> doc.push(AddDeviceCommand(doc, device))        # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["TopologyDocument", "RemovedItems"]

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from planner_app.core.topology.io import save_topology
from planner_app.core.topology.records import (
    Device,
    Link,
    Note,
    RemovedItems,
    Topology,
    Workload,
    ZoneRegion,
)


class TopologyDocument(QObject):
    """A topology being edited, with undo and Qt signals for every model event."""

    deviceAdded = Signal(str)
    deviceRemoved = Signal(str)
    #: a device record changed (any field but position)
    deviceChanged = Signal(str)
    #: devices moved (ids); one signal for a whole drag or auto-layout
    devicesMoved = Signal(list)
    linkAdded = Signal(str)
    linkRemoved = Signal(str)
    linkChanged = Signal(str)
    noteAdded = Signal(str)
    noteRemoved = Signal(str)
    noteChanged = Signal(str)
    workloadsChanged = Signal()
    #: many items left at once (device ids, link ids, note ids): a bulk delete or its undo
    itemsRemoved = Signal(list, list, list)
    #: many items came at once (device ids, link ids, note ids): a paste or an undone delete
    itemsInserted = Signal(list, list, list)
    #: a privacy zone's region was set or cleared (zone name)
    zoneChanged = Signal(str)
    #: the whole topology was replaced (new/open/recover)
    topologyReset = Signal()
    #: the file path or the unsaved mark changed
    titleChanged = Signal()

    def __init__(self, topology: Topology | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.topology: Topology = topology or Topology(name="untitled")
        self.path: Path | None = None
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

    def _on_clean_changed(self, _clean: bool) -> None:
        self.titleChanged.emit()

    # -- whole-document operations ---------------------------------------------------
    def reset(self, topology: Topology, path: Path | None = None, modified: bool = False) -> None:
        """Replace the topology (open/new/recover); clears the undo history."""
        self.topology = topology
        self.path = Path(path) if path else None
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self._forced_modified = modified
        self.topologyReset.emit()
        self.titleChanged.emit()

    _forced_modified = False

    @property
    def modified(self) -> bool:
        """True when there are unsaved changes."""
        return self._forced_modified or not self.undo_stack.isClean()

    def save(self, path: Path | str | None = None) -> Path:
        """Save through core (atomic); marks the document clean."""
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no file name: use save(path)")
        save_topology(self.topology, target)
        self.path = target
        self._forced_modified = False
        self.undo_stack.setClean()
        self.titleChanged.emit()
        return target

    def set_name(self, name: str) -> None:
        """Rename the topology itself (its ``name`` field), e.g. after the first Save As."""
        self.topology.name = name
        self.titleChanged.emit()

    @property
    def display_name(self) -> str:
        """The file name, or the topology's name for an unsaved document."""
        return self.path.name if self.path else f"{self.topology.name or 'untitled'} (unsaved)"

    def push(self, command: QUndoCommand) -> None:
        """Run an edit and put it on the undo stack."""
        self.undo_stack.push(command)

    # -- look-ups --------------------------------------------------------------------
    def note(self, note_id: str) -> Note:
        """The note with this id."""
        for n in self.topology.notes:
            if n.id == note_id:
                return n
        raise KeyError(note_id)

    def workload_index(self, name: str) -> int:
        """Index of the workload called ``name``."""
        for i, w in enumerate(self.topology.workloads):
            if w.name == name:
                return i
        raise KeyError(name)

    # -- primitives (undo commands only) ---------------------------------------------------
    def insert_device(self, device: Device, index: int | None = None) -> None:
        self.topology.add_device(device, index)
        self.deviceAdded.emit(device.id)

    def take_device(self, device_id: str) -> tuple[int, Device, list[tuple[int, Link]]]:
        # links go first so listeners never see a link without its ends
        links = [link.id for link in self.topology.links_of(device_id)]
        idx, dev, removed = self.topology.remove_device(device_id)
        for lid in links:
            self.linkRemoved.emit(lid)
        self.deviceRemoved.emit(device_id)
        return idx, dev, removed

    def put_device(self, device: Device) -> Device:
        old = self.topology.replace_device(device)
        self.deviceChanged.emit(device.id)
        return old

    def set_positions(self, positions: dict[str, tuple[float, float]]) -> None:
        """Move devices and notes (ids may name either) to scene coordinates."""
        moved_devices, moved_notes = self.topology.set_positions(positions)
        if moved_devices:
            self.devicesMoved.emit(moved_devices)
        for note_id in moved_notes:
            self.noteChanged.emit(note_id)

    def rename_device(self, old_id: str, new_id: str) -> None:
        """Rename a device; its links and workloads follow (the scene rebuilds their items)."""
        topo = self.topology
        links = [link.id for link in topo.links_of(old_id)]
        changed = topo.rename_device(old_id, new_id)
        for link_id in links:
            self.linkRemoved.emit(link_id)
        self.deviceRemoved.emit(old_id)
        self.deviceAdded.emit(new_id)
        for link_id in links:
            self.linkAdded.emit(link_id)
        if changed:
            self.workloadsChanged.emit()

    def insert_link(self, link: Link, index: int | None = None) -> None:
        self.topology.add_link(link, index)
        self.linkAdded.emit(link.id)

    def take_link(self, link_id: str) -> tuple[int, Link]:
        idx, link = self.topology.remove_link(link_id)
        self.linkRemoved.emit(link_id)
        return idx, link

    def put_link(self, link: Link) -> Link:
        old = self.topology.replace_link(link)
        self.linkChanged.emit(link.id)
        return old

    def insert_note(self, note: Note, index: int | None = None) -> None:
        self.topology.add_note(note, index)
        self.noteAdded.emit(note.id)

    def take_note(self, note_id: str) -> tuple[int, Note]:
        idx, note = self.topology.remove_note(note_id)
        self.noteRemoved.emit(note_id)
        return idx, note

    def put_note(self, note: Note) -> Note:
        old = self.topology.replace_note(note)
        self.noteChanged.emit(note.id)
        return old

    def insert_workload(self, workload: Workload, index: int | None = None) -> None:
        self.topology.add_workload(workload, index)
        self.workloadsChanged.emit()

    def take_workload(self, name: str) -> tuple[int, Workload]:
        idx, w = self.topology.remove_workload(name)
        self.workloadsChanged.emit()
        return idx, w

    def put_workload(self, index: int, workload: Workload) -> Workload:
        old = self.topology.replace_workload(index, workload)
        self.workloadsChanged.emit()
        return old

    # -- bulk primitives: one pass over each list, one signal (delete all, paste, their undo) ------
    def take_items(self, device_ids: list[str], link_ids: list[str], note_ids: list[str]) -> RemovedItems:
        """Remove devices (with their links and the workloads that start or end on them),
        links and notes in one pass; returns what went, for :meth:`restore_items`.

        A device-at-a-time removal rescans every link and list index per device,
        which made deleting 300 devices take over a minute.
        """
        out = self.topology.remove_items(device_ids, link_ids, note_ids)
        self.itemsRemoved.emit([d.id for _, d in out.devices], [lk.id for _, lk in out.links],
                               [n.id for _, n in out.notes])
        if out.workloads:
            self.workloadsChanged.emit()
        return out

    def restore_items(self, items: RemovedItems) -> None:
        """Put back what :meth:`take_items` removed, each record at its old index
        (also adds new records: give indices at the end of each list)."""
        self.topology.restore_items(items)
        self.itemsInserted.emit([d.id for _, d in items.devices], [lk.id for _, lk in items.links],
                                [n.id for _, n in items.notes])
        if items.workloads:
            self.workloadsChanged.emit()

    # -- privacy zone regions ----------------------------------------------------------------
    def zone_rect(self, zone: str) -> tuple[float, float, float, float] | None:
        """The region the user gave ``zone`` (scene x, y, width, height), if any."""
        r = self.topology.zone_region(zone)
        return None if r is None else (r.x, r.y, r.width, r.height)

    def zone_names(self) -> list[str]:
        """Zones with members or a region, sorted."""
        named = {d.privacy_zone for d in self.topology.devices} - {""}
        named |= {r.zone for r in self.topology.zone_regions}
        return sorted(named)

    def set_zone_rect(self, zone: str, rect: tuple[float, float, float, float] | None) -> None:
        """Set or clear (None) the region of ``zone`` (undo commands only)."""
        region = None if rect is None else ZoneRegion(zone=zone, x=rect[0], y=rect[1], width=rect[2], height=rect[3])
        self.topology.set_zone_region(zone, region)
        self.zoneChanged.emit(zone)
