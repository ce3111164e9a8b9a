"""Every undoable edit of a topology, as a :class:`QUndoCommand`.

Commands change only the model, through the primitives of
:class:`~planner_app.ui.document.TopologyDocument`; the canvas redraws itself
from the document's signals. Undo then redo restores the model exactly
(records go back to the same list positions), which the tests check by
comparing ``topology.to_dict()``.

Composite edits (delete a selection, paste) are :class:`MacroCommand` s that
run their children in order and undo them in reverse. Removing a device is one
command that also takes its links and the workloads that start or end on it.
"""

from __future__ import annotations

__all__ = [
    "MacroCommand",
    "AddDeviceCommand",
    "RemoveDeviceCommand",
    "AddLinkCommand",
    "RemoveLinkCommand",
    "EditDevicesCommand",
    "EditLinksCommand",
    "MoveCommand",
    "AddNoteCommand",
    "RemoveNoteCommand",
    "EditNoteCommand",
    "AddWorkloadCommand",
    "RemoveWorkloadCommand",
    "EditWorkloadCommand",
    "RenameDeviceCommand",
    "RemoveItemsCommand",
    "AddItemsCommand",
    "describe_items",
    "SetZoneRectCommand",
    "SetDeviceZonesCommand",
]

from collections.abc import Sequence
from typing import Any

from PySide6.QtGui import QUndoCommand

from planner_app.core.topology import Device, Link, Note, Workload
from planner_app.ui.document import RemovedItems, TopologyDocument

# ids for mergeWith(): commands of one kind and the same target merge while typing
_MERGE_EDIT_DEVICES = 1001
_MERGE_EDIT_LINKS = 1002
_MERGE_MOVE = 1003
_MERGE_EDIT_NOTE = 1004
_MERGE_EDIT_WORKLOAD = 1005
_MERGE_RENAME = 1006


class MacroCommand(QUndoCommand):
    """Several commands as one undo step (children run in order, undo in reverse).

    Python holds the children (not Qt's parent/child links) so their Python
    ``redo``/``undo`` overrides are always the ones called.
    """

    def __init__(self, text: str, children: Sequence[QUndoCommand]) -> None:
        super().__init__(text)
        self.children_commands = list(children)

    def redo(self) -> None:
        for c in self.children_commands:
            c.redo()

    def undo(self) -> None:
        for c in reversed(self.children_commands):
            c.undo()


class AddDeviceCommand(QUndoCommand):
    """Add a device (at the end, or at ``index``)."""

    def __init__(self, doc: TopologyDocument, device: Device, index: int | None = None) -> None:
        super().__init__(f"Add {device.label}")
        self.doc, self.device, self.index = doc, device, index

    def redo(self) -> None:
        self.doc.insert_device(self.device, self.index)

    def undo(self) -> None:
        self.doc.take_device(self.device.id)


class RemoveDeviceCommand(QUndoCommand):
    """Remove a device, its links and the workloads that start or end on it."""

    def __init__(self, doc: TopologyDocument, device_id: str) -> None:
        super().__init__(f"Delete {device_id}")
        self.doc, self.device_id = doc, device_id
        self._removed: tuple[int, Device, list[tuple[int, Link]]] | None = None
        self._workloads: list[tuple[int, Workload]] = []

    def redo(self) -> None:
        topo = self.doc.topology
        # a workload cannot outlive its source device: the file would not validate
        names = [w.name for w in topo.workloads if self.device_id in (w.source, w.consumer)]
        self._workloads = [self.doc.take_workload(n) for n in names]
        self._removed = self.doc.take_device(self.device_id)

    def undo(self) -> None:
        assert self._removed is not None
        idx, dev, links = self._removed
        self.doc.insert_device(dev, idx)
        for i, link in links:  # ascending indices: each lands where it was
            self.doc.insert_link(link, i)
        for i, w in reversed(self._workloads):
            self.doc.insert_workload(w, i)


