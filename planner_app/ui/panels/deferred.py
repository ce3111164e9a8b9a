"""Coalesced refreshes: a burst of model signals redraws a panel once, when it can be seen.

A profile's last level, the time table and the cleared result arrive as three
signals in one slot; each panel would redraw three times in one go, and the GUI
thread would stall for the sum. A :class:`Deferred` runs its function once, in
its own turn of the event loop (so timers and input get in between panels); a
panel tabbed out of sight redraws when it is shown. :meth:`Deferred.flush` runs
it now when something needs the drawing at once (an export, a test).
"""

from __future__ import annotations

__all__ = ["Deferred", "wrapped_label"]

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget


class Deferred(QObject):
    """Call ``fn`` once on the next event-loop turn (or when ``widget`` is next shown)."""

    def __init__(self, fn: Callable[[], object], parent: QObject | None = None,
                 widget: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._widget = widget
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._run)
        if widget is not None:
            widget.installEventFilter(self)

    def __call__(self, *_args: object) -> None:
        self._dirty = True
        if self._widget is None or self._widget.isVisible():
            self._timer.start()

    @property
    def pending(self) -> bool:
        return self._dirty

    def flush(self) -> None:
        """Run now if a call is pending."""
        if self._dirty:
            self._timer.stop()
            self._run()

    def _run(self) -> None:
        if self._dirty:
            self._dirty = False
            self._fn()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._widget and event.type() == QEvent.Type.Show and self._dirty:
            self._timer.start()
        return False


class _WrappedLabel(QLabel):
    def hasHeightForWidth(self) -> bool:  # QLabel turns it back on at every setText
        return False


def wrapped_label(text: str, lines: int) -> QLabel:
    """A word-wrapped label ``lines`` lines tall that does not ask for height-for-width layout.

    A wrapped QLabel makes its whole layout height-for-width, and a scroll area then sizes the
    panel to its preferred height: the dock scrolls instead of its charts shrinking.
    """
    label = _WrappedLabel(text)
    label.setWordWrap(True)
    label.setFixedHeight(lines * label.fontMetrics().lineSpacing() + 4)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label
