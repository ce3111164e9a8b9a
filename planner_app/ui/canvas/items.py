"""Graphics items of the topology canvas: devices, links, notes, privacy zones.

Items are views: they show a core record handed to them by the scene
(:meth:`DeviceItem.show_record`) and keep only what they need to paint. They
never change the model; a drag moves the item on screen and the scene turns
the finished drag into one undo command.

Edges follow nodes the way Qt's *elasticnodes* example does: a device sets
``ItemSendsGeometryChanges`` and, when it moves, asks each attached
:class:`LinkItem` to re-path itself.
"""

from __future__ import annotations

__all__ = ["DeviceItem", "LinkItem", "NoteItem", "ZoneItem", "TILE", "TEXT_W", "label_width"]

import math
from typing import Protocol

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from planner_app.core.topology.records import Device, Link, Note
from planner_app.ui.style import (
    format_gflops,
    format_mb,
    format_mbps,
    svg_renderer,
    tier_colour,
    zone_colour,
)


class ItemHost(Protocol):
    """What the items ask of the scene they are in (the TopologyScene provides it).

    Named here rather than imported so that the items do not depend on the
    scene that is built from them.
    """

    def snapped(self, pos: QPointF) -> QPointF: ...
    def zone_moved(self, zone: str) -> None: ...
    def zone_members_rect(self, zone: str) -> QRectF: ...
    def zone_resized(self, zone: str, rect: QRectF) -> None: ...
    def zone_drag_started(self, zone: str) -> None: ...
    def zone_drag_to(self, zone: str, delta: QPointF) -> None: ...
    def zone_dragged(self, zone: str) -> None: ...


class LinkPainter(Protocol):
    """The layer that paints every link (canvas.link_layer.LinkLayer)."""

    def invalidate(self) -> None: ...
    def link_moved(self, item: LinkItem) -> None: ...

TILE = 52.0     # the icon tile
#: below this zoom a device is only its tier-coloured tile: icon and text would be specks
TEXT_MIN_ZOOM = 0.3
TEXT_W = 176.0  # the width names are cut to in the short label mode
_HANDLE_R = 7.0
_LABEL_H = 34.0  # name line + figures line
_LABEL_GAP = 3.0  # between the tile and its label

_NAME_FONT = QFont()
_NAME_FONT.setPointSizeF(9.5)
_NAME_FONT.setBold(True)
_SMALL_FONT = QFont()
_SMALL_FONT.setPointSizeF(8.0)
_LABEL_FONT = QFont()
_LABEL_FONT.setPointSizeF(7.5)

Z_ZONE, Z_LINK, Z_NOTE, Z_DEVICE = -10.0, 0.0, 5.0, 10.0
_TEXT_BACKING = QColor(250, 251, 252, 215)
_TILE_BOUNDS = QRectF(-TILE / 2 - 4, -TILE / 2 - 4, TILE + 8 + _HANDLE_R, TILE + 8)


def label_width(metrics: QFontMetricsF, text: str) -> float:
    """Room for ``text`` at any zoom: hinted glyphs at 60-80 % zoom are up to ~10 % wider
    than at 100 %, which clipped "Vehicle computer" to "/ehicle computer" in the cached tile."""
    return metrics.horizontalAdvance(text) * 1.12 + 10.0


_WIDTHS: dict[tuple[int, str], float] = {}


def _text_width(font: QFont, text: str) -> float:
    """:func:`label_width` of ``text`` in one of this module's fonts, remembered: thousands of
    links share a handful of labels, and measuring was a third of redrawing 4,000 items."""
    key = (id(font), text)
    w = _WIDTHS.get(key)
    if w is None:
        if len(_WIDTHS) > 20_000:
            _WIDTHS.clear()
        w = _WIDTHS[key] = label_width(QFontMetricsF(font), text)
    return w


