"""The Qt binding under the window must not corrupt Python's reference counts."""

from __future__ import annotations

from planner_app.ui.compat import binding_problem


def test_qt_binding_keeps_none_refcount(qapp):
    # PySide6 6.12.0 on Python 3.11 fails this, and the window then aborts after
    # a few thousand canvas updates: pin PySide6-Essentials<6.12 (see compat.py)
    assert binding_problem() is None
