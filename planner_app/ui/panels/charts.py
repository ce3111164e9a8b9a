"""The planning charts, drawn with pyqtgraph from core records (no figure computed here).

Each chart is a ``pg.PlotWidget`` with a ``show_*`` method that replaces its
items with ``setData``-style updates in the GUI thread, and keeps the plotted
numbers in :attr:`values` (what tests and the report read back). Clicks come out
as signals: a unit bar (:class:`UnitChart`), a Pareto point (:class:`ParetoChart`).
:func:`export_chart` writes any of them as PNG or SVG with pyqtgraph's exporters.
"""

from __future__ import annotations

__all__ = [
    "UnitChart",
    "LevelChart",
    "BreakdownChart",
    "BandwidthChart",
    "ParetoChart",
    "group_close_points",
    "SweepChart",
    "RunChart",
    "export_chart",
    "SERIES_COLOURS",
]

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from planner_app.core.errors import PlannerError
from planner_app.core.optimizer.cost_model import Prediction

pg.setConfigOptions(antialias=True, background="w", foreground="#333")

#: one colour per series (devices, then links), cycling
SERIES_COLOURS = ["#1565C0", "#EF6C00", "#2E7D32", "#6A1B9A", "#00838F", "#AD1457", "#5D4037", "#9E9D24"]


def _colour(i: int, alpha: int = 255) -> QColor:
    c = QColor(SERIES_COLOURS[i % len(SERIES_COLOURS)])
    c.setAlpha(alpha)
    return c


