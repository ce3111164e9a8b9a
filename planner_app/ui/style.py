"""Look of the editor: tier colours, icons, sizes and number formats.

One place for the visual vocabulary so the canvas, palette and inspector agree:
a cloud is always the same blue, a camera always the same picture. Icons are
SVG files rendered by Qt at the size they are drawn, so they stay sharp on
high-DPI screens and at any zoom.
"""

from __future__ import annotations

__all__ = [
    "ICONS_DIR",
    "TIER_COLOURS",
    "TIER_ORDER",
    "icon",
    "svg_renderer",
    "tier_colour",
    "format_mbps",
    "format_gflops",
    "format_mb",
    "zone_colour",
]

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

ICONS_DIR = Path(__file__).resolve().parent / "resources" / "icons"

#: Tier → (fill, accent) colours: calm fills, saturated accents for borders.
TIER_COLOURS: dict[str, tuple[str, str]] = {
    "device": ("#E8F5E9", "#2E7D32"),
    "edge": ("#FFF3E0", "#EF6C00"),
    "cloud": ("#E3F2FD", "#1565C0"),
}
TIER_ORDER = ("device", "edge", "cloud")

# Zones get distinct translucent colours; the list cycles for many zones.
_ZONE_COLOURS = ["#8E24AA", "#00897B", "#C62828", "#3949AB", "#6D4C41", "#00ACC1"]


def tier_colour(tier: str, accent: bool = False) -> QColor:
    """Fill (or accent) colour of a tier; grey for an unknown tier."""
    fill, acc = TIER_COLOURS.get(str(tier), ("#ECEFF1", "#546E7A"))
    return QColor(acc if accent else fill)


def zone_colour(index: int) -> QColor:
    """The colour of the ``index``-th privacy zone."""
    return QColor(_ZONE_COLOURS[index % len(_ZONE_COLOURS)])


@lru_cache(maxsize=64)
def svg_renderer(name: str) -> QSvgRenderer:
    """A cached renderer for ``resources/icons/<name>.svg`` (the sensor icon if missing)."""
    path = ICONS_DIR / f"{name}.svg"
    if not path.exists():
        path = ICONS_DIR / "sensor.svg"
    return QSvgRenderer(str(path))


@lru_cache(maxsize=64)
def icon(name: str) -> QIcon:
    """A QIcon drawn from the SVG at several sizes (crisp in menus, toolbars, lists)."""
    renderer = svg_renderer(name)
    result = QIcon()
    for side in (16, 24, 32, 48, 64, 96):
        pm = QPixmap(QSize(side, side))
        pm.fill(QColor(0, 0, 0, 0))
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(p)
        p.end()
        result.addPixmap(pm)
    return result


def format_mbps(mbps: float) -> str:
    """``2500`` → ``2.5 Gbps``; ``0.25`` → ``250 kbps``."""
    if mbps >= 1000:
        return f"{mbps / 1000:g} Gbps"
    if mbps < 1:
        return f"{mbps * 1000:.3g} kbps"
    return f"{mbps:.4g} Mbps"


def format_gflops(gflops: float) -> str:
    """``1500`` → ``1.5 TFLOPS``."""
    if gflops >= 1000:
        return f"{gflops / 1000:.3g} TFLOPS"
    return f"{gflops:.3g} GFLOPS"


def format_mb(mb: float) -> str:
    """``4096`` → ``4 GB``."""
    if mb >= 1024:
        return f"{mb / 1024:.3g} GB"
    return f"{mb:.3g} MB"
