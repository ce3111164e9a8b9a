"""The shown plan drawn over the topology: where each part runs and how loaded each link is.

A projection of the :class:`~planner_app.ui.planning_model.PlanningModel`'s shown
plan, separate from the editor's items (it never changes them and takes no
clicks): a badge under each device that hosts parts (units and levels, with
utilization and memory), a band along each link that carries traffic (width by
Mbps, colour by utilization: green, orange from 50 %, red at 100 % and over),
red with a tooltip saying why for any overloaded or constraint-breaking
element, and a legend. It redraws when the plan or the drawing changes, and
:meth:`PlanOverlay.set_enabled` turns it off.
"""

from __future__ import annotations

__all__ = ["PlanOverlay", "utilization_colour", "band_width"]

import math

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsSceneHelpEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QToolTip,
)

from planner_app.ui.canvas.scene import TopologyScene
from planner_app.ui.deferred import Deferred
from planner_app.ui.planning_model import PlanningModel

Z_OVERLAY = 50.0
RED = QColor("#C62828")


def utilization_colour(utilization: float) -> QColor:
    """Green below 50 %, orange below 100 %, red at 100 % and over."""
    if utilization >= 1.0 or not math.isfinite(utilization):
        return QColor(RED)
    if utilization >= 0.5:
        return QColor("#EF6C00")
    return QColor("#2E7D32")


def band_width(mbps: float) -> float:
    """Pen width (px) of a link carrying ``mbps``: 3 px at 0.01 Mbps up to 14 px at 1 Gbps (log scale)."""
    if mbps <= 0:
        return 0.0
    return max(3.0, min(14.0, 3.0 + 2.2 * (math.log10(mbps) + 2)))


def _passive(item: QGraphicsItem) -> None:
    item.setZValue(Z_OVERLAY)
    item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
    item.setAcceptHoverEvents(False)