class _Chart(pg.PlotWidget):
    """A plot with a title, axis labels and a table of the plotted values."""

    def __init__(self, title: str, left: str, bottom: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        # explicit: the plot's own minimum (title, legend, axes) would widen a panel past its dock
        self.setMinimumSize(160, 100)
        self.plot_item: pg.PlotItem = self.getPlotItem()
        self.plot_item.setTitle(title, size="10pt")
        self.plot_item.setLabel("left", left)
        if bottom:
            self.plot_item.setLabel("bottom", bottom)
        self.plot_item.showGrid(x=False, y=True, alpha=0.25)
        self.setMenuEnabled(False)
        self.values: dict[str, Any] = {}

    def _ticks(self, labels: list[str]) -> None:
        self.plot_item.getAxis("bottom").setTicks([[(i, t) for i, t in enumerate(labels)]])

    def clear_chart(self, message: str = "") -> None:
        self.plot_item.clear()
        self.values = {}
        if message:
            text = pg.TextItem(message, color="#777", anchor=(0.5, 0.5))
            self.plot_item.addItem(text)
            text.setPos(0.5, 0.5)
            self.plot_item.setRange(xRange=(0, 1), yRange=(0, 1))


class UnitChart(_Chart):
    """Time per unit (bars) and output size per unit (line, right axis): where to cut."""

    unitClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Time and output size per unit", "time (ms)", "unit", parent)
        self.size_view = pg.ViewBox()
        self.plot_item.showAxis("right")
        self.plot_item.scene().addItem(self.size_view)
        self.plot_item.getAxis("right").linkToView(self.size_view)
        self.plot_item.getAxis("right").setLabel("output (KB)", color="#EF6C00")
        self.size_view.setXLink(self.plot_item)
        self.plot_item.vb.sigResized.connect(self._sync_views)
        self.plot_item.scene().sigMouseClicked.connect(self._on_click)
        self.bars: pg.BarGraphItem | None = None
        self.n_units = 0

    def _sync_views(self) -> None:
        self.size_view.setGeometry(self.plot_item.vb.sceneBoundingRect())

    def show_units(self, names: list[str], time_ms: list[float], output_kb: list[float],
                   selected: int | None = None, cuts: list[int] | None = None) -> None:
        """Bars of ``time_ms``, a line of ``output_kb``; ``selected`` highlighted, candidate ``cuts`` marked."""
        self.plot_item.clear()
        self.size_view.clear()
        n = self.n_units = len(names)
        x = np.arange(n)
        brushes = [_colour(0, 90 if selected is not None and i != selected else 230) for i in range(n)]
        self.bars = pg.BarGraphItem(x=x, height=np.nan_to_num(time_ms), width=0.7, brushes=brushes,
                                    pen=pg.mkPen("#0D47A1", width=0.5))
        self.plot_item.addItem(self.bars)
        line = pg.PlotDataItem(x, output_kb, pen=pg.mkPen("#EF6C00", width=2), symbol="o", symbolSize=5,
                               symbolBrush="#EF6C00")
        self.size_view.addItem(line)
        for c in cuts or []:  # a cut after unit c: a dashed line between c and c+1
            self.plot_item.addItem(pg.InfiniteLine(pos=c + 0.5, angle=90, pen=pg.mkPen("#C62828", style=pg.QtCore.Qt.PenStyle.DashLine)))
        if n <= 30:
            self._ticks([str(i) for i in range(n)])
        else:
            self.plot_item.getAxis("bottom").setTicks(None)
        self.plot_item.setXRange(-0.6, n - 0.4, padding=0)
        finite = [v for v in time_ms if math.isfinite(v)]
        self.plot_item.setYRange(0, max(finite, default=1.0) * 1.1 or 1.0, padding=0)
        self.size_view.setYRange(0, max(output_kb, default=1.0) * 1.1 or 1.0, padding=0)
        self._sync_views()
        self.values = {"names": list(names), "time_ms": list(time_ms), "output_kb": list(output_kb),
                       "selected": selected, "cuts": list(cuts or [])}

    def _on_click(self, event: Any) -> None:
        if not self.n_units or not self.plot_item.vb.sceneBoundingRect().contains(event.scenePos()):
            return
        x = self.plot_item.vb.mapSceneToView(event.scenePos()).x()
        i = int(round(x))
        if 0 <= i < self.n_units and abs(x - i) <= 0.4:
            self.unitClicked.emit(i)

    def bar_scene_pos(self, i: int) -> QPointF:
        """The scene point of bar ``i``'s middle (for clicks in tests)."""
        h = self.values["time_ms"][i] if self.values else 0.0
        return QPointF(self.plot_item.vb.mapViewToScene(QPointF(i, (h if math.isfinite(h) else 0.0) / 2)))


class LevelChart(_Chart):
    """Whole-model latency per profiled level; grows as levels arrive."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Measured latency per level (this host)", "latency (ms)", "", parent)

    def show_levels(self, levels: list[str], latency_ms: list[float], fidelity: list[float | None]) -> None:
        self.plot_item.clear()
        n = len(levels)
        x = np.arange(n)
        self.plot_item.addItem(pg.BarGraphItem(x=x, height=np.nan_to_num(latency_ms), width=0.6,
                                               brushes=[_colour(i, 220) for i in range(n)]))
        for i, (lat, fid) in enumerate(zip(latency_ms, fidelity, strict=True)):
            text = f"{lat:.2f} ms" + (f"\ncos {fid:.4f}" if fid is not None else "")
            label = pg.TextItem(text, color="#333", anchor=(0.5, 1.0))
            label.setPos(i, lat if math.isfinite(lat) else 0)
            self.plot_item.addItem(label)
        self._ticks(levels)
        top = max([v for v in latency_ms if math.isfinite(v)], default=1.0)
        self.plot_item.setXRange(-0.6, max(n, 1) - 0.4, padding=0)
        self.plot_item.setYRange(0, top * 1.35 or 1.0, padding=0)
        self.values = {"levels": list(levels), "latency_ms": list(latency_ms), "fidelity": list(fidelity)}


def breakdown(prediction: Prediction) -> dict[str, float]:
    """Latency parts of a prediction: compute per device, transfer per link (ms), as the plan shows them."""
    out: dict[str, float] = {}
    for part in prediction.parts:
        key = f"compute {part.device}"
        out[key] = out.get(key, 0.0) + part.compute_ms
    for t in prediction.transfers:
        key = f"transfer {'+'.join(t.route_links) or t.from_device + '→' + t.to_device}"
        out[key] = out.get(key, 0.0) + t.transfer_ms
    return out


class BreakdownChart(_Chart):
    """Stacked latency of the shown plan beside each baseline: compute per device, transfer per link."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Latency: plan vs baselines", "latency (ms)", "", parent)
        self.plot_item.getAxis("bottom").setStyle(tickTextOffset=2)
        self.legend_texts: list[str] = []
        # a row of its own under the axis: never over the bars, exported with the chart
        self.legend = pg.LegendItem(labelTextSize="7pt", colCount=2, verSpacing=-10, horSpacing=6)
        self.plot_item.layout.addItem(self.legend, 4, 1)

    def show_plans(self, rows: list[tuple[str, Prediction]]) -> None:
        """``rows``: (label, prediction), the shown plan first."""
        self.plot_item.clear()
        stacks = [breakdown(p) for _, p in rows]
        keys = list(dict.fromkeys(k for s in stacks for k in s))
        x = np.arange(len(rows))
        bottom = np.zeros(len(rows))
        bars: list[pg.BarGraphItem] = []
        for i, key in enumerate(keys):
            h = np.array([s.get(key, 0.0) for s in stacks])
            item = pg.BarGraphItem(x=x, y0=bottom, height=h, width=0.6, brush=_colour(i, 220), name=key,
                                   pen=pg.mkPen("w", width=0.5))
            self.plot_item.addItem(item)
            bars.append(item)
            bottom = bottom + h
        for i, (_, p) in enumerate(rows):
            label = pg.TextItem(f"{p.latency_ms:.1f}", color="#333", anchor=(0.5, 1.0))
            label.setPos(i, p.latency_ms)
            self.plot_item.addItem(label)
        self._ticks([label for label, _ in rows])
        top = max([p.latency_ms for _, p in rows], default=1.0) * 1.15 or 1.0
        self.legend.clear()
        self.legend_texts = []
        for item, key in zip(bars, keys, strict=True):
            name = key.replace("transfer ", "→ ").replace("compute ", "⚙ ")
            self.legend.addItem(item, name if len(name) <= 18 else name[:17] + "…")
            self.legend_texts.append(name)
        self.plot_item.setXRange(-0.6, len(rows) - 0.4, padding=0)
        self.plot_item.setYRange(0, top, padding=0)
        self.values = {"labels": [label for label, _ in rows], "stacks": stacks,
                       "latency_ms": [p.latency_ms for _, p in rows]}