class DeviceItem(QGraphicsItem):
    """A device: a tier-coloured tile with its icon, the name and key figures below.

    The small circle on the tile's right edge is the link handle: drag from it
    to another device to connect them.
    """

    def __init__(self, device: Device) -> None:
        super().__init__()
        self.device_id = device.id
        self.links: list[LinkItem] = []
        self.batch_move = False
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsFocusable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setZValue(Z_DEVICE)
        # painting text + SVG is the costly part; a device-pixel cache makes drags cheap
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._hover = False
        self._cursor_on_handle = False
        self.short_label = False  # the scene's label mode: names cut to TEXT_W (tooltip has the rest)
        self.label_above = False  # set by the scene's label placement when below is taken
        self._label = QRectF()
        self._bounds = QRectF()
        self.show_record(device)

    # -- model → view --------------------------------------------------------------
    def show_record(self, device: Device) -> None:
        """Take the figures to draw from ``device`` (called on every model change)."""
        self.prepareGeometryChange()  # the shape follows the name's width
        self.kind = str(device.kind)
        self.tier = str(device.tier)
        self.name = device.label
        self.zone = device.privacy_zone
        figures = [format_gflops(device.peak_gflops_fp32), format_mb(device.memory_mb)]
        if device.battery:
            figures.append("battery")
        elif device.cost_usd_per_hour:
            figures.append(f"${device.cost_usd_per_hour:g}/h")
        self.figures = " · ".join(figures)
        self._layout_label()
        self.update()

    def set_label_mode(self, short: bool) -> None:
        """Full names (default) or names cut to :data:`TEXT_W` with an ellipsis."""
        if short != self.short_label:
            self.short_label = short
            self._layout_label()
            self.update()

    def set_label_above(self, above: bool) -> None:
        """Put the label above the tile (the placement pass found below taken)."""
        if above != self.label_above:
            self.label_above = above
            self._layout_label()
            self.update()

    def shown_name(self) -> str:
        """The name as drawn: whole, or cut with an ellipsis in the short label mode."""
        if not self.short_label:
            return self.name
        return QFontMetricsF(_NAME_FONT).elidedText(self.name, Qt.TextElideMode.ElideRight, TEXT_W)

    def _layout_label(self) -> None:
        self.prepareGeometryChange()  # the label, and so the bounds, follow the name's width
        w = max(_text_width(_NAME_FONT, self.shown_name()), _text_width(_SMALL_FONT, self.figures))
        self._label = self.label_rect_at(self.label_above, w)
        self._bounds = _TILE_BOUNDS.united(self._label.adjusted(-2, -2, 2, 2))

    @staticmethod
    def label_rect_at(above: bool, width: float) -> QRectF:
        """Where a label ``width`` wide sits, below or above the tile (item coordinates)."""
        top = -TILE / 2 - _LABEL_GAP - _LABEL_H if above else TILE / 2 + _LABEL_GAP
        return QRectF(-width / 2, top, width, _LABEL_H)

    # -- geometry ------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return self._bounds  # computed when the label changes: Qt asks thousands of times per frame

    def card_rect(self) -> QRectF:
        """The icon tile (links point at its centre, the item's position)."""
        return QRectF(-TILE / 2, -TILE / 2, TILE, TILE)

    def label_rect(self) -> QRectF:
        """Name and figures, under the tile (or above it), whole (item coordinates)."""
        return QRectF(self._label)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self.card_rect(), 10, 10)
        path.addEllipse(self.handle_centre(), _HANDLE_R, _HANDLE_R)
        path.addRect(self._label)
        return path

    def handle_centre(self) -> QPointF:
        return QPointF(TILE / 2, 0.0)

    def is_on_handle(self, scene_pos: QPointF) -> bool:
        """True when ``scene_pos`` is on the link handle."""
        d = self.mapFromScene(scene_pos) - self.handle_centre()
        return math.hypot(d.x(), d.y()) <= _HANDLE_R + 3

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        tile = self.card_rect()
        accent = tier_colour(self.tier, accent=True)
        selected = self.isSelected()
        painter.setPen(QPen(QColor("#0D47A1") if selected else accent, 3.0 if selected else 1.6))
        painter.setBrush(tier_colour(self.tier))
        painter.drawRoundedRect(tile, 10, 10)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < TEXT_MIN_ZOOM:
            # far out, icons and text are unreadable specks: the tier colour says more
            return
        svg_renderer(self.kind).render(painter, tile.adjusted(8, 8, -8, -8))
        text = self._label
        # a soft backing keeps the name readable where links pass under it
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_TEXT_BACKING)
        painter.drawRoundedRect(text, 4, 4)
        centre = Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextDontClip
        painter.setFont(_NAME_FONT)
        painter.setPen(QColor("#0D47A1") if selected else QColor("#212121"))
        painter.drawText(QRectF(text.left(), text.top() + 1, text.width(), 17), centre, self.shown_name())
        painter.setFont(_SMALL_FONT)
        painter.setPen(QColor("#546E7A"))
        painter.drawText(QRectF(text.left(), text.top() + 17, text.width(), 16), centre, self.figures)
        if self._hover or selected:
            painter.setPen(QPen(accent, 1.5))
            painter.setBrush(QColor("#FFFFFF"))
            painter.drawEllipse(self.handle_centre(), _HANDLE_R, _HANDLE_R)
            painter.setBrush(accent)
            painter.drawEllipse(self.handle_centre(), 2.5, 2.5)

    # -- events ----------------------------------------------------------------------
    def hoverEnterEvent(self, event) -> None:  # noqa: ANN001 - Qt signature
        self._hover = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverMoveEvent(self, event) -> None:  # noqa: ANN001
        on_handle = self.is_on_handle(event.scenePos())
        if on_handle != self._cursor_on_handle:  # setCursor makes Qt hit-test every item: only on change
            self._cursor_on_handle = on_handle
            self.setCursor(Qt.CursorShape.CrossCursor if on_handle else Qt.CursorShape.ArrowCursor)
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event) -> None:  # noqa: ANN001
        self._hover = False
        self.update()
        super().hoverLeaveEvent(event)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):  # noqa: ANN001, ANN201
        scene: ItemHost | None = self.scene()  # type: ignore[assignment]
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and scene is not None:
            return scene.snapped(value)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            if not self.batch_move:  # a batch re-paths each link once at the end
                for link in self.links:
                    link.adjust()
            if scene is not None and self.zone:
                scene.zone_moved(self.zone)
        # QGraphicsItem.itemChange only returns ``value``; calling it through
        # PySide6 on every change mis-counts references to None and crashes
        # after a few thousand moves, so return ``value`` directly
        return value


