"""The overview (minimap): the whole drawing small, with the main view's area framed.

Click or drag in it to move the main view there. It shares the main scene, so
it needs no copy of anything; it repaints only when the drawing or the main
view's area changes (never during a drag, so it costs frames nothing), and at
that size devices are drawn as their tier-coloured tiles only.
"""

from __future__ import annotations

__all__ = ["OverviewView", "SHOW_FROM_DEVICES"]

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QResizeEvent
from PySide6.QtWidgets import QGraphicsView, QWidget

from planner_app.ui.canvas.view import TopologyView

#: the window shows the overview on its own from this many devices
SHOW_FROM_DEVICES = 60


class OverviewView(QGraphicsView):
    """A small, non-editing view of ``main``'s scene that steers ``main``."""

    def __init__(self, main: TopologyView, parent: QWidget | None = None) -> None:
        super().__init__(main.topology_scene, parent)
        self.main = main
        self.setInteractive(False)  # no selection, no drags: only steering
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setRenderHints(QPainter.RenderHint.Antialiasing)
        # repaint on our own schedule (see refresh), not on every change of the scene
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.NoViewportUpdate)
        self.setMinimumSize(160, 110)
        self.setToolTip("Overview: click or drag to move the view")
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(80)  # coalesces bursts of model events
        self._refit.timeout.connect(self._fit)
        scene, doc = main.topology_scene, main.topology_scene.doc
        for sig in (doc.devicesMoved, doc.deviceAdded, doc.deviceRemoved, doc.itemsRemoved, doc.itemsInserted,
                    doc.linkAdded, doc.linkRemoved, doc.noteAdded, doc.noteRemoved, doc.zoneChanged,
                    doc.topologyReset, scene.built):
            sig.connect(self.refresh)
        main.zoomChanged.connect(self._frame_moved)
        main.horizontalScrollBar().valueChanged.connect(self._frame_moved)
        main.verticalScrollBar().valueChanged.connect(self._frame_moved)

    def refresh(self, *_args: object) -> None:
        """The drawing changed: fit it again and repaint, soon."""
        self._refit.start()

    def _frame_moved(self, *_args: object) -> None:
        self.viewport().update()

    def _fit(self) -> None:
        rect = self.main.topology_scene.content_rect()
        if rect.isEmpty():
            rect = QRectF(-400, -300, 800, 600)
        self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.AspectRatioMode.KeepAspectRatio)
        self.viewport().update()

    def visible_area(self) -> QRectF:
        """The part of the scene the main view shows (scene coordinates)."""
        return self.main.mapToScene(self.main.viewport().rect()).boundingRect()

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        painter.fillRect(rect, QColor("#FAFBFC"))  # no grid: at this size it is noise

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        painter.setPen(QPen(QColor("#1565C0"), 0))
        fill = QColor("#1565C0")
        fill.setAlpha(30)
        painter.setBrush(fill)
        painter.drawRect(self.visible_area())

    # -- steering ----------------------------------------------------------------------
    def _steer(self, pos: QPointF) -> None:
        self.main.centerOn(self.mapToScene(pos.toPoint()))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._steer(event.position())
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._steer(event.position())
            event.accept()

    def wheelEvent(self, event) -> None:  # noqa: ANN001 - Qt signature
        self.main.wheelEvent(event)  # zoom the main view, not the overview

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.refresh()
