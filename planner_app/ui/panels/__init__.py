"""Planning in the window: the Model, Profiling, Optimizer and Run panels, the plan overlay, export, projects.

:class:`PlanningUI` is added to a main window in one line; it owns the job
runner, the :class:`~planner_app.ui.planning_model.PlanningModel`, the four
panels (docked below the canvas, tabbed with Workloads), the canvas overlay, the
Planning menu and toolbar entries, the status-bar progress with its Cancel
button, and the file verbs of planning (export plan, charts and report; save and
open projects). The window asks :meth:`PlanningUI.open_path` first for every
file it opens: ONNX models and project files are planning's.
"""

from __future__ import annotations

__all__ = ["PlanningUI"]

from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QProgressBar, QPushButton, QWidget

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import read_json
from planner_app.core.models import SAMPLE_MODELS
from planner_app.core.planning.project import is_project_document, project_from_dict, save_project
from planner_app.ui.canvas.plan_overlay import PlanOverlay
from planner_app.ui.jobs import Job, JobRunner
from planner_app.ui.panels.model_panel import ModelPanel
from planner_app.ui.panels.optimizer_panel import OptimizerPanel
from planner_app.ui.panels.profiling_panel import ProfilingPanel
from planner_app.ui.panels.report import export_charts, write_report
from planner_app.ui.panels.run_panel import RunPanel
from planner_app.ui.planning_model import PlanningModel
from planner_app.ui.window_host import WindowHost

PROJECT_FILTER = "Planner projects (*.edgeplan.json *.json);;All files (*)"


