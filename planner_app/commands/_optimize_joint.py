"""``edgeplan optimize --workload all``: every workload of the topology planned together.

Options that describe one workload's model or limits are refused here (exit 2):
each workload brings its own model, input shapes, SLO and budget from the
topology. Measurements (``--profile``, ``--imported``, ``--agent-profile``) are
of one model, so they are accepted only when every workload names the same model.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from planner_app.commands._joint_view import infeasible_text, joint_text
from planner_app.core.errors import PlannerError
from planner_app.core.progress import ProgressCallback

#: option -> why it does not apply to several workloads at once
_PER_WORKLOAD = {
    "model": "each workload plans its own model (its 'model' field in the topology)",
    "layers": "each workload plans its own model (its 'model' field in the topology)",
    "shape": "each workload's input shapes come from its 'input_shapes' in the topology",
    "objective": "the objective over every workload is --joint-objective (worst-slack, total-cost, weighted-latency)",
    "slo_ms": "each workload keeps its own SLO (its 'slo_ms' in the topology)",
    "max_cost_usd_per_1k": "each workload keeps its own limits from the topology",
    "min_fidelity": "each workload's fidelity floor comes from its 'accuracy_budget_pct' in the topology",
    "pareto": "a joint plan has no trade-off front yet",
    "pipeline": "pipeline mode plans one workload",
    "max_stages_per_device": "pipeline mode plans one workload",
    "agents": "profiling on agents runs for one workload's model: profile first, then give --agent-profile",
}
_MEASUREMENTS = ("profile", "imported", "agent_profile")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _refuse_ambiguous(args: argparse.Namespace) -> None:
    for dest, why in _PER_WORKLOAD.items():
        if getattr(args, dest, None):
            raise PlannerError(f"{_flag(dest)} does not apply to --workload all: {why}. Drop {_flag(dest)}, or plan "
                               "one workload with --workload NAME.")
    if args.solver not in ("auto", "milp"):
        raise PlannerError(f"--solver {args.solver}: the workloads are planned together by the MILP only; drop "
                           "--solver or give --solver milp")
    given = [_flag(d) for d in _MEASUREMENTS if getattr(args, d, None)]
    if given:
        from planner_app.core.topology import load_topology

        models = sorted({w.model or "(none)" for w in load_topology(args.topology).workloads})
        if len(models) > 1:
            raise PlannerError(f"{', '.join(given)} measure one model, but the workloads name {len(models)} models "
                               f"({', '.join(models)}): drop {', '.join(given)} (each model is profiled now) or "
                               "plan each workload with --workload NAME")


def _weights(args: argparse.Namespace) -> dict[str, float]:
    """``--joint-weight NAME=W`` as a map; each name a workload of the topology, each weight finite and >= 0."""
    if not args.joint_weight:
        return {}
    if (args.joint_objective or "worst-slack") != "weighted-latency":
        raise PlannerError("--joint-weight applies to --joint-objective weighted-latency: add it, or drop "
                           "--joint-weight")
    from planner_app.core.topology import load_topology

    names = [w.name for w in load_topology(args.topology).workloads]
    out: dict[str, float] = {}
    for text in args.joint_weight:
        name, sep, value = text.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = math.nan
        if not sep or not (0 <= weight < math.inf):
            raise PlannerError(f"--joint-weight {text!r}: expected WORKLOAD=W with W a number >= 0, e.g. "
                               f"{names[0] if names else 'cam'}=2")
        if name.strip() not in names:
            raise PlannerError(f"--joint-weight {text!r}: no workload {name.strip()!r} in {args.topology}; the "
                               f"workloads are {', '.join(names)}")
        out[name.strip()] = weight
    return out


def optimize_joint(args: argparse.Namespace, levels: list[str] | None, agent_profiles: dict[str, Path],
                   progress: ProgressCallback | None) -> int:
    from planner_app.core.optimizer.joint import JointGoal
    from planner_app.core.planning import (
        JointInfeasibleError,
        MeasureOptions,
        PoseOptions,
        plan_jointly,
    )

    _refuse_ambiguous(args)
    weights = _weights(args)
    jp = plan_jointly(
        args.topology,
        measure=MeasureOptions(levels=tuple(levels) if levels else None,
                               profile=Path(args.profile) if args.profile else None,
                               imported=tuple(Path(p) for p in args.imported), host_device=args.host_device,
                               agent_profiles=agent_profiles, profile_now=not args.no_local_profile),
        pose=PoseOptions(levels=tuple(levels) if levels else None),
        goal=JointGoal(args.joint_objective or "worst-slack", weights),
        time_limit_s=args.time_limit, out=args.out, progress=progress,
    )
    if not jp.feasible:
        print(infeasible_text(jp))
        raise JointInfeasibleError(f"no joint plan: {jp.solution.message}. Nothing was written to {args.out}.")
    assert jp.plan is not None and jp.plan_path is not None
    print(joint_text(jp.plan))
    n_parts = sum(len(w.stages) for w in jp.plan.workloads if w.stages and w.stages[0].artifact is not None)
    print(f"\nwrote {jp.plan_path} and {n_parts} part(s) in {jp.plan_path.parent / 'parts'} "
          f"(one folder per workload)")
    return 0
