"""Plain-text views of a deployment plan, shared by ``optimize`` and ``plan show``."""

from __future__ import annotations

__all__ = [
    "stage_table",
    "transfer_table",
    "comparison_table",
    "pareto_table",
    "totals_lines",
    "plan_text",
    "closest_text",
]

from typing import Any

from planner_app.commands._table import fmt_num, format_table
from planner_app.core.plan import DeploymentPlan, Figures


def stage_table(plan: DeploymentPlan) -> str:
    """One row per stage: device, level, units, compute time, memory, part file."""
    rows = []
    for s in plan.stages:
        units = f"{s.unit_ids[0]}-{s.unit_ids[-1]}" if len(s.unit_ids) > 1 else str(s.unit_ids[0])
        rows.append([s.index, s.device, s.level, units, len(s.node_names), s.compute_ms,
                     s.memory_bytes / 1e6, s.artifact.bytes / 1e6, s.provenance, s.artifact.path])
    return format_table(
        ["stage", "device", "level", "units", "nodes", "compute ms", "memory MB", "part MB", "provenance", "part"],
        rows, title=f"Stages ({len(plan.stages)})")  # fmt: skip


def transfer_table(plan: DeploymentPlan) -> str:
    """One row per transfer: what crosses which route, bytes and time."""
    if not plan.transfers:
        return "Transfers: none (everything runs on the source device)"
    rows = []
    for t in plan.transfers:
        src = "input" if t.from_stage is None else f"stage {t.from_stage}"
        dst = "result" if t.to_stage is None else f"stage {t.to_stage}"
        tensors = ", ".join(t.tensors[:3]) + (f" +{len(t.tensors) - 3}" if len(t.tensors) > 3 else "")
        rows.append([f"{src} → {dst}", " → ".join(t.route_devices), tensors, t.bytes, t.wire_bytes, t.codec, t.transfer_ms])
    return format_table(["what", "route", "tensors", "bytes", "wire bytes", "codec", "time ms"], rows,
                        title=f"Transfers ({len(plan.transfers)})")  # fmt: skip


def _fig_row(name: str, f: Figures, factor: float | None = None) -> list[object]:
    return [name, f.latency_ms, f.throughput_rps, f.cost_usd_per_1k, f.bytes_on_links_per_request,
            f.energy_j_per_request, f.predicted_fidelity, "yes" if f.feasible else "no",
            "-" if factor is None else f"{factor:.3g}x"]  # fmt: skip


_FIG_HEADERS = ["placement", "latency ms", "throughput rps", "USD/1k", "link bytes/req", "energy J/req",
                "fidelity", "feasible", "plan better by"]  # fmt: skip


def comparison_table(plan: DeploymentPlan) -> str:
    """The plan next to each baseline, with how many times better the plan is on the objective."""
    rows = [_fig_row("this plan", plan.totals)]
    rows += [_fig_row(b.name, b.figures, b.improvement_factor) for b in plan.baselines]
    return format_table(_FIG_HEADERS, rows, title=f"Plan vs baselines (objective: {plan.objective.name})")


def pareto_table(plan: DeploymentPlan) -> str:
    """The trade-off front, one row per non-dominated placement."""
    if not plan.pareto:
        return "Pareto front: not computed (use --pareto)"
    rows = [[("* " if p.chosen else "  ") + p.placement, p.figures.latency_ms, p.figures.cost_usd_per_1k,
             p.figures.bytes_on_links_per_request, p.figures.energy_j_per_request, p.figures.predicted_fidelity]
            for p in plan.pareto]  # fmt: skip
    return format_table(["placement (* = chosen)", "latency ms", "USD/1k", "link bytes/req", "energy J/req", "fidelity"],
                        rows, title=f"Pareto front ({len(plan.pareto)} points)")  # fmt: skip


def totals_lines(plan: DeploymentPlan) -> list[str]:
    """The chosen plan's headline figures, one per line."""
    t = plan.totals
    out = [
        f"latency {fmt_num(t.latency_ms)} ms · throughput {fmt_num(t.throughput_rps)} req/s · "
        f"{fmt_num(t.cost_usd_per_1k)} USD/1k req ({fmt_num(t.cost_usd_per_month)} USD/month at "
        f"{fmt_num(plan.workload.rate_rps)} req/s)",
    ]
    if t.energy_j_per_request is not None:
        out.append(f"energy on battery devices: {fmt_num(t.energy_j_per_request)} J/request")
    if t.bandwidth_mbps_per_link:
        out.append("bandwidth: " + ", ".join(f"{k} {fmt_num(v)} Mbps" for k, v in t.bandwidth_mbps_per_link.items()))
    fid = f"predicted fidelity {fmt_num(t.predicted_fidelity)}"
    if t.measured_fidelity is not None:
        fid += f", measured on the exported parts {fmt_num(t.measured_fidelity.score)} (cosine {fmt_num(t.measured_fidelity.cosine, 6)})"
    out.append(fid)
    if t.violations:
        out.append("VIOLATES: " + "; ".join(t.violations))
    out.append(f"solver: {plan.solver.name}{' (exact)' if plan.solver.exact else ''}, {fmt_num(plan.solver.solve_ms)} ms")
    return out


def plan_text(plan: DeploymentPlan, *, pareto: bool = True) -> str:
    """The whole plan as the command line prints it."""
    head = (f"Plan for workload {plan.workload.name!r} ({plan.model.name}, {plan.model.units} units) on "
            f"{plan.topology.name!r}, objective {plan.objective.name}")  # fmt: skip
    parts = [head, "", stage_table(plan), "", transfer_table(plan), "", *totals_lines(plan), "", comparison_table(plan)]
    if pareto and plan.pareto:
        parts += ["", pareto_table(plan)]
    if plan.notes:
        parts += ["", *[f"note: {n}" for n in plan.notes]]
    return "\n".join(parts)


def closest_text(run: Any) -> str:
    """The closest plan of an infeasible run, with what it breaks (nothing is exported)."""
    res = run.result
    pred = res.prediction
    rows = [[p.index, p.device, p.level, f"{p.unit_ids[0]}-{p.unit_ids[-1]}", p.compute_ms, p.provenance]
            for p in pred.parts]
    lines = [
        f"No feasible plan for workload {run.workload.name!r} on {run.topology.name!r} "
        f"(first constraint that fails: {res.failing_constraint}).",
        "",
        format_table(["stage", "device", "level", "units", "compute ms", "provenance"], rows,
                     title=f"Closest plan: {res.placement.summary()}"),
        "",
        f"latency {fmt_num(pred.latency_ms)} ms · throughput {fmt_num(pred.throughput_rps)} req/s · "
        f"{fmt_num(pred.cost_usd_per_1k)} USD/1k req · fidelity {fmt_num(pred.fidelity)}",
        "violates:",
        *[f"  - {v}" for v in pred.violations],
    ]
    return "\n".join(lines)
