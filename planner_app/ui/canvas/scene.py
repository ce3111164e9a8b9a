"""The topology scene: a projection of a :class:`TopologyDocument`.

Document signals create, update and remove items; nothing else does. The
scene also turns mouse gestures into edits: a finished drag of selected items
becomes one :class:`~planner_app.ui.commands.MoveCommand`, and a drag from a
device's link handle (or any drag from a device while the Link tool is on)
ends in :attr:`TopologyScene.linkRequested`, which the window answers by
asking for a link preset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

__all__ = ["TopologyScene", "GRID_PX", "BUILD_SLICE"]

from PySide6.QtCore import QLineF, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsLineItem,
    QGraphicsScene,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneHelpEvent,
    QGraphicsSceneMouseEvent,
    QToolTip,
)

from planner_app.core.topology import Device, Link
from planner_app.ui.canvas.items import TEXT_MIN_ZOOM, DeviceItem, LinkItem, NoteItem, ZoneItem
from planner_app.ui.canvas.labels import place_labels, placing_labels
from planner_app.ui.canvas.link_layer import LinkLayer
from planner_app.ui.canvas.zones import ZoneRegions
from planner_app.ui.commands import MoveCommand
from planner_app.ui.document import TopologyDocument

GRID_PX = 20.0
#: items drawn per event-loop turn when a big topology is opened
BUILD_SLICE = 80
#: up to this many devices + links, labels are placed in one go
LABELS_AT_ONCE = 600
_PARALLEL_BEND_PX = 22.0


class TopologyScene(ZoneRegions, QGraphicsScene):
    """Items for every device, link, note and privacy zone of a document."""

    #: a link drag ended on another device: (source id, target id, screen x, screen y)
    linkRequested = Signal(str, str, int, int)
    #: right click: (scene x, scene y, screen x, screen y); the selection is already updated
    contextMenuRequested = Signal(float, float, int, int)
    #: the drawing of the document is complete (after a rebuild)
    built = Signal()
    #: work spread over event-loop turns (a rebuild, a big insert or move) is done
    settled = Signal()

    def __init__(self, doc: TopologyDocument, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.doc = doc
        self.devices: dict[str, DeviceItem] = {}
        self.links: dict[str, LinkItem] = {}
        self.notes: dict[str, NoteItem] = {}
        self.zones: dict[str, ZoneItem] = {}
        self.snap_enabled = True
        self.grid_visible = True
        self.link_tool = False
        #: set while an export renders (:mod:`planner_app.ui.canvas.export`): grid and background follow it
        self.export_options = None
        self._drag_start: dict[str, tuple[float, float]] = {}
        self._link_source: DeviceItem | None = None
        self._rubber_link: QGraphicsLineItem | None = None
        self._dirty_zones: set[str] = set()
        self._derived_zones: dict[str, QRectF] = {}
        self._zone_timer = QTimer(self)
        self._zone_timer.setSingleShot(True)
        self._zone_timer.setInterval(0)
        self._zone_timer.timeout.connect(self._refresh_dirty_zones)
        self.short_labels = False
        self._label_timer = QTimer(self)
        self._label_timer.setSingleShot(True)
        self._label_timer.setInterval(0)
        self._label_timer.timeout.connect(self.place_labels)
        self._label_job: Iterator[int] | None = None
        self._label_step_timer = QTimer(self)
        self._label_step_timer.setSingleShot(True)
        self._label_step_timer.setInterval(0)
        self._label_step_timer.timeout.connect(self._label_step)
        self._rect_timer = QTimer(self)
        self._rect_timer.setSingleShot(True)
        self._rect_timer.setInterval(0)
        self._rect_timer.timeout.connect(self._update_scene_rect)
        # whatever moves the scene rect may crowd labels: re-place them in the same pass
        self._rect_timer.timeout.connect(self.place_labels)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self._build_steps: Iterator[Callable[[], object]] | None = None
        self._build_timer = QTimer(self)
        self._build_timer.setSingleShot(True)
        self._build_timer.setInterval(0)
        self._build_timer.timeout.connect(self._build_slice)
        doc.topologyReset.connect(self.rebuild)
        doc.deviceAdded.connect(self._on_device_added)
        doc.deviceRemoved.connect(self._on_device_removed)
        doc.deviceChanged.connect(self._on_device_changed)
        doc.devicesMoved.connect(self._on_devices_moved)
        doc.linkAdded.connect(self._on_link_added)
        doc.linkRemoved.connect(self._on_link_removed)
        doc.linkChanged.connect(self._on_link_changed)
        doc.noteAdded.connect(self._on_note_added)
        doc.noteRemoved.connect(self._on_note_removed)
        doc.noteChanged.connect(self._on_note_changed)
        doc.itemsRemoved.connect(self._on_items_removed)
        doc.itemsInserted.connect(self._on_items_inserted)
        doc.zoneChanged.connect(self.zone_moved)
        self.rebuild()

    # -- building ----------------------------------------------------------------------
    def rebuild(self) -> None:
        """Drop every item and draw the document's topology again.

        Big topologies are drawn in slices between event-loop turns so the
        window keeps answering; :attr:`built` is emitted when the drawing is
        complete (at once for small ones).
        """
        self._build_steps = None
        self.clear()
        self._forget_items()
        topo = self.doc.topology
        steps = self._build_plan(topo)
        if len(topo.devices) + len(topo.links) <= BUILD_SLICE:
            for step in steps:
                step()
            self.built.emit()
            return
        self._build_steps = iter(steps)
        self._emit_built = True
        self._build_timer.start()

    _emit_built = False

    def _queue_steps(self, steps) -> None:  # noqa: ANN001 - an iterable of callables
        """Run ``steps`` over the next event-loop turns, like the drawing of a big file
        (an undone delete of 1,000 devices froze the window for 300 ms in one go)."""
        self.finish_build()
        self._build_steps = iter(steps)
        self._emit_built = False  # not a new document: nobody refits the view
        # no repaint of the half-drawn picture after each slice: it cost 50 full redraws
        self._frozen = [v.viewport() for v in self.views() if v.viewport().updatesEnabled()]
        for vp in self._frozen:
            vp.setUpdatesEnabled(False)
        self._build_timer.start()

    _frozen: list = []

    def _forget_items(self) -> None:
        """After ``clear()``: no item maps, and a fresh link layer (the old one went with the items)."""
        self.devices.clear()
        self.links.clear()
        self.notes.clear()
        self.zones.clear()
        self._derived_zones.clear()
        self._rubber_link = None
        self.link_layer = LinkLayer(self.links)
        self.addItem(self.link_layer)

    def _build_plan(self, topo) -> list[Callable[[], object]]:  # noqa: ANN001 - Topology
        """The build as a list of small callables (slices of items)."""
        devices, links = list(topo.devices), list(topo.links)

        def add_devices(chunk: list[Device]) -> None:
            for d in chunk:
                self._add_device_item(d.id)

        def add_links(chunk: list[Link]) -> None:
            for x in chunk:
                self._add_link_item(x, bend=False)

        plan: list[Callable[[], object]] = []
        plan += [partial(add_devices, devices[i:i + BUILD_SLICE]) for i in range(0, len(devices), BUILD_SLICE)]
        plan += [partial(add_links, links[i:i + BUILD_SLICE]) for i in range(0, len(links), BUILD_SLICE)]

        def finish() -> None:
            self._rebend_all()
            for n in topo.notes:
                self._on_note_added(n.id)
            self._dirty_zones = set(self.doc.zone_names())
            self._refresh_dirty_zones()
            self._update_scene_rect()

        plan.append(finish)
        plan.append(lambda: self._place_labels_now() if len(topo.devices) + len(topo.links) <= LABELS_AT_ONCE
                    else self._rect_timer.start())
        return plan

    @property
    def building(self) -> bool:
        """True while a big topology is still being drawn."""
        return self._build_steps is not None

    def _build_slice(self) -> None:
        if self._build_steps is None:
            return
        step = next(self._build_steps, None)
        if step is None:
            self._build_steps = None
            for vp in self._frozen:
                vp.setUpdatesEnabled(True)
            self._frozen = []
            # zones, scene rect and labels, now that every item exists (before anyone fits the view)
            self._refresh_dirty_zones()
            self._update_scene_rect()
            self.place_labels()
            if self._emit_built:
                self.built.emit()
            self.settled.emit()
            return
        step()
        self._build_timer.start()

    def finish_build(self) -> None:
        """Draw whatever is left now (before an edit needs every item)."""
        while self._build_steps is not None:
            self._build_slice()

    def content_rect(self) -> QRectF:
        """Scene rectangle of the drawing: devices, links, notes and zones."""
        rect = QRectF()
        for mapping in (self.devices, self.notes, self.zones):
            for it in mapping.values():
                rect = rect.united(it.sceneBoundingRect())
        for link in self.links.values():
            rect = rect.united(link.boundingRect())
        return rect

    def place_labels(self) -> None:
        """Place device and link labels clear of devices and each other (see :mod:`.labels`).

        A big drawing is placed a few hundred labels per event-loop turn (the pass
        over 3,000 links took 300 ms at once); a new request restarts it.
        """
        self._label_timer.stop()
        if self.building:
            return
        if len(self.links) + len(self.devices) <= LABELS_AT_ONCE:
            self._place_labels_now()
            return
        if self._shown_zoom < TEXT_MIN_ZOOM and self.export_options is None:
            # far out no label is drawn (level of detail): place them when a view zooms in
            self._label_job = None
            self._labels_stale = True
            return
        self._labels_stale = False
        self._label_job = placing_labels(self.devices.values(), self.links.values(), self._label_obstacles())
        self._label_step_timer.start()

    def _label_step(self) -> None:
        if self._label_job is None:
            return
        if self._shown_zoom < TEXT_MIN_ZOOM:  # zoomed out since it started: no label is drawn
            self._label_job = None
            self._labels_stale = True
            return
        if self.link_layer.draft:
            # a drag is on: moving labels now would throw away the drag's cached picture of the
            # other links every frame; start over when it ends (the release re-places labels)
            self._label_job = None
            self._labels_pending = True
            return
        if next(self._label_job, None) is None:
            self._label_job = None
        else:
            self._label_step_timer.start()

    _labels_pending = False
    _labels_stale = False
    #: the largest zoom any view last painted at (labels of big drawings wait for it to matter)
    _shown_zoom = 1.0

    def ensure_labels(self) -> None:
        """Place every label now (an export draws them whatever the views show)."""
        for _ in self.ensuring_labels():
            pass

    def ensuring_labels(self):  # noqa: ANN201 - an iterator of steps
        """:meth:`ensure_labels` in steps, for a caller that reports progress between them."""
        if not (self._labels_stale or self._label_job is not None):
            return
        self._label_job = None
        self._labels_stale = False
        yield from placing_labels(self.devices.values(), self.links.values(), self._label_obstacles())

    def _label_obstacles(self) -> list[QRectF]:
        return [z.title_rect() for z in self.zones.values()] + [n.sceneBoundingRect() for n in self.notes.values()]

    def _place_labels_now(self) -> None:
        self._label_job = None
        self._labels_stale = False
        place_labels(self.devices.values(), self.links.values(), self._label_obstacles())

    def set_short_labels(self, short: bool) -> None:
        """View ▸ Short Labels: names cut to a fixed width (the tooltip has them whole)."""
        self.short_labels = short
        for item in self.devices.values():
            item.set_label_mode(short)
        self.place_labels()

    def _update_scene_rect(self) -> None:
        if self.building:  # walks every item: once, when the drawing is complete
            return
        # generous margins so the user can drag beyond the current drawing
        rect = self.content_rect()
        if rect.isEmpty():
            rect = QRectF(-400, -300, 800, 600)
        self.setSceneRect(rect.adjusted(-2000, -2000, 2000, 2000))

    def _add_device_item(self, device_id: str) -> DeviceItem:
        dev = self.doc.topology.device(device_id)
        item = DeviceItem(dev)
        item.set_label_mode(self.short_labels)
        item.setPos(dev.position.x, dev.position.y)
        self.addItem(item)
        self.devices[device_id] = item
        return item

    def _add_link_item(self, link: Link, bend: bool = True) -> LinkItem:
        item = LinkItem(link, self.devices[link.a], self.devices[link.b])
        item.layer = self.link_layer
        self.addItem(item)
        self.link_layer.invalidate()
        self.links[link.id] = item
        if bend:
            self._rebend(link.a, link.b)
        return item

    def _rebend(self, a: str, b: str) -> None:
        """Spread the links between ``a`` and ``b`` into a fan of curves."""
        pair = {a, b}
        group = [item for item in self.devices[a].links if {item.a_item.device_id, item.b_item.device_id} == pair] if a in self.devices else []
        n = len(group)
        for i, item in enumerate(group):
            sign = 1.0 if item.a_item.device_id == min(pair) else -1.0  # same side whichever end is a
            bend = sign * (i - (n - 1) / 2) * _PARALLEL_BEND_PX
            if bend != item.bend:
                item.bend = bend
                item.adjust()

    def _rebend_all(self) -> None:
        seen: set[frozenset[str]] = set()
        for item in self.links.values():
            pair = frozenset({item.a_item.device_id, item.b_item.device_id})
            if pair not in seen:
                seen.add(pair)
                self._rebend(item.a_item.device_id, item.b_item.device_id)

    # -- model events ------------------------------------------------------------------
    def _on_device_added(self, device_id: str) -> None:
        self.finish_build()
        item = self._add_device_item(device_id)
        self._rect_timer.start()
        if item.zone:
            self.zone_moved(item.zone)

    def _on_device_removed(self, device_id: str) -> None:
        self.finish_build()
        item = self.devices.pop(device_id)
        self.removeItem(item)
        self._rect_timer.start()
        if item.zone:
            self.zone_moved(item.zone)

    def _on_device_changed(self, device_id: str) -> None:
        self.finish_build()
        dev = self.doc.topology.device(device_id)
        item = self.devices[device_id]
        old_zone = item.zone
        item.show_record(dev)
        self._rect_timer.start()  # the name's width may have changed
        if item.pos() != QPointF(dev.position.x, dev.position.y):
            # the model is the truth (undo of a move, auto-layout): no snapping here
            snap, self.snap_enabled = self.snap_enabled, False
            item.setPos(dev.position.x, dev.position.y)
            self.snap_enabled = snap
            self._rect_timer.start()
        for zone in {old_zone, item.zone} - {""}:
            self.zone_moved(zone)

    def _on_devices_moved(self, device_ids: list[str]) -> None:
        """Move the items to the model's positions; many (an auto-layout) over several turns."""
        self.finish_build()
        topo = self.doc.topology
        # a drag's items are already where the model says: only the others need work
        todo = [d for d in device_ids if self.devices[d].pos() != QPointF(topo.device(d).position.x,
                                                                             topo.device(d).position.y)]
        links: set[LinkItem] = set()
        zones: set[str] = set()

        def move(chunk: list[str]) -> None:
            # the model is the truth (undo of a move, auto-layout): no snapping here
            snap, self.snap_enabled = self.snap_enabled, False
            try:
                for dev_id in chunk:
                    if dev_id not in self.devices or not topo.has_device(dev_id):
                        continue
                    pos = topo.device(dev_id).position
                    item = self.devices[dev_id]
                    item.batch_move = True
                    item.setPos(pos.x, pos.y)
                    item.batch_move = False
                    links.update(item.links)
                    if item.zone:
                        zones.add(item.zone)
            finally:
                self.snap_enabled = snap

        def adjust(chunk: list[LinkItem]) -> None:
            for link in chunk:  # once each, however many of its ends moved
                if link.link_id in self.links:
                    link.adjust()

        def finish() -> None:
            for zone in zones:
                self.zone_moved(zone)
            self._rect_timer.start()

        def steps():  # noqa: ANN202 - a generator of steps: the links are known once the moves ran
            for i in range(0, len(todo), BUILD_SLICE):
                yield lambda c=todo[i:i + BUILD_SLICE]: move(c)
            moved = list(links)
            for i in range(0, len(moved), 4 * BUILD_SLICE):
                yield lambda c=moved[i:i + 4 * BUILD_SLICE]: adjust(c)
            yield finish

        if len(todo) <= 4 * BUILD_SLICE:
            for step in steps():
                step()
            return
        self._queue_steps(steps())

    def _on_link_added(self, link_id: str) -> None:
        self.finish_build()
        self._add_link_item(self.doc.topology.link(link_id))
        self._rect_timer.start()

    def _on_link_removed(self, link_id: str) -> None:
        self.finish_build()
        item = self.links.pop(link_id)
        item.detach()
        item.layer = None
        self.removeItem(item)
        self.link_layer.invalidate()
        self._rect_timer.start()
        a, b = item.a_item.device_id, item.b_item.device_id
        if a in self.devices and b in self.devices:
            self._rebend(a, b)

    def _on_link_changed(self, link_id: str) -> None:
        self.finish_build()
        self.links[link_id].show_record(self.doc.topology.link(link_id))
        self._rect_timer.start()

    def _on_note_added(self, note_id: str) -> None:
        note = self.doc.note(note_id)
        item = NoteItem(note)
        item.setPos(note.position.x, note.position.y)
        self.addItem(item)
        self.notes[note_id] = item

    def _on_note_removed(self, note_id: str) -> None:
        self.finish_build()
        self.removeItem(self.notes.pop(note_id))

    def _on_note_changed(self, note_id: str) -> None:
        self.finish_build()
        note = self.doc.note(note_id)
        item = self.notes[note_id]
        item.show_record(note)
        if item.pos() != QPointF(note.position.x, note.position.y):
            snap, self.snap_enabled = self.snap_enabled, False
            item.setPos(note.position.x, note.position.y)
            self.snap_enabled = snap
        self._rect_timer.start()  # notes are obstacles for labels

    def _on_items_removed(self, device_ids: list[str], link_ids: list[str], note_ids: list[str]) -> None:
        """A bulk delete: drop the items with one selection signal and one link-layer redraw."""
        self.finish_build()
        if (len(device_ids), len(link_ids), len(note_ids)) == (len(self.devices), len(self.links), len(self.notes)):
            self._clear_all()  # everything goes: one C++ clear, not 4,000 index removals (100 ms)
            return
        was_selected = False
        pairs: set[tuple[str, str]] = set()
        zones: set[str] = set()
        # removing a selected item makes Qt emit selectionChanged for each one, and every
        # listener then walks the whole selection: quadratic; block and emit once at the end
        blocked = self.blockSignals(True)
        try:
            for lid in link_ids:
                item = self.links.pop(lid)
                was_selected |= item.isSelected()
                item.detach()
                item.layer = None
                self.removeItem(item)
                pairs.add((item.a_item.device_id, item.b_item.device_id))
            for dev_id in device_ids:
                item = self.devices.pop(dev_id)
                was_selected |= item.isSelected()
                if item.zone:
                    zones.add(item.zone)
                self.removeItem(item)
            for note_id in note_ids:
                item = self.notes.pop(note_id)
                was_selected |= item.isSelected()
                self.removeItem(item)
        finally:
            self.blockSignals(blocked)
        self.link_layer.invalidate()
        for a, b in pairs:
            if a in self.devices and b in self.devices:
                self._rebend(a, b)
        for zone in zones:
            self.zone_moved(zone)
        self._rect_timer.start()
        if was_selected and not blocked:
            self.selectionChanged.emit()

    def _clear_all(self) -> None:
        had_selection = bool(self.selectedItems())
        blocked = self.blockSignals(True)
        try:
            for item in self.links.values():
                item.layer = None
            self.clear()  # zones and the rubber link go too; zones with a region come back below
        finally:
            self.blockSignals(blocked)
        self._forget_items()
        self._dirty_zones = set(self.doc.zone_names())
        self._zone_timer.start()
        self._rect_timer.start()
        if had_selection and not blocked:
            self.selectionChanged.emit()

    def _on_items_inserted(self, device_ids: list[str], link_ids: list[str], note_ids: list[str]) -> None:
        """A bulk insert (paste, undone delete): add the items, re-bend each pair once.

        Many items are added over several event-loop turns; any later edit first
        completes them (every handler calls :meth:`finish_build`).
        """
        self.finish_build()
        wanted = set(link_ids)
        links = [link for link in self.doc.topology.links if link.id in wanted]
        pairs: set[frozenset[str]] = set()

        def add_devices(chunk: list[str]) -> None:
            for dev_id in chunk:
                item = self._add_device_item(dev_id)
                if item.zone:
                    self.zone_moved(item.zone)

        def add_links(chunk: list) -> None:  # noqa: ANN001 - Link records
            for link in chunk:
                self._add_link_item(link, bend=False)
                pairs.add(frozenset((link.a, link.b)))

        def finish() -> None:
            for pair in pairs:
                a, b = sorted(pair)
                self._rebend(a, b)
            for note_id in note_ids:
                self._on_note_added(note_id)
            self._rect_timer.start()

        steps: list[Callable[[], object]] = [
            partial(add_devices, device_ids[i:i + BUILD_SLICE]) for i in range(0, len(device_ids), BUILD_SLICE)]
        steps += [partial(add_links, links[i:i + BUILD_SLICE]) for i in range(0, len(links), BUILD_SLICE)]
        steps.append(finish)
        if len(device_ids) + len(links) <= 4 * BUILD_SLICE:
            for step in steps:
                step()
            return
        self._queue_steps(steps)

    # -- selection -----------------------------------------------------------------------
    def selected_device_ids(self) -> list[str]:
        """Ids of selected devices, in document order."""
        sel = {it.device_id for it in self.selectedItems() if isinstance(it, DeviceItem)}
        return [d.id for d in self.doc.topology.devices if d.id in sel]

    def selected_link_ids(self) -> list[str]:
        sel = {it.link_id for it in self.selectedItems() if isinstance(it, LinkItem)}
        return [link.id for link in self.doc.topology.links if link.id in sel]

    def selected_note_ids(self) -> list[str]:
        sel = {it.note_id for it in self.selectedItems() if isinstance(it, NoteItem)}
        return [n.id for n in self.doc.topology.notes if n.id in sel]

    def select_ids(self, ids: list[str]) -> None:
        """Select exactly the devices/links/notes with these ids."""
        want = set(ids)
        self.blockSignals(True)
        self.clearSelection()
        for mapping in (self.devices, self.links, self.notes):
            for item_id, item in mapping.items():
                if item_id in want:
                    item.setSelected(True)
        self.blockSignals(False)
        self.selectionChanged.emit()

    def select_all(self) -> None:
        """Select every device, link and note with one selection signal (Edit ▸ Select All).

        Selecting item by item emits selectionChanged per item and each listener
        walks the whole selection: 133 s for 300 devices before this.
        """
        self.finish_build()
        blocked = self.blockSignals(True)
        try:
            for mapping in (self.devices, self.links, self.notes):
                for item in mapping.values():
                    item.setSelected(True)
        finally:
            self.blockSignals(blocked)
        if not blocked:
            self.selectionChanged.emit()

    def movable_positions(self) -> dict[str, tuple[float, float]]:
        """Current positions of the selected devices and notes."""
        out: dict[str, tuple[float, float]] = {}
        for it in self.selectedItems():
            if isinstance(it, DeviceItem):
                out[it.device_id] = (it.pos().x(), it.pos().y())
            elif isinstance(it, NoteItem):
                out[it.note_id] = (it.pos().x(), it.pos().y())
        return out

    # -- snapping and grid ---------------------------------------------------------------
    def snapped(self, pos: QPointF) -> QPointF:
        """``pos`` rounded to the grid when snapping is on."""
        if not self.snap_enabled:
            return pos
        return QPointF(round(pos.x() / GRID_PX) * GRID_PX, round(pos.y() / GRID_PX) * GRID_PX)

    def set_grid_visible(self, visible: bool) -> None:
        """Show or hide the grid (the views cache the background: invalidate it)."""
        self.grid_visible = visible
        self.invalidate(QRectF(), QGraphicsScene.SceneLayer.BackgroundLayer)

    def snapped_xy(self, x: float, y: float) -> tuple[float, float]:
        """``(x, y)`` rounded to the grid when snapping is on."""
        p = self.snapped(QPointF(x, y))
        return (p.x(), p.y())

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        zoom = painter.worldTransform().m11()
        if self.export_options is None:
            self._shown_zoom = zoom
            if self._labels_stale and zoom >= TEXT_MIN_ZOOM:  # zoomed in far enough to read them
                self._rect_timer.start()
        export = self.export_options
        if export is None or not export.transparent:
            painter.fillRect(rect, QColor("#FAFBFC"))
        if not (self.grid_visible if export is None else export.grid):
            return
        scale = painter.worldTransform().m11()
        step = GRID_PX * (5 if scale < 0.6 else 1)
        if step * scale < 6:  # too dense to help: skip
            return
        painter.setPen(QPen(QColor("#E6EAEE"), 0))
        left = int(rect.left() // step) * step
        top = int(rect.top() // step) * step
        x = left
        lines = []
        while x < rect.right():
            lines.append(QLineF(x, rect.top(), x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            lines.append(QLineF(rect.left(), y, rect.right(), y))
            y += step
        painter.drawLines(lines)

    # -- gestures ------------------------------------------------------------------------
    def device_at(self, scene_pos: QPointF) -> DeviceItem | None:
        """The device item under ``scene_pos``, if any."""
        for it in self.items(scene_pos):
            if isinstance(it, DeviceItem):
                return it
        return None

    def helpEvent(self, event: QGraphicsSceneHelpEvent) -> None:
        """Tooltips are written from the model when asked (items hold no records)."""
        text = ""
        topo = self.doc.topology
        for it in self.items(event.scenePos()):
            if isinstance(it, DeviceItem):
                d = topo.device(it.device_id)
                text = (f"<b>{d.label}</b> ({d.id})<br>{d.kind.value.replace('_', ' ')}, {d.tier.value} tier"
                        f"<br>{it.figures}" + (f"<br>privacy zone: {d.privacy_zone}" if d.privacy_zone else "")
                        + "<br><i>drag the round handle to another device to link them</i>")
                break
            if isinstance(it, LinkItem):
                link = topo.link(it.link_id)
                text = (f"<b>{link.id}</b>: {link.a} ↔ {link.b}<br>{it.label}<br>jitter {link.jitter_ms:g} ms, "
                        f"loss {link.loss_pct:g} %, ${link.cost_usd_per_gb:g}/GB")
                break
        if text:
            QToolTip.showText(event.screenPos(), text)
            event.accept()
        else:
            QToolTip.hideText()
            event.ignore()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            dev = self.device_at(event.scenePos())
            if dev is not None and (self.link_tool or dev.is_on_handle(event.scenePos())):
                self._link_source = dev
                self._rubber_link = QGraphicsLineItem(dev.pos().x(), dev.pos().y(), event.scenePos().x(), event.scenePos().y())
                self._rubber_link.setPen(QPen(QColor("#1565C0"), 2, Qt.PenStyle.DashLine))
                self._rubber_link.setZValue(100)
                self.addItem(self._rubber_link)
                event.accept()
                return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_start = self.movable_positions()
            if self._drag_start:
                moving = {link.link_id for dev_id in self._drag_start if dev_id in self.devices
                          for link in self.devices[dev_id].links}
                self.link_layer.set_draft(True, moving)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._rubber_link is not None and self._link_source is not None:
            src = self._link_source.pos()
            self._rubber_link.setLine(src.x(), src.y(), event.scenePos().x(), event.scenePos().y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._rubber_link is not None and self._link_source is not None:
            self.removeItem(self._rubber_link)
            source, self._link_source, self._rubber_link = self._link_source, None, None
            target = self.device_at(event.scenePos())
            if target is not None and target is not source:
                screen = event.screenPos()
                self.linkRequested.emit(source.device_id, target.device_id, screen.x(), screen.y())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if self.link_layer.draft:
            self.link_layer.set_draft(False)  # back to full quality
        if self._labels_pending:
            self._labels_pending = False
            self._rect_timer.start()
        if event.button() == Qt.MouseButton.LeftButton and self._drag_start:
            new = self.movable_positions()
            old = {k: v for k, v in self._drag_start.items() if k in new}
            self._drag_start = {}
            if any(old[k] != new[k] for k in old):
                self._push_drop(old, {k: new[k] for k in old})
                self._rect_timer.start()

    def _push_drop(self, old: dict[str, tuple[float, float]], new: dict[str, tuple[float, float]]) -> None:
        """A finished drag: the move, and the zone changes it makes, as one undo step."""
        from planner_app.ui.commands import MacroCommand, SetDeviceZonesCommand

        n = len(old)
        move = MoveCommand(self.doc, old, new, text=f"Move {n} item{'s' if n != 1 else ''}")
        changes = self.membership_after_drop([k for k in new if k in self.devices])
        if not changes:
            self.doc.push(move)
            return
        topo = self.doc.topology
        edit = SetDeviceZonesCommand(self.doc, {d: z for d, _, z in changes})
        if len(changes) == 1:
            dev, was, now = changes[0]
            label = topo.device(dev).label
            text = (f"Move {label} into privacy zone {now}" if now else f"Move {label} out of privacy zone {was}")
        else:
            text = f"Move {n} items ({len(changes)} change privacy zone)"
        self.doc.push(MacroCommand(text, [move, edit]))

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        item = self.itemAt(event.scenePos(), self.views()[0].transform()) if self.views() else None
        while item is not None and not isinstance(item, (DeviceItem, LinkItem, NoteItem)):
            item = item.parentItem()
        if item is not None and not item.isSelected():
            self.clearSelection()
            item.setSelected(True)
        elif item is None:
            self.clearSelection()
        self.contextMenuRequested.emit(event.scenePos().x(), event.scenePos().y(), event.screenPos().x(), event.screenPos().y())
        event.accept()
