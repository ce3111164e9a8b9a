"""Background jobs of the agent: a bounded queue, one worker, progress events.

Profiling measures time, so jobs run one at a time on one worker thread: two
profiles side by side would slow each other and both figures would be wrong. The
queue holds at most ``max_pending`` jobs (queued + running); one more is refused
with :class:`QueueFull` (HTTP 429), and after :meth:`JobQueue.close` every submit
is refused with :class:`QueueClosed` (HTTP 503). Each job keeps its progress events
(fraction, message, seconds since submit) so a client that connects late still
sees them all; finished jobs are kept (the newest ``keep_finished``) for their
results. Job ids are random (``uuid4`` hex), never derived from a request.
"""

from __future__ import annotations

__all__ = ["Job", "JobQueue", "QueueFull", "QueueClosed", "UnknownJob"]

import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from planner_app.core.errors import PlannerError
from planner_app.core.progress import Cancelled, CancelToken, ProgressCallback

#: states a job goes through; the last three are final
STATES = ("queued", "running", "done", "failed", "cancelled")


class QueueFull(PlannerError):
    """The job queue is full (HTTP 429): retry after the running jobs finish."""


class QueueClosed(PlannerError):
    """The agent is shutting down and takes no more jobs (HTTP 503)."""


class UnknownJob(PlannerError):
    """No job has this id (HTTP 404)."""


Work = Callable[[ProgressCallback, CancelToken], dict[str, Any]]


@dataclass
class Job:
    """One background job: its state, progress events and result (or error)."""

    id: str
    kind: str
    params: dict[str, Any]
    work: Work
    state: str = "queued"
    events: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str = ""
    submitted: float = field(default_factory=time.time)
    finished: float = 0.0
    cancel: CancelToken = field(default_factory=CancelToken)

    @property
    def final(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def summary(self) -> dict[str, Any]:
        """The job as JSON, without its result (which can be large)."""
        last = self.events[-1] if self.events else {"fraction": 0.0, "message": ""}
        return {"id": self.id, "kind": self.kind, "state": self.state, "params": self.params,
                "fraction": last["fraction"], "message": last["message"], "error": self.error,
                "submitted": self.submitted, "finished": self.finished, "n_events": len(self.events)}


class JobQueue:
    """A bounded queue of jobs run one at a time by a worker thread."""

    def __init__(self, max_pending: int = 8, keep_finished: int = 64) -> None:
        self.max_pending = max_pending
        self.keep_finished = keep_finished
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="agent-jobs", daemon=True)
        self._worker.start()

    def pending(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return sum(1 for j in self._jobs.values() if not j.final)

    def submit(self, kind: str, params: dict[str, Any], work: Work) -> Job:
        """Queue ``work``; :class:`QueueFull` beyond ``max_pending``, :class:`QueueClosed` after close."""
        with self._lock:
            if self._closed:
                raise QueueClosed("the agent is shutting down: no new jobs")
            busy = sum(1 for j in self._jobs.values() if not j.final)
            if busy >= self.max_pending:
                raise QueueFull(f"{busy} jobs are queued or running (the limit is {self.max_pending}): "
                                "retry when one finishes")
            job = Job(uuid.uuid4().hex, kind, params, work)
            job.events.append({"fraction": 0.0, "message": "queued", "t_s": 0.0})
            self._jobs[job.id] = job
            self._trim()
        self._queue.put(job)
        return job

    def _trim(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.final]
        for jid in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._jobs[jid]

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(f"no job {job_id[:40]!r} on this agent (finished jobs are kept for a while; "
                             "list them with GET /v1/jobs)")
        return job

    def list(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def cancel(self, job_id: str) -> Job:
        """Ask a job to stop (a queued job never starts; a running one stops at its next check)."""
        job = self.get(job_id)
        job.cancel.cancel()
        with self._changed:
            if job.state == "queued":
                self._finish(job, "cancelled", error="cancelled before it started")
        return job

    def wait_change(self, job: Job, seen: int, timeout: float) -> None:
        """Block until ``job`` has more than ``seen`` events or is final (or ``timeout`` passes)."""
        with self._changed:
            self._changed.wait_for(lambda: len(job.events) > seen or job.final, timeout=timeout)

    def _event(self, job: Job, fraction: float, message: str) -> None:
        with self._changed:
            job.events.append({"fraction": round(float(fraction), 4), "message": str(message),
                               "t_s": round(time.time() - job.submitted, 4)})
            self._changed.notify_all()

    def _progress_of(self, job: Job) -> ProgressCallback:
        def progress(fraction: float, message: str) -> None:
            self._event(job, fraction, message)

        return progress

    def _finish(self, job: Job, state: str, *, result: dict[str, Any] | None = None, error: str = "") -> None:
        # called with the lock held
        job.state, job.result, job.error, job.finished = state, result, error, time.time()
        if state == "done" and job.events[-1]["message"] == "done":
            self._changed.notify_all()
            return
        job.events.append({"fraction": 1.0 if state == "done" else job.events[-1]["fraction"],
                           "message": state if not error else f"{state}: {error}",
                           "t_s": round(job.finished - job.submitted, 4)})
        self._changed.notify_all()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._changed:
                if job.final:  # cancelled while queued
                    continue
                job.state = "running"
                self._changed.notify_all()
            try:
                result = job.work(self._progress_of(job), job.cancel)
            except Cancelled as exc:
                with self._changed:
                    self._finish(job, "cancelled", error=str(exc))
            except PlannerError as exc:
                with self._changed:
                    self._finish(job, "failed", error=str(exc))
            except Exception as exc:  # noqa: BLE001 - a job's fault must not stop the worker
                with self._changed:
                    self._finish(job, "failed", error=f"{type(exc).__name__}: {str(exc)[:500]}")
            else:
                with self._changed:
                    self._finish(job, "done", result=result)

    def close(self) -> None:
        """Refuse new jobs, cancel the pending ones and stop the worker after the running job."""
        with self._lock:
            self._closed = True
            jobs = [j for j in self._jobs.values() if not j.final]
        for j in jobs:
            j.cancel.cancel()
        self._queue.put(None)
