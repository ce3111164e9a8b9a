"""Privacy zones on the canvas: regions that contain their members.

A zone is drawn as its own region (the user's rectangle, kept in the topology's
metadata, or one derived from the members the first time the canvas sees the
zone), grown where needed so every member is inside: what is drawn inside is
what belongs. A drop inside a region joins the zone, a drag out leaves it, and a
resize that covers devices takes them in; each is one undo step with the move
or resize that caused it. Dragging a zone's border or title moves the zone
with its members (one undo step). :class:`ZoneRegions` is the part of
:class:`~planner_app.ui.canvas.scene.TopologyScene` that does this.
"""

from __future__ import annotations

__all__ = ["ZoneRegions"]

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF

from planner_app.ui.canvas.items import ZoneItem

if TYPE_CHECKING:
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QUndoCommand
    from PySide6.QtWidgets import QGraphicsItem

    from planner_app.ui.canvas.items import DeviceItem
    from planner_app.ui.document import TopologyDocument


class ZoneRegions:
    """Zone regions and membership for the scene (mixed into ``TopologyScene``).

    Uses the scene's ``doc``, ``devices``, ``zones``, ``building``, ``addItem``/``removeItem``,
    and its ``_dirty_zones`` / ``_derived_zones`` maps and ``_zone_timer`` / ``_rect_timer``.
    """

    doc: TopologyDocument
    devices: dict[str, DeviceItem]
    zones: dict[str, ZoneItem]
    _dirty_zones: set[str]
    _derived_zones: dict[str, QRectF]
    _zone_timer: QTimer
    _rect_timer: QTimer

    if TYPE_CHECKING:  # provided by the scene this is mixed into (declared for the type checker only)
        @property
        def building(self) -> bool: ...

        def addItem(self, item: QGraphicsItem) -> None: ...

        def removeItem(self, item: QGraphicsItem) -> None: ...

        def snapped(self, pos: QPointF) -> QPointF: ...

    def zone_moved(self, zone: str) -> None:
        """A member of ``zone`` moved or changed: re-shade it soon (coalesced)."""
        self._dirty_zones.add(zone)
        self._zone_timer.start()

    def zone_members_rect(self, zone: str) -> QRectF:
        """The members of ``zone`` with the zone's margin around them (empty without members)."""
        rect = QRectF()
        for it in self.devices.values():
            if it.zone == zone:
                rect = rect.united(it.sceneBoundingRect())
        m = ZoneItem.MARGIN
        return rect.adjusted(-m, -m, m, m) if not rect.isEmpty() else rect

    def zone_base(self, zone: str) -> QRectF | None:
        """The zone's own region: the user's (stored in the file), else the one derived from
        its members when it first appeared; None for a zone the scene has not seen."""
        stored = self.doc.zone_rect(zone)
        if stored is not None:
            return QRectF(*stored)
        return self._derived_zones.get(zone)

    def zone_at(self, scene_pos: QPointF, ignore: frozenset[str] = frozenset()) -> str:
        """The innermost zone whose own region holds ``scene_pos`` ('' for none).

        Own regions, not drawn ones: a member being dragged out stretches the drawn
        region behind it, and must still leave the zone when dropped outside.
        """
        best, best_area = "", float("inf")
        for zone in self.zones:
            base = self.zone_base(zone)
            if base is not None and base.contains(scene_pos) and zone not in ignore:
                area = base.width() * base.height()
                if area < best_area:
                    best, best_area = zone, area
        return best

    def _refresh_dirty_zones(self) -> None:
        if self.building:  # each zone walks every device: once, when the drawing is complete
            return
        dragged = self._zone_drag[0] if self._zone_drag is not None else None
        for zone in self._dirty_zones:
            if zone == dragged:  # drawn by the drag itself; refreshed when it ends
                continue
            members = self.zone_members_rect(zone)
            stored = self.doc.zone_rect(zone)
            item = self.zones.get(zone)
            if members.isEmpty() and stored is None:
                if item is not None:
                    self.removeItem(self.zones.pop(zone))
                self._derived_zones.pop(zone, None)
                continue
            if stored is None and zone not in self._derived_zones:
                self._derived_zones[zone] = members  # derived once, then kept like a user's region
            base = self.zone_base(zone) or members
            if item is None:
                item = ZoneItem(zone, len(self.zones))
                self.addItem(item)
                self.zones[zone] = item
            # membership is what is drawn: the region always covers every member
            item.set_region(base.united(members) if not members.isEmpty() else base)
        self._dirty_zones.clear()
        self._rect_timer.start()  # zone titles are obstacles for labels

    def zone_resized(self, zone: str, rect: QRectF) -> None:
        """The user dragged a zone's corner: one undo step; devices it now covers join it."""
        from planner_app.ui.commands import MacroCommand, SetDeviceZonesCommand, SetZoneRectCommand

        joining = [it.device_id for it in self.devices.values()
                   if not it.zone and rect.contains(it.pos())]
        children: list[QUndoCommand] = [
            SetZoneRectCommand(self.doc, zone, (rect.x(), rect.y(), rect.width(), rect.height()))]
        if joining:
            children.append(SetDeviceZonesCommand(self.doc, dict.fromkeys(joining, zone)))
        text = f"Resize privacy zone {zone}" + (f" ({len(joining)} joined)" if joining else "")
        self.doc.push(MacroCommand(text, children))
        self.zone_moved(zone)

    # -- moving a zone with its members -------------------------------------------------
    _zone_drag: tuple[str, QRectF, dict[str, QPointF]] | None = None

    def zone_drag_started(self, zone: str) -> None:
        """The user pressed a zone's border or title: remember where it and its members are."""
        item = self.zones.get(zone)
        if item is None:
            return
        members = {d: it.pos() for d, it in self.devices.items() if it.zone == zone}
        self._zone_drag = (zone, item.region(), members)

    def zone_drag_to(self, zone: str, delta: QPointF) -> None:
        """Show the zone and its members moved by ``delta`` (snapped to the grid when snapping is on)."""
        if self._zone_drag is None or self._zone_drag[0] != zone:
            return
        _, start, members = self._zone_drag
        d = self.snapped(delta)
        for dev_id, pos in members.items():
            it = self.devices.get(dev_id)
            if it is not None:
                it.setPos(pos + d)
        self.zones[zone].set_region(start.translated(d))

    def zone_dragged(self, zone: str) -> None:
        """The drag of a zone ended: its members' move and its new region, one undo step."""
        from planner_app.ui.commands import MacroCommand, MoveCommand, SetZoneRectCommand

        drag, self._zone_drag = self._zone_drag, None
        if drag is None or drag[0] != zone or zone not in self.zones:
            return
        _, start, members = drag
        region = self.zones[zone].region()
        d = region.topLeft() - start.topLeft()
        if d.isNull():
            return
        old = {k: (p.x(), p.y()) for k, p in members.items()}
        new = {k: (self.devices[k].pos().x(), self.devices[k].pos().y()) for k in members if k in self.devices}
        base = self.zone_base(zone) or start
        moved = base.translated(d)
        children: list[QUndoCommand] = [
            SetZoneRectCommand(self.doc, zone, (moved.x(), moved.y(), moved.width(), moved.height()))]
        if new:
            children.insert(0, MoveCommand(self.doc, old, new))
        n = len(new)
        self.doc.push(MacroCommand(f"Move privacy zone {zone}" + (f" with {n} device{'s' if n != 1 else ''}" if n else ""),
                                   children))
        self.zone_moved(zone)

    def membership_after_drop(self, moved: list[str]) -> list[tuple[str, str, str]]:
        """(device, old zone, new zone) for dropped devices whose zone changes: a device
        dropped inside a zone's region joins it, one dragged out of its zone leaves it."""
        changes = []
        for dev_id in moved:
            item = self.devices.get(dev_id)
            if item is None:
                continue
            new = self.zone_at(item.pos())
            if new != item.zone:
                changes.append((dev_id, item.zone, new))
        return changes