class BandwidthChart(_Chart):
    """Each link's load as a share of its capacity (bars, %), labelled with Mbps used of Mbps offered;
    red at 100 % and over. Shares keep a 1 Mbps stream visible beside a 1 Gbps link."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Link load", "% of capacity", "", parent)

    def show_links(self, links: list[str], used_mbps: list[float], capacity_mbps: list[float]) -> None:
        self.plot_item.clear()
        self.values = {"links": list(links), "used_mbps": list(used_mbps), "capacity_mbps": list(capacity_mbps)}
        if not links:
            self.clear_chart("the plan sends nothing over any link")
            self.values = {"links": [], "used_mbps": [], "capacity_mbps": []}
            return
        x = np.arange(len(links))
        share = [100.0 * u / c if c > 0 else math.inf for u, c in zip(used_mbps, capacity_mbps, strict=True)]
        shown = [min(v, 150.0) for v in share]
        brushes = [QColor("#C62828") if v >= 100 else _colour(0, 220) for v in share]
        self.plot_item.addItem(pg.BarGraphItem(x=x, height=shown, width=0.55, brushes=brushes))
        self.plot_item.addItem(pg.InfiniteLine(pos=100, angle=0, pen=pg.mkPen("#C62828", style=pg.QtCore.Qt.PenStyle.DashLine),
                                               label="capacity", labelOpts={"position": 0.05, "color": "#C62828"}))
        top = max(max(shown, default=0.0) * 1.5, 10.0)
        for i, (u, c) in enumerate(zip(used_mbps, capacity_mbps, strict=True)):
            label = pg.TextItem(f"{u:.3g}/{c:g}\nMbps", color="#333", anchor=(0.5, 1.0))
            label.setPos(i, shown[i])
            self.plot_item.addItem(label)
        self._ticks(links)
        self.plot_item.setXRange(-0.6, len(links) - 0.4, padding=0)
        self.plot_item.setYRange(0, min(top, 160.0) if max(shown) >= 100 else top, padding=0)
        self.values["load_pct"] = share


def group_close_points(x: list[float], y: list[float], x_tol: float, y_tol: float) -> list[list[int]]:
    """Indices of points within ``x_tol`` and ``y_tol`` of a group's first point, grouped in order.

    >>> group_close_points([1.0, 1.01, 5.0], [2.0, 2.0, 3.0], 0.05, 0.05)
    [[0, 1], [2]]
    """
    groups: list[list[int]] = []
    for i, (xi, yi) in enumerate(zip(x, y, strict=True)):
        for g in groups:
            if abs(x[g[0]] - xi) <= x_tol and abs(y[g[0]] - yi) <= y_tol:
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


class ParetoChart(_Chart):
    """The trade-off front: latency against cost, colour = bytes on links; click a point to show it.

    Plans that land on (or within a few pixels of) the same spot are drawn as one
    larger marker labelled with their count; its tooltip lists them, and a click
    opens a menu to pick one (:attr:`group_menu`)."""

    pointClicked = Signal(int)
    #: share of each axis's span within which points merge into one marker (~ a marker's width)
    MERGE_SHARE = 0.03

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Pareto front", "$ per 1k requests", "latency (ms)", parent)
        self.setToolTip("Each point is a plan no other plan beats on every criterion; colour: bytes on links "
                        "(dark: few, yellow: many). Click a point to show that plan everywhere; a square holds "
                        "plans that coincide (×N: how many): click it to choose one.")
        self.plot_item.getAxis("left").enableAutoSIPrefix(False)  # $ per 1k is often 1e-6: say so plainly
        self.scatter = pg.ScatterPlotItem(size=11, hoverable=True, tip=self._tip)
        self.scatter.sigClicked.connect(self._on_clicked)
        self.plot_item.addItem(self.scatter)
        self.marker = pg.ScatterPlotItem(size=20, symbol="o", brush=QColor(0, 0, 0, 0), pen=pg.mkPen("#C62828", width=2.5))
        self.plot_item.addItem(self.marker)
        self.groups: list[list[int]] = []
        self.labels: list[str] = []
        #: the menu a click on a merged marker opened (None when none is open)
        self.group_menu: Any = None

    def show_front(self, predictions: list[Prediction], chosen: int, best: Prediction | None = None,
                   labels: list[str] | None = None) -> None:
        """The front's points; ``labels`` (one per point) name the plans in tooltips and menus."""
        self.plot_item.clear()  # also drops a "no plan yet" text
        self.plot_item.addItem(self.scatter)
        self.plot_item.addItem(self.marker)
        lat = [p.latency_ms for p in predictions]
        cost = [p.cost_usd_per_1k for p in predictions]
        kb = [p.link_bytes_per_request / 1e3 for p in predictions]
        self.labels = list(labels) if labels is not None and len(labels) == len(predictions) else \
            [f"point {i + 1}" for i in range(len(predictions))]
        top = max(kb, default=0.0) or 1.0
        cmap = pg.colormap.get("viridis")
        x_span = (max(lat) - min(lat)) if lat else 0.0
        y_span = (max(cost) - min(cost)) if cost else 0.0
        self.groups = group_close_points(lat, cost, x_span * self.MERGE_SHARE, y_span * self.MERGE_SHARE)
        gx = [lat[g[0]] for g in self.groups]
        gy = [cost[g[0]] for g in self.groups]
        brushes = [pg.mkBrush(cmap.map(kb[g[0]] / top, mode="qcolor")) for g in self.groups]
        sizes = [11 if len(g) == 1 else 15 for g in self.groups]
        symbols = ["o" if len(g) == 1 else "s" for g in self.groups]
        self.scatter.setData(x=gx, y=gy, brush=brushes, size=sizes, symbol=symbols,
                             data=list(range(len(self.groups))), pen=pg.mkPen("#333", width=0.5))
        merged = [g for g in self.groups if len(g) > 1]
        for g in merged if len(merged) <= 4 else []:  # more labels than that only clutter: squares say it
            count = pg.TextItem(f"×{len(g)}", color="#333", anchor=(-0.15, 1.1))
            count.setPos(lat[g[0]], cost[g[0]])
            self.plot_item.addItem(count)
        if 0 <= chosen < len(predictions):
            self.marker.setData(x=[lat[chosen]], y=[cost[chosen]])
        elif best is not None:
            self.marker.setData(x=[best.latency_ms], y=[best.cost_usd_per_1k])
        else:
            self.marker.setData(x=[], y=[])
        if lat:  # an explicit range (not auto): points are where they are drawn at once
            x0, x1 = min(lat), max(lat)
            y0, y1 = min(cost), max(cost)
            dx, dy = (x1 - x0) * 0.08 or max(abs(x0) * 0.1, 1e-9), (y1 - y0) * 0.12 or max(abs(y0) * 0.1, 1e-12)
            self.plot_item.setRange(xRange=(x0 - dx, x1 + dx), yRange=(y0 - dy, y1 + dy), padding=0)
        self.values = {"latency_ms": lat, "cost_usd_per_1k": cost, "link_kb": kb, "chosen": chosen,
                       "groups": [list(g) for g in self.groups]}

    def group_of(self, i: int) -> list[int]:
        """The points drawn with point ``i`` (itself alone when it stands apart)."""
        return next((g for g in self.groups if i in g), [i])

    def _line(self, i: int) -> str:
        lat, cost = self.values["latency_ms"][i], self.values["cost_usd_per_1k"][i]
        return f"{i + 1}: {self.labels[i]} — {lat:.2f} ms, ${cost:.4g}/1k, {self.values['link_kb'][i]:.1f} KB"

    def _tip(self, x: float, y: float, data: Any) -> str:
        if data is None or not 0 <= int(data) < len(self.groups):
            return ""
        g = self.groups[int(data)]
        head = "" if len(g) == 1 else f"{len(g)} plans at this spot (click to choose one):\n"
        return head + "\n".join(self._line(i) for i in g)

    def _on_clicked(self, _item: Any, points: Any, event: Any = None) -> None:
        if not len(points):
            return
        g = self.groups[int(points[0].data())]
        if len(g) == 1:
            self.pointClicked.emit(g[0])
            return
        self.open_group_menu(g, event.screenPos().toPoint() if event is not None else None)

    def open_group_menu(self, group: list[int], at: Any = None) -> Any:
        """A menu listing the plans of a merged marker; choosing one shows it (non-blocking)."""
        from PySide6.QtGui import QCursor
        from PySide6.QtWidgets import QMenu

        if self.group_menu is not None:
            self.group_menu.close()
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        for i in group:
            action = menu.addAction(self._line(i))
            action.triggered.connect(lambda _=False, i=i: self.pointClicked.emit(i))
        menu.aboutToHide.connect(lambda: setattr(self, "group_menu", None))
        self.group_menu = menu
        menu.popup(at if at is not None else QCursor.pos())
        return menu

    def point_scene_pos(self, i: int) -> QPointF:
        """The scene point of the marker that draws front point ``i`` (for clicks in tests)."""
        first = self.group_of(i)[0]
        return QPointF(self.plot_item.vb.mapViewToScene(
            QPointF(self.values["latency_ms"][first], self.values["cost_usd_per_1k"][first])))