class AddLinkCommand(QUndoCommand):
    """Add a link between two existing devices."""

    def __init__(self, doc: TopologyDocument, link: Link, index: int | None = None) -> None:
        super().__init__(f"Link {link.a} – {link.b}")
        self.doc, self.link, self.index = doc, link, index

    def redo(self) -> None:
        self.doc.insert_link(self.link, self.index)

    def undo(self) -> None:
        self.doc.take_link(self.link.id)


class RemoveLinkCommand(QUndoCommand):
    """Remove one link."""

    def __init__(self, doc: TopologyDocument, link_id: str) -> None:
        super().__init__(f"Delete link {link_id}")
        self.doc, self.link_id = doc, link_id
        self._removed: tuple[int, Link] | None = None

    def redo(self) -> None:
        self._removed = self.doc.take_link(self.link_id)

    def undo(self) -> None:
        assert self._removed is not None
        idx, link = self._removed
        self.doc.insert_link(link, idx)


class _EditRecordsCommand(QUndoCommand):
    """Replace records by id; consecutive edits of the same field set merge."""

    _merge_id = -1

    def __init__(self, doc: TopologyDocument, new: Sequence[Any], text: str, merge_key: Any = None) -> None:
        super().__init__(text)
        self.doc = doc
        self.new = {r.id: r for r in new}
        self.old = {r.id: self._current(r.id) for r in new}
        self.merge_key = merge_key

    def _current(self, record_id: str) -> Any:
        raise NotImplementedError

    def _put(self, record: Any) -> None:
        raise NotImplementedError

    def id(self) -> int:
        return self._merge_id if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, type(self)) or other.merge_key != self.merge_key:
            return False
        if set(other.new) != set(self.new):
            return False
        self.new = other.new  # keep our old values: one undo returns to before typing
        return True

    def redo(self) -> None:
        for rec in self.new.values():
            self._put(rec)

    def undo(self) -> None:
        for rec in self.old.values():
            self._put(rec)


class EditDevicesCommand(_EditRecordsCommand):
    """Replace one or more device records (inspector edits; ids unchanged)."""

    _merge_id = _MERGE_EDIT_DEVICES

    def _current(self, record_id: str) -> Device:
        return self.doc.topology.device(record_id)

    def _put(self, record: Device) -> None:
        self.doc.put_device(record)


class EditLinksCommand(_EditRecordsCommand):
    """Replace one or more link records."""

    _merge_id = _MERGE_EDIT_LINKS

    def _current(self, record_id: str) -> Link:
        return self.doc.topology.link(record_id)

    def _put(self, record: Link) -> None:
        self.doc.put_link(record)


class EditNoteCommand(_EditRecordsCommand):
    """Change a note's text."""

    _merge_id = _MERGE_EDIT_NOTE

    def _current(self, record_id: str) -> Note:
        return self.doc.note(record_id)

    def _put(self, record: Note) -> None:
        self.doc.put_note(record)


class MoveCommand(QUndoCommand):
    """Move devices and notes: one drag, one arrow-key press or one auto-layout.

    ``old`` and ``new`` map item ids to ``(x, y)``. Arrow-key nudges of the same
    selection merge (``merge=True``) so holding a key is one undo step.
    """

    def __init__(
        self,
        doc: TopologyDocument,
        old: dict[str, tuple[float, float]],
        new: dict[str, tuple[float, float]],
        text: str = "Move",
        merge: bool = False,
    ) -> None:
        super().__init__(text)
        self.doc, self.old, self.new, self.merge = doc, dict(old), dict(new), merge

    def id(self) -> int:
        return _MERGE_MOVE if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, MoveCommand) or not other.merge or set(other.new) != set(self.new):
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.doc.set_positions(self.new)

    def undo(self) -> None:
        self.doc.set_positions(self.old)


class AddNoteCommand(QUndoCommand):
    """Add a text note."""

    def __init__(self, doc: TopologyDocument, note: Note, index: int | None = None) -> None:
        super().__init__("Add note")
        self.doc, self.note, self.index = doc, note, index

    def redo(self) -> None:
        self.doc.insert_note(self.note, self.index)

    def undo(self) -> None:
        self.doc.take_note(self.note.id)


