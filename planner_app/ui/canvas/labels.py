"""Label placement: device and link labels that cover no device and no other label.

A greedy pass, the way most diagram editors do it: device tiles are fixed
obstacles; each device label goes below its tile, or above it when below is
taken; then each link label tries a few spots along and beside its link,
middle first, and takes the first free one. A link label with no free spot is
hidden (its tooltip still tells everything), so a dense mesh does not turn
into a pile of overlapping boxes. Rectangles are kept in a uniform grid so a
pass over thousands of labels stays in tens of milliseconds.
"""

from __future__ import annotations

__all__ = ["place_labels", "placing_labels", "LINK_LABEL_SPOTS"]

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator

from PySide6.QtCore import QRectF

from planner_app.ui.canvas.items import DeviceItem, LinkItem

#: (fraction along the link, offset across it) tried in order for a link label: the middle
#: first, then a little along the link before a little beside it
LINK_LABEL_SPOTS = tuple(sorted(
    ((t, off) for t in (0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.18, 0.82)
     for off in (0.0, 14.0, -14.0, 28.0, -28.0, 42.0, -42.0)),
    key=lambda spot: abs(spot[0] - 0.5) * 100 + abs(spot[1]),
))
#: with many links only the first spots are tried (each spot is a grid look-up per link)
_MANY_LINKS, _FEW_SPOTS = 800, 5
_CELL = 160.0
_PAD = 2.0  # labels keep this far apart


class _Grid:
    """Rectangles bucketed by a uniform grid, for "does this overlap anything?" look-ups."""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], list[QRectF]] = defaultdict(list)

    @staticmethod
    def _keys(r: QRectF) -> Iterable[tuple[int, int]]:
        for i in range(math.floor(r.left() / _CELL), math.floor(r.right() / _CELL) + 1):
            for j in range(math.floor(r.top() / _CELL), math.floor(r.bottom() / _CELL) + 1):
                yield i, j

    def add(self, r: QRectF) -> None:
        for k in self._keys(r):
            self.cells[k].append(r)

    def hits(self, r: QRectF) -> bool:
        cells = self.cells
        return any(other.intersects(r) for k in self._keys(r) if k in cells for other in cells[k])


def place_labels(devices: Iterable[DeviceItem], links: Iterable[LinkItem],
                 obstacles: Iterable[QRectF] = ()) -> int:
    """Place every label clear of device tiles and ``obstacles`` (zone titles, notes); returns
    how many link labels found no free spot (hidden)."""
    hidden = 0
    for hidden in placing_labels(devices, links, obstacles):  # noqa: B007 - the last count is the total
        pass
    return hidden


def placing_labels(devices: Iterable[DeviceItem], links: Iterable[LinkItem], obstacles: Iterable[QRectF] = (),
                   chunk: int = 100) -> Iterator[int]:
    """:func:`place_labels` in steps of ``chunk`` labels, yielding the hidden count so far after
    each, so a caller can spread a big drawing's pass over several event-loop turns."""
    devices, links = list(devices), list(links)
    grid = _Grid()
    for rect in obstacles:
        grid.add(rect)
    for dev in devices:
        grid.add(dev.card_rect().translated(dev.pos()).adjusted(-_PAD, -_PAD, _PAD, _PAD))
    for n, dev in enumerate(devices, 1):
        if n % chunk == 0:
            yield 0
        width = dev.label_rect().width()
        pos = dev.pos()
        below = DeviceItem.label_rect_at(False, width).translated(pos)
        above = DeviceItem.label_rect_at(True, width).translated(pos)
        put_above = grid.hits(below) and not grid.hits(above)
        dev.set_label_above(put_above)
        grid.add((above if put_above else below).adjusted(-_PAD, -_PAD, _PAD, _PAD))
    spots = LINK_LABEL_SPOTS if len(links) <= _MANY_LINKS else LINK_LABEL_SPOTS[:_FEW_SPOTS]
    hidden = 0
    for n, link in enumerate(links, 1):
        if n % chunk == 0:
            yield hidden
        for t, off in spots:
            rect = link.label_rect_at(t, off)
            if not grid.hits(rect):
                link.place_label(t, off)
                grid.add(rect.adjusted(-_PAD, -_PAD, _PAD, _PAD))
                break
        else:
            link.place_label(0.5, 0.0, visible=False)
            hidden += 1
    yield hidden