class LinkItem(QGraphicsItem):
    """A link drawn between two device items, labelled medium · bandwidth · latency.

    ``bend`` offsets the curve sideways so parallel links between the same two
    devices stay apart (0 = straight). The item holds the geometry and does
    hit-testing and selection; a single :class:`LinkLayer` paints all links in
    a few batched calls, which keeps frames fast with thousands of links.
    """

    def __init__(self, link: Link, a: DeviceItem, b: DeviceItem) -> None:
        super().__init__()
        self.link_id = link.id
        self.a_item, self.b_item = a, b
        self.bend = 0.0
        self._line: QLineF | None = None
        self._label_at = QRectF()
        self._bounds = QRectF()
        self.layer: LinkPainter | None = None
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.setZValue(Z_LINK)
        self._path: QPainterPath | None = None
        self._shape: QPainterPath | None = None
        self._label_rect = QRectF()
        self._label_pos = QPointF()
        #: where the label sits: fraction along the link and offset across it (scene units);
        #: chosen by the scene's label placement, kept while the ends move
        self.label_t, self.label_offset = 0.5, 0.0
        self.label_visible = True
        a.links.append(self)
        b.links.append(self)
        self.show_record(link)

    def detach(self) -> None:
        """Forget the device items (before removal from the scene)."""
        for dev in (self.a_item, self.b_item):
            if self in dev.links:
                dev.links.remove(self)

    def show_record(self, link: Link) -> None:
        """Take the label and line style from ``link``."""
        self.medium = link.medium
        up, down = link.bandwidth_ab_mbps, link.bandwidth_ba_mbps
        bw = format_mbps(up) if up == down else f"{format_mbps(up)} ↑ {format_mbps(down)} ↓"
        self.label = f"{link.medium} · {bw} · {link.latency_ms:g} ms"
        self.wireless = link.medium.lower() in ("wifi", "lte", "5g", "bluetooth", "lora", "zigbee", "c-v2x")
        w = _text_width(_LABEL_FONT, self.label)
        self._label_rect = QRectF(-w / 2, -8, w, 16)
        self.adjust()
        if self.layer is not None:
            self.layer.invalidate()  # the label or style may have changed

    def adjust(self) -> None:
        """Re-path after an end moved (called for every link of a moving device, every frame)."""
        self.prepareGeometryChange()
        p1 = self.a_item.pos()
        p2 = self.b_item.pos()
        x1, y1, x2, y2 = p1.x(), p1.y(), p2.x(), p2.y()
        if self.bend:
            dx, dy = x2 - x1, y2 - y1
            length = math.hypot(dx, dy) or 1.0
            mid = QPointF((x1 + x2) / 2 - dy / length * self.bend * 2, (y1 + y2) / 2 + dx / length * self.bend * 2)
            path = QPainterPath(p1)
            path.quadTo(mid, p2)
            self._path = path
            self._line = None
            bounds = path.boundingRect()
        else:
            self._path = None  # built on demand (hit-testing, selection): most links never need it
            self._line = QLineF(p1, p2)
            bounds = QRectF(min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1))
        self._label_pos = self.label_point(self.label_t, self.label_offset)
        self._label_at = self._label_rect.translated(self._label_pos)
        self._shape = None
        # computed once here: Qt asks for it many times per frame
        self._bounds = bounds.adjusted(-4, -4, 4, 4)
        if self.label_visible:
            self._bounds = self._bounds.united(self._label_at)
        if self.layer is not None:
            self.layer.link_moved(self)

    def label_point(self, t: float, offset: float) -> QPointF:
        """The point ``t`` of the way along the link, ``offset`` to its left (scene units)."""
        p1, p2 = self.a_item.pos(), self.b_item.pos()
        x1, y1, x2, y2 = p1.x(), p1.y(), p2.x(), p2.y()
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length, dx / length
        if self.bend:
            mx = (x1 + x2) / 2 + nx * self.bend * 2
            my = (y1 + y2) / 2 + ny * self.bend * 2
            u = 1 - t
            x, y = u * u * x1 + 2 * u * t * mx + t * t * x2, u * u * y1 + 2 * u * t * my + t * t * y2
        else:
            x, y = x1 + t * dx, y1 + t * dy
        return QPointF(x + nx * offset, y + ny * offset)

    def label_rect_at(self, t: float, offset: float) -> QRectF:
        """The label's scene rectangle if it sat at ``(t, offset)``."""
        return self._label_rect.translated(self.label_point(t, offset))

    def label_scene_rect(self) -> QRectF:
        """Where the label is drawn now (scene coordinates)."""
        return QRectF(self._label_at)

    def place_label(self, t: float, offset: float, visible: bool = True) -> None:
        """Move the label to ``(t, offset)``, or hide it (no free place for it)."""
        if (t, offset, visible) != (self.label_t, self.label_offset, self.label_visible):
            self.label_t, self.label_offset, self.label_visible = t, offset, visible
            self.adjust()  # tells the link layer, which redraws what it must

    def path(self) -> QPainterPath:
        """The link's centre line."""
        if self._path is None:
            line = self._line if self._line is not None else QLineF()
            path = QPainterPath(line.p1())
            path.lineTo(line.p2())
            self._path = path
        return self._path

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:  # hit-testing asks often; the geometry changes rarely
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            shape = stroker.createStroke(self.path())
            if self.label_visible:
                shape.addRect(self._label_at)
            self._shape = shape
        return self._shape

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        """Nothing: the scene's :class:`~planner_app.ui.canvas.link_layer.LinkLayer` draws links."""

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):  # noqa: ANN001, ANN201
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged and self.layer is not None:
            self.layer.invalidate()
        return value  # see DeviceItem.itemChange


