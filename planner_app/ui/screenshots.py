"""Save a PNG of the main window on each sample scenario (for the README).

Run ``python -m planner_app.ui.screenshots OUTDIR`` (``make screenshots`` runs it
under ``xvfb-run`` so fonts and styles match a desktop). The window uses
throw-away settings, so the user's layout and recent files are untouched.
"""

from __future__ import annotations

__all__ = ["save_screenshots", "save_planning_screenshots", "main"]

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtTest import QTest

from planner_app.core.fileio import atomic_write_bytes
from planner_app.core.resources import sample_topology_paths
from planner_app.ui.app import create_application
from planner_app.ui.main_window import MainWindow

#: the device selected in each shot, so the inspector shows a filled form
_SELECT = {"smart_home": "hub", "autonomous_driving": "vehicle-computer", "hospital_imaging": "hospital-edge",
           "smart_factory": "line-a-edge"}
MAX_BYTES = 300_000


def _settle(ms: int = 150) -> None:
    QTest.qWait(ms)
    QCoreApplication.processEvents()


def save_screenshots(out_dir: Path, width: int = 1500, height: int = 900) -> list[Path]:
    """One ``<sample>.png`` per sample topology in ``out_dir``; returns the paths."""
    create_application()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="planner-shots-") as tmp:
        for name, path in sample_topology_paths().items():
            settings = QSettings(str(Path(tmp) / f"{name}.ini"), QSettings.Format.IniFormat)
            win = MainWindow(settings=settings, recovery_dir=Path(tmp) / "recovery")
            win.resize(width, height)
            win.show()
            _settle()
            win.open_path(path, wait=True)
            _settle()
            win.view.fit_all()
            device = _SELECT.get(name)
            if device and device in win.scene.devices:
                win.scene.select_ids([device])
            _settle(250)
            written.append(_save_grab(win, out_dir / f"{name}.png"))
            win.doc.undo_stack.setClean()
            win.close()
            win.deleteLater()
            _settle(50)
    return written


def _save_grab(win: MainWindow, target: Path) -> Path:
    """The window as a PNG at ``target``, scaled down until it fits :data:`MAX_BYTES`."""
    image = win.grab().toImage()
    data = _png_bytes(image)
    if len(data) > MAX_BYTES:  # keep the README light: scale down until it fits
        scale = 0.85
        while len(data) > MAX_BYTES and scale > 0.4:
            data = _png_bytes(image.scaledToWidth(int(image.width() * scale),
                                                  Qt.TransformationMode.SmoothTransformation))
            scale -= 0.1
    return atomic_write_bytes(target, data)


def _wait_job(job) -> None:  # noqa: ANN001 - planner_app.ui.jobs.Job
    if job is None:
        raise RuntimeError("a planning step did not start")
    while job.running:
        QTest.qWait(20)
    if job.state != "finished":
        raise RuntimeError(f"{job.title}: {job.state} ({job.error})")


def save_planning_screenshots(out_dir: Path, width: int = 1500, height: int = 1000,
                              only: list[str] | None = None) -> list[Path]:
    """``<sample>-model.png``, ``-profiling.png``, ``-optimizer.png`` and ``-run.png`` per sample
    topology: its first planned workload loaded, profiled (fp32, int8-dynamic; 3 runs) and optimized,
    a plan that uses a link shown on the canvas and run here (8 requests, links emulated); returns
    the paths."""
    create_application()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="planner-shots-") as tmp:
        for name, path in sample_topology_paths().items():
            if only is not None and name not in only:
                continue
            settings = QSettings(str(Path(tmp) / f"plan-{name}.ini"), QSettings.Format.IniFormat)
            win = MainWindow(settings=settings, recovery_dir=Path(tmp) / "recovery")
            win.resize(width, height)
            win.show()
            _settle()
            win.open_path(path, wait=True)
            _settle()
            pl = win.planning
            workload = next((w.name for w in win.doc.topology.workloads if w.model), None)
            if workload is None:
                continue
            pl.model.set_workload(workload)
            _wait_job(pl.model_panel.load(None))
            pl.profiling_panel.set_levels(["fp32", "int8-dynamic"])
            pl.profiling_panel.runs.setValue(3)
            _wait_job(pl.profiling_panel.start())
            _wait_job(pl.optimizer_panel.optimize())
            cur = pl.model.current
            if cur is not None and cur.result is not None and not cur.result.prediction.link_mbps:
                # the best plan runs on one device: show the fastest front point that uses a link
                front = cur.result.pareto_front
                split = [i for i, e in enumerate(front) if e.prediction.link_mbps]
                if split:
                    pl.model.choose_pareto(min(split, key=lambda i: front[i].prediction.latency_ms))
            if pl.optimizer_panel.sweep_link.currentText():
                _wait_job(pl.optimizer_panel.sweep())
            panels = ["model", "profiling", "optimizer"]
            pl.run_panel.requests.setValue(8)
            pl.run_panel.warmup.setValue(1)
            try:  # the shown plan run here, links emulated: measured against predicted
                _wait_job(pl.run_panel.start())
                panels.append("run")
            except RuntimeError as exc:
                print(f"{name}: no Run panel shot ({exc})", file=sys.stderr)
            win.resizeDocks([pl.docks["optimizer"]], [440], Qt.Orientation.Vertical)
            for panel in panels:
                pl.show_dock(panel)
                _settle(200)
                pl.flush()
                win.view.fit_all()
                _settle(200)
                written.append(_save_grab(win, out_dir / f"{name}-{panel}.png"))
            win.doc.undo_stack.setClean()
            win.close()
            win.deleteLater()
            _settle(50)
    return written


def _png_bytes(image) -> bytes:  # noqa: ANN001 - QImage
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data.data())


def main(argv: list[str] | None = None) -> int:
    """``python -m planner_app.ui.screenshots OUTDIR``."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/screenshots")
    for p in save_screenshots(out) + save_planning_screenshots(out):
        print(f"wrote {p} ({p.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
