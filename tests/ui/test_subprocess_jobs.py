"""Work run in a worker process: results, progress, typed errors, crashes and cancel (real processes)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from planner_app.core.errors import PlannerError
from planner_app.core.progress import Cancelled, CancelToken
from planner_app.ui import subprocess_jobs
from planner_app.ui.subprocess_jobs import WorkerCrashed, live_workers, run_in_process, shutdown
from tests.ui import _process_tasks as tasks


class Ctx:
    """A job context as the job thread has it (progress, partial, cancel)."""

    def __init__(self) -> None:
        self.cancel = CancelToken()
        self.progressed: list[tuple[float, str]] = []
        self.partials: list[object] = []

    def progress(self, fraction: float, message: str = "") -> None:
        self.progressed.append((fraction, message))

    def partial(self, value: object) -> None:
        self.partials.append(value)


@pytest.fixture(autouse=True)
def _no_workers_left():
    yield
    shutdown()
    assert live_workers() == []


def test_a_task_runs_in_another_process_and_its_worker_is_reused():
    ctx = Ctx()
    pid = run_in_process(ctx, tasks.count, 5)
    assert pid != os.getpid()
    assert ctx.partials == [0, 1, 2, 3, 4] and ctx.progressed  # streamed back, in order
    assert live_workers() == [pid]  # kept warm
    assert run_in_process(Ctx(), tasks.count, 1) == pid


def test_a_planner_error_keeps_its_type_and_message_and_the_worker_stays():
    with pytest.raises(PlannerError, match=r"file /x\.onnx is not what it should be"):
        run_in_process(Ctx(), tasks.fail_typed, "/x.onnx")
    assert len(live_workers()) == 1


def test_an_exception_that_does_not_pickle_comes_back_described():
    with pytest.raises(RuntimeError, match="_Unpicklable: no pickle"):
        run_in_process(Ctx(), tasks.fail_unpicklable, None)


def test_a_worker_that_dies_is_a_typed_error_and_the_next_job_gets_a_fresh_one():
    with pytest.raises(WorkerCrashed, match="exit code 7"):
        run_in_process(Ctx(), tasks.die, None)
    assert live_workers() == []
    assert run_in_process(Ctx(), tasks.count, 1) != os.getpid()


def _cancel_when_started(ctx: Ctx) -> None:
    while not ctx.partials:
        time.sleep(0.01)
    ctx.cancel.cancel()


@pytest.mark.parametrize("task", [tasks.stop_when_asked, tasks.ignore_cancel])
def test_cancel_stops_the_task_and_leaves_no_process(task, monkeypatch):
    monkeypatch.setattr(subprocess_jobs, "CANCEL_GRACE_S", 0.5)
    ctx = Ctx()
    threading.Thread(target=_cancel_when_started, args=(ctx,), daemon=True).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        run_in_process(ctx, task, None)
    assert time.perf_counter() - t0 < 15
    assert live_workers() == []
