"""Plain-text views of a joint plan (every workload planned together), shared by ``optimize --workload all``
and ``plan show``. The same conventions as :mod:`planner_app.commands._plan_view`."""

from __future__ import annotations

__all__ = ["joint_text", "load_table", "workloads_table", "infeasible_text"]

from planner_app.commands._plan_view import (
    _r,
    _Right,
    _table,
    fmt_plain,
    fmt_usd_per_1m,
    stage_table,
)
from planner_app.core.plans.joint import JointPlan


def _pct(value: float | None) -> _Right | None:
    return None if value is None else _Right(f"{100.0 * value:.1f} %")


def workloads_table(plan: JointPlan) -> str:
    """One row per workload: its plan's figures jointly, and alone (one at a time)."""
    rows = []
    for w in plan.workloads:
        alone = next((b for b in w.baselines if b.name == "one-at-a-time"), None)
        slo = w.constraints.slo_ms
        rows.append([w.workload.name, _r(w.workload.rate_rps), _r(w.totals.latency_ms), _r(slo),
                     _r(None if slo is None or w.totals.latency_ms is None else w.totals.latency_ms / slo),
                     _Right(fmt_usd_per_1m(w.totals.cost_usd_per_1k)),
                     _r(alone.figures.latency_ms if alone else None)])
    return _table(["workload", "req/s", "latency ms", "SLO ms", "latency/SLO", "USD per 1M", "alone: latency ms"],
                  rows, "Workloads (jointly planned; 'alone' = planned one at a time)")


def load_table(plan: JointPlan) -> str:
    """Every device and link direction: joint utilization and memory, next to the one-at-a-time plans'."""
    rows = []
    for r in plan.load:
        over = (r.one_at_a_time_utilization or 0.0) >= 1.0 or (
            r.memory_limit_bytes is not None and (r.one_at_a_time_memory_bytes or 0.0) > r.memory_limit_bytes)
        rows.append([r.resource, _pct(r.utilization), _pct(r.one_at_a_time_utilization),
                     "OVERCOMMITTED" if over else "",
                     None if r.memory_bytes is None else _Right(f"{r.memory_bytes / 1e6:,.1f}"),
                     None if r.memory_limit_bytes is None else _Right(f"{r.memory_limit_bytes / 1e6:,.0f}"),
                     ", ".join(sorted(r.utilization_per_workload)) or "-"])
    return _table(["device / link direction", "joint load", "one at a time", "", "memory MB", "has MB",
                   "used by"], rows, "Load on shared devices and links (sum over the workloads; below 100 % "
                  "jointly)")


def joint_text(plan: JointPlan) -> str:
    """The whole joint plan: objective, workloads, each one's stages, the load table, overcommit."""
    o = plan.objective
    head = [f"Joint plan of {len(plan.workloads)} workloads on topology {plan.topology.name!r}",
            f"objective: {o.name} ({o.description}) = {fmt_plain(o.value, 4)} {o.unit}".rstrip(),
            f"solver: {plan.solver.name}, {'proven optimal' if plan.solver.exact else 'not proven optimal'} "
            f"({plan.solver.note}), {fmt_plain(plan.solver.solve_ms / 1000.0)} s"]
    parts = ["\n".join(head), workloads_table(plan)]
    for w in plan.workloads:
        parts.append(f"Workload {w.workload.name} (from {w.workload.source}):\n{stage_table(w)}")
    parts.append(load_table(plan))
    if plan.overcommitted_one_at_a_time:
        parts.append("Planned one at a time, the workloads overcommit: " + ", ".join(plan.overcommitted_one_at_a_time)
                     + "\n(each plan alone fits; together they need more than the device or link has)")
    else:
        parts.append("Planned one at a time, the workloads would not overcommit any device or link.")
    if plan.notes:
        parts.append("Notes:\n" + "\n".join(f"  - {n}" for n in plan.notes))
    return "\n\n".join(parts)


def infeasible_text(jp) -> str:  # noqa: ANN001 - JointPlanning, imported lazily by the command
    """What the one-at-a-time plans would load, when no joint plan exists."""
    rows = [[r.resource, _pct(r.utilization), "OVERCOMMITTED" if r.overloaded else ""]
            for r in jp.alone_loads if r.utilization > 0]
    return _table(["device / link direction", "one at a time", ""], rows,
                  "No joint plan. The workloads planned one at a time would load:")
