"""One job runner for every long step of the window: load, profile, optimize, export.

A job is a plain function ``fn(ctx)`` run on a :class:`QThreadPool` worker. It
reports through its :class:`JobContext`: ``ctx.progress(fraction, message)``
(any rate: the GUI reads only the latest value, on a 50 ms timer, so a chatty
worker never floods the event loop), ``ctx.partial(obj)`` for results that arrive
before the end (a profiled level), and ``ctx.cancel`` (the core
:class:`~planner_app.core.progress.CancelToken`) to check. Its result, error or
cancellation comes back as a signal in the GUI thread.

Errors a user can cause (:class:`~planner_app.core.errors.PlannerError`) are
shown in a dialog that names the problem; anything else is shown with its type
and first line, never a traceback. The GUI thread only ever does the short
slots, so the window stays responsive (tests hold it to 100 ms).

Example
-------
>>> runner = JobRunner(dialogs, parent_widget)                     # doctest: +SKIP
>>> job = runner.start("Profile", lambda ctx: profile(ctx.progress, ctx.cancel))  # doctest: +SKIP
>>> job.finished.connect(show)                                     # doctest: +SKIP
"""

from __future__ import annotations

import gc

__all__ = ["Job", "JobContext", "JobRunner", "describe_error"]

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from planner_app.core.errors import PlannerError
from planner_app.core.progress import Cancelled, CancelToken
from planner_app.ui.dialogs import Dialogs

#: how often the GUI thread reads a running job's progress (ms)
PROGRESS_INTERVAL_MS = 50


def describe_error(exc: BaseException) -> str:
    """What went wrong, for a dialog: a planner error's own message, else its type and first line."""
    if isinstance(exc, PlannerError):
        return str(exc)
    first = (str(exc).strip().splitlines() or [""])[0][:400]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class JobContext:
    """What a job's function gets: progress, partial results and the cancel token (thread-safe)."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self.cancel = job.token

    def progress(self, fraction: float, message: str = "") -> None:
        """Record the latest progress; the GUI picks it up on its next tick."""
        with self._job._lock:
            self._job._latest = (min(1.0, max(0.0, float(fraction))), message)

    def partial(self, value: object) -> None:
        """Hand a result that arrived before the end to the GUI thread (queued)."""
        self._job._signals.partial.emit(value)


class _JobSignals(QObject):
    done = Signal(object)
    error = Signal(object)
    partial = Signal(object)


class _Runnable(QRunnable):
    def __init__(self, job: Job, fn: Callable[[JobContext], Any]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job, self._fn = job, fn

    def run(self) -> None:
        ctx = JobContext(self._job)
        try:
            value = self._fn(ctx)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported in the window
            self._job._signals.error.emit(exc)
        else:
            self._job._signals.done.emit(value)


class Job(QObject):
    """One running step; its signals arrive in the GUI thread."""

    #: (fraction 0..1, message), throttled
    progressed = Signal(float, str)
    #: a result that arrived before the end
    partial = Signal(object)
    #: the function's return value
    finished = Signal(object)
    #: the exception raised (already shown to the user unless ``quiet``)
    failed = Signal(object)
    #: the Cancelled exception (it may carry the partial result)
    cancelled = Signal(object)
    #: after any of finished, failed, cancelled
    ended = Signal()

    def __init__(self, title: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.token = CancelToken()
        self.state = "running"  # then: finished, failed, cancelled
        self.result: object = None
        self.error: BaseException | None = None
        self.started_s = time.perf_counter()
        self.elapsed_s = 0.0
        self._lock = threading.Lock()
        self._latest: tuple[float, str] | None = None
        self._shown: tuple[float, str] | None = None
        self._signals = _JobSignals()
        # bound slots of this GUI-thread object: the worker's emits arrive queued, in the GUI thread
        self._signals.partial.connect(self.partial)
        self._signals.done.connect(self._on_done)
        self._signals.error.connect(self._on_error)
        self._ended_cb: Callable[[Job, str, object], None] | None = None

    @Slot(object)
    def _on_done(self, value: object) -> None:
        if self._ended_cb is not None:
            self._ended_cb(self, "done", value)

    @Slot(object)
    def _on_error(self, exc: object) -> None:
        if self._ended_cb is not None:
            self._ended_cb(self, "error", exc)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def cancel(self) -> None:
        """Ask the job to stop at its next check; what it finished is kept where the step allows."""
        self.token.cancel()

    def latest_progress(self) -> tuple[float, str] | None:
        with self._lock:
            return self._latest

    def _poll(self) -> None:
        latest = self.latest_progress()
        if latest is not None and latest != self._shown:
            self._shown = latest
            self.progressed.emit(*latest)


class _GuiThreadGarbage:
    """While workers run, Python's garbage is collected on the GUI thread only.

    An automatic collection can start in whichever thread allocates. Run on a
    worker, it may destroy a Qt object that was garbage (a closed dialog, an old
    chart item): its C++ destructor then waits for a Qt lock the GUI thread holds
    while the GUI thread waits for the GIL the worker needs to finish (a deadlock
    seen in the test suite, py-spy: ``QObject::~QObject`` → ``GilState::acquire``
    on the worker). So automatic collection is off while any job runs, and the
    GUI thread's progress timer collects instead: the youngest generation on
    every tick, the middle one every tenth (a full pass waits until the jobs end).

    That full pass, the first automatic collection after the jobs end, walked
    every object of the process on the GUI thread just as the results were drawn:
    205 ms with a loaded detector (``bench_gui_planning.py --where``). So the
    objects alive when a job starts are frozen (``gc.freeze``): full passes then
    walk only what was made since. The price: a reference cycle that was already
    garbage at that moment is not reclaimed (the young generations are collected
    just before, so only cycles that reached the oldest generation; in the
    window, few and small).
    """

    def __init__(self) -> None:
        self._holders = 0
        self._ticks = 0
        self._disabled_here = False

    def hold(self) -> None:
        """A job starts: collect now, here, and stop automatic collection until the last job ends."""
        if self._holders == 0 and gc.isenabled():
            gc.collect(1)  # the young generations: a full pass can take 100 ms on a loaded model
            gc.freeze()  # what lives now is left out of later full passes (see the class docstring)
            gc.disable()
            self._disabled_here = True
        self._holders += 1

    def tick(self) -> None:
        """The GUI thread's progress timer: collect what automatic collection would have."""
        if self._holders:
            self._ticks += 1
            gc.collect(1 if self._ticks % 10 == 0 else 0)

    def release(self) -> None:
        """A job ended: the last one turns automatic collection back on."""
        self._holders = max(0, self._holders - 1)
        if self._holders == 0 and self._disabled_here:
            self._disabled_here = False
            gc.enable()  # no full pass here: it would stall the GUI just as the results are drawn


