"""Every workload of a topology planned together: ``edgeplan optimize --workload all``.

:func:`plan_jointly` opens one :class:`~planner_app.core.planning.session.PlanningSession`
per workload and runs its steps ``load_model → measure → pose → solve``: a model
that several workloads name (the same ``model`` field, input shapes and batch) is
loaded and measured once and shared. Each session's ``solve`` is the workload
planned **one at a time**, as ``edgeplan optimize --workload NAME`` plans it. Then
:func:`~planner_app.core.optimizer.joint.solve_joint` places all of them at once
(summed utilization below 1 on every device and link direction, summed memory,
one objective over the workloads), and the export writes one
:class:`~planner_app.core.plans.joint.JointPlan` with every workload's stages, the
joint load table, and how far the one-at-a-time plans overcommit each device and link.

The one-at-a-time plans use the joint objective's own measure: ``latency`` for
``worst-slack`` and ``weighted-latency``, ``cost`` for ``total-cost``. When each is proven
optimal (the sequence DP on chains, the presolved MILP at gap 0 otherwise) and together
they fit, they are the joint optimum and no joint MILP is built
(:func:`~planner_app.core.optimizer.joint.alone_optimum` proves why); otherwise their
optima bound the joint MILP.

No joint plan is not an exception: :attr:`JointPlanning.feasible` is False, the
solution names the devices and links that cannot fit every workload, and
nothing is written; :meth:`JointPlanning.raise_if_infeasible` raises
:class:`JointInfeasibleError` (exit code 3).

Example
-------
>>> jp = plan_jointly("sample_topologies/smart_factory.json", goal=JointGoal("worst-slack"),
...                   out="out/joint.json")                                    # doctest: +SKIP
>>> [(s.workload.name, s.placement.summary()) for s in jp.sections]          # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["JointPlanning", "JointSection", "JointInfeasibleError", "plan_jointly", "JOINT_WORKLOAD"]

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from planner_app.core.errors import PlannerError
from planner_app.core.optimizer.baselines import BaselineResult
from planner_app.core.optimizer.cost_model import Prediction
from planner_app.core.optimizer.joint import (
    JOINT_OBJECTIVES,
    JointGoal,
    JointSolution,
    ResourceLoad,
    alone_measure,
    joint_load,
    solve_joint,
)
from planner_app.core.optimizer.problem import Placement
from planner_app.core.planning.options import LoadOptions, MeasureOptions, PoseOptions, SolveOptions
from planner_app.core.planning.session import PlanningSession
from planner_app.core.plans import (
    BuiltParts,
    DeploymentPlan,
    ExportError,
    JointObjective,
    JointPlan,
    LoadRow,
    PlanContext,
    SolverInfo,
    TopologyInfo,
    canonical_sha256,
    check_out_path,
    export_joint_plan,
    plan_document,
    section_parts_dir,
)
from planner_app.core.progress import CancelToken, ProgressCallback, report
from planner_app.core.topology import Topology, Workload, load_topology

#: the ``--workload`` value that plans every workload together
JOINT_WORKLOAD = "all"


class JointInfeasibleError(PlannerError):
    """No placement of every workload fits the shared devices and links (exit code 3)."""

    exit_code = 3


@dataclass
class JointSection:
    """One workload of the joint plan: its session (the one-at-a-time plan in ``session.result``)
    and its joint placement."""

    session: PlanningSession
    placement: Placement | None = None
    prediction: Prediction | None = None

    @property
    def workload(self) -> Workload:
        return self.session.workload

    @property
    def alone(self) -> Prediction:
        """The workload planned one at a time."""
        assert self.session.result is not None
        return self.session.result.prediction


@dataclass
class JointPlanning:
    """What :func:`plan_jointly` made: the sections, the joint solution, and the loads."""

    topology: Topology
    topology_path: Path | None
    goal: JointGoal
    sections: list[JointSection]
    solution: JointSolution
    #: per device and link direction, the one-at-a-time plans' summed load
    alone_loads: list[ResourceLoad]
    plan: JointPlan | None = None
    plan_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return self.solution.feasible

    @property
    def overcommitted_alone(self) -> list[ResourceLoad]:
        """The devices and link directions the one-at-a-time plans load to 100 % or more, or past memory."""
        return [r for r in self.alone_loads if r.overloaded]

    def raise_if_infeasible(self) -> None:
        if not self.feasible:
            raise JointInfeasibleError(f"no joint plan: {self.solution.message}")


def _span(progress: ProgressCallback | None, lo: float, hi: float) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda f, m: report(progress, lo + (hi - lo) * f, m)


def plan_jointly(
    topology: Topology | str | os.PathLike[str],
    *,
    workloads: list[str] | None = None,
    load: LoadOptions | None = None,
    measure: MeasureOptions | None = None,
    pose: PoseOptions | None = None,
    goal: JointGoal | None = None,
    time_limit_s: float | None = None,
    out: str | os.PathLike[str] | None = None,
    fidelity_samples: int = 4,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> JointPlanning:
    """Plan every workload (or those named) of ``topology`` together; export when ``out`` is given
    and a joint plan exists. ``pose`` sets the levels and limits of every workload; its objective
    is replaced by the one-at-a-time measure of ``goal`` (see the module docstring)."""
    goal = goal or JointGoal()
    if out is not None:
        check_out_path(out)  # before minutes of profiling, not after
    if isinstance(topology, Topology):
        topo, topo_path = topology, None
    else:
        topo, topo_path = load_topology(topology), Path(topology)
    names = workloads if workloads is not None else [w.name for w in topo.workloads]
    if not names:
        raise PlannerError(f"topology {topo.name!r} has no workload to plan: add one (source device, model, rate)")
    if JOINT_WORKLOAD in [w.name for w in topo.workloads] and workloads is None:
        raise PlannerError(f"topology {topo.name!r} has a workload named {JOINT_WORKLOAD!r}, which --workload "
                           f"{JOINT_WORKLOAD} would not tell from every workload: rename it")
    pose = (pose or PoseOptions()).model_copy(update={"objective": alone_measure(goal)})
    t0 = time.perf_counter()
    sections: list[JointSection] = []
    shared: dict[str, PlanningSession] = {}
    n = len(names)
    for k, name in enumerate(names):
        if cancel is not None:
            cancel.raise_if_cancelled()
        s = PlanningSession(topo, name, topology_path=topo_path)
        w = s.workload
        key = json.dumps([str(load.model) if load and load.model else w.model, w.input_shapes, w.batch_size],
                         sort_keys=True)
        first = shared.get(key)
        span = _span(progress, 0.6 * k / n, 0.6 * (k + 1) / n)
        if first is not None and first.source is not None and first.measured is not None:
            s.use_model(first.source)
            s.use_time_table(first.measured)
            s.add_note("measure", f"the model and its measurements are shared with workload {first.workload.name!r}")
        else:
            s.load_model(load, progress=span, cancel=cancel)
            s.measure(measure, progress=span, cancel=cancel)
            shared[key] = s
        s.pose(pose)
        report(progress, 0.6 * (k + 1) / n, f"planning workload {name} alone")
        s.solve(SolveOptions(time_limit_s=time_limit_s), cancel=cancel)
        sections.append(JointSection(s))
    timings = {"alone_s": time.perf_counter() - t0}
    problems = [sec.session.problem for sec in sections]
    assert all(p is not None for p in problems)
    alone_pl = [sec.session.result.placement for sec in sections if sec.session.result is not None]
    alone_loads = joint_load(problems, [sec.alone for sec in sections])  # type: ignore[arg-type]
    t1 = time.perf_counter()
    # proven: the sequence DP's plans, or the presolved MILP's at gap 0 (see solve_joint's shortcut)
    proven = [bool(sec.session.result is not None and sec.session.result.feasible and sec.session.result.exact)
              for sec in sections]
    solution = solve_joint(problems, goal, alone=alone_pl if len(alone_pl) == n else None,  # type: ignore[arg-type]
                           alone_proven=proven, time_limit_s=time_limit_s or 60.0,
                           progress=_span(progress, 0.6, 0.8), cancel=cancel)
    timings["joint_solve_s"] = time.perf_counter() - t1
    if solution.placements is not None and solution.predictions is not None:
        for sec, pl, pr in zip(sections, solution.placements, solution.predictions, strict=True):
            sec.placement, sec.prediction = pl, pr
    jp = JointPlanning(topo, topo_path, goal, sections, solution, alone_loads, timings_s=timings)
    if out is not None and jp.feasible:
        t2 = time.perf_counter()
        _export(jp, Path(out), fidelity_samples, _span(progress, 0.8, 1.0), cancel)
        timings["export_s"] = time.perf_counter() - t2
    elif out is not None:
        jp.notes.append(f"no plan written to {out}: {solution.message}")
    report(progress, 1.0, "done" if jp.feasible else "done: no joint plan")
    return jp


# -- export ---------------------------------------------------------------------------------
def _solver_name(sol: JointSolution) -> str:
    return sol.method if sol.method in ("alone-optimal", "alone-at-bound") else "milp-joint"


def _load_rows(jp: JointPlanning) -> list[LoadRow]:
    joint = {r.resource: r for r in jp.solution.loads}
    alone = {r.resource: r for r in jp.alone_loads}
    rows = []
    for key in sorted(joint.keys() | alone.keys()):
        j, a = joint.get(key), alone.get(key)
        r = j or a
        assert r is not None
        device = r.kind == "device"
        rows.append(LoadRow(
            resource=key, kind="device" if device else "link",
            utilization=j.utilization if j else 0.0,
            utilization_per_workload=dict(j.per_workload) if j else {},
            memory_bytes=(j.memory_bytes if j else 0.0) if device else None,
            memory_bytes_per_workload=dict(j.memory_per_workload) if j else {},
            memory_limit_bytes=r.memory_limit_bytes,
            one_at_a_time_utilization=a.utilization if a else 0.0,
            one_at_a_time_per_workload=dict(a.per_workload) if a else {},
            one_at_a_time_memory_bytes=(a.memory_bytes if a else 0.0) if device else None,
        ))
    return sorted(rows, key=lambda x: (x.kind != "device", x.resource))


def _section_plan(jp: JointPlanning, k: int, sec: JointSection, built: BuiltParts | None) -> DeploymentPlan:
    s = sec.session
    assert s.result is not None and s.problem is not None and s.source is not None and s.measured is not None
    assert sec.placement is not None and sec.prediction is not None
    sol = jp.solution
    if sol.method == "alone-optimal":
        scope = ("every placement, level and cut codec of every workload at once (shared devices and links, summed "
                 "memory): the one-at-a-time plans, each proven optimal for this objective's own measure, fit "
                 "together, which makes them the joint optimum (no joint MILP needed)")
    elif sol.method == "alone-at-bound":
        scope = ("every placement, level and cut codec of every workload at once: the one-at-a-time plans fit "
                 "together and cost 0 USD/hour, the least any plan can (no joint MILP needed; the latency "
                 "tie-break is the one-at-a-time solvers')")
    else:
        scope = ("every placement and level of every workload at once (shared devices and links, summed memory), "
                 f"for the cut codecs tried ({len(sol.codecs_tried)} combination(s))")
    result = dataclasses.replace(
        s.result, feasible=True, failing_constraint=None, message="", placement=sec.placement,
        prediction=sec.prediction,
        objective_value=s.problem.objective_value(sec.prediction), solver=_solver_name(sol), exact=sol.exact,
        exact_scope=scope, solve_ms=sol.solve_ms, pareto_front=[], gap=sol.gap,
        baselines=[BaselineResult("one-at-a-time", "this workload planned alone, as if it had the topology to "
                                  "itself (its load adds to the others' on shared devices and links)",
                                  s.result.placement, s.result.prediction), *s.result.baselines])
    context = PlanContext(s.topology, s.topology_path, s.workload, s.source.model_info(), s.problem, result,
                          s.measured.time_table, tuple(s.notes), basis=s.measured.basis,
                          level_ci=s.measured.level_ci, device_level_ci=s.measured.device_level_ci)
    plan = plan_document(context, sec.placement, sec.prediction, built)
    folder = section_parts_dir(k)
    stages = [st.model_copy(update={"artifact": st.artifact.model_copy(
        update={"path": f"{folder}/{Path(st.artifact.path).name}"})}) if st.artifact is not None else st
        for st in plan.stages]
    return plan.model_copy(update={"stages": stages})


def _export(jp: JointPlanning, out: Path, fidelity_samples: int, progress: ProgressCallback | None,
            cancel: CancelToken | None) -> None:
    sections: list[DeploymentPlan] = []
    parts: list[list[bytes]] = []
    cache: dict[tuple[int, Placement], BuiltParts | None] = {}
    n = len(jp.sections)
    for k, sec in enumerate(jp.sections):
        if cancel is not None:
            cancel.raise_if_cancelled()
        s = sec.session
        assert s.source is not None and sec.placement is not None
        report(progress, 0.8 * k / n, f"cutting and compressing the parts of workload {s.workload.name}")
        key = (id(s.source), sec.placement)
        if key not in cache:  # workloads sharing a model and a placement share its parts
            builder = s.source.part_builder
            try:
                cache[key] = builder(sec.placement, fidelity_samples=fidelity_samples, cancel=cancel) if builder else None
            except PlannerError:
                raise
            except Exception as exc:  # onnxruntime, onnx, the converters: never a traceback after the solve
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
                err = ExportError(f"workload {s.workload.name!r}: the parts of {sec.placement.summary()} could not "
                                  f"be built: {type(exc).__name__}: {first}. Nothing was written to {out}.")
                err.exit_code = 1  # a bug of ours, not of the input
                raise err from exc
        built = cache[key]
        sections.append(_section_plan(jp, k, sec, built))
        parts.append(list(built.blobs) if built else [])
    sol = jp.solution
    info = JOINT_OBJECTIVES[jp.goal.name]
    doc = jp.topology.to_dict()
    weights = {sec.workload.name: jp.goal.weight(sec.session.problem) for sec in jp.sections  # type: ignore[arg-type]
               } if jp.goal.name != "total-cost" else {}
    over = [r.resource for r in jp.overcommitted_alone]
    notes = [f"planned jointly: {n} workloads on shared devices and links; every utilization below is the sum "
             "over the workloads"]
    if over:
        notes.append(f"planned one at a time, the workloads would overcommit {', '.join(over)}")
    notes += sol.notes
    plan = JointPlan(
        topology=TopologyInfo(name=jp.topology.name, path=str(jp.topology_path) if jp.topology_path else None,
                              sha256=canonical_sha256(doc), document=doc),
        objective=JointObjective(name=jp.goal.name, description=info.description,
                                 weights=weights, unit=info.unit,
                                 value=sol.objective_value if math.isfinite(sol.objective_value) else None),
        solver=SolverInfo(name=_solver_name(sol), exact=sol.exact, solve_ms=max(0.0, sol.solve_ms),
                          note=f"{sol.status}; gap {sol.gap if sol.gap is not None else '-'}; cut codecs tried: "
                               + "; ".join(",".join(dict.fromkeys(c)) for c in sol.codecs_tried)),
        workloads=sections, load=_load_rows(jp), overcommitted_one_at_a_time=over, notes=notes,
    )
    jp.plan = plan
    jp.plan_path = export_joint_plan(plan, parts, out, progress=_span(progress, 0.8, 1.0), cancel=cancel)
