"""Checks of the Qt binding the window runs on.

PySide6 6.12.0 on Python 3.11 drops a reference to ``None`` on every call of a
method that returns nothing (``QGraphicsItem.update()``, ``setPos()``, …).
Python 3.11's ``None`` is not immortal, so after a few thousand such calls the
interpreter aborts ("Fatal Python error: none_dealloc") — within seconds of
dragging on the canvas. :func:`binding_problem` detects it by behaviour (not
by version number), so the window can refuse to start with a clear fix
instead of crashing mid-edit.
"""

from __future__ import annotations

__all__ = ["binding_problem"]

import sys


def binding_problem() -> str | None:
    """A message naming the problem and the fix, or None when the binding is sound."""
    import PySide6
    from PySide6.QtWidgets import QGraphicsRectItem

    item = QGraphicsRectItem(0, 0, 1, 1)
    before = sys.getrefcount(None)
    for _ in range(200):
        item.setVisible(True)
    lost = before - sys.getrefcount(None)
    if lost < 100:
        return None
    return (
        f"PySide6 {PySide6.__version__} on Python {sys.version.split()[0]} loses a reference to None on every "
        "Qt call that returns nothing, and the window would crash within seconds of editing. Install another "
        "PySide6 release, for example: pip install 'PySide6-Essentials==6.11.3'"
    )