class SweepChart(_Chart):
    """The best plan's latency against one link's bandwidth (log axis); dashed lines where the split moves."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Bandwidth sweep", "best latency (ms)", "Mbps", parent)
        self.plot_item.setLogMode(x=True, y=False)

    def show_sweep(self, link: str, mbps: list[float], latency_ms: list[float], feasible: list[bool],
                   changes: list[tuple[float, str]], current_mbps: float | None = None) -> None:
        self.plot_item.clear()
        self.plot_item.setTitle(f"Bandwidth sweep of {link}", size="10pt")
        brushes = [_colour(0) if ok else QColor("#C62828") for ok in feasible]
        self.plot_item.addItem(pg.PlotDataItem(mbps, latency_ms, pen=pg.mkPen("#1565C0", width=2), symbol="o",
                                               symbolSize=6, symbolBrush=brushes))
        for at, summary in changes:
            line = pg.InfiniteLine(pos=math.log10(at), angle=90, pen=pg.mkPen("#EF6C00", style=pg.QtCore.Qt.PenStyle.DashLine))
            line.setToolTip(f"from {at:.3g} Mbps the best plan is {summary}")
            self.plot_item.addItem(line)
        if current_mbps:
            self.plot_item.addItem(pg.InfiniteLine(pos=math.log10(current_mbps), angle=90,
                                                   pen=pg.mkPen("#333", width=1), label="now",
                                                   labelOpts={"position": 0.9, "color": "#333"}))
        self.plot_item.enableAutoRange()
        self.values = {"link": link, "mbps": list(mbps), "latency_ms": list(latency_ms), "feasible": list(feasible),
                       "changes_mbps": [c for c, _ in changes]}


class RunChart(_Chart):
    """A run of the plan: predicted (light) and measured (dark) bars side by side for each figure
    (end to end, each stage's compute, each hop there and back), with the error in percent above."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Run: predicted vs measured", "ms", "", parent)
        self.legend = self.plot_item.addLegend(offset=(-5, 5), labelTextSize="8pt")

    def show_run(self, labels: list[str], predicted_ms: list[float | None], measured_ms: list[float | None],
                 error_pct: list[float | None]) -> None:
        """Bars for each of ``labels``; a missing value draws no bar."""
        self.plot_item.clear()
        self.legend.clear()
        n = len(labels)
        x = np.arange(n)
        pred = np.array([math.nan if v is None else v for v in predicted_ms], dtype=float)
        meas = np.array([math.nan if v is None else v for v in measured_ms], dtype=float)
        width = 0.38
        pred_bars = pg.BarGraphItem(x=x - width / 2, height=np.nan_to_num(pred), width=width, brush=_colour(0, 110),
                                    pen=pg.mkPen("#0D47A1", width=0.5), name="predicted")
        meas_bars = pg.BarGraphItem(x=x + width / 2, height=np.nan_to_num(meas), width=width, brush=_colour(1, 230),
                                    pen=pg.mkPen("#E65100", width=0.5), name="measured")
        for item in (pred_bars, meas_bars):
            self.plot_item.addItem(item)  # a named item joins the legend by itself
        tops = np.fmax(np.nan_to_num(pred), np.nan_to_num(meas))
        for i, err in enumerate(error_pct):
            if err is None:
                continue
            label = pg.TextItem(f"{err:+.0f} %", color="#C62828" if abs(err) > 25 else "#333", anchor=(0.5, 1.0))
            label.setPos(i, float(tops[i]))
            self.plot_item.addItem(label)
        self._ticks([t if len(t) <= 24 else t[:23] + "…" for t in labels])
        self.plot_item.setXRange(-0.6, max(n, 1) - 0.4, padding=0)
        self.plot_item.setYRange(0, float(max(tops, default=1.0)) * 1.25 or 1.0, padding=0)
        self.values = {"labels": list(labels), "predicted_ms": list(predicted_ms), "measured_ms": list(measured_ms),
                       "error_pct": list(error_pct)}


def _svg_with_qt(chart: _Chart) -> bytes:
    """The chart drawn by Qt's own SVG generator (pyqtgraph 0.14's SVG exporter fails on the paths
    Qt >= 6.8 writes: 'not enough values to unpack' while it re-parses them)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    size = chart.size()
    gen.setSize(size)
    gen.setViewBox(QRect(0, 0, size.width(), size.height()))
    painter = QPainter(gen)
    chart.render(painter)
    painter.end()
    buf.close()
    return bytes(data.data())


def export_chart(chart: _Chart, path: str | Path, width: int = 900) -> Path:
    """Write ``chart`` as PNG or SVG (by suffix) with pyqtgraph's exporters, atomically."""
    import pyqtgraph.exporters as pge
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    from planner_app.core.fileio import atomic_write_bytes

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise PlannerError(f"cannot export a chart as {suffix or 'a file without suffix'}: use .png or .svg ({p}).")
    if suffix == ".png":
        exporter = pge.ImageExporter(chart.plot_item)
        exporter.parameters()["width"] = width
        image = exporter.export(toBytes=True)
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buf, "PNG")
        buf.close()
        blob = bytes(data.data())
    else:
        try:
            out = pge.SVGExporter(chart.plot_item).export(toBytes=True)
            blob = out if isinstance(out, bytes) else str(out).encode("utf-8")
        except (ValueError, IndexError):
            blob = _svg_with_qt(chart)
    try:
        return atomic_write_bytes(p, blob)
    except OSError as exc:
        raise PlannerError(f"cannot write the chart {str(p)!r}: {exc.strerror or exc}; choose a writable folder.") from None
