"""Run a job's GIL-heavy work in a child process, so the window's thread never waits for the GIL.

A job thread shares Python's GIL with the GUI thread. Most of the profiling work is
C code that keeps the GIL for its whole call (creating an onnxruntime session:
~200 ms; onnx shape inference in ``quantize_dynamic``: ~150 ms; serializing a
model: ~170 ms), and the GUI thread cannot run a single slot meanwhile
(``benchmarks/bench_gui_planning.py --where``). In a child process those calls
hold the child's own GIL.

:func:`run_in_process` is called from a job's function (on the job thread): it
hands ``task(arg, ctx)`` to a worker process (``spawn`` start method: a Qt
process is never forked), forwards what the task reports (``ctx.progress``,
``ctx.partial``) to the job's :class:`~planner_app.ui.jobs.JobContext`, and
returns the task's value or raises its exception (a
:class:`~planner_app.core.errors.PlannerError` keeps its type and message). The
task and its argument must pickle: a module-level function, plain records.

Cancel: the job's token sets the worker's cancel event, which the task's own
``ctx.cancel`` reads, so the task stops at its next check and reports what it
finished; a task that does not answer within :data:`CANCEL_GRACE_S` (a long C
call) is terminated, and :class:`~planner_app.core.progress.Cancelled` is raised.

A cancelled job's worker is ended even when it answered in time, so
Cancel leaves no process behind. Workers are otherwise kept warm between jobs (importing numpy, onnx and onnxruntime in a
fresh interpreter takes about a second): at most :data:`MAX_IDLE` idle ones, all
ended by :func:`shutdown` (registered with ``atexit``). :func:`prestart` starts
one ahead of need (when a model is loaded). This module imports no Qt: the
workers import it.

Example
-------
>>> def work(ctx):                                                 # doctest: +SKIP
...     return run_in_process(ctx, profile_in_child, request)
"""

from __future__ import annotations

__all__ = ["CANCEL_GRACE_S", "MAX_IDLE", "ChildContext", "WorkerCrashed", "prestart", "run_in_process",
           "shutdown", "live_workers"]

import atexit
import contextlib
import importlib
import multiprocessing as mp
import os
import pickle
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol, cast

from planner_app.core.errors import PlannerError
from planner_app.core.progress import Cancelled, CancelToken

#: seconds a cancelled task has to stop on its own before its process is terminated
CANCEL_GRACE_S = 2.0
#: idle workers kept warm
MAX_IDLE = 1
#: the child sends progress at most this often (the GUI reads it every 50 ms anyway)
_PROGRESS_EVERY_S = 0.05


class WorkerCrashed(PlannerError):
    """The worker process ended without an answer (killed, out of memory, a crash in C code)."""


class _JobContextLike(Protocol):
    cancel: CancelToken

    def progress(self, fraction: float, message: str = "") -> None: ...

    def partial(self, value: object) -> None: ...


class _EventCancelToken(CancelToken):
    """A cancel token whose flag is the worker's cross-process event."""

    def __init__(self, event: Any) -> None:
        self._event = event


