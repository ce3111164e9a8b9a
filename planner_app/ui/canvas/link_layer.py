"""One item that paints every link of the scene in a few batched calls.

Painting links one item at a time costs a Python call, pen set-up and a
separate line draw per link per frame; with 1,500 links that alone is far
over a 16 ms frame. :class:`LinkLayer` draws all straight links with one
``drawLines`` call per style and only the labels inside the exposed area.
The per-link :class:`~planner_app.ui.canvas.items.LinkItem` objects stay in
the scene (``ItemHasNoContents``) for hit-testing, selection and tooltips.

While :attr:`LinkLayer.draft` is set (the scene sets it for the length of a
drag) lines are drawn aliased and solid, the way many editors draw while the
user is moving things, and the full-quality look returns on release.
"""

from __future__ import annotations

__all__ = ["LinkLayer"]

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

if TYPE_CHECKING:
    from planner_app.ui.canvas.items import LinkItem

_PEN_WIRED = QPen(QColor("#78909C"), 1.8)
_PEN_WIRELESS = QPen(QColor("#78909C"), 1.8, Qt.PenStyle.DashLine)
_PEN_SELECTED = QPen(QColor("#0D47A1"), 3.0)
_PEN_DRAFT = QPen(QColor("#78909C"), 0)
_PEN_LABEL_BOX = QPen(QColor("#B0BEC5"), 0.8)
_PEN_LABEL_TEXT = QPen(QColor("#263238"))
_BRUSH_LABEL = QBrush(QColor(255, 255, 255, 230))
_LABEL_FONT = QFont()
_LABEL_FONT.setPointSizeF(7.5)
_EVERYWHERE = QRectF(-1e7, -1e7, 2e7, 2e7)

#: below this zoom the labels are too small to read: they are not drawn
LABEL_MIN_ZOOM = 0.45
#: below this zoom links are drawn thin, solid and aliased
DETAIL_MIN_ZOOM = 0.5


