"""Editor operations: the verbs behind menus, shortcuts and gestures.

Each operation reads the current selection from the scene, builds the undo
command(s) and pushes them on the document's stack. Keeping them here (not in
the window) lets tests and the benchmark call exactly what a menu calls.
"""

from __future__ import annotations

__all__ = ["Editor"]

from PySide6.QtCore import QRectF
from PySide6.QtGui import QGuiApplication, QUndoCommand

from planner_app.core.topology import Note, Position, Tier
from planner_app.core.topology.catalog import LinkPreset
from planner_app.ui.canvas.items import ZoneItem
from planner_app.ui.canvas.layout import align, auto_layout_positions, distribute
from planner_app.ui.canvas.scene import TopologyScene
from planner_app.ui.clipboard import MIME_TYPE, records_for_paste, selection_to_json
from planner_app.ui.commands import (
    AddDeviceCommand,
    AddItemsCommand,
    AddLinkCommand,
    AddNoteCommand,
    MacroCommand,
    MoveCommand,
    RemoveItemsCommand,
    SetDeviceZonesCommand,
    SetZoneRectCommand,
)
from planner_app.ui.document import TopologyDocument
from planner_app.ui.presets import catalog, device_from_preset, link_from_preset

_TIER_RANK = {Tier.device: 0, Tier.edge: 1, Tier.cloud: 2}


