"""Benchmark planning in the window, offscreen, on each sample scenario.

For the first workload of each sample topology: load its sample model, profile
it live (fp32 and int8-dynamic, 3 runs) with the Profiling panel shown, then
press Optimize (Pareto front on) with the Optimizer panel shown. Measures:

- Optimize click → charts drawn (the solve included), and solve end → charts
  drawn (the GUI's own share, over the event-loop turns the panel draws in, painting
  included; target < 300 ms);
- the longest GUI-thread stall during profile + optimize, in wall time and in
  the GUI thread's own CPU time (a 10 ms heartbeat timer; target < 100 ms);
- the frame time while live profiling updates the chart: from a level's result
  arriving to the Profiling chart redrawn and painted (mean and max; the other
  panels redraw in event-loop turns of their own, which the stall column covers).

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_planning.py``
(``--where``: also print, for each scenario's longest stalls, what the GUI thread was
doing: its Python stack sampled every 2 ms by a side thread; a stack that ends in
the event loop means Qt's own C++ work, painting or layout.)
"""

from __future__ import annotations

import collections
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from planner_app.commands._table import format_table  # noqa: E402
from planner_app.core.resources import sample_topology_paths  # noqa: E402
from planner_app.core.topology import load_topology  # noqa: E402
from planner_app.ui.app import create_application  # noqa: E402
from planner_app.ui.dialogs import Dialogs  # noqa: E402
from planner_app.ui.jobs import Job  # noqa: E402
from planner_app.ui.main_window import MainWindow  # noqa: E402


