"""Benchmark the topology editor offscreen: open, layout, bulk edits, export and drag.

Generates a 1,000-device / 3,000-link topology (one hub device with 50 links),
opens it in the main window the way a user does (file read on a worker
thread, scene built on the GUI thread), auto-layouts it, selects all, deletes
all, undoes the delete, exports a PNG, then drags the hub through 100 real
mouse moves, painting the viewport after each one. Each step runs through the
window's own actions and ends with a painted frame. A 5 ms heartbeat timer
measures how long the GUI thread was ever unresponsive.

Targets: open + layout < 2 s; select all, delete all and undo < 300 ms each;
mean frame time during the drag < 16 ms; no GUI-thread stall over 100 ms
outside the open.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui.py``
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from planner_app.commands._table import format_table  # noqa: E402
from planner_app.core.topology.io import save_topology  # noqa: E402
from planner_app.core.topology.records import Device, Link, Position, Topology  # noqa: E402
from planner_app.ui.app import create_application  # noqa: E402
from planner_app.ui.dialogs import Dialogs  # noqa: E402
from planner_app.ui.main_window import MainWindow  # noqa: E402

N_DEVICES, N_LINKS, HUB_LINKS, MOVES = 1000, 3000, 50, 100


def generate(seed: int = 7) -> Topology:
    """N_DEVICES devices (60 % end devices, 30 % edge, 10 % cloud), N_LINKS links, device d0 has 50."""
    rng = random.Random(seed)
    kinds = [("camera", "device"), ("sensor", "device"), ("phone", "device"), ("camera", "device"),
             ("sensor", "device"), ("vehicle", "device"), ("edge_device", "edge"), ("gateway", "edge"),
             ("edge_server", "edge"), ("cloud", "cloud")]
    devices = []
    for i in range(N_DEVICES):
        kind, tier = kinds[i % 10]
        devices.append(Device(id=f"d{i}", name=f"{kind.replace('_', ' ')} {i}", kind=kind, tier=tier,
                              peak_gflops_fp32=5 + i, memory_mb=512 * (1 + i % 8), privacy_zone="site" if i % 50 == 1 else "",
                              position=Position(x=rng.uniform(0, 6000), y=rng.uniform(0, 4000))))
    pairs: set[frozenset[int]] = set()
    for j in range(1, HUB_LINKS + 1):
        pairs.add(frozenset({0, j}))
    while len(pairs) < N_LINKS:
        a, b = rng.randrange(1, N_DEVICES), rng.randrange(1, N_DEVICES)
        if a != b:
            pairs.add(frozenset({a, b}))
    links = []
    for k, pair in enumerate(sorted(pairs, key=sorted)):
        a, b = sorted(pair)
        links.append(Link(id=f"l{k}", a=f"d{a}", b=f"d{b}", medium=rng.choice(["wifi", "ethernet", "5g"]),
                          bandwidth_ab_mbps=rng.choice([20, 100, 940]), bandwidth_ba_mbps=100, latency_ms=rng.choice([1, 5, 20])))
    return Topology(name=f"bench-{N_DEVICES}", devices=devices, links=links)


class Heartbeat:
    """A 5 ms timer; the longest gap between its ticks is the longest GUI-thread stall."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.clock.start()
        self.last = self.clock.elapsed()
        self.max_gap_ms = 0
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.max_gap_ms = max(self.max_gap_ms, now - self.last)
        self.last = now

    def flush(self) -> None:
        """Count the gap up to now (work that ran since the last tick)."""
        self._tick()

    def phase(self) -> int:
        """The longest gap since the last call (then start a new phase)."""
        self.flush()
        worst, self.max_gap_ms = self.max_gap_ms, 0
        return worst


