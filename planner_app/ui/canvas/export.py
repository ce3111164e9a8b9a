"""Canvas image export: PNG or SVG of the drawing or of the selection, bounded in size.

The picture is rendered in horizontal bands, reporting progress after each
one, and the PNG is encoded on a worker thread while the GUI thread keeps
answering; the file is then written atomically, so a failed export leaves
nothing half-written. The grid and the background are options, not whatever
the canvas happens to show.

Example
-------
>>> opts = ExportOptions(grid=True, transparent=False, selection_only=False)
>>> opts.scale
2.0
"""

from __future__ import annotations

__all__ = ["ExportOptions", "ExportError", "render_scene", "export_scene_image", "MAX_PIXELS"]

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QCoreApplication, QIODevice, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import atomic_write_bytes

#: at most this many pixels in a PNG (about 4,200 × 2,800): a 300-device drawing at 2× asked
#: for 100 M pixels, 400 MB of memory and half a minute of encoding
MAX_PIXELS = 12_000_000
_BAND_PIXELS = 250_000  # rendered per step between progress reports (a GUI stall each)
_MARGIN = 30.0
BACKGROUND = QColor("#FAFBFC")


class ExportError(PlannerError):
    """An image export failed (unsupported suffix, nothing to draw, encoder error)."""


@dataclass(frozen=True)
class ExportOptions:
    """How to export the canvas.

    ``grid`` draws the grid, ``transparent`` leaves the background clear (PNG),
    ``selection_only`` draws only the selected items and the links between
    them; ``scale`` is pixels per scene unit for PNG, lowered to stay within
    ``max_pixels``.
    """

    grid: bool = False
    transparent: bool = False
    selection_only: bool = False
    scale: float = 2.0
    max_pixels: int = MAX_PIXELS


#: progress(done, total): called after each rendered band and once encoded
Progress = Callable[[int, int], None]


def _source_rect(scene: QGraphicsScene, options: ExportOptions) -> QRectF:
    if options.selection_only:
        rect = QRectF()
        for it in scene.selectedItems():
            rect = rect.united(it.sceneBoundingRect())
    else:
        content = getattr(scene, "content_rect", None)
        rect = content() if content is not None else scene.itemsBoundingRect()
    return rect.adjusted(-_MARGIN, -_MARGIN, _MARGIN, _MARGIN)


def export_scale(rect: QRectF, options: ExportOptions) -> float:
    """Pixels per scene unit: ``options.scale``, lowered so the image stays within ``max_pixels``."""
    area = rect.width() * rect.height()
    if area <= 0:
        return options.scale
    return min(options.scale, math.sqrt(options.max_pixels / area))


