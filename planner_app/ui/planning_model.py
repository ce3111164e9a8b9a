"""The window's planning state: a QObject over one core PlanningSession per workload.

:class:`PlanningModel` is what the Model, Profiling and Optimizer panels and the
canvas overlay observe. Each of its verbs runs one session step on the
:class:`~planner_app.ui.jobs.JobRunner` and, when the step ends, stores what it
made and emits one signal naming what changed:

- :attr:`modelLoaded` (workload) after :meth:`load_model`;
- :attr:`profileUpdated` (workload) as each profiled level arrives and when the
  time table is rebuilt;
- :attr:`resultChanged` (workload) after :meth:`optimize`;
- :attr:`planChosen` (workload) when the shown plan changes (the best one, or a
  Pareto point clicked in any chart);
- :attr:`unitSelected` (unit id or -1) when a unit is clicked in the model chart.

Several models per project: every workload plans with its own model; the
*current* workload is the one the panels show. The document holds the topology;
this model holds the planning state beside it, and :meth:`to_project` /
:meth:`restore` turn both into one project file and back. An edit of the
topology marks the state stale: the next optimize rebuilds the session from the
kept profile (nothing is measured again).
"""

from __future__ import annotations

__all__ = ["PlanningModel", "WorkloadPlanning", "ShownPlan"]

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QObject, Signal

from planner_app.core.errors import PlannerError
from planner_app.core.optimizer import OptimizationResult, evaluate
from planner_app.core.optimizer.cost_model import Prediction
from planner_app.core.optimizer.problem import Placement
from planner_app.core.planning import (
    ExportOptions,
    LoadOptions,
    MeasureOptions,
    OnnxModelSource,
    PlanningSession,
    PoseOptions,
    SolveOptions,
)
from planner_app.core.planning.project import ChosenPlan, ModelRef, Project
from planner_app.core.planning.sweep import SweepPoint, bandwidth_sweep
from planner_app.core.plans import DeploymentPlan
from planner_app.core.profiling import ModelProfile, ProfileSettings, profile_model
from planner_app.core.profiling.records import ProfileInterrupted
from planner_app.core.progress import Cancelled
from planner_app.core.topology import Topology
from planner_app.ui.document import TopologyDocument
from planner_app.ui.jobs import Job, JobContext, JobRunner
from planner_app.ui.profiling_task import ProfileRequest, profile_in_child
from planner_app.ui.run_compare import RunComparison, comparison_from_report
from planner_app.ui.run_task import RunRequest, run_in_child
from planner_app.ui.subprocess_jobs import prestart, run_in_process


@dataclass
class ShownPlan:
    """The plan the window shows: the best one (``pareto_index`` -1) or a point of the front."""

    placement: Placement
    prediction: Prediction
    label: str
    pareto_index: int = -1


@dataclass
class WorkloadPlanning:
    """What planning made for one workload."""

    workload: str
    session: PlanningSession
    model_ref: ModelRef
    source: OnnxModelSource
    result: OptimizationResult | None = None
    shown: ShownPlan | None = None
    #: the PoseOptions/SolveOptions fields of the last optimize, as plain values
    options: dict[str, Any] = field(default_factory=dict)
    stale: bool = False
    #: the placement to show once a restored project is solved again
    wanted: ChosenPlan | None = None
    #: the last bandwidth sweep: (link id, points)
    sweep: tuple[str, list[SweepPoint]] | None = None
    #: the last run of the shown plan (measured against predicted)
    run: RunComparison | None = None
    #: the placement that run measured (the shown plan may have changed since)
    run_placement: Placement | None = None


