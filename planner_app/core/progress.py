"""Progress reporting and cancellation for long work, without Qt.

Long core functions take ``progress`` (a callable ``(fraction, message)``) and
``cancel`` (a :class:`CancelToken`). The command line prints the progress and
cancels on Ctrl-C; a window job runner is to wrap them in a worker thread and
draw it (the planning panels, not built yet).

Example
-------
>>> token = CancelToken()
>>> token.cancel()
>>> token.cancelled
True
"""

from __future__ import annotations

__all__ = ["ProgressCallback", "CancelToken", "Cancelled", "report"]

import threading
from collections.abc import Callable

from planner_app.core.errors import PlannerError

ProgressCallback = Callable[[float, str], None]


class Cancelled(PlannerError):
    """The user cancelled the work; what was finished before is kept."""

    exit_code = 130


class CancelToken:
    """A thread-safe flag a worker checks between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if :meth:`cancel` was called."""
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def report(progress: ProgressCallback | None, fraction: float, message: str = "") -> None:
    """Call ``progress`` if given, with ``fraction`` clamped to [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, fraction)), message)
