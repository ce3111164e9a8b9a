"""File work for the window: background loading and canvas image export.

Loading runs on a :class:`QThreadPool` thread so a huge file never freezes
the window; the result comes back to the GUI thread through a queued signal.
Exports render into memory first and are then written atomically, so a failed
export leaves nothing half-written.
"""

from __future__ import annotations

__all__ = ["TopologyLoader", "export_scene_image", "ExportError"]

from pathlib import Path

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QIODevice,
    QObject,
    QRectF,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import atomic_write_bytes
from planner_app.core.topology.io import load_topology


class ExportError(PlannerError):
    """An image export failed (unsupported suffix, nothing to draw, encoder error)."""


class _LoadTask(QRunnable):
    def __init__(self, loader: TopologyLoader, path: str) -> None:
        super().__init__()
        self.loader, self.path = loader, path

    def run(self) -> None:
        try:
            topo = load_topology(self.path)
        except PlannerError as exc:
            self.loader.failed.emit(self.path, str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            self.loader.failed.emit(self.path, f"could not read '{self.path}': {type(exc).__name__}: {exc}")
        else:
            self.loader.loaded.emit(self.path, topo)


class TopologyLoader(QObject):
    """Loads topology files off the GUI thread; emits ``loaded`` or ``failed``."""

    loaded = Signal(str, object)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)

    def load(self, path: str) -> None:
        """Start loading ``path``."""
        self.pool.start(_LoadTask(self, path))

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until queued loads finish (tests, shutdown)."""
        return self.pool.waitForDone(timeout_ms)


def _content_rect(scene: QGraphicsScene) -> QRectF:
    content = getattr(scene, "content_rect", None)
    rect = content() if content is not None else scene.itemsBoundingRect()
    return rect.adjusted(-30, -30, 30, 30)


def export_scene_image(scene: QGraphicsScene, path: str | Path, scale: float = 2.0) -> Path:
    """Write the drawing to ``path`` as PNG (at ``scale`` × for sharpness) or SVG."""
    target = Path(path)
    suffix = target.suffix.lower()
    rect = _content_rect(scene)
    if rect.width() <= 60 or rect.height() <= 60:
        raise ExportError("the canvas is empty: add devices before exporting an image")
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    selected = scene.selectedItems()
    for it in selected:  # export without selection highlights
        it.setSelected(False)
    # cached items would be painted as bitmaps: an SVG would lose its text and lines
    cached = [(it, it.cacheMode()) for it in scene.items() if it.cacheMode() != QGraphicsItem.CacheMode.NoCache]
    for it, _ in cached:
        it.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    try:
        if suffix == ".svg":
            from PySide6.QtSvg import QSvgGenerator

            gen = QSvgGenerator()
            gen.setOutputDevice(buf)
            gen.setSize(QSize(int(rect.width()), int(rect.height())))
            gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
            gen.setTitle(target.stem)
            painter = QPainter(gen)
            scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
            painter.end()
        elif suffix == ".png":
            w, h = int(rect.width() * scale), int(rect.height() * scale)
            if w * h > 400_000_000:
                scale = (400_000_000 / (rect.width() * rect.height())) ** 0.5
                w, h = int(rect.width() * scale), int(rect.height() * scale)
            image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(QColor("#FFFFFF"))
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            scene.render(painter, QRectF(0, 0, w, h), rect, Qt.AspectRatioMode.KeepAspectRatio)
            painter.end()
            if not image.save(buf, "PNG"):  # type: ignore[call-overload]  # the stubs say bytes; PySide6 wants str
                raise ExportError(f"could not encode PNG for '{target}'")
        else:
            raise ExportError(f"cannot export '{target.name}': use a .png or .svg file name")
    finally:
        for it, mode in cached:
            it.setCacheMode(mode)
        for it in selected:
            it.setSelected(True)
    buf.close()
    return atomic_write_bytes(target, bytes(data.data()))