class PaintCounter(QObject):
    """Counts paint events of the canvas viewport (one per frame shown)."""

    count = 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt name
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def main() -> int:
    app = create_application()
    tmp = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    path = tmp / "bench.json"
    save_topology(generate(), path)
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, dialogs=Dialogs(), recovery_dir=tmp / "recovery")
    win.resize(1600, 1000)
    win.show()
    QTest.qWaitForWindowExposed(win)
    app.processEvents()
    beat = Heartbeat()

    # -- open + layout ---------------------------------------------------------------------
    opened: list[float] = []
    win.documentOpened.connect(lambda _p: opened.append(time.perf_counter()))
    t0 = time.perf_counter()
    win.open_path(path)
    while not opened:
        app.processEvents()
        time.sleep(0.001)
    # the first picture of the opened drawing belongs to the open, not to the layout after it
    while win.scene.building or win.scene._label_job is not None:
        app.processEvents()
    win.view.viewport().repaint()
    t_open = time.perf_counter() - t0
    stall_open = beat.phase()
    t1 = time.perf_counter()
    laid_out: list[int] = []
    win.layoutFinished.connect(lambda: laid_out.append(1))
    win.acts["layout"].trigger()  # computed on a pool thread, applied and fitted on the GUI thread
    while not laid_out:
        app.processEvents()
        time.sleep(0.001)
    app.processEvents()
    win.view.viewport().repaint()
    t_layout = time.perf_counter() - t1
    stall_layout = beat.phase()

    # -- bulk edits through the window's actions, each ending with a painted frame ------------------
    def timed(action) -> tuple[float, int]:  # noqa: ANN001
        beat.phase()
        t = time.perf_counter()
        action()
        app.processEvents()
        while win.scene.building:  # big inserts are drawn over a few event-loop turns: until the last
            app.processEvents()
        win.view.viewport().repaint()
        return time.perf_counter() - t, beat.phase()

    t_select, stall_select = timed(win.acts["select_all"].trigger)
    n_selected = len(win.scene.selectedItems())
    t_delete, stall_delete = timed(win.acts["delete"].trigger)
    left_after_delete = len(win.doc.topology.devices)
    delete_name = win.doc.undo_stack.undoText()
    t_undo, stall_undo = timed(win.acts["undo"].trigger)
    restored = len(win.doc.topology.devices) == N_DEVICES and len(win.doc.topology.links) == N_LINKS
    win.scene.clearSelection()
    app.processEvents()
    progress: list[int] = []
    win.exportProgress.connect(progress.append) if hasattr(win, "exportProgress") else None
    t_export, stall_export = timed(lambda: win.export_image(str(tmp / "bench.png")))
    png_kb = (tmp / "bench.png").stat().st_size // 1024 if (tmp / "bench.png").exists() else 0

    # -- drag the hub with 50 links -----------------------------------------------------------
    win.scene.snap_enabled = False  # every move must change the picture, or no frame is drawn
    paints = PaintCounter()
    win.view.viewport().installEventFilter(paints)
    hub = win.scene.devices["d0"]
    assert len(hub.links) == HUB_LINKS, len(hub.links)
    results = {}
    stall_drag = 0
    for label, zoom_fit in (("100 %", False), ("fit all", True)):
        view = win.view
        if zoom_fit:
            view.fit_all()
        else:
            view.resetTransform()
        view.centerOn(hub)
        app.processEvents()
        vp = view.viewport()
        start = view.mapFromScene(hub.pos())
        QTest.mouseMove(vp, start)
        beat.phase()  # the drag window starts at the press
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        frames = []
        for i in range(1, MOVES + 1):
            f0 = time.perf_counter()
            p = start + type(start)(int(3 * i), int(2 * i))
            paints.count = 0
            QTest.mouseMove(vp, p)
            # a frame: the move, the scene's dirty-item pass and the paint it causes
            while paints.count == 0 and time.perf_counter() - f0 < 0.5:
                app.processEvents()
            frames.append((time.perf_counter() - f0) * 1000)
            beat.flush()
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
        app.processEvents()  # the release: undo command + full-quality repaint
        stall_drag = max(stall_drag, beat.phase())
        moved = win.doc.topology.device("d0").position
        assert (moved.x, moved.y) != (hub.pos().x() - 1e9, 0)  # the model took the drag
        results[label] = frames
    undo_steps = win.doc.undo_stack.count()

    rows = [
        ["open (read on worker, build scene, first paint)", f"{t_open * 1000:.0f} ms", "", ""],
        ["auto-layout, layered (+ fit, first paint)", f"{t_layout * 1000:.0f} ms", "", ""],
        ["open + layout", f"{(t_open + t_layout) * 1000:.0f} ms", "< 2000 ms", "ok" if t_open + t_layout < 2.0 else "MISS"],
        [f"select all ({n_selected} items)", f"{t_select * 1000:.0f} ms", "< 300 ms", "ok" if t_select < 0.3 else "MISS"],
        [f"delete all ({left_after_delete} devices left; '{delete_name}')", f"{t_delete * 1000:.0f} ms", "< 300 ms",
         "ok" if t_delete < 0.3 and left_after_delete == 0 else "MISS"],
        ["undo the delete", f"{t_undo * 1000:.0f} ms", "< 300 ms", "ok" if t_undo < 0.3 and restored else "MISS"],
        [f"export PNG ({png_kb} KB, {len(progress)} progress reports)", f"{t_export * 1000:.0f} ms", "", ""],
    ]
    for label, frames in results.items():
        mean = statistics.fmean(frames)
        rows.append([f"drag frame, mean ({label})", f"{mean:.1f} ms", "< 16 ms", "ok" if mean < 16 else "MISS"])
        rows.append([f"drag frame, p95 / max ({label})",
                     f"{sorted(frames)[int(0.95 * len(frames)) - 1]:.1f} / {max(frames):.1f} ms", "", ""])
    rows.append(["longest GUI-thread stall during open", f"{stall_open} ms", "", ""])
    stalls = (("auto-layout", stall_layout), ("select all", stall_select), ("delete all", stall_delete),
              ("undo", stall_undo), ("export", stall_export), ("drags (press to release)", stall_drag))
    for label, stall in stalls:
        rows.append([f"longest GUI-thread stall during {label}", f"{stall} ms", "< 100 ms",
                     "ok" if stall < 100 else "MISS"])
    worst = max(stall for _, stall in stalls)
    rows.append(["max GUI-thread stall outside open", f"{worst} ms", "< 100 ms", "ok" if worst < 100 else "MISS"])
    # layout, delete (undone: it stays on the stack as redo), 2 drags
    rows.append(["undo steps after layout, delete+undo, 2 drags", str(undo_steps), "3",
                 "ok" if undo_steps == 3 else "MISS"])
    print(format_table(["measure", "value", "target", ""], rows,
                       title=f"GUI benchmark: {N_DEVICES} devices, {N_LINKS} links, hub with {HUB_LINKS} links, "
                             f"{MOVES} moves per drag, window 1600x1000 ({os.environ.get('QT_QPA_PLATFORM')})"))
    win.doc.undo_stack.setClean()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