class NoteItem(QGraphicsItem):
    """A yellow sticky note with wrapped text."""

    WIDTH = 190.0

    def __init__(self, note: Note) -> None:
        super().__init__()
        self.note_id = note.id
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsFocusable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setZValue(Z_NOTE)
        self._rect = QRectF()
        self.show_record(note)

    def show_record(self, note: Note) -> None:
        """Take the text from ``note``."""
        self.prepareGeometryChange()
        self.text = note.text or "(empty note)"
        fm = QFontMetricsF(_SMALL_FONT)
        r = fm.boundingRect(QRectF(0, 0, self.WIDTH - 16, 10_000), Qt.TextFlag.TextWordWrap, self.text)
        self._rect = QRectF(0, 0, self.WIDTH, max(36.0, r.height() + 16))
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-2, -2, 4, 4)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#0D47A1"), 2.0) if self.isSelected() else QPen(QColor("#F9A825"), 1.0))
        painter.setBrush(QColor("#FFF9C4"))
        painter.drawRoundedRect(self._rect, 4, 4)
        painter.setPen(QColor("#3E2723"))
        painter.setFont(_SMALL_FONT)
        painter.drawText(self._rect.adjusted(8, 8, -8, -8), Qt.TextFlag.TextWordWrap, self.text)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):  # noqa: ANN001, ANN201
        scene: ItemHost | None = self.scene()  # type: ignore[assignment]
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and scene is not None:
            return scene.snapped(value)
        return value  # see DeviceItem.itemChange