class PlanOverlay(QObject):
    """Badges and link loads of the shown plan on a topology scene (see the module docstring)."""

    def __init__(self, scene: TopologyScene, model: PlanningModel, parent: QObject | None = None,
                 view: QGraphicsView | None = None) -> None:
        super().__init__(parent)
        self.scene, self.model, self.view = scene, model, view
        self.enabled = True
        self.items: list[QGraphicsItem] = []
        #: device id -> its badge; link id -> its band (what tests and tooltips read)
        self.badges: dict[str, QGraphicsRectItem] = {}
        self.bands: dict[str, QGraphicsPathItem] = {}
        self.legend: QLabel | None = None
        # one redraw, in a turn of its own (not with the panels'), however many of these arrive together
        self._later = Deferred(self.redraw, self)
        for sig in (model.planChosen, model.workloadChanged, model.cleared, scene.built, scene.doc.devicesMoved,
                    scene.doc.deviceRemoved, scene.doc.linkRemoved):
            sig.connect(self._later)
        # a removed item must go from the overlay at once (its link or device item is gone)
        scene.doc.deviceRemoved.connect(self.clear)
        scene.doc.linkRemoved.connect(self.clear)
        scene.installEventFilter(self)

    def flush(self) -> None:
        """Redraw now if a redraw is pending."""
        self._later.flush()

    def set_enabled(self, on: bool) -> None:
        """Show or hide the overlay (View ▸ Plan Overlay)."""
        self.enabled = on
        self.redraw()

    def clear(self, *_args: object) -> None:
        if self.legend is not None:
            self.legend.hide()
        for it in self.items:
            # a rebuilt drawing (open, new) has already deleted them
            if shiboken6.isValid(it) and it.scene() is self.scene:
                self.scene.removeItem(it)
        self.items.clear()
        self.badges.clear()
        self.bands.clear()

    def _add(self, item: QGraphicsItem) -> None:
        _passive(item)
        self.scene.addItem(item)
        self.items.append(item)

    def redraw(self, *_args: object) -> None:
        """Rebuild the overlay from the shown plan (cheap: one item per busy device and link)."""
        self.clear()
        shown = self.model.shown
        if not self.enabled or shown is None or self.scene.building:
            return
        p = shown.prediction
        topo = self.scene.doc.topology
        violations = list(p.violations)

        for lid, mbps in p.link_mbps.items():
            item = self.scene.links.get(lid)
            if item is None or mbps <= 0:
                continue
            util = p.link_utilization.get(lid, 0.0)
            link = topo.link(lid)
            why = [v for v in violations if lid in v]
            colour = RED if why or util >= 1.0 else utilization_colour(util)
            colour.setAlpha(170)
            band = QGraphicsPathItem(item.mapToScene(item.path()))
            band.setPen(QPen(colour, band_width(mbps), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            tip = (f"<b>{lid}</b> carries {mbps:.3g} Mbps of {max(link.bandwidth_ab_mbps, link.bandwidth_ba_mbps):g} "
                   f"Mbps · utilization {util * 100:.1f} %")
            if util >= 1.0:
                tip += "<br><span style='color:#C62828'>overloaded: the workload's rate needs more than the link gives"
                tip += "</span>"
            for v in why:
                tip += f"<br><span style='color:#C62828'>{v}</span>"
            band.setToolTip(tip)
            self._add(band)
            self.bands[lid] = band
            mid = band.path().pointAtPercent(0.5)
            label = QGraphicsSimpleTextItem(f"{mbps:.3g} Mbps")
            label.setBrush(QBrush(colour.darker(140)))
            f = QFont()
            f.setPointSizeF(8)
            f.setBold(True)
            label.setFont(f)
            label.setPos(mid + QPointF(6, -16))
            self._add(label)

        by_device: dict[str, list[str]] = {}
        for part in p.parts:
            units = f"{part.unit_ids[0]}–{part.unit_ids[-1]}" if len(part.unit_ids) > 1 else f"{part.unit_ids[0]}"
            by_device.setdefault(part.device, []).append(f"units {units} · {part.level}")
        for dev, lines in by_device.items():
            ditem = self.scene.devices.get(dev)
            if ditem is None:
                continue
            util = p.device_utilization.get(dev, 0.0)
            mem, limit = p.memory_bytes.get(dev, 0.0), p.memory_limit_bytes.get(dev, math.inf)
            why = [v for v in violations if dev in v]
            if util >= 1.0:
                why.append(f"{dev} is overloaded: utilization {util * 100:.0f} % at the workload's rate")
            if mem > limit:
                why.append(f"{dev} needs {mem / 1e6:.1f} MB but has {limit / 1e6:.1f} MB")
            text = "\n".join(lines) + f"\nbusy {util * 100:.1f} % · {mem / 1e6:.1f} MB"
            label = QGraphicsSimpleTextItem(text)
            f = QFont()
            f.setPointSizeF(7.5)
            label.setFont(f)
            box = label.boundingRect().adjusted(-5, -3, 5, 3)
            badge = QGraphicsRectItem(box)
            edge = RED if why else QColor("#37474F")
            badge.setPen(QPen(edge, 2.0 if why else 1.0))
            badge.setBrush(QBrush(QColor("#FFEBEE") if why else QColor(255, 255, 255, 235)))
            rect = ditem.sceneBoundingRect()
            badge.setPos(rect.center().x() - box.width() / 2 + 5, rect.bottom() + 6)
            label.setParentItem(badge)
            label.setBrush(QBrush(RED if why else QColor("#263238")))
            tip = f"<b>{dev}</b> runs " + "; ".join(lines)
            tip += f"<br>busy {util * 100:.1f} % · memory {mem / 1e6:.1f} of {limit / 1e6:.0f} MB"
            for w in why:
                tip += f"<br><span style='color:#C62828'>{w}</span>"
            badge.setToolTip(tip)
            self._add(badge)
            self.badges[dev] = badge
        self._draw_legend(shown.label, p.latency_ms)

    def _draw_legend(self, label: str, latency_ms: float) -> None:
        """A legend pinned to the view's bottom-right corner (readable at any zoom, never off screen)."""
        if self.view is None:
            return
        if self.legend is None:
            # a child of the view, not of its viewport: scrolling the viewport would move it
            self.legend = QLabel(self.view)
            # it keeps to its corner as the view resizes (the viewport's resize carries the new size)
            self.view.viewport().installEventFilter(self)
            self.legend.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            self.legend.setStyleSheet("QLabel { background: rgba(255,255,255,235); border: 1px solid #90A4AE; "
                                      "border-radius: 4px; padding: 4px 6px; font-size: 8pt; color: #263238; }")
        swatch = "<span style='color:{}'>&#9644;&#9644;</span>"
        self.legend.setText(
            f"<b>Plan: {label} · {latency_ms:.1f} ms</b><br>"
            f"{swatch.format(utilization_colour(0.1).name())} link load &lt; 50 %<br>"
            f"{swatch.format(utilization_colour(0.7).name())} link load 50–100 %<br>"
            f"{swatch.format(RED.name())} overloaded / breaks a constraint<br>"
            "<small>band width: Mbps · badges: units · level · busy · memory</small>")
        self.legend.setToolTip("The shown plan: where each part runs and how loaded each link is "
                               "(Planning ▸ Plan Overlay turns it off)")
        self.legend.adjustSize()
        self._place_legend()
        self.legend.show()
        self.legend.raise_()

    def _place_legend(self) -> None:
        """Bottom-right of the visible canvas (drawings fit from the top-left; that corner is the emptiest)."""
        if self.legend is None or self.view is None:
            return
        area = self.view.viewport().geometry()
        self.legend.move(area.right() - self.legend.width() - 8, area.bottom() - self.legend.height() - 8)

    def tooltip_at(self, scene_pos: QPointF) -> str:
        """The overlay's tooltip at ``scene_pos`` ('' where the overlay has none)."""
        for it in self.scene.items(scene_pos):
            if it in self.items and it.toolTip():
                if isinstance(it, QGraphicsPathItem) and not it.shape().contains(it.mapFromScene(scene_pos)):
                    continue
                return it.toolTip()
            if it.parentItem() is not None and it.parentItem() in self.items and it.parentItem().toolTip():
                return it.parentItem().toolTip()
        return ""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The plan's tooltip wins over the editor's where the overlay draws something."""
        if self.view is not None and watched is self.view.viewport() and event.type() == QEvent.Type.Resize:
            self._place_legend()
            return False
        if watched is self.scene and event.type() == QEvent.Type.GraphicsSceneHelp and self.items:
            assert isinstance(event, QGraphicsSceneHelpEvent)
            text = self.tooltip_at(event.scenePos())
            if text:
                QToolTip.showText(event.screenPos(), text)
                event.accept()
                return True
        return False