class RemoveNoteCommand(QUndoCommand):
    """Remove a text note."""

    def __init__(self, doc: TopologyDocument, note_id: str) -> None:
        super().__init__("Delete note")
        self.doc, self.note_id = doc, note_id
        self._removed: tuple[int, Note] | None = None

    def redo(self) -> None:
        self._removed = self.doc.take_note(self.note_id)

    def undo(self) -> None:
        assert self._removed is not None
        self.doc.insert_note(self._removed[1], self._removed[0])


class AddWorkloadCommand(QUndoCommand):
    """Add a workload."""

    def __init__(self, doc: TopologyDocument, workload: Workload) -> None:
        super().__init__(f"Add workload {workload.name}")
        self.doc, self.workload = doc, workload

    def redo(self) -> None:
        self.doc.insert_workload(self.workload)

    def undo(self) -> None:
        self.doc.take_workload(self.workload.name)


class RemoveWorkloadCommand(QUndoCommand):
    """Remove a workload."""

    def __init__(self, doc: TopologyDocument, name: str) -> None:
        super().__init__(f"Delete workload {name}")
        self.doc, self.name = doc, name
        self._removed: tuple[int, Workload] | None = None

    def redo(self) -> None:
        self._removed = self.doc.take_workload(self.name)

    def undo(self) -> None:
        assert self._removed is not None
        self.doc.insert_workload(self._removed[1], self._removed[0])


class EditWorkloadCommand(QUndoCommand):
    """Replace the workload at ``index`` (its name may change); merges while typing."""

    def __init__(self, doc: TopologyDocument, index: int, new: Workload, merge_key: Any = None) -> None:
        super().__init__(f"Edit workload {new.name}")
        self.doc, self.index, self.new = doc, index, new
        self.old = doc.topology.workloads[index]
        self.merge_key = merge_key

    def id(self) -> int:
        return _MERGE_EDIT_WORKLOAD if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditWorkloadCommand) or other.merge_key != self.merge_key or other.index != self.index:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.doc.put_workload(self.index, self.new)

    def undo(self) -> None:
        self.doc.put_workload(self.index, self.old)


class RenameDeviceCommand(QUndoCommand):
    """Give a device a new id; its links and workloads follow. Merges while typing.

    The canvas sees the device and its links leave and come back under the new
    id, so no view ever holds a stale id.
    """

    def __init__(self, doc: TopologyDocument, old_id: str, new_id: str, merge: bool = False) -> None:
        super().__init__(f"Rename {old_id} to {new_id}")
        self.doc, self.old_id, self.new_id, self.merge = doc, old_id, new_id, merge

    def id(self) -> int:
        return _MERGE_RENAME if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, RenameDeviceCommand) or not other.merge or other.old_id != self.new_id:
            return False
        self.new_id = other.new_id  # one step from the first id to the last one typed
        self.setText(f"Rename {self.old_id} to {self.new_id}")
        return True

    def redo(self) -> None:
        self._rename(self.old_id, self.new_id)

    def undo(self) -> None:
        self._rename(self.new_id, self.old_id)

    def _rename(self, old: str, new: str) -> None:
        self.doc.rename_device(old, new)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def describe_items(doc: TopologyDocument, devices: Sequence[str], links: Sequence[str], notes: Sequence[str]) -> str:
    """What a set of items is called in History: "Line A edge PC and 4 links", "12 devices and 30 links".

    One device is named by its label; more are counted.
    """
    parts = []
    if len(devices) == 1:
        parts.append(doc.topology.device(devices[0]).label)
    elif devices:
        parts.append(_count(len(devices), "device"))
    if links:
        parts.append(_count(len(links), "link"))
    if notes:
        parts.append(_count(len(notes), "note"))
    if not parts:
        return "nothing"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class RemoveItemsCommand(QUndoCommand):
    """Delete devices (with their links and workloads), links and notes as one step.

    One pass over each list and one document signal however many items go, so
    deleting a thousand devices costs about what deleting one does. The text
    names what goes: "Delete Line A edge PC and 4 links".
    """

    def __init__(self, doc: TopologyDocument, device_ids: Sequence[str], link_ids: Sequence[str] = (),
                 note_ids: Sequence[str] = ()) -> None:
        super().__init__()
        self.doc = doc
        self.device_ids, self.link_ids, self.note_ids = list(device_ids), list(link_ids), list(note_ids)
        gone = set(self.device_ids)
        wanted = set(self.link_ids)
        links = [lk.id for lk in doc.topology.links if lk.id in wanted or lk.a in gone or lk.b in gone]
        text = f"Delete {describe_items(doc, self.device_ids, links, self.note_ids)}"
        workloads = [w.name for w in doc.topology.workloads if w.source in gone or w.consumer in gone]
        if workloads:
            text += f" (and workload{'s' if len(workloads) > 1 else ''} {', '.join(workloads)})"
        self.setText(text)
        self._removed: RemovedItems | None = None

    def redo(self) -> None:
        self._removed = self.doc.take_items(self.device_ids, self.link_ids, self.note_ids)

    def undo(self) -> None:
        assert self._removed is not None
        self.doc.restore_items(self._removed)