class _Sampler:
    """Samples the GUI thread's Python stack every 2 ms (for --where)."""

    def __init__(self) -> None:
        self.gui = threading.get_ident()
        self.samples: list[tuple[float, tuple[str, ...]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        #: Python's garbage collections: (generation, start, ms, in the GUI thread)
        self.collections: list[tuple[int, float, float, bool]] = []
        self._gc_t0 = 0.0
        #: (start, ms, where the other threads were) when this sampler could not run for over 40 ms
        self.gil_holds: list[tuple[float, float, str]] = []

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.wait(0.002):
            frames = sys._current_frames()
            now = time.perf_counter()
            if now - last > 0.04:
                # this thread could not run for 40 ms: another thread held the GIL (in a C call that does
                # not release it); where the other threads are now is just after that call
                for ident, other in frames.items():
                    if ident in (self.gui, threading.get_ident()):
                        continue
                    where = [f"{Path(fs.filename).parent.name}/{Path(fs.filename).name}:{fs.lineno} {fs.name}"
                             for fs in traceback.extract_stack(other)][-3:]
                    self.gil_holds.append((last, (now - last) * 1000, " < ".join(reversed(where))))
            last = now
            frame = frames.get(self.gui)
            if frame is None:
                continue
            stack = tuple(f"{Path(fs.filename).name}:{fs.lineno} {fs.name}" for fs in traceback.extract_stack(frame)
                          if "site-packages/pyqtgraph" in fs.filename or "planner_app" in fs.filename
                          or "benchmarks" in fs.filename)
            self.samples.append((time.perf_counter(), stack[-6:]))

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        else:
            ms = (time.perf_counter() - self._gc_t0) * 1000
            self.collections.append((info["generation"], self._gc_t0, ms, threading.get_ident() == self.gui))

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._thread.start()

    def stop(self) -> None:
        gc.callbacks.remove(self._on_gc)
        self._stop.set()
        self._thread.join()

    def during(self, t0: float, t1: float) -> list[tuple[str, int]]:
        """The innermost frames seen between t0 and t1, most frequent first."""
        count: collections.Counter[str] = collections.Counter()
        for t, stack in self.samples:
            if t0 <= t <= t1:
                count[" < ".join(reversed(stack[-3:])) or "(Qt event loop: C++ work)"] += 1
        return count.most_common(4)


class _Beat:
    def __init__(self, sampler: _Sampler | None = None) -> None:
        self.clock, self.timer = QElapsedTimer(), QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.wall_ms = self.cpu_ms = 0.0
        self._cpu = 0.0
        self.n = 0
        self.sampler = sampler
        #: (wall ms, cpu ms, end perf_counter) of every gap over 50 ms
        self.gaps: list[tuple[float, float, float]] = []

    def _tick(self) -> None:
        e = self.clock.restart()
        cpu, self._cpu = self._cpu, time.thread_time()
        self.n += 1
        if self.n > 1:
            self.wall_ms = max(self.wall_ms, float(e))
            self.cpu_ms = max(self.cpu_ms, (self._cpu - cpu) * 1000)
            if e > 50:
                self.gaps.append((float(e), (self._cpu - cpu) * 1000, time.perf_counter()))

    def start(self) -> None:
        self.clock.start()
        self._cpu = time.thread_time()
        self.timer.start()


class _Errors(Dialogs):
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, parent, title, text):  # noqa: ANN001, D102
        self.errors.append(text)


def _wait(job: Job | None, limit_s: float = 600.0) -> Job:
    assert job is not None
    t0 = time.perf_counter()
    while job.running and time.perf_counter() - t0 < limit_s:
        QTest.qWait(5)
    if job.state != "finished":
        raise SystemExit(f"{job.title}: {job.state} ({job.error})")
    return job


def run_scenario(name: str, path: Path, tmp: Path, where: bool = False) -> list[object]:
    dialogs = _Errors()
    win = MainWindow(settings=QSettings(str(tmp / f"{name}.ini"), QSettings.Format.IniFormat), dialogs=dialogs,
                     recovery_dir=tmp / "recovery")
    win.resize(1500, 950)
    win.show()
    QTest.qWait(100)
    topo = load_topology(path)
    win.set_document(topo, None)
    QTest.qWait(200)
    workload = next(w for w in topo.workloads if w.model)
    pl = win.planning
    pl.model.set_workload(workload.name)
    t0 = time.perf_counter()
    _wait(pl.model_panel.load(None))
    load_s = time.perf_counter() - t0

    sampler = _Sampler() if where else None
    if sampler is not None:
        sampler.start()
    beat = _Beat(sampler)
    beat.start()
    pl.show_dock("profiling")
    panel = pl.profiling_panel
    panel.set_levels(["fp32", "int8-dynamic"])
    panel.runs.setValue(3)
    frames: list[float] = []

    def on_partial(_profile: object) -> None:
        # the live chart's frame: its panel's redraw and paint (the other panels redraw in turns of their own)
        t = time.perf_counter()
        panel.refresh_later.flush()
        panel.chart.repaint()
        frames.append((time.perf_counter() - t) * 1000)

    t0 = time.perf_counter()
    job = panel.start()
    assert job is not None
    job.partial.connect(on_partial)
    _wait(job)
    profile_s = time.perf_counter() - t0

    pl.show_dock("optimizer")
    QTest.qWait(50)
    op = pl.optimizer_panel
    drawn: list[float] = []

    def on_drawn() -> None:  # the panel's last step: paint what it drew (the earlier charts painted between steps)
        for chart in (op.bandwidth, op.front):
            chart.repaint()
        assert op.clicked_at is None
        drawn.append(time.perf_counter())

    clicked = time.perf_counter()
    op.resultDrawn.connect(on_drawn)
    op.run_button.click()
    _wait(op.job)
    while not drawn and time.perf_counter() - clicked < 600:
        QTest.qWait(5)
    QTest.qWait(30)
    beat.timer.stop()
    if sampler is not None:
        sampler.stop()
        print(f"\n{name}: the longest GUI gaps (wall ms / GUI-thread CPU ms) and what the GUI thread ran")
        for wall, cpu, end in sorted(beat.gaps, reverse=True)[:5]:
            t0 = end - wall / 1000
            gcs = [f"gen{g} {ms:.0f} ms{'' if gui else ' (worker)'}" for g, at, ms, gui in sampler.collections
                   if t0 <= at <= end and ms >= 5]
            held = [f"{ms:.0f} ms by {w}" for at, ms, w in sampler.gil_holds if t0 - 0.01 <= at <= end and ms >= 30
                    and "threading.py" not in w.split(" < ")[0]]
            if held:
                print(f"  {wall:5.0f} ms: the GIL was held: " + "; ".join(held[:3]))
            print(f"  {wall:5.0f} / {cpu:4.0f} ms: " + "; ".join(
                f"{n}x {w}" for w, n in sampler.during(t0, end)) + (f" | garbage collection: {', '.join(gcs)}"
                                                                    if gcs else ""))
    solve_ms = (pl.model.current.result.solve_ms if pl.model.current and pl.model.current.result else float("nan"))
    click_to_drawn_ms = (drawn[0] - clicked) * 1000 if drawn else float("nan")
    solved_to_drawn_ms = (op.solved_to_drawn_s or float("nan")) * 1000
    win.doc.undo_stack.setClean()
    win.close()
    win.deleteLater()
    QTest.qWait(20)
    if dialogs.errors:
        raise SystemExit(f"{name}: {dialogs.errors}")
    return [name, workload.name, round(load_s, 2), round(profile_s, 2), round(solve_ms), round(click_to_drawn_ms),
            round(solved_to_drawn_ms, 1), round(beat.wall_ms), round(beat.cpu_ms),
            round(statistics.mean(frames), 1) if frames else None, round(max(frames), 1) if frames else None]


def main() -> int:
    where = "--where" in sys.argv[1:]
    create_application()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-gui-planning-") as tmp:
        os.environ.setdefault("PLANNER_CACHE_DIR", str(Path(tmp) / "cache"))  # a cold profile cache
        for name, path in sample_topology_paths().items():
            rows.append(run_scenario(name, path, Path(tmp), where))
    print(format_table(["scenario", "workload", "load s", "profile s", "solve ms", "click→drawn ms",
                        "solved→drawn ms", "stall ms", "stall cpu ms", "frame ms mean", "frame ms max"], rows,
                       title="Planning in the window (offscreen); targets: solved→drawn < 300 ms, stall < 100 ms"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall stalls grow when it exceeds them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
