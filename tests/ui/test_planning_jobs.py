"""The window's job runner: results, throttled progress, cancel, errors in a dialog, no GUI stall."""

from __future__ import annotations

import os
import time

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer

from planner_app.core.errors import PlannerError
from planner_app.ui.jobs import JobRunner
from tests.ui._helpers import ScriptedDialogs


class Heartbeat:
    """A 10 ms timer in the GUI thread that records the longest gap between its ticks: in wall
    time (what a user sees) and in the GUI thread's own CPU time (the work it did in that gap,
    which does not depend on how busy the machine is)."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.longest_ms = 0.0
        self.longest_cpu_ms = 0.0
        self.ticks = 0
        self._cpu = 0.0

    def _tick(self) -> None:
        elapsed = self.clock.restart()
        cpu, self._cpu = self._cpu, time.thread_time()
        self.ticks += 1
        if self.ticks > 1:
            self.longest_ms = max(self.longest_ms, float(elapsed))
            self.longest_cpu_ms = max(self.longest_cpu_ms, (self._cpu - cpu) * 1000.0)

    def __enter__(self) -> Heartbeat:
        self.clock.start()
        self._cpu = time.thread_time()
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.stop()


def machine_oversubscribed() -> bool:
    """True when other processes already want more CPU than the machine has: wall-clock stalls
    then measure the machine, not the window."""
    return os.getloadavg()[0] >= (os.cpu_count() or 1)


@pytest.fixture
def runner(qtbot):
    dialogs = ScriptedDialogs()
    r = JobRunner(dialogs)
    yield r
    r.cancel_all()
    r.wait(5_000)


def test_a_job_returns_its_result_and_throttles_a_chatty_progress(qtbot, runner):
    seen: list[tuple[float, str]] = []

    def work(ctx):
        for i in range(20_000):  # far more reports than the GUI reads
            ctx.progress(i / 20_000, f"step {i}")
        time.sleep(0.12)
        ctx.progress(1.0, "done")
        return 42

    with Heartbeat() as beat:
        job = runner.start("Count", work)
        job.progressed.connect(lambda f, m: seen.append((f, m)))
        with qtbot.waitSignal(job.finished, timeout=10_000) as blocker:
            pass
    assert blocker.args == [42] and job.state == "finished"
    assert 1 <= len(seen) < 50  # throttled to the 50 ms timer, not one signal per report
    assert seen[-1] == (1.0, "done")
    assert beat.longest_cpu_ms < 100
    assert beat.longest_ms < 100 or machine_oversubscribed()
    assert not runner.busy


def test_cancel_stops_the_job_and_says_cancelled_not_failed(qtbot, runner):
    def work(ctx):
        for _ in range(500):
            ctx.cancel.raise_if_cancelled()
            time.sleep(0.01)
        return "never"

    job = runner.start("Wait", work)
    QTimer.singleShot(50, job.cancel)
    with qtbot.waitSignal(job.cancelled, timeout=5_000):
        pass
    assert job.state == "cancelled" and runner.dialogs.calls == []


def test_an_error_is_shown_in_a_dialog_naming_the_problem(qtbot, runner):
    def bad(ctx):
        raise PlannerError("model 'x.onnx' is not an ONNX file: choose a .onnx model")

    job = runner.start("Load model", bad)
    with qtbot.waitSignal(job.failed, timeout=5_000):
        pass
    assert runner.dialogs.calls == [("error", "model 'x.onnx' is not an ONNX file: choose a .onnx model")]

    job = runner.start("Crash", lambda ctx: {}["missing"])
    with qtbot.waitSignal(job.failed, timeout=5_000):
        pass
    assert runner.dialogs.calls[-1] == ("error", "KeyError: 'missing'")


def test_partial_results_arrive_in_order_before_the_end(qtbot, runner):
    got: list[int] = []

    def work(ctx):
        for i in range(3):
            ctx.partial(i)
        return "end"

    job = runner.start("Parts", work)
    job.partial.connect(got.append)
    with qtbot.waitSignal(job.finished, timeout=5_000):
        pass
    assert got == [0, 1, 2]