class Editor:
    """Undoable editing verbs over a document and the selection of its scene."""

    def __init__(self, doc: TopologyDocument, scene: TopologyScene) -> None:
        self.doc = doc
        self.scene = scene

    # -- adding ---------------------------------------------------------------------------
    def add_device_from_preset(self, preset_id: str, x: float, y: float) -> str:
        """Add a device made from catalog preset ``preset_id`` at ``(x, y)``; returns its id."""
        preset = catalog().device_preset(preset_id)
        pos = self.scene.snapped_xy(x, y)
        device = device_from_preset(self.doc.topology, preset, *pos)
        self.doc.push(AddDeviceCommand(self.doc, device))
        self.scene.select_ids([device.id])
        return device.id

    def add_link(self, a: str, b: str, preset: LinkPreset) -> str:
        """Link devices ``a`` and ``b`` with ``preset``; the lower tier becomes end ``a``
        so ``bandwidth_ab_mbps`` is the uplink. Returns the link id."""
        topo = self.doc.topology
        if _TIER_RANK.get(topo.device(b).tier, 0) < _TIER_RANK.get(topo.device(a).tier, 0):
            a, b = b, a
        link = link_from_preset(topo, preset, a, b)
        self.doc.push(AddLinkCommand(self.doc, link))
        return link.id

    def add_note(self, x: float, y: float, text: str = "Note") -> str:
        """Add a text note at ``(x, y)``; returns its id."""
        note = Note(id=self.doc.topology.new_id("note"), text=text, position=Position(x=x, y=y))
        self.doc.push(AddNoteCommand(self.doc, note))
        self.scene.select_ids([note.id])
        return note.id

    # -- removing --------------------------------------------------------------------------
    def delete_selection(self) -> int:
        """Delete the selected items (a device takes its links along) as one undo step;
        returns how many items were selected for deletion."""
        devices = self.scene.selected_device_ids()
        links = self.scene.selected_link_ids()
        notes = self.scene.selected_note_ids()
        n = len(devices) + len(links) + len(notes)
        if not n:
            return 0
        self.doc.push(RemoveItemsCommand(self.doc, devices, links, notes))
        return n

    # -- clipboard ------------------------------------------------------------------------
    def copy_text(self) -> str | None:
        """JSON of the selection (None when nothing is selected)."""
        devices = self.scene.selected_device_ids()
        notes = self.scene.selected_note_ids()
        if not devices and not notes:
            return None
        return selection_to_json(self.doc.topology, devices, notes)

    def copy(self) -> bool:
        """Put the selection on the system clipboard."""
        text = self.copy_text()
        if text is None:
            return False
        # plain text (the JSON carries its own "kind" marker): a Python-made
        # QMimeData left on the clipboard crashes PySide6 at interpreter exit
        QGuiApplication.clipboard().setText(text)
        return True

    def cut(self) -> bool:
        """Copy then delete the selection (two undo steps: the copy is not an edit)."""
        if not self.copy():
            return False
        self.delete_selection()
        return True

    _PASTE_STEP = 60.0  # more than a tile (52 px): 40 left each copy half on its original
    _last_paste: str | None = None
    _paste_count = 0

    def paste_text(self, text: str, offset: tuple[float, float] | None = None) -> list[str]:
        """Add the clipboard records as one undo step; selects and returns the new ids.

        Each paste of the same clipboard lands one step further down and right
        (the first one step off the original), and never right on top of a
        device already there, so a copy is always visibly a copy.
        """
        if offset is None:
            self._paste_count = self._paste_count + 1 if text == self._last_paste else 1
            self._last_paste = text
            step = self._PASTE_STEP * self._paste_count
            offset = (step, step)
        devices, links, notes = records_for_paste(self.doc.topology, text, offset)
        taken = [(d.position.x, d.position.y) for d in self.doc.topology.devices]
        for _ in range(50):  # pasted elsewhere or moved since: step on until no copy covers a device
            if not any(abs(d.position.x - x) < self._PASTE_STEP and abs(d.position.y - y) < self._PASTE_STEP
                       for d in devices for x, y in taken):
                break
            s = self._PASTE_STEP
            devices = [d.model_copy(update={"position": Position(x=d.position.x + s, y=d.position.y + s)})
                       for d in devices]
            notes = [n.model_copy(update={"position": Position(x=n.position.x + s, y=n.position.y + s)})
                     for n in notes]
        if not (devices or links or notes):
            return []
        self.doc.push(AddItemsCommand(self.doc, devices, links, notes, verb="Paste"))
        ids = [d.id for d in devices] + [n.id for n in notes]
        self.scene.select_ids(ids)
        return ids

    def paste(self) -> list[str]:
        """Paste from the system clipboard."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return []
        if mime.hasFormat(MIME_TYPE):
            text = bytes(mime.data(MIME_TYPE).data()).decode("utf-8")
        else:
            text = mime.text()
        return self.paste_text(text) if text else []

    def duplicate(self) -> list[str]:
        """Copy and paste the selection in one go (links inside it are kept)."""
        text = self.copy_text()
        return self.paste_text(text) if text else []

    # -- arranging ------------------------------------------------------------------------
    def _move(self, new: dict[str, tuple[float, float]], text: str, refit_zones: bool = False) -> bool:
        self.scene.finish_build()  # every item must exist to know where it is
        old = {k: self._position(k) for k in new}
        if all(old[k] == new[k] for k in new):
            return False
        move = MoveCommand(self.doc, old, new, text=text)
        zones = self._refitted_zones(new) if refit_zones else []
        self.doc.push(MacroCommand(text, [move, *zones]) if zones else move)
        return True

    def _refitted_zones(self, new: dict[str, tuple[float, float]]) -> list[SetZoneRectCommand]:
        """After a layout, each zone with moved members is redrawn around where they went:
        its old region would now hold strangers."""
        out = []
        for zone in self.doc.zone_names():
            rect = QRectF()
            for d in self.doc.topology.devices:
                if d.privacy_zone == zone and d.id in self.scene.devices:
                    x, y = new.get(d.id, (d.position.x, d.position.y))
                    rect = rect.united(self.scene.devices[d.id].boundingRect().translated(x, y))
            if rect.isEmpty() or not any(d.privacy_zone == zone for d in self.doc.topology.devices if d.id in new):
                continue
            m = ZoneItem.MARGIN
            rect = rect.adjusted(-m, -m, m, m)
            out.append(SetZoneRectCommand(self.doc, zone, (rect.x(), rect.y(), rect.width(), rect.height())))
        return out

    def add_zone(self, name: str, rect: tuple[float, float, float, float] | None = None) -> bool:
        """Create privacy zone ``name``: around the selected devices (which join it), or as
        ``rect`` (default: an empty region in the middle of the drawing). One undo step."""
        name = name.strip()
        if not name:
            return False
        devices = self.scene.selected_device_ids()
        if rect is None:
            area = QRectF()
            for d in devices:
                area = area.united(self.scene.devices[d].sceneBoundingRect())
            if area.isEmpty():
                centre = self.scene.content_rect().center()
                area = QRectF(centre.x() - 180, centre.y() - 120, 360, 240)
            m = ZoneItem.MARGIN
            area = area.adjusted(-m, -m, m, m)
            rect = (area.x(), area.y(), area.width(), area.height())
        children: list[QUndoCommand] = [SetZoneRectCommand(self.doc, name, rect, text=f"Add privacy zone {name}")]
        if devices:
            children.append(SetDeviceZonesCommand(self.doc, dict.fromkeys(devices, name)))
        n = len(devices)
        text = f"Add privacy zone {name}" + (f" with {n} device{'s' if n != 1 else ''}" if n else "")
        self.doc.push(MacroCommand(text, children))
        return True

    def rename_zone(self, zone: str, new_name: str) -> bool:
        """Rename privacy zone ``zone``: its region and every member move to ``new_name``.

        One undo step; False when nothing changes. The caller checks the name is free
        (renaming onto an existing zone would merge two zones: refused there).
        """
        new_name = new_name.strip()
        if not new_name or new_name == zone or zone not in self.doc.zone_names():
            return False
        members = [d.id for d in self.doc.topology.devices if d.privacy_zone == zone]
        children: list[QUndoCommand] = []
        rect = self.doc.zone_rect(zone)
        if rect is None and zone in self.scene.zones:  # keep where it is drawn, not re-derive it
            r = self.scene.zones[zone].region()
            rect = (r.x(), r.y(), r.width(), r.height())
        if rect is not None:
            children.append(SetZoneRectCommand(self.doc, new_name, rect))
        if members:
            children.append(SetDeviceZonesCommand(self.doc, dict.fromkeys(members, new_name)))
        if self.doc.zone_rect(zone) is not None:
            children.append(SetZoneRectCommand(self.doc, zone, None))
        self.doc.push(MacroCommand(f"Rename privacy zone {zone} to {new_name}", children))
        return True

    def delete_zone(self, zone: str) -> int:
        """Delete privacy zone ``zone``: its members become public and its region goes.

        One undo step. Returns how many devices left the zone (-1 when there is no such zone).
        """
        if zone not in self.doc.zone_names():
            return -1
        members = [d.id for d in self.doc.topology.devices if d.privacy_zone == zone]
        children: list[QUndoCommand] = []
        if members:
            children.append(SetDeviceZonesCommand(self.doc, dict.fromkeys(members, "")))
        if self.doc.zone_rect(zone) is not None:
            children.append(SetZoneRectCommand(self.doc, zone, None))
        n = len(members)
        self.doc.push(MacroCommand(
            f"Delete privacy zone {zone}" + (f" ({n} device{'s' if n != 1 else ''} now public)" if n else ""),
            children))
        return n

    def _position(self, item_id: str) -> tuple[float, float]:
        item = self.scene.devices.get(item_id) or self.scene.notes.get(item_id)
        assert item is not None
        return (item.pos().x(), item.pos().y())

    def layout_ids(self, selection_only: bool = False) -> list[str] | None:
        """The devices an auto-layout moves: the selected ones, or None for all."""
        return self.scene.selected_device_ids() if selection_only else None

    def auto_layout(self, selection_only: bool = False) -> bool:
        """Layered layout (device → edge → cloud, children grouped by parent) as one undo step.

        With ``selection_only`` only the selected devices move, laid out among
        themselves with the drawing's top-left kept where the selection's was.
        """
        ids = self.layout_ids(selection_only)
        if ids is not None and len(ids) < 2:
            return False
        return self.apply_layout(auto_layout_positions(self.doc.topology, ids), ids)

    def apply_layout(self, positions: dict[str, tuple[float, float]], ids: list[str] | None) -> bool:
        """Push a computed layout (from :meth:`auto_layout` or a background run) as one undo step."""
        positions = {k: v for k, v in positions.items() if self.doc.topology.has_device(k)}
        if not positions:
            return False
        if ids is not None:  # keep the selection where it was: same top-left corner
            self.scene.finish_build()
            old = [self._position(k) for k in positions]
            dx = min(x for x, _ in old) - min(x for x, _ in positions.values())
            dy = min(y for _, y in old) - min(y for _, y in positions.values())
            positions = {k: (x + dx, y + dy) for k, (x, y) in positions.items()}
        positions = {k: self.scene.snapped_xy(x, y) for k, (x, y) in positions.items()}
        n = len(positions)
        text = "Auto-layout" if ids is None else f"Auto-layout {n} device{'s' if n != 1 else ''}"
        return self._move(positions, text, refit_zones=True)

    def align_selection(self, mode: str) -> bool:
        """Align the selected items (see :func:`planner_app.ui.canvas.layout.align`)."""
        pos = self.scene.movable_positions()
        return len(pos) >= 2 and self._move(align(pos, mode), f"Align {mode}")

    def distribute_selection(self, axis: str) -> bool:
        """Spread the selected items evenly along ``axis``."""
        pos = self.scene.movable_positions()
        return len(pos) >= 3 and self._move(distribute(pos, axis), f"Distribute {axis}")

    def find(self, text: str) -> str | None:
        """Id of the first device whose id or name contains ``text`` (case-insensitive)."""
        needle = text.strip().lower()
        if not needle:
            return None
        for d in self.doc.topology.devices:
            if needle == d.id.lower() or needle == d.label.lower():
                return d.id
        for d in self.doc.topology.devices:
            if needle in d.id.lower() or needle in d.label.lower():
                return d.id
        return None