_GARBAGE = _GuiThreadGarbage()


class JobRunner(QObject):
    """Runs jobs on one thread pool; shows their progress and errors (see the module docstring)."""

    #: a job started (title)
    jobStarted = Signal(object)
    #: (job, fraction, message), throttled
    jobProgressed = Signal(object, float, str)
    #: a job ended (its state says how)
    jobEnded = Signal(object)

    def __init__(self, dialogs: Dialogs, window: QWidget | None = None, max_threads: int = 2,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dialogs = dialogs
        self.window = window
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.jobs: list[Job] = []
        self._timer = QTimer(self)
        self._timer.setInterval(PROGRESS_INTERVAL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def start(self, title: str, fn: Callable[[JobContext], Any], *, quiet_errors: bool = False) -> Job:
        """Run ``fn(ctx)`` off the GUI thread; errors are shown in a dialog unless ``quiet_errors``."""
        job = Job(title, self)
        job._ended_cb = lambda j, how, value: (
            self._on_done(j, value) if how == "done" else self._on_error(j, value, quiet_errors))  # type: ignore[arg-type]
        self.jobs.append(job)
        _GARBAGE.hold()
        if not self._timer.isActive():
            self._timer.start()
        self.jobStarted.emit(job)
        self.pool.start(_Runnable(job, fn))
        return job

    def cancel_all(self) -> None:
        """Cancel every running job."""
        for job in list(self.jobs):
            job.cancel()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the pool is idle (for closing and scripts); True when it is."""
        return bool(self.pool.waitForDone(timeout_ms))

    def _poll(self) -> None:
        _GARBAGE.tick()
        for job in list(self.jobs):
            before = job._shown
            job._poll()
            if job._shown is not None and job._shown != before:
                self.jobProgressed.emit(job, *job._shown)
        if not self.jobs:
            self._timer.stop()

    def _end(self, job: Job, state: str) -> None:
        job._poll()  # the last progress before the end
        job.state = state
        job.elapsed_s = time.perf_counter() - job.started_s
        if job in self.jobs:
            self.jobs.remove(job)
            _GARBAGE.release()

    def _on_done(self, job: Job, value: object) -> None:
        self._end(job, "finished")
        job.result = value
        job.finished.emit(value)
        job.ended.emit()
        self.jobEnded.emit(job)

    def _on_error(self, job: Job, exc: BaseException, quiet: bool) -> None:
        job.error = exc
        if isinstance(exc, Cancelled) or (isinstance(exc, KeyboardInterrupt) and job.token.cancelled):
            self._end(job, "cancelled")
            job.cancelled.emit(exc)
        else:
            self._end(job, "failed")
            if not quiet:
                self.dialogs.error(self.window, f"{job.title} failed", describe_error(exc))
            job.failed.emit(exc)
        job.ended.emit()
        self.jobEnded.emit(job)