class PlanningModel(QObject):
    """Planning state of the window (see the module docstring)."""

    workloadChanged = Signal(str)
    modelLoaded = Signal(str)
    profileUpdated = Signal(str)
    resultChanged = Signal(str)
    planChosen = Signal(str)
    unitSelected = Signal(int)
    #: a bandwidth sweep finished (workload)
    sweepDone = Signal(str)
    #: a run of the plan finished (workload)
    runDone = Signal(str)
    #: everything was dropped (a new topology)
    cleared = Signal()

    def __init__(self, doc: TopologyDocument, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.runner = runner
        self.entries: dict[str, WorkloadPlanning] = {}
        #: local profiles by model sha256 (shared by workloads on the same model)
        self.profiles: dict[str, ModelProfile] = {}
        self.workload: str | None = None
        self.selected_unit: int | None = None
        self._restoring = False
        for sig in (doc.deviceAdded, doc.deviceRemoved, doc.deviceChanged, doc.linkAdded, doc.linkRemoved,
                    doc.linkChanged, doc.workloadsChanged):
            sig.connect(self._on_topology_edited)
        doc.topologyReset.connect(self._on_topology_reset)
        self._on_topology_reset()

    # -- state ----------------------------------------------------------------------------
    @property
    def current(self) -> WorkloadPlanning | None:
        """The current workload's planning, or None before a model is loaded for it."""
        return self.entries.get(self.workload) if self.workload else None

    @property
    def profile(self) -> ModelProfile | None:
        cur = self.current
        return self.profiles.get(cur.source.sha256) if cur else None

    @property
    def shown(self) -> ShownPlan | None:
        cur = self.current
        return cur.shown if cur else None

    def workload_names(self) -> list[str]:
        return [w.name for w in self.doc.topology.workloads]

    def set_workload(self, name: str) -> None:
        """Make ``name`` the workload the panels show."""
        if name == self.workload:
            return
        self.workload = name
        self.selected_unit = None
        self.workloadChanged.emit(name)

    def select_unit(self, unit: int | None) -> None:
        """Select a unit of the current model (the chart and the table follow)."""
        if unit != self.selected_unit:
            self.selected_unit = unit
            self.unitSelected.emit(-1 if unit is None else unit)

    def _on_topology_reset(self) -> None:
        if self._restoring:
            return
        self.runner.cancel_all()
        self.entries.clear()
        self.profiles.clear()
        names = self.workload_names()
        self.workload = next((w.name for w in self.doc.topology.workloads if w.model), names[0] if names else None)
        self.selected_unit = None
        self.cleared.emit()
        self.workloadChanged.emit(self.workload or "")

    def _on_topology_edited(self, *_args: object) -> None:
        for entry in self.entries.values():
            entry.stale = True
        names = self.workload_names()
        if self.workload not in names:
            self.workload = names[0] if names else None
            self.workloadChanged.emit(self.workload or "")

    def _topology(self) -> Topology:
        # the worker plans on its own copy: edits in the window never race a running step
        return self.doc.topology.model_copy(deep=True)

    def _need(self, what: str = "a model") -> WorkloadPlanning:
        cur = self.current
        if cur is None:
            raise PlannerError(f"load {what} for workload {self.workload!r} first (Planning ▸ Load Model).")
        return cur

    # -- load -----------------------------------------------------------------------------
    def model_spec_for(self, workload: str) -> str:
        """The model a workload names (``sample:NAME`` or a path), or ''."""
        w = self.doc.topology.workload(workload)
        return w.model or ""

    def load_model(self, spec: str | None = None, shapes: dict[str, list[int]] | None = None,
                   workload: str | None = None) -> Job:
        """Load ``spec`` (else the workload's model) for ``workload`` (else the current one)."""
        name = workload or self.workload
        if name is None:
            raise PlannerError("the topology has no workload: add one (Workloads panel) saying where requests "
                               "come from, then load its model.")
        topology, path = self._topology(), self.doc.path
        given = spec or None
        profiles = dict(self.profiles)

        def work(ctx: JobContext) -> WorkloadPlanning:
            session = PlanningSession(topology, name, topology_path=path)
            source = session.load_model(LoadOptions(model=given, shapes=shapes or {}), progress=ctx.progress,
                                        cancel=ctx.cancel)
            assert isinstance(source, OnnxModelSource)
            ref = ModelRef(name, given or source.label, dict(shapes or {}))
            entry = WorkloadPlanning(name, session, ref, source)
            known = profiles.get(source.sha256)
            if known is not None:
                self._measure(session, known)
            else:  # profiling comes next: a worker imports onnxruntime meanwhile
                prestart((profile_in_child.__module__,))
            return entry

        job = self.runner.start(f"Load model for {name}", work)
        job.finished.connect(self._on_loaded)
        return job

    def _on_loaded(self, entry: WorkloadPlanning) -> None:
        self.entries[entry.workload] = entry
        self.selected_unit = None
        if self.workload != entry.workload:
            self.workload = entry.workload
            self.workloadChanged.emit(entry.workload)
        self.modelLoaded.emit(entry.workload)
        if entry.session.measured is not None:
            self.profileUpdated.emit(entry.workload)

    @staticmethod
    def _measure(session: PlanningSession, profile: ModelProfile) -> None:
        usable = tuple(lv for lv, lp in profile.levels.items() if lp.applicable)
        session.measure(MeasureOptions(profile=profile, levels=usable or None))

    # -- profile --------------------------------------------------------------------------
    def profile_levels(self, levels: list[str], runs: int = 8, threads: int = 1, warmup: int = 1) -> Job:
        """Profile the current model on this host at ``levels`` (fp32 first), one level at a time.

        Each finished level arrives as it is done (:attr:`profileUpdated`); cancelling keeps
        the finished ones and builds the time table from them.
        """
        entry = self._need()
        mg = entry.source.graph
        settings = ProfileSettings(threads=threads, warmup=warmup, runs=runs, max_seconds=10.0, fidelity_samples=2)
        wanted = list(dict.fromkeys(["fp32", *levels]))
        old = self.profiles.get(entry.source.sha256)

        # the GIL-heavy C calls (onnxruntime sessions, onnx shape inference) run in a worker
        # process when the model has a file to load there (see ui/subprocess_jobs.py)
        request = None if mg.path is None or not Path(mg.path).is_file() else ProfileRequest(
            model=str(Path(mg.path).resolve()), name=mg.name, sha256=mg.sha256,
            shapes={k: list(v) for k, v in mg.inputs.items()}, levels=tuple(wanted), settings=settings)

        def work(ctx: JobContext) -> ModelProfile:
            merged: ModelProfile | None = None
            if old is not None:  # levels measured before stay; the asked ones are measured again
                merged = ModelProfile.from_dict(old.to_dict())

            def add(level: str, one: ModelProfile) -> None:
                nonlocal merged
                if merged is None:
                    merged = one
                else:
                    merged.levels[level] = one.levels[level]
                    merged.cut_codecs = one.cut_codecs or merged.cut_codecs
                ctx.partial(ModelProfile.from_dict(merged.to_dict()))

            try:
                if request is not None:
                    child = _ChildLevels(ctx, add)
                    run_in_process(child, profile_in_child, request)
                else:
                    for i, level in enumerate(wanted):
                        def step(f: float, m: str, i: int = i) -> None:
                            ctx.progress((i + f) / len(wanted), m)
                        one = profile_model(mg, [level], settings=settings, progress=step, cancel=ctx.cancel)
                        add(level, one)
            except Cancelled:
                if merged is not None and merged.levels:
                    self._measure(entry.session, merged)
                raise ProfileInterrupted(
                    f"profiling cancelled; finished levels kept: {', '.join(merged.levels) if merged else 'none'}",
                    merged if merged is not None else one_empty(mg.name, mg.sha256)) from None
            assert merged is not None
            ctx.progress(1.0, "building the time table")
            self._measure(entry.session, merged)
            return merged

        job = self.runner.start(f"Profile {mg.name}", work)
        job.partial.connect(lambda p: self._on_profile(entry, p, final=False))
        job.finished.connect(lambda p: self._on_profile(entry, p, final=True))
        job.cancelled.connect(lambda exc: self._on_profile(entry, getattr(exc, "partial", None), final=True))
        return job

    def _on_profile(self, entry: WorkloadPlanning, profile: ModelProfile | None, final: bool) -> None:
        if profile is None or not profile.levels:
            return
        self.profiles[entry.source.sha256] = profile
        if final:
            entry.result = entry.shown = None
            entry.stale = False
            self.resultChanged.emit(entry.workload)
            self.planChosen.emit(entry.workload)
        self.profileUpdated.emit(entry.workload)

    # -- optimize -------------------------------------------------------------------------
    def optimize(self, pose: PoseOptions, solve: SolveOptions) -> Job:
        """Pose the problem and solve it (with baselines and the Pareto front) for the current workload."""
        entry = self._need()
        profile = self.profiles.get(entry.source.sha256)
        if entry.session.measured is None and profile is None:
            raise PlannerError(f"profile {entry.source.name} first (Profiling panel): the optimizer needs its "
                               "times at each level.")
        rebuild = entry.stale or entry.session.measured is None
        topology, path = (self._topology(), self.doc.path) if rebuild else (None, None)

        def work(ctx: JobContext) -> tuple[PlanningSession, OptimizationResult, float]:
            session = entry.session
            if rebuild:
                assert topology is not None and profile is not None
                ctx.progress(0.0, "the topology changed: rebuilding the time table from the kept profile")
                session = PlanningSession(topology, entry.workload, topology_path=path)
                session.use_model(entry.source)
                self._measure(session, profile)
            session.pose(pose)
            t0 = time.perf_counter()
            result = session.solve(solve, progress=ctx.progress, cancel=ctx.cancel)
            return session, result, time.perf_counter() - t0

        job = self.runner.start(f"Optimize {entry.workload}", work)
        options = {**pose.model_dump(exclude_defaults=True), **solve.model_dump(exclude_defaults=True)}
        job.finished.connect(lambda value: self._on_solved(entry, value, options))
        return job

    def _on_solved(self, entry: WorkloadPlanning, value: tuple[PlanningSession, OptimizationResult, float],
                   options: dict[str, Any]) -> None:
        session, result, _ = value
        entry.session, entry.result, entry.stale = session, result, False
        entry.options = _plain(options)
        entry.shown = ShownPlan(result.placement, result.prediction,
                                "best plan" if result.feasible else "closest plan (infeasible)")
        wanted, entry.wanted = entry.wanted, None
        if wanted is not None:
            self._show_placement(entry, Placement(wanted.devices, wanted.levels, wanted.codec))
        self.resultChanged.emit(entry.workload)
        self.planChosen.emit(entry.workload)

    def _show_placement(self, entry: WorkloadPlanning, placement: Placement) -> None:
        assert entry.result is not None and entry.session.problem is not None
        for i, p in enumerate(entry.result.pareto_front):
            if p.placement == placement:
                entry.shown = ShownPlan(p.placement, p.prediction, f"Pareto point {i + 1}", i)
                return
        if placement != entry.result.placement:
            entry.shown = ShownPlan(placement, evaluate(placement, entry.session.problem), "saved plan")

    def choose_pareto(self, index: int) -> None:
        """Show point ``index`` of the current Pareto front everywhere (-1: the best plan)."""
        entry = self.current
        if entry is None or entry.result is None:
            return
        result = entry.result
        if index < 0 or index >= len(result.pareto_front):
            entry.shown = ShownPlan(result.placement, result.prediction, "best plan")
        else:
            p = result.pareto_front[index]
            entry.shown = ShownPlan(p.placement, p.prediction, f"Pareto point {index + 1}", index)
        self.planChosen.emit(entry.workload)

    # -- sweep ----------------------------------------------------------------------------
    def sweep(self, link_id: str, solver: str = "dp") -> Job:
        """The best plan's latency as ``link_id``'s bandwidth goes from 1/32x to 32x (a job)."""
        entry = self._need()
        if entry.result is None:
            raise PlannerError(f"optimize workload {entry.workload!r} first: the sweep poses the same problem.")
        session = entry.session
        pose, _ = options_from(entry.options)

        def work(ctx: JobContext) -> list[SweepPoint]:
            return bandwidth_sweep(session, link_id, pose, solver=solver, progress=ctx.progress, cancel=ctx.cancel)

        job = self.runner.start(f"Sweep {link_id} for {entry.workload}", work)

        def done(points: list[SweepPoint]) -> None:
            entry.sweep = (link_id, points)
            self.sweepDone.emit(entry.workload)

        job.finished.connect(done)
        return job

    def default_sweep_link(self) -> str | None:
        """The link to sweep first: the busiest of the shown plan, else the first from the source."""
        entry = self.current
        if entry is None:
            return None
        if entry.shown is not None and entry.shown.prediction.link_mbps:
            mbps = entry.shown.prediction.link_mbps
            return max(mbps, key=lambda lid: mbps[lid])
        topo = self.doc.topology
        source = topo.workload(entry.workload).source
        return next((lk.id for lk in topo.links if source in (lk.a, lk.b)), topo.links[0].id if topo.links else None)

    # -- export ---------------------------------------------------------------------------
    def _shown_for_export(self, verb: str) -> tuple[WorkloadPlanning, Placement | None]:
        """The current entry and the placement to export (None: the best plan)."""
        entry = self._need()
        if entry.result is None or entry.shown is None:
            raise PlannerError(f"optimize workload {entry.workload!r} first: there is no plan to {verb}.")
        placement = None if entry.shown.pareto_index < 0 and entry.shown.placement == entry.result.placement \
            else entry.shown.placement
        return entry, placement

    def export(self, out: Path) -> Job:
        """Write the shown plan as JSON with its parts (``parts/`` beside it)."""
        entry, placement = self._shown_for_export("export")
        session = entry.session

        def work(ctx: JobContext) -> DeploymentPlan:
            return session.export(ExportOptions(out=out), placement, progress=ctx.progress, cancel=ctx.cancel)

        return self.runner.start(f"Export plan of {entry.workload}", work)

    # -- run ------------------------------------------------------------------------------
    def run_local(self, requests: int = 20, warmup: int = 3, folder: Path | None = None) -> Job:
        """Export the shown plan and run it here with local emulation: one agent process per
        planned device on 127.0.0.1, each route's latency and bandwidth imposed by a relay, in a
        worker process (:mod:`planner_app.ui.run_task`).

        The plan goes to ``folder`` (kept) or to a temporary folder (removed after the run).
        When the job ends, :attr:`runDone` carries the measured-against-predicted rows
        (``entry.run``). Cancel stops at the next request: the runner's own cleanup then
        ends the agent processes and relays.
        """
        if requests < 1 or warmup < 0:
            raise PlannerError(f"a run needs at least 1 request and no negative warm-up (got {requests}, {warmup}).")
        entry, placement = self._shown_for_export("run")
        assert entry.shown is not None
        session, label, measured = entry.session, entry.shown.label, entry.shown.placement

        def work(ctx: JobContext) -> RunComparison:
            try:
                import planner_app.agent.plan_runner  # noqa: F401 - the extra is there (the worker imports it)
            except ImportError as exc:
                raise PlannerError(f"running a plan needs the 'agent' extra ({exc}): "
                                   "pip install 'planner_app[agent]'") from None
            from planner_app.core.execute import execution_spec

            tmp = None if folder is not None else Path(tempfile.mkdtemp(prefix="edgeplan-window-run-"))
            try:
                out = (folder or tmp or Path(".")) / "plan.json"
                session.export(ExportOptions(out=out), placement, progress=lambda f, m: ctx.progress(0.3 * f, m),
                               cancel=ctx.cancel)
                spec = execution_spec(out)
                # in a worker process: the link relays must not share Python's lock with the GUI thread
                report = run_in_process(ctx, run_in_child, RunRequest(str(out.resolve()), requests, warmup))
                return comparison_from_report(report, spec, label)
            finally:
                if tmp is not None:
                    shutil.rmtree(tmp, ignore_errors=True)

        job = self.runner.start(f"Run plan of {entry.workload} locally", work)

        def done(comparison: RunComparison) -> None:
            entry.run, entry.run_placement = comparison, measured
            self.runDone.emit(entry.workload)

        job.finished.connect(done)
        return job

    # -- project --------------------------------------------------------------------------
    def to_project(self) -> Project:
        """The document's topology with this planning state, as a core project record."""
        refs, plans, shas = [], [], []
        for entry in self.entries.values():
            refs.append(entry.model_ref)
            shas.append(entry.source.sha256)
            if entry.shown is not None:
                p = entry.shown.placement
                plans.append(ChosenPlan(entry.workload, p.devices, p.levels, p.codec, dict(entry.options)))
        profiles = [self.profiles[s] for s in dict.fromkeys(shas) if s in self.profiles]
        return Project(self.doc.topology, refs, profiles, plans)

    def restore(self, project: Project) -> list[Job]:
        """Bring back a project's planning state: load each model, reuse its profile, solve and
        show the saved plan again (nothing is measured again). The topology must be in the document."""
        self.profiles.update({p.model_sha256: p for p in project.profiles})
        jobs: list[Job] = []
        for ref in project.models:
            job = self.load_model(ref.model, ref.shapes or None, ref.workload)
            plan = project.plan_for(ref.workload)
            if plan is not None:
                job.finished.connect(lambda entry, plan=plan: self._resolve(entry, plan))
            jobs.append(job)
        return jobs

    def _resolve(self, entry: WorkloadPlanning, plan: ChosenPlan) -> None:
        entry.wanted = plan
        pose, solve = options_from(plan.options)
        previous = self.workload
        self.workload = entry.workload
        try:
            self.optimize(pose, solve)
        except PlannerError as exc:  # e.g. the project kept no profile: the model stays loaded, unsolved
            entry.wanted = None
            self.runner.dialogs.error(self.runner.window, "Cannot restore the plan",
                                      f"The plan of workload {entry.workload!r} was not solved again: {exc}")
        finally:
            self.workload = previous if previous in self.entries else entry.workload


class _ChildLevels:
    """The job context a profiling worker reports to: its partials are ``(level, profile)``, merged here."""

    def __init__(self, ctx: JobContext, add: Callable[[str, ModelProfile], None]) -> None:
        self._ctx, self._add = ctx, add
        self.cancel = ctx.cancel

    def progress(self, fraction: float, message: str = "") -> None:
        self._ctx.progress(fraction, message)

    def partial(self, value: object) -> None:
        level, one = cast(tuple[str, ModelProfile], value)
        self._add(level, one)


def options_from(options: dict[str, Any]) -> tuple[PoseOptions, SolveOptions]:
    """Step options from their plain (JSON) form, as :meth:`PlanningModel.to_project` saves them."""
    opts = dict(options)
    if isinstance(opts.get("levels"), list):
        opts["levels"] = tuple(opts["levels"])
    if isinstance(opts.get("pinned_units"), dict):
        opts["pinned_units"] = {int(k): v for k, v in opts["pinned_units"].items()}
    pose = PoseOptions(**{k: v for k, v in opts.items() if k in PoseOptions.model_fields})
    solve = SolveOptions(**{k: v for k, v in opts.items() if k in SolveOptions.model_fields})
    return pose, solve


def one_empty(name: str, sha256: str) -> ModelProfile:
    """A profile with no level (what a cancel before the first level keeps)."""
    from planner_app.core.profiling import HostInfo

    return ModelProfile(model_name=name, model_sha256=sha256, input_shapes={}, host=HostInfo.detect(),
                        settings=ProfileSettings())


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    """Options as JSON values (tuples to lists, unit ids to text keys)."""
    out: dict[str, Any] = {}
    for k, v in options.items():
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, dict):
            v = {str(a): b for a, b in v.items()}
        out[k] = v
    return out