class LinkLayer(QGraphicsItem):
    """Paints the links of ``links`` (id → LinkItem), batched by style."""

    def __init__(self, links: Mapping[str, LinkItem]) -> None:
        super().__init__()
        self.links = links
        self.draft = False
        #: when set (a selection-only export), only these link ids are drawn
        self.only: set[str] | None = None
        self.setZValue(0.0)
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:
        # the layer covers the whole drawing; Qt clips painting to what is exposed
        return _EVERYWHERE

    def set_draft(self, draft: bool, moving: frozenset[str] | set[str] | None = None) -> None:
        """Switch the cheap drag-time style on or off.

        ``moving`` names the links that follow the dragged devices: they are
        drawn live each frame over a cached image of all the others. The split
        is kept after the drag, so the repaint on release is cheap too, until a
        link outside it changes.
        """
        self.draft = draft
        if moving is not None and frozenset(moving) != self._live:
            self._live = frozenset(moving)
            self._cache = None
        self.update()

    def invalidate(self) -> None:
        """A link was added, removed, restyled or (de)selected: redraw everything."""
        self._cache = None
        self._live = frozenset()
        self.update()

    def link_moved(self, item: LinkItem) -> None:
        """``item`` re-pathed: cheap when it is drawn live, a full redraw otherwise."""
        if item.link_id in self._live:
            self.update()
        else:
            self.invalidate()

    _live: frozenset[str] = frozenset()
    _cache: QPixmap | None = None
    _cache_key: tuple = ()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        exposed = option.exposedRect
        if widget is None:  # rendering for an export: no caching
            if painter.hasClipping():  # an export band: Qt reports the whole layer as exposed
                exposed = exposed.intersected(painter.clipBoundingRect())
            only = self.only
            items = self.links.values() if only is None else [it for lid, it in self.links.items() if lid in only]
            self._draw(painter, items, exposed, self.draft)
            return
        t = painter.worldTransform()
        key = (t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy(), widget.width(), widget.height())
        if self._cache is not None and self._cache_key != key:
            self._cache = None  # zoomed or scrolled
        if self._cache is None and not (self.draft and self._live):
            self._draw(painter, self.links.values(), exposed, self.draft)
            return
        if self._cache is None:
            # the links that do not move are drawn once, in full quality, into a
            # viewport-sized image that every frame of the drag then blits
            dpr = widget.devicePixelRatioF()
            cache = QPixmap(int(widget.width() * dpr), int(widget.height() * dpr))
            cache.setDevicePixelRatio(dpr)
            cache.fill(Qt.GlobalColor.transparent)
            p = QPainter(cache)
            p.setWorldTransform(t)
            visible = t.inverted()[0].mapRect(QRectF(widget.rect()))
            live = self._live
            self._draw(p, [it for lid, it in self.links.items() if lid not in live], visible, False)
            p.end()
            self._cache, self._cache_key = cache, key
        painter.save()
        painter.resetTransform()
        painter.drawPixmap(0, 0, self._cache)
        painter.restore()
        self._draw(painter, [self.links[lid] for lid in self._live if lid in self.links], exposed, self.draft)

    @staticmethod
    def _draw_dashed(painter: QPainter, lines: list[QLineF], exposed: QRectF) -> None:
        """Dashed lines, each cut to what is exposed (see :func:`_cut_to`).

        A cut line keeps its dash phase (the pen's dash offset), so dashes line
        up across exported bands and scrolled strips.
        """
        whole, cut = _cut_to(lines, exposed)
        painter.setPen(_PEN_WIRELESS)
        painter.drawLines(whole)
        if cut:
            pen = QPen(_PEN_WIRELESS)
            width = pen.widthF() or 1.0
            for line, skipped in cut:
                pen.setDashOffset(skipped / width)
                painter.setPen(pen)
                painter.drawLine(line)

    def _draw(self, painter: QPainter, items: Iterable[LinkItem], exposed: QRectF, draft: bool) -> None:
        wired, wireless, selected, curves, labelled = [], [], [], [], []
        for item in items:
            if not item._bounds.intersects(exposed):
                continue
            labelled.append(item)
            if item.isSelected():
                selected.append(item)
            elif item._line is None:
                curves.append(item)
            elif item.wireless:
                wireless.append(item._line)
            else:
                wired.append(item._line)
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        # zoomed far out, dashes and antialiasing are invisible in the mesh but
        # cost most of the frame: draw thin solid lines there too
        draft = draft or lod < DETAIL_MIN_ZOOM
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, not draft)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if draft:
            painter.setPen(_PEN_DRAFT)
            whole, cut = _cut_to(wired + wireless, exposed)
            painter.drawLines(whole + [line for line, _ in cut])
        else:
            painter.setPen(_PEN_WIRED)
            whole, cut = _cut_to(wired, exposed)
            painter.drawLines(whole + [line for line, _ in cut])
            self._draw_dashed(painter, wireless, exposed)
        for item in curves:
            painter.setPen(_PEN_DRAFT if draft else (_PEN_WIRELESS if item.wireless else _PEN_WIRED))
            painter.drawPath(item.path())
        painter.setPen(_PEN_SELECTED)
        # straight ones in one call: Select All of 3,000 links cost 3,000 path draws per frame
        painter.drawLines([item._line for item in selected if item._line is not None])
        for item in selected:
            if item._line is None:
                painter.drawPath(item.path())
        if lod < LABEL_MIN_ZOOM:
            return
        painter.setFont(_LABEL_FONT)
        centre = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextDontClip
        for item in labelled:
            rect = item._label_at
            if not item.label_visible or not rect.intersects(exposed):
                continue
            painter.setPen(_PEN_LABEL_BOX)
            painter.setBrush(_BRUSH_LABEL)
            if draft:
                painter.drawRect(rect)
            else:
                painter.drawRoundedRect(rect, 4, 4)
            painter.setPen(_PEN_LABEL_TEXT)
            painter.drawText(rect, centre, item.label)


def _cut_to(lines: list[QLineF], exposed: QRectF) -> tuple[list[QLineF], list[tuple[QLineF, float]]]:
    """Split ``lines`` into those wholly inside ``exposed`` and the inside parts of the others
    (with the length cut from each start).

    Qt's raster engine strokes a wide antialiased line along its whole length even
    where the clip hides it: an export band crossed by 3,000 long links took 25 s.
    """
    area = exposed.adjusted(-4, -4, 4, 4)
    whole: list[QLineF] = []
    cut: list[tuple[QLineF, float]] = []
    for line in lines:
        if area.contains(line.p1()) and area.contains(line.p2()):
            whole.append(line)
            continue
        part = _clip(line, area)
        if part is not None:
            cut.append(part)
    return whole, cut


def _clip(line: QLineF, rect: QRectF) -> tuple[QLineF, float] | None:
    """The part of ``line`` inside ``rect`` (Liang–Barsky) and the length cut from its start."""
    x1, y1, x2, y2 = line.x1(), line.y1(), line.x2(), line.y2()
    dx, dy = x2 - x1, y2 - y1
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x1 - rect.left()), (dx, rect.right() - x1), (-dy, y1 - rect.top()), (dy, rect.bottom() - y1)):
        if p == 0:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    part = QLineF(x1 + t0 * dx, y1 + t0 * dy, x1 + t1 * dx, y1 + t1 * dy)
    return part, t0 * line.length()