class ChildContext:
    """What a task gets in the worker: ``progress``, ``partial`` and ``cancel`` like a JobContext."""

    def __init__(self, conn: Connection, cancel: CancelToken) -> None:
        self._conn = conn
        self.cancel = cancel
        self._last_progress_s = 0.0

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress (throttled: the parent only shows the latest)."""
        now = time.monotonic()
        if now - self._last_progress_s >= _PROGRESS_EVERY_S or fraction >= 1.0:
            self._last_progress_s = now
            self._conn.send(("progress", float(fraction), str(message)))

    def partial(self, value: object) -> None:
        """Hand a result that arrived before the end to the parent."""
        self._conn.send(("partial", value))


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a PlannerError (or RuntimeError) with its message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any exception that does not pickle is described instead
        text = f"{type(exc).__name__}: {exc}"
        return PlannerError(str(exc)) if isinstance(exc, PlannerError) else RuntimeError(text)


def _worker_main(conn: Connection, cancel_event: Any, preload: tuple[str, ...] = ()) -> None:
    """The worker process: import ``preload``, then run tasks until told to stop (None) or the parent goes away."""
    for module in preload:
        with contextlib.suppress(Exception):  # the first task that needs it reports the failure
            importlib.import_module(module)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        task, arg, environ = msg
        if environ != dict(os.environ):  # the parent's settings now (the cache folder, say), not at spawn
            os.environ.clear()
            os.environ.update(environ)
        ctx = ChildContext(conn, _EventCancelToken(cancel_event))
        try:
            value = task(arg, ctx)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the job
            reply: tuple[str, object] = ("error", _portable(exc))
        else:
            reply = ("done", value)
        try:
            conn.send(reply)
        except Exception as exc:  # noqa: BLE001 - a value that does not pickle
            conn.send(("error", _portable(PlannerError(f"the worker's result could not be sent back: {exc}"))))


class _Worker:
    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        context = mp.get_context("spawn")
        self.conn, child_conn = context.Pipe(duplex=True)
        self.cancel_event = context.Event()
        self.process = context.Process(target=_worker_main, args=(child_conn, self.cancel_event, preload),
                                       name="planner-worker", daemon=True)
        self.process.start()
        child_conn.close()

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self, terminate: bool = False) -> None:
        if not terminate and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                terminate = True
            else:
                self.process.join(1.0)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2.0)
        self.conn.close()
        self.process.close()


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []

    def take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._all.remove(worker)
                worker.stop(terminate=True)
        worker = _Worker()  # outside the lock: starting a process takes a while
        with self._lock:
            self._all.append(worker)
        return worker

    def give_back(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive() and len(self._idle) < MAX_IDLE:
                self._idle.append(worker)
                return
        self.discard(worker)

    def discard(self, worker: _Worker, terminate: bool = False) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            if worker in self._idle:
                self._idle.remove(worker)
        worker.stop(terminate=terminate)

    def prestart(self, preload: tuple[str, ...]) -> None:
        with self._lock:
            if self._idle:
                return
        worker = _Worker(preload)
        with self._lock:
            self._all.append(worker)
        self.give_back(worker)

    def shutdown(self) -> None:
        with self._lock:
            workers, self._all, self._idle = list(self._all), [], []
        for worker in workers:
            worker.stop(terminate=True)

    def live(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._all if w.alive() and w.process.pid is not None]


_POOL = _Pool()
atexit.register(_POOL.shutdown)


def prestart(preload: tuple[str, ...] = ()) -> None:
    """Start a warm worker now unless one is idle; it imports the modules ``preload`` names
    (a task's module: numpy, onnx, onnxruntime) while the window does something else."""
    _POOL.prestart(tuple(preload))


def shutdown() -> None:
    """End every worker (idle ones and any still running a task)."""
    _POOL.shutdown()


def live_workers() -> list[int]:
    """Process ids of the workers alive now (for tests and diagnostics)."""
    return _POOL.live()


def _crashed(worker: _Worker) -> WorkerCrashed:
    worker.process.join(1.0)  # the pipe can close a moment before the exit status is known
    code = worker.process.exitcode
    _POOL.discard(worker, terminate=True)
    return WorkerCrashed(f"the worker process ended unexpectedly (exit code {code}); nothing was lost in the "
                         "window: try again (with fewer runs if memory is short).")


def run_in_process(ctx: _JobContextLike, task: Callable[[Any, ChildContext], Any], arg: object) -> Any:
    """Run ``task(arg, child_ctx)`` in a worker process; see the module docstring.

    Called on a job thread. Returns the task's value; raises the task's exception,
    :class:`~planner_app.core.progress.Cancelled` when the job was cancelled and the
    task did not stop in time, or :class:`WorkerCrashed` when the process died.
    """
    worker = _POOL.take()
    worker.cancel_event.clear()
    try:
        worker.conn.send((task, arg, dict(os.environ)))
    except (OSError, pickle.PicklingError) as exc:
        _POOL.discard(worker, terminate=True)
        raise PlannerError(f"could not hand the work to a worker process: {exc}") from None
    cancel_sent_s: float | None = None
    while True:
        if ctx.cancel.cancelled and cancel_sent_s is None:
            worker.cancel_event.set()
            cancel_sent_s = time.monotonic()
        if cancel_sent_s is not None and time.monotonic() - cancel_sent_s > CANCEL_GRACE_S:
            _POOL.discard(worker, terminate=True)
            raise Cancelled("cancelled by the user (the worker process was stopped)")
        try:
            ready = worker.conn.poll(0.05)
            msg = worker.conn.recv() if ready else None
        except (EOFError, OSError):
            ready, msg = True, None
        if not ready:
            if not worker.alive():
                raise _crashed(worker)
            continue
        if msg is None:  # the pipe closed: the process died
            raise _crashed(worker)
        kind = msg[0]
        if kind == "progress":
            ctx.progress(msg[1], msg[2])
        elif kind == "partial":
            ctx.partial(msg[1])
        elif kind in ("done", "error"):
            if cancel_sent_s is None:
                _POOL.give_back(worker)
            else:  # a cancelled job leaves no process behind; the next job starts a fresh one
                _POOL.discard(worker)
            if kind == "error":
                raise cast(BaseException, msg[1])
            return msg[1]
