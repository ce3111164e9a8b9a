"""From topology + model to an exported deployment plan: the whole pipeline in one call.

:func:`plan_deployment` is what ``edgeplan optimize`` and the window's optimizer
panel run (the window from a worker thread, with progress and cancel):

1. read the topology and pick the workload; check its source reaches another device;
2. load the model (``sample:NAME`` allowed) with the workload's input shapes, and
   check the two agree;
3. use the given profile, or profile what is needed now on this host (fp32 and
   the requested levels, few runs), and build the time table (devices nobody
   measured are estimated by the device model, and say so);
4. pose the planning problem (objective, constraints) and optimize it, with the
   baselines and, when asked, the Pareto front;
5. when a plan is feasible and ``out`` is given: cut the model into one part per
   stage, compress each part at its level, measure the fidelity of the chained
   parts against fp32, and export plan + parts atomically.

An infeasible problem is not an exception: the returned :class:`PlanningRun` has
``feasible`` False, the failing constraint and the closest plan; nothing is
written. :meth:`PlanningRun.raise_if_infeasible` turns it into
:class:`InfeasiblePlanError` (exit code 3) for callers that want one.

Example
-------
>>> run = plan_deployment("sample_topologies/smart_home.json", "photo-tagging",
...                       levels=["fp32"], out="out/plan.json")  # doctest: +SKIP
>>> run.plan.totals.latency_ms, [s.device for s in run.plan.stages]  # doctest: +SKIP
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_LEVELS",
    "QUICK_PROFILE",
    "InfeasiblePlanError",
    "PlanningRun",
    "plan_deployment",
    "export_run",
]

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner_app.core.errors import PlannerError, TopologyError
from planner_app.core.progress import CancelToken, ProgressCallback, report
from planner_app.core.topology.records import Topology, Workload

#: levels profiled when no profile is given and no levels are asked for
DEFAULT_LEVELS: tuple[str, ...] = ("fp32", "fp16", "int8-dynamic")

#: how a profile made on the fly is measured: few runs, so planning stays interactive
QUICK_PROFILE: dict[str, Any] = {"warmup": 2, "runs": 8, "max_seconds": 5.0, "fidelity_samples": 4}


class InfeasiblePlanError(PlannerError):
    """No plan meets every constraint; :attr:`run` holds the closest plan."""

    exit_code = 3

    def __init__(self, message: str, run: PlanningRun) -> None:
        super().__init__(message)
        self.run = run


@dataclass
class PlanningRun:
    """Everything one planning run produced, for the CLI and the window to show."""

    topology: Topology
    topology_path: Path | None
    workload: Workload
    model_source: str
    model: Any  # ModelGraph
    profile: Any  # ModelProfile
    profiled_now: bool
    time_table: Any  # TimeTable
    problem: Any  # PlanningProblem
    result: Any  # OptimizationResult
    plan: Any = None  # DeploymentPlan, once exported
    plan_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return bool(self.result.feasible)

    def raise_if_infeasible(self) -> None:
        """Raise :class:`InfeasiblePlanError` (exit code 3) when no plan meets the constraints."""
        if not self.feasible:
            raise InfeasiblePlanError(self.result.message or "no feasible plan", self)


# -- steps ----------------------------------------------------------------------------
def _read_topology(topology: Topology | str | os.PathLike[str]) -> tuple[Topology, Path | None]:
    if isinstance(topology, Topology):
        topology.validate_references()
        return topology, None
    from planner_app.core.topology.io import load_topology

    return load_topology(topology), Path(topology)


def _check_reach(topology: Topology, workload: Workload) -> None:
    others = [d.id for d in topology.devices if d.id != workload.source]
    if not others:
        return  # a one-device topology: the only plan runs everything on the source
    reach = topology.routes_from(workload.source)
    if not any(d in reach for d in others):
        raise TopologyError(
            f"workload {workload.name!r}: its source device {workload.source!r} reaches no other device "
            f"of topology {topology.name!r} (no link touches it, or its links lead nowhere). Add a link "
            f"from {workload.source!r} to an edge or cloud device."
        )


def _workload_model(workload: Workload, topo_path: Path | None) -> str | None:
    """The workload's model field as a loadable source: relative paths are relative to the topology
    file, and a bare sample name means ``sample:NAME``."""
    text = workload.model
    if not text or text.startswith("sample:"):
        return text
    if not Path(text).is_absolute() and not Path(text).exists() and topo_path is not None:
        beside = topo_path.parent / text
        if beside.exists():
            return str(beside)
    if not Path(text).exists():
        from planner_app.core.models.samples import SAMPLE_MODELS

        if text in SAMPLE_MODELS:
            return f"sample:{text}"
    return text


def _load_model(workload: Workload, source: Any, shapes: Mapping[str, Sequence[int]] | None) -> Any:
    from planner_app.core.models.graph import ModelError, ModelGraph, load_model

    given = {k: list(v) for k, v in (shapes or {}).items()}
    declared = {k: list(v) for k, v in workload.input_shapes.items()}
    if isinstance(source, ModelGraph):  # loaded already (the window, tests): only check it fits
        wrong = {k: v for k, v in {**declared, **given}.items() if source.inputs.get(k) != v}
        if wrong:
            raise ModelError(
                f"model {source.label} has inputs {source.inputs}, but workload {workload.name!r} "
                f"declares {wrong}: fix the workload's input_shapes or give the matching model."
            )
        return source
    for name, dims in given.items():
        if name in declared and declared[name] != dims:
            raise ModelError(
                f"--shape {name}={'x'.join(map(str, dims))} differs from workload {workload.name!r}, which "
                f"declares {name}={'x'.join(map(str, declared[name]))}: drop --shape or fix the workload."
            )
    merged = {**declared, **given}
    try:
        mg = load_model(source, merged or None)
    except ModelError as exc:
        if declared and not given:
            raise ModelError(
                f"model {source} does not match workload {workload.name!r}, which declares input shapes "
                f"{declared}: {exc.message}"
            ) from None
        raise
    wrong = {k: v for k, v in declared.items() if mg.inputs.get(k) != v}
    if wrong:
        raise ModelError(
            f"model {source} has inputs {mg.inputs}, but workload {workload.name!r} declares {wrong}: "
            "fix the workload's input_shapes or give the matching model."
        )
    return mg


def _get_profile(mg: Any, profile_path: Any, levels: list[str] | None,
                 settings: Any, progress: ProgressCallback | None, cancel: CancelToken | None,
                 notes: list[str]) -> tuple[Any, bool, list[str]]:
    from planner_app.core.profiling.runner import (
        ModelProfile,
        ProfileError,
        ProfileSettings,
        profile_model,
    )

    if profile_path is not None:
        profile = profile_path if isinstance(profile_path, ModelProfile) else ModelProfile.load(profile_path)
        if isinstance(profile_path, ModelProfile):
            profile_path = f"(in memory, {profile.model_name})"
        if profile.model_sha256 != mg.sha256:
            raise ProfileError(
                f"profile '{profile_path}' measured model {profile.model_name} (sha256 "
                f"{profile.model_sha256[:12]}…), not {mg.name} (sha256 {mg.sha256[:12]}…): profile this "
                "model with `edgeplan model profile`, or omit --profile to profile it now."
            )
        if profile.input_shapes and {k: list(v) for k, v in profile.input_shapes.items()} != mg.inputs:
            raise ProfileError(
                f"profile '{profile_path}' was measured with input shapes {profile.input_shapes}, but the "
                f"workload runs {mg.inputs}: profile again with these shapes."
            )
        usable = [lv for lv, lp in profile.levels.items() if lp.applicable]
        chosen = list(levels) if levels else usable
        notes.append(f"profile '{profile_path}' used (levels {', '.join(chosen)})")
        return profile, False, chosen
    chosen = list(dict.fromkeys(["fp32", *(levels or DEFAULT_LEVELS)]))
    if settings is None:
        settings = ProfileSettings(**QUICK_PROFILE)
    report(progress, 0.05, f"no profile given: profiling {mg.name} at {', '.join(chosen)} on this host")
    inner = None if progress is None else (lambda f, m: report(progress, 0.05 + 0.55 * f, m))
    profile = profile_model(mg, chosen, settings=settings, progress=inner, cancel=cancel)
    notes.append(f"profiled on this host now at {', '.join(chosen)} ({settings.runs} runs per level)")
    return profile, True, chosen


def _actionable(exc: PlannerError, workload: Workload, topo_path: Path | None) -> PlannerError:
    """The problem builder's message, reworded where it suggests what no option does."""
    text = exc.message
    advice = "link it or drop those devices from the candidates"
    if advice in text:
        where = f"topology file {str(topo_path)!r}" if topo_path else "the topology"
        text = text.replace(advice, (
            f"add a link from those devices toward {workload.result_device!r} in {where} (or in the window), "
            f"or set the consumer of workload {workload.name!r} to a device they reach"))
    return type(exc)(text, problems=exc.problems)