class AddItemsCommand(QUndoCommand):
    """Add devices, links and notes at the ends of their lists as one step (paste, duplicate)."""

    def __init__(self, doc: TopologyDocument, devices: Sequence[Device], links: Sequence[Link] = (),
                 notes: Sequence[Note] = (), verb: str = "Add") -> None:
        super().__init__()
        self.doc = doc
        self.devices, self.links, self.notes = list(devices), list(links), list(notes)
        ids = [d.id for d in self.devices]
        if len(ids) == 1:  # the device is not in the topology yet: name it from the record
            name = self.devices[0].label
            rest = describe_items(doc, [], [lk.id for lk in self.links], [n.id for n in self.notes])
            self.setText(f"{verb} {name}" + (f" and {rest}" if rest != "nothing" else ""))
        else:
            self.setText(f"{verb} {describe_items(doc, ids, [lk.id for lk in self.links], [n.id for n in self.notes])}")

    def redo(self) -> None:
        topo = self.doc.topology
        n_dev, n_link, n_note = len(topo.devices), len(topo.links), len(topo.notes)
        self.doc.restore_items(RemovedItems(
            devices=[(n_dev + i, d) for i, d in enumerate(self.devices)],
            links=[(n_link + i, lk) for i, lk in enumerate(self.links)],
            notes=[(n_note + i, n) for i, n in enumerate(self.notes)],
        ))

    def undo(self) -> None:
        self.doc.take_items([d.id for d in self.devices], [lk.id for lk in self.links], [n.id for n in self.notes])


class SetZoneRectCommand(QUndoCommand):
    """Give a privacy zone its region (create or resize it), or clear it (None)."""

    def __init__(self, doc: TopologyDocument, zone: str, rect: tuple[float, float, float, float] | None,
                 text: str = "") -> None:
        super().__init__(text or f"Resize privacy zone {zone}")
        self.doc, self.zone, self.new = doc, zone, rect
        self.old = doc.zone_rect(zone)

    def redo(self) -> None:
        self.doc.set_zone_rect(self.zone, self.new)

    def undo(self) -> None:
        self.doc.set_zone_rect(self.zone, self.old)


class SetDeviceZonesCommand(QUndoCommand):
    """Put devices in privacy zones: ``{device id: zone}`` ('' = public).

    Only the zone field changes, read from the record when run, so it composes
    with a move in the same macro (a drop that also changes membership).
    """

    def __init__(self, doc: TopologyDocument, zones: dict[str, str], text: str = "Change privacy zone") -> None:
        super().__init__(text)
        self.doc, self.new = doc, dict(zones)
        self.old = {d: doc.topology.device(d).privacy_zone for d in zones}

    def _apply(self, zones: dict[str, str]) -> None:
        topo = self.doc.topology
        for dev_id, zone in zones.items():
            self.doc.put_device(topo.device(dev_id).model_copy(update={"privacy_zone": zone}))

    def redo(self) -> None:
        self._apply(self.new)

    def undo(self) -> None:
        self._apply(self.old)