class ZoneItem(QGraphicsItem):
    """A privacy zone drawn as a region: a container the user can resize.

    The region is the zone's own rectangle, grown where needed to cover its
    members, so what is drawn inside is what belongs. Only the border, the
    title and the corner handle take the mouse: a drag that starts inside the
    zone still draws a rubber band or moves the device under it. Dragging the
    corner handle resizes the zone (devices it now covers join it); dragging the
    border or the title moves the zone with its members. The scene turns each
    release into one undo step.
    """

    MARGIN = 22.0
    HANDLE = 12.0
    MIN_W, MIN_H = 120.0, 80.0
    _BORDER = 6.0  # how far from the edge a press still grabs the border

    def __init__(self, zone: str, colour_index: int) -> None:
        super().__init__()
        self.zone = zone
        self.colour = zone_colour(colour_index)
        self.setZValue(Z_ZONE)
        self.setAcceptHoverEvents(True)
        # a big translucent region costs ~4 ms a frame to fill: blit it while it does not change
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._rect = QRectF()
        self._resize_from: QRectF | None = None
        self._min_rect = QRectF()
        self._move_from: QPointF | None = None  # press point of a drag by the title or border
        self.title = f"privacy zone: {zone}"

    def set_region(self, rect: QRectF) -> None:
        """Show the zone as ``rect`` (scene coordinates)."""
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = QRectF(rect)
            self.update()

    def region(self) -> QRectF:
        """The drawn region (scene coordinates)."""
        return QRectF(self._rect)

    def title_rect(self) -> QRectF:
        """Where the zone's name is written, inside its top-left corner."""
        w = label_width(QFontMetricsF(_SMALL_FONT), self.title)
        return QRectF(self._rect.left() + 8, self._rect.top() + 4, w, 16)

    def handle_rect(self) -> QRectF:
        """The resize handle on the bottom-right corner."""
        h = self.HANDLE
        return QRectF(self._rect.right() - h, self._rect.bottom() - h, h, h)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-2, -2, 2, 2)

    def shape(self) -> QPainterPath:
        outer = QPainterPath()
        outer.addRect(self._rect.adjusted(-self._BORDER, -self._BORDER, self._BORDER, self._BORDER))
        inner = QPainterPath()
        inner.addRect(self._rect.adjusted(self._BORDER, self._BORDER, -self._BORDER, -self._BORDER))
        ring = outer.subtracted(inner)
        ring.setFillRule(Qt.FillRule.WindingFill)  # odd-even would punch the handle out of the ring
        ring.addRect(self.title_rect())
        ring.addRect(self.handle_rect().adjusted(-3, -3, 3, 3))
        return ring

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(self.colour)
        fill.setAlpha(28)
        pen = QPen(self.colour, 1.4, Qt.PenStyle.DashLine)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(self._rect, 12, 12)
        painter.setFont(_SMALL_FONT)
        painter.setPen(self.colour.darker(130))
        painter.drawText(self.title_rect(), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
                         | Qt.TextFlag.TextDontClip, self.title)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        h = self.handle_rect()
        painter.drawPolygon(QPolygonF([h.bottomLeft(), h.topRight(), h.bottomRight()]))

    # -- resizing ----------------------------------------------------------------------
    def hoverMoveEvent(self, event) -> None:  # noqa: ANN001 - Qt signature
        on = self.handle_rect().adjusted(-3, -3, 3, 3).contains(event.scenePos())
        # the border and the title move the zone with its members; the corner resizes it
        self.setCursor(Qt.CursorShape.SizeFDiagCursor if on else Qt.CursorShape.SizeAllCursor)
        super().hoverMoveEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: ANN001
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        scene: ItemHost | None = self.scene()  # type: ignore[assignment]
        if self.handle_rect().adjusted(-3, -3, 3, 3).contains(event.scenePos()):
            self._resize_from = QRectF(self._rect)
            self._min_rect = scene.zone_members_rect(self.zone) if scene is not None else QRectF()
        else:  # only the border ring and the title take the mouse (see shape)
            self._move_from = event.scenePos()
            if scene is not None:
                scene.zone_drag_started(self.zone)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: ANN001
        if self._move_from is not None:
            scene: ItemHost | None = self.scene()  # type: ignore[assignment]
            if scene is not None:
                scene.zone_drag_to(self.zone, event.scenePos() - self._move_from)
            return
        if self._resize_from is None:
            return
        p = event.scenePos()
        top_left = self._resize_from.topLeft()
        right = max(p.x(), top_left.x() + self.MIN_W)
        bottom = max(p.y(), top_left.y() + self.MIN_H)
        if not self._min_rect.isEmpty():  # never smaller than its members: they would look outside
            right, bottom = max(right, self._min_rect.right()), max(bottom, self._min_rect.bottom())
        self.set_region(QRectF(top_left, QPointF(right, bottom)))

    def mouseReleaseEvent(self, event) -> None:  # noqa: ANN001
        scene: ItemHost | None = self.scene()  # type: ignore[assignment]
        if self._move_from is not None:
            self._move_from = None
            if scene is not None:
                scene.zone_dragged(self.zone)
            return
        if self._resize_from is None:
            return
        start, self._resize_from = self._resize_from, None
        if scene is not None and self._rect != start:
            scene.zone_resized(self.zone, self._rect)