def _check_levels(levels: Sequence[str]) -> None:
    """Refuse unknown compression levels up front, listing the valid ones."""
    from planner_app.core.compression.levels import LEVELS, is_known_level

    bad = [lv for lv in levels if not is_known_level(lv)]
    if bad:
        which = ", ".join(repr(b) for b in bad)
        raise PlannerError(
            f"unknown compression level{'s' if len(bad) > 1 else ''} {which} in --levels: the levels are "
            f"{', '.join(LEVELS)} and variant:NAME (a model you profiled with `edgeplan model profile --variant`)"
        )


def measured_part_overhead_ms(profile: Any) -> float | None:
    """The per-call overhead the profile measured at fp32 (each part is one call), or
    None to use the cost model's default when there is no such measurement."""
    levels = getattr(profile, "levels", None) or {}
    fp32 = levels.get("fp32")
    if fp32 is None or not getattr(fp32, "applicable", False):
        return None
    overhead = float(getattr(fp32, "overhead_ms", 0.0) or 0.0)
    return overhead if overhead > 0 and math.isfinite(overhead) else None


def plan_deployment(
    topology: Topology | str | os.PathLike[str],
    workload_name: str | None = None,
    model_source: Any = None,
    shapes: Mapping[str, Sequence[int]] | None = None,
    profile_path: Any = None,
    objective: str | Mapping[str, float] = "latency",
    constraints: Mapping[str, Any] | None = None,
    levels: Sequence[str] | None = None,
    pareto: bool = False,
    out: str | os.PathLike[str] | None = None,
    *,
    solver: str = "auto",
    imported: str | os.PathLike[str] | None = None,
    host_device: str | None = None,
    profile_settings: Any = None,
    fidelity_samples: int = 4,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PlanningRun:
    """Plan where each part of a model runs, and export the plan (see the module docstring).

    ``constraints`` overrides the workload's own limits with keys of
    :class:`planner_app.core.optimizer.problem.Constraints` (``slo_ms``,
    ``max_cost_usd_per_1k``, ``min_fidelity``, ``pinned_units``, ...).
    ``levels``: compression levels to consider (default: every applicable level
    of the given profile, or :data:`DEFAULT_LEVELS` when profiling now).
    ``model_source`` is a path, ``sample:NAME``, or a loaded ``ModelGraph``
    (default: the workload's model); ``profile_path`` a profile file or a loaded
    ``ModelProfile`` (default: profile now).
    """
    from planner_app.core.optimizer import optimize
    from planner_app.core.optimizer.problem import (
        Constraints,
        ModelStructure,
        PlanningProblem,
        ProblemError,
    )
    from planner_app.core.plans.export import check_out_path
    from planner_app.core.profiling.device_model import build_time_table

    if levels:
        _check_levels(levels)
    if out is not None:
        check_out_path(out)  # before minutes of profiling, not after
    timings: dict[str, float] = {}
    notes: list[str] = []
    t0 = time.perf_counter()
    topo, topo_path = _read_topology(topology)
    workload = topo.workload(workload_name)
    _check_reach(topo, workload)
    source = model_source if model_source is not None else _workload_model(workload, topo_path)
    if not isinstance(source, str | os.PathLike) and source is not None:
        source_text = str(source.path) if getattr(source, "path", None) else source.name
    else:
        source_text = str(source) if source else ""
    if not source_text:
        raise PlannerError(
            f"workload {workload.name!r} names no model: give one with --model M.onnx (or sample:NAME), "
            "or set the workload's model field."
        )
    report(progress, 0.01, f"loading model {source_text}")
    mg = _load_model(workload, source if not isinstance(source, os.PathLike) else str(source), shapes)
    timings["load_s"] = time.perf_counter() - t0
    if cancel is not None:
        cancel.raise_if_cancelled()

    t1 = time.perf_counter()
    profile, profiled_now, chosen = _get_profile(mg, profile_path, list(levels) if levels else None,
                                                 profile_settings, progress, cancel, notes)
    timings["profile_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    report(progress, 0.6, "building the time table (estimating devices not measured)")
    imported_times = None
    if imported is not None:
        from planner_app.core.profiling.imported import load_imported_times

        imported_times = load_imported_times(imported, mg, device_ids=[d.id for d in topo.devices])
        notes.append(f"times imported from '{imported}' for {', '.join(imported_times.devices)}")
    host = topo.device(host_device) if host_device is not None else None
    tt = build_time_table(mg, topo, profile, chosen, host_device=host, imported=imported_times)
    not_applicable = [lv for lv in chosen if lv != "fp32" and lv not in tt.fidelity]
    if not_applicable:
        notes.append(f"levels {', '.join(not_applicable)} do not apply to {mg.name} on this host")
    cons = Constraints.from_workload(workload, **dict(constraints or {}))
    codecs = dict(profile.cut_codecs) if getattr(profile, "cut_codecs", None) else None
    try:
        problem = PlanningProblem.build(topo, workload, ModelStructure.from_model_graph(mg), tt, codecs=codecs,
                                        constraints=cons, objective=objective,
                                        levels=list(dict.fromkeys(levels)) if levels else None,
                                        part_overhead_ms=measured_part_overhead_ms(profile))
    except ProblemError as exc:
        raise _actionable(exc, workload, topo_path) from None
    timings["time_table_s"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    inner = None if progress is None else (lambda f, m: report(progress, 0.62 + 0.18 * f, m))
    result = optimize(problem, solver=solver, pareto=pareto, progress=inner, cancel=cancel)
    timings["optimize_s"] = time.perf_counter() - t3
    notes.extend(result.notes)
    run = PlanningRun(topo, topo_path, workload, source_text, mg, profile, profiled_now, tt, problem, result,
                      notes=notes, timings_s=timings)
    if out is not None and result.feasible:
        t4 = time.perf_counter()
        export_run(run, out, fidelity_samples=fidelity_samples, progress=progress, cancel=cancel)
        timings["export_s"] = time.perf_counter() - t4
    elif out is not None:
        notes.append(f"no plan written to {out}: no plan meets every constraint")
    report(progress, 1.0, "done" if result.feasible else "done: no feasible plan")
    return run


def export_run(
    run: PlanningRun,
    out: str | os.PathLike[str],
    *,
    placement: Any = None,
    fidelity_samples: int = 4,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Cut, compress, check and write the run's plan (or ``placement``, e.g. a Pareto point)."""
    from planner_app.core.optimizer.cost_model import evaluate
    from planner_app.core.plans.build import PlanContext, build_parts, model_info, plan_document
    from planner_app.core.plans.export import export_plan

    if placement is None:
        placement, prediction = run.result.placement, run.result.prediction
    else:
        prediction = evaluate(placement, run.problem)
    if not prediction.feasible:
        raise InfeasiblePlanError(
            f"the placement {placement.summary()} breaks constraints: {'; '.join(prediction.violations[:3])}", run
        )
    from planner_app.core.plans.build import ExportError

    report(progress, 0.8, "cutting the model into parts and compressing each")
    try:
        built = build_parts(run.model, placement, fidelity_samples=fidelity_samples, cancel=cancel)
        context = PlanContext(run.topology, run.topology_path, run.workload, model_info(run.model, run.model_source),
                              run.problem, run.result, run.time_table, tuple(run.notes))
        plan = plan_document(context, placement, prediction, built)
        inner = None if progress is None else (lambda f, m: report(progress, 0.9 + 0.1 * f, m))
        path = export_plan(plan, built.blobs, out, progress=inner, cancel=cancel)
    except PlannerError:
        raise
    except OSError as exc:
        raise ExportError(
            f"cannot write the plan {str(out)!r}: {exc.strerror or exc} ({exc.filename or out}); "
            "choose a writable folder with --out. Nothing was written."
        ) from exc
    except Exception as exc:  # onnxruntime, onnx, the converters: never a traceback after the solve
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
        err = ExportError(
            f"the plan {placement.summary()} was found, but its parts could not be built and checked: "
            f"{type(exc).__name__}: {first}. Nothing was written to {out}; try again with --levels fp32 "
            "to export without compression, and please report this."
        )
        err.exit_code = 1  # a bug of ours, not of the input (README: exit 1)
        raise err from exc
    run.plan, run.plan_path = plan, path
    return path

