"""Coalesced refreshes: a burst of model signals redraws a panel once, when it can be seen,
and the GUI thread never does two panels' drawing in one go.

A profile's last level, the time table and the cleared result arrive as three
signals in one slot; each panel would redraw three times in one go, and the GUI
thread would stall for the sum. A :class:`Deferred` runs its function once, later;
a panel tabbed out of sight redraws when it is shown. :meth:`Deferred.flush` runs
it now when something needs the drawing at once (an export, a test).

Every Deferred waits in one queue that runs **one step per event-loop turn**, so
timers, input and painting get in between: the Model, Profiling and Optimizer
panels and the canvas overlay, all due after the same signal, redraw in four
turns rather than one long stall. A Deferred may have several steps (a table, then
a chart, then the next chart): each is a turn of its own, and a new call while the
steps run starts them again from the first.
"""

from __future__ import annotations

__all__ = ["Deferred", "wrapped_label"]

from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget


class _Turns(QObject):
    """The queue of pending Deferred steps: one per event-loop turn."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[Deferred] = []
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(0)
        self.timer.timeout.connect(self._tick)

    def want(self, d: Deferred) -> None:
        if d not in self.queue:
            self.queue.append(d)
        if not self.timer.isActive():
            self.timer.start()

    def drop(self, d: Deferred) -> None:
        if d in self.queue:
            self.queue.remove(d)

    def _tick(self) -> None:
        if self.queue:
            d = self.queue.pop(0)
            try:
                d._step()
            except RuntimeError:  # its widgets were deleted (a closed window): nothing to draw
                d._dirty = False
        if self.queue:
            self.timer.start()  # the next step in the next turn: what is due now runs first


_TURNS: _Turns | None = None


def _turns() -> _Turns:
    global _TURNS
    if _TURNS is None:
        _TURNS = _Turns()
    return _TURNS


class Deferred(QObject):
    """Call ``fn`` (or each of a sequence of steps, one per turn) later, once, when ``widget`` is visible."""

    def __init__(self, fn: Callable[[], object] | Sequence[Callable[[], object]], parent: QObject | None = None,
                 widget: QWidget | None = None) -> None:
        super().__init__(parent)
        self._steps: list[Callable[[], object]] = list(fn) if isinstance(fn, Sequence) else [fn]
        self._widget = widget
        self._dirty = False
        self._next = 0
        if widget is not None:
            widget.installEventFilter(self)
        self.destroyed.connect(lambda *_: _turns().drop(self))

    def __call__(self, *_args: object) -> None:
        self._dirty = True
        self._next = 0  # new data: draw it from the first step
        if self._widget is None or self._widget.isVisible():
            _turns().want(self)

    @property
    def pending(self) -> bool:
        return self._dirty

    def flush(self) -> None:
        """Run every remaining step now if a call is pending."""
        while self._dirty:
            self._step()
        _turns().drop(self)

    def _step(self) -> None:
        if not self._dirty:
            return
        i = self._next
        self._next += 1
        if self._next >= len(self._steps):
            self._dirty, self._next = False, 0
        else:
            _turns().want(self)
        self._steps[i]()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._widget and event.type() == QEvent.Type.Show and self._dirty:
            _turns().want(self)
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