class PlanningUI(QObject):
    """Everything planning adds to the main window (see the module docstring)."""

    def __init__(self, win: WindowHost) -> None:
        super().__init__(win)
        self.win = win
        self.runner = JobRunner(win.dialogs, win, parent=self)
        self.model = PlanningModel(win.doc, self.runner, self)
        self.model_panel = ModelPanel(self.model, win.dialogs)
        self.profiling_panel = ProfilingPanel(self.model, win.dialogs)
        self.optimizer_panel = OptimizerPanel(self.model, win.dialogs)
        self.run_panel = RunPanel(self.model, win.dialogs)
        self.overlay = PlanOverlay(win.scene, self.model, self, win.view)
        self.project_path: Path | None = None
        self.docks: dict[str, QDockWidget] = {}
        below = win.workloads_dock
        for name, title, panel in (("model", "Model", self.model_panel), ("profiling", "Profiling", self.profiling_panel),
                                   ("optimizer", "Optimizer", self.optimizer_panel), ("run", "Run", self.run_panel)):
            dock = QDockWidget(title, win)
            dock.setObjectName(f"dock-{name}")
            dock.setWidget(panel)
            win.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            win.tabifyDockWidget(below, dock)
            self.docks[name] = dock
        win.workloads_dock.raise_()
        win.resizeDocks([win.workloads_dock], [300], Qt.Orientation.Vertical)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(180)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.setToolTip("Cancel the running planning step (finished work is kept)")
        self.cancel_button.clicked.connect(self.runner.cancel_all)
        win.statusBar().addPermanentWidget(self.progress)
        win.statusBar().addPermanentWidget(self.cancel_button)
        self.runner.jobStarted.connect(self._on_job_started)
        self.runner.jobProgressed.connect(self._on_job_progress)
        self.runner.jobEnded.connect(self._on_job_ended)
        self.model.modelLoaded.connect(lambda _w: self.show_dock("model"))
        self.model.resultChanged.connect(lambda _w: self.show_dock("optimizer"))
        self.model.runDone.connect(lambda _w: self.show_dock("run"))
        # the Workloads panel picks its models from the loaded ones (then samples, then Browse…)
        win.workloads.model_browser = lambda: win.dialogs.choose_model(win, str(Path.cwd()))
        for sig in (self.model.modelLoaded, self.model.cleared):
            sig.connect(self._offer_loaded_models)
        self.acts = self._build_actions()

    # -- menus ------------------------------------------------------------------------------
    def _build_actions(self) -> dict[str, QAction]:
        win = self.win
        acts: dict[str, QAction] = {}

        def act(name: str, text: str, slot: object, tip: str = "", shortcut: str | None = None,
                checkable: bool = False) -> QAction:
            a = QAction(text, win)
            a.setStatusTip(tip)
            a.setToolTip(tip or text)
            if shortcut:
                a.setShortcut(shortcut)
            a.setCheckable(checkable)
            a.triggered.connect(slot)  # type: ignore[arg-type]
            acts[name] = a
            return a

        act("load_model", "&Load Model…", lambda: self.model_panel.browse(),
            "Load an ONNX model for the current workload", "Ctrl+M")
        act("profile", "&Profile", self._profile_clicked,
            "Profile the current model on this host at the chosen levels")
        act("optimize", "&Optimize", self._optimize_clicked,
            "Find the best plan for the current workload", "Ctrl+R")
        act("export_plan", "&Export Plan…", self.export_plan_dialog, "Write the shown plan as JSON with its parts")
        act("export_charts", "Export &Charts…", self.export_charts_dialog, "Write every chart as PNG and SVG")
        act("export_report", "Export &Report…", self.export_report_dialog, "Write a one-page HTML report")
        act("open_project", "Open &Project…", self.open_project_dialog, "Open a planner project")
        act("save_project", "&Save Project As…", self.save_project_dialog,
            "Save the topology with its models, profiles and chosen plans in one file")
        act("run_plan", "&Run Plan Locally", self._run_clicked,
            "Export the shown plan and run it here (one agent per device, links emulated): measured against "
            "predicted", "Ctrl+Shift+R")
        act("overlay", "Plan &Overlay", self.overlay.set_enabled, "Show the plan on the canvas", checkable=True)
        acts["overlay"].setChecked(True)

        bar = win.menuBar()
        help_menu = bar.actions()[-1] if bar.actions() else None
        menu = bar.addMenu("&Planning")
        if help_menu is not None:
            bar.insertMenu(help_menu, menu)
        menu.addAction(acts["load_model"])
        samples = menu.addMenu("Load &Sample Model")
        for name in SAMPLE_MODELS:
            samples.addAction(name, partial(self.load_sample, name))
        for n in ("profile", "optimize", "run_plan", None, "export_plan", "export_charts", "export_report", None,
                  "open_project", "save_project", None, "overlay"):
            menu.addSeparator() if n is None else menu.addAction(acts[n])
        panels = menu.addMenu("Pa&nels")
        for dock in self.docks.values():
            panels.addAction(dock.toggleViewAction())
        toolbar = getattr(win, "toolbar", None)
        if toolbar is not None:
            toolbar.addSeparator()
            for n in ("load_model", "optimize", "overlay"):
                toolbar.addAction(acts[n])
        return acts

    def _offer_loaded_models(self, *_args: object) -> None:
        self.win.workloads.set_model_choices([e.model_ref.model for e in self.model.entries.values()])

    def _profile_clicked(self) -> None:
        self.show_dock("profiling")
        self.profiling_panel.start()

    def _optimize_clicked(self) -> None:
        self.show_dock("optimizer")
        self.optimizer_panel.optimize()

    def _run_clicked(self) -> Job | None:
        self.show_dock("run")
        return self.run_panel.start()

    def show_dock(self, name: str) -> None:
        dock = self.docks[name]
        dock.show()
        dock.raise_()

    def load_sample(self, name: str) -> Job | None:
        self.show_dock("model")
        return self.model_panel.load(f"sample:{name}")

    # -- status bar -------------------------------------------------------------------------
    def _on_job_started(self, job: Job) -> None:
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.win.show_hint(f"{job.title}…")

    def _on_job_progress(self, job: Job, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.win.show_hint(f"{job.title}: {message}" if message else f"{job.title}…")

    def _on_job_ended(self, job: Job) -> None:
        busy = self.runner.busy
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        words = {"finished": f"done in {job.elapsed_s:.1f} s", "cancelled": "cancelled (finished work kept)",
                 "failed": "failed (see the message)"}
        self.win.show_hint(f"{job.title}: {words.get(job.state, job.state)}")

    # -- files ------------------------------------------------------------------------------
    def open_path(self, path: str) -> bool:
        """Open ``path`` if it is planning's (a model or a project); False leaves it to the window."""
        if path.lower().endswith(".onnx"):
            self.show_dock("model")
            self.model_panel.load(path)
            return True
        if path.lower().endswith(".json") and Path(path).is_file():
            try:
                data = read_json(path, "project file")
            except PlannerError:
                return False  # the topology loader names the problem
            if is_project_document(data):
                self.open_project(path, data)
                return True
        return False

    def open_project(self, path: str | Path, data: object = None) -> list[Job]:
        """Open a project: its topology in the window, then its models, profiles and plans."""
        try:
            project = project_from_dict(data if data is not None else read_json(path, "project file"),
                                        f"project file '{path}'")
        except PlannerError as exc:
            self.win.dialogs.error(self.win, "Cannot open project", str(exc))
            return []
        self.win.set_document(project.topology, None)
        self.project_path = Path(path)
        self.win.show_hint(f"Opened project {path}: loading its models and plans…")
        return self.model.restore(project)

    def open_project_dialog(self) -> None:
        if not self.win.maybe_save():
            return
        path = self.win.dialogs.open_path(self.win, str(self.project_path.parent if self.project_path else Path.cwd()))
        if path:
            self.win.open_path(path)

    def save_project(self, path: str | Path) -> Path | None:
        """Write the project (topology + models + profiles + plans) atomically."""
        try:
            written = save_project(self.model.to_project(), path)
        except (PlannerError, OSError) as exc:
            self.win.dialogs.error(self.win, "Cannot save project", f"Could not save {path}:\n{exc}")
            return None
        self.project_path = written
        self.win.show_hint(f"Saved project {written}")
        return written

    def save_project_dialog(self) -> Path | None:
        start = str(self.project_path or Path.cwd() / f"{self.win.doc.topology.name or 'project'}.edgeplan.json")
        path = self.win.dialogs.save_path(self.win, start, "Save project", PROJECT_FILTER)
        return self.save_project(path) if path else None

    def export_plan(self, path: str | Path) -> Job | None:
        """Export the shown plan (JSON + parts beside it) in a job."""
        try:
            job = self.model.export(Path(path))
        except PlannerError as exc:
            self.win.dialogs.error(self.win, "Cannot export plan", str(exc))
            return None
        job.finished.connect(lambda plan: self.win.show_hint(f"Exported the plan to {path} ({len(plan.stages)} parts)"))
        return job

    def export_plan_dialog(self) -> Job | None:
        path = self.win.dialogs.save_path(self.win, str(Path.cwd() / "plan.json"), "Export plan",
                                          "Plan JSON (*.json)")
        return self.export_plan(path) if path else None

    def flush(self) -> None:
        """Draw now what the panels and the overlay would draw on the next event-loop turn."""
        m, p, o = self.model_panel, self.profiling_panel, self.optimizer_panel
        for d in (m.refresh_later, p.refresh_later, o.inputs_later, o.refresh_later, self.run_panel.refresh_later):
            d.flush()
        self.overlay.flush()

    @property
    def charts(self) -> dict[str, QWidget]:
        p, o = self.profiling_panel, self.optimizer_panel
        charts: dict[str, QWidget] = {"units": self.model_panel.chart, "levels": p.chart,
                                      "latency_breakdown": o.breakdown, "bandwidth": o.bandwidth, "pareto": o.front}
        if o.sweep_chart.values:
            charts["bandwidth_sweep"] = o.sweep_chart
        if self.run_panel.chart.values:
            charts["run_measured_vs_predicted"] = self.run_panel.chart
        return charts

    def export_charts(self, folder: str | Path) -> list[Path]:
        self.flush()
        try:
            written = export_charts(self.charts, Path(folder))
        except (PlannerError, OSError) as exc:
            self.win.dialogs.error(self.win, "Cannot export charts", str(exc))
            return []
        self.win.show_hint(f"Exported {len(written)} chart files to {folder}")
        return written

    def export_charts_dialog(self) -> list[Path]:
        path = self.win.dialogs.save_path(self.win, str(Path.cwd() / "charts"), "Export charts into a folder",
                                          "Folder (*)")
        return self.export_charts(path) if path else []

    def export_report(self, path: str | Path) -> Path | None:
        self.flush()
        cur = self.model.current
        try:
            if cur is None:
                raise PlannerError("load a model and optimize first: there is no plan to report.")
            written = write_report(cur, self.win.scene, dict(self.charts), Path(path))
        except (PlannerError, OSError) as exc:
            self.win.dialogs.error(self.win, "Cannot export report", str(exc))
            return None
        self.win.show_hint(f"Wrote the report {written}")
        return written

    def export_report_dialog(self) -> Path | None:
        path = self.win.dialogs.save_path(self.win, str(Path.cwd() / "plan-report.html"), "Export report",
                                          "HTML (*.html)")
        return self.export_report(path) if path else None

    def shutdown(self, timeout_ms: int = 5_000) -> None:
        """Cancel running steps and wait for the pool (the window is closing)."""
        self.runner.cancel_all()
        self.runner.wait(timeout_ms)