def _bands(w: int, h: int) -> tuple[int, int]:
    """Height of one rendering band and how many bands an image of ``w`` × ``h`` takes."""
    band_h = max(64, _BAND_PIXELS // max(1, w))
    return band_h, math.ceil(h / band_h)


class _ExportState:
    """Puts the scene in export dress (no highlights, no caches, options) and back."""

    def __init__(self, scene: QGraphicsScene, options: ExportOptions) -> None:
        self.scene, self.options = scene, options

    def __enter__(self) -> _ExportState:
        scene, options = self.scene, self.options
        self.selected = scene.selectedItems()
        keep = set(self.selected) if options.selection_only else None
        self.hidden: list[QGraphicsItem] = []
        if keep is not None:
            keep_ids = {getattr(it, "device_id", None) for it in keep} - {None}
            links = getattr(scene, "links", {})
            only = {lid for lid, it in links.items() if it in keep
                    or (it.a_item.device_id in keep_ids and it.b_item.device_id in keep_ids)}
            layer = getattr(scene, "link_layer", None)
            if layer is not None:
                layer.only = only
            for it in scene.items():
                if it.parentItem() is None and it is not layer and it not in keep and it.isVisible() \
                        and getattr(it, "link_id", None) not in only:
                    it.setVisible(False)
                    self.hidden.append(it)
        blocked = scene.blockSignals(True)  # the selection comes back as it was: nobody needs to know
        for it in self.selected:  # export without selection highlights
            it.setSelected(False)
        scene.blockSignals(blocked)
        # cached items would be painted as bitmaps: an SVG would lose its text and lines
        self.cached = [(it, it.cacheMode()) for it in scene.items()
                       if it.cacheMode() != QGraphicsItem.CacheMode.NoCache]
        for it, _ in self.cached:
            it.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        scene.export_options = options  # type: ignore[attr-defined]  # read by TopologyScene.drawBackground
        return self

    def __exit__(self, *exc: object) -> None:
        scene = self.scene
        scene.export_options = None  # type: ignore[attr-defined]
        layer = getattr(scene, "link_layer", None)
        if layer is not None:
            layer.only = None
        for it, mode in self.cached:
            it.setCacheMode(mode)
        for it in self.hidden:
            it.setVisible(True)
        blocked = scene.blockSignals(True)
        for it in self.selected:
            it.setSelected(True)
        scene.blockSignals(blocked)


def render_scene(scene: QGraphicsScene, options: ExportOptions = ExportOptions(),
                 progress: Progress | None = None) -> QImage:
    """The drawing (or the selection) as an image, rendered band by band."""
    rect = _source_rect(scene, options)
    if rect.width() <= 2 * _MARGIN or rect.height() <= 2 * _MARGIN:
        raise ExportError("nothing selected to export" if options.selection_only
                          else "the canvas is empty: add devices before exporting an image")
    scale = export_scale(rect, options)
    ensuring = getattr(scene, "ensuring_labels", None)
    if ensuring is not None and scale >= 0.3:  # labels are drawn at this scale: place them all first
        for _ in ensuring():
            if progress is not None:
                progress(0, 1)  # lets the window breathe between chunks of a big label pass
    w, h = max(1, int(rect.width() * scale)), max(1, int(rect.height() * scale))
    image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent if options.transparent else BACKGROUND)
    band_h, bands = _bands(w, h)
    with _ExportState(scene, options):
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        for k in range(bands):
            top = k * band_h
            bh = min(band_h, h - top)
            target = QRectF(0, top, w, bh)
            source = QRectF(rect.left(), rect.top() + top / scale, rect.width(), bh / scale)
            painter.save()
            painter.setClipRect(target)
            scene.render(painter, target, source, Qt.AspectRatioMode.IgnoreAspectRatio)
            painter.restore()
            if progress is not None:
                progress(k + 1, bands + 1)
        painter.end()
    return image


def _encode_png(image: QImage, progress: Progress | None, total: int) -> bytes:
    """PNG bytes of ``image``, encoded on a worker thread while the GUI thread keeps serving events."""
    result: dict[str, object] = {}

    def work() -> None:
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        result["ok"] = image.save(buf, "PNG")  # type: ignore[call-overload]  # stubs say bytes; PySide6 wants str
        buf.close()
        result["data"] = bytes(data.data())

    worker = threading.Thread(target=work, name="png-encoder", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.02)
        if progress is not None:
            QCoreApplication.processEvents()
    if not result.get("ok"):
        raise ExportError("could not encode the PNG image")
    if progress is not None:
        progress(total, total)
    return result["data"]  # type: ignore[return-value]


def export_scene_image(scene: QGraphicsScene, path: str | Path, options: ExportOptions = ExportOptions(),
                       progress: Progress | None = None) -> Path:
    """Write the drawing to ``path`` as PNG or SVG (by suffix); returns the path written."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".png":
        image = render_scene(scene, options, progress)
        total = _bands(image.width(), image.height())[1] + 1
        return atomic_write_bytes(target, _encode_png(image, progress, total))
    if suffix == ".svg":
        from PySide6.QtSvg import QSvgGenerator

        rect = _source_rect(scene, options)
        if rect.width() <= 2 * _MARGIN or rect.height() <= 2 * _MARGIN:
            raise ExportError("nothing selected to export" if options.selection_only
                              else "the canvas is empty: add devices before exporting an image")
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        gen = QSvgGenerator()
        gen.setOutputDevice(buf)
        gen.setSize(QSize(int(rect.width()), int(rect.height())))
        gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        gen.setTitle(target.stem)
        ensure = getattr(scene, "ensure_labels", None)
        if ensure is not None:
            ensure()
        with _ExportState(scene, options):
            painter = QPainter(gen)
            scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
            painter.end()
        buf.close()
        if progress is not None:
            progress(1, 1)
        return atomic_write_bytes(target, bytes(data.data()))
    raise ExportError(f"cannot export '{target.name}': use a .png or .svg file name")

