"""The canvas view: zoom at the cursor, pan, nudge with arrow keys, drops.

Wheel zooms around the cursor; the middle button or space + left drag pans;
arrow keys move the selection by one grid step (Shift: 1 px) as one merged
undo step per key hold. Drops of palette presets and of files are turned into
signals the window handles.
"""

from __future__ import annotations

__all__ = ["TopologyView", "PRESET_MIME"]

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView

from planner_app.ui.canvas.scene import GRID_PX, TopologyScene
from planner_app.ui.commands import MoveCommand

#: MIME type of a palette drag; the payload is the preset id (UTF-8)
PRESET_MIME = "application/x-planner-device-preset"

_MIN_ZOOM, _MAX_ZOOM = 0.05, 4.0


class TopologyView(QGraphicsView):
    """Shows a :class:`TopologyScene`; zoom, pan, nudge and drop handling."""

    #: a palette preset was dropped: (preset id, scene x, scene y)
    presetDropped = Signal(str, float, float)
    #: files were dropped on the canvas (local paths)
    filesDropped = Signal(list)
    zoomChanged = Signal(float)
    escapePressed = Signal()

    def __init__(self, scene: TopologyScene, parent=None) -> None:  # noqa: ANN001
        super().__init__(scene, parent)
        self.topology_scene = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        # the grid only changes with zoom/scroll: keep it as a cached image
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        # every item sets the painter state it uses, so Qt need not save/restore it
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState
                                  | QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPoint | None = None
        self._space_down = False

    # -- zoom -------------------------------------------------------------------------
    def zoom(self) -> float:
        """Current scale (1.0 = 100 %)."""
        return self.transform().m11()

    def zoom_by(self, factor: float, at: QPoint | None = None) -> None:
        """Zoom by ``factor`` (clamped to 5 %–400 %) keeping viewport point ``at``
        (default: the centre) over the same scene point."""
        target = min(_MAX_ZOOM, max(_MIN_ZOOM, self.zoom() * factor))
        factor = target / self.zoom()
        if abs(factor - 1.0) <= 1e-9:
            return
        at = at if at is not None else self.viewport().rect().center()
        scene_pt = self.mapToScene(at)
        # Qt's AnchorUnderMouse uses the last mouse-move position, not the wheel
        # event's; anchoring by hand is exact for wheels, touchpads and tests
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(factor, factor)
        moved = self.mapFromScene(scene_pt) - at
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self.zoomChanged.emit(self.zoom())

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if delta:
            self.zoom_by(1.0015 ** delta, event.position().toPoint())
            event.accept()
        else:
            super().wheelEvent(event)

    def fit_all(self) -> None:
        """Zoom to show every item (never above 100 %)."""
        rect = self.topology_scene.content_rect()
        if rect.isEmpty():
            return
        self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.resetTransform()
            self.centerOn(rect.center())
        self.zoomChanged.emit(self.zoom())

    def zoom_to_selection(self) -> bool:
        """Fit the selected items in the view (never above 200 %); False when nothing is selected."""
        rect = QRectF()
        for it in self.topology_scene.selectedItems():
            rect = rect.united(it.sceneBoundingRect())
        if rect.isEmpty():
            return False
        self.fitInView(rect.adjusted(-60, -60, 60, 60), Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 2.0:
            self.zoom_by(2.0 / self.zoom())
            self.centerOn(rect.center())
        self.zoomChanged.emit(self.zoom())
        return True

    def centre_on(self, item_id: str) -> bool:
        """Select the device (or note) ``item_id`` and centre it; False if absent."""
        scene = self.topology_scene
        item = scene.devices.get(item_id) or scene.notes.get(item_id)
        if item is None:
            return False
        scene.select_ids([item_id])
        self.centerOn(item.pos())
        return True

    # -- pan ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
            self._space_down and event.button() == Qt.MouseButton.LeftButton
        ):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            pos = event.position().toPoint()
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space_down else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # -- keys ----------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.escapePressed.emit()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        steps: dict[object, tuple[int, int]] = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}
        if key in steps:
            step = 1.0 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else GRID_PX
            dx, dy = steps[key]
            if self.nudge(dx * step, dy * step):
                event.accept()
                return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def nudge(self, dx: float, dy: float) -> bool:
        """Move the selection by ``(dx, dy)`` as an undoable (merging) step."""
        scene = self.topology_scene
        old = scene.movable_positions()
        if not old:
            return False
        new = {k: (x + dx, y + dy) for k, (x, y) in old.items()}
        scene.doc.push(MoveCommand(scene.doc, old, new, text="Nudge", merge=True))
        return True

    # -- drops ----------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasFormat(PRESET_MIME) or mime.hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        mime = event.mimeData()
        if mime.hasFormat(PRESET_MIME) or mime.hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        if mime.hasFormat(PRESET_MIME):
            preset_id = bytes(mime.data(PRESET_MIME).data()).decode("utf-8")
            pos: QPointF = self.mapToScene(event.position().toPoint())
            event.acceptProposedAction()
            self.presetDropped.emit(preset_id, pos.x(), pos.y())
            return
        if mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            event.acceptProposedAction()
            self.filesDropped.emit(paths)
            return
        super().dropEvent(event)
