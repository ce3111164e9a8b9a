"""Plain-text views of a deployment plan, shared by ``optimize`` and ``plan show``.

Conventions, the same in every table and line: costs in USD per 1 million
requests (per-1k figures of cheap edge plans are millionths of a dollar) with
plain decimals, never scientific notation; fidelity with 4 decimals (1 = equal
to fp32); bytes as whole numbers; sizes in kB / MB (1 kB = 1000 bytes).
"""

from __future__ import annotations

__all__ = [
    "stage_table",
    "transfer_table",
    "comparison_table",
    "pareto_table",
    "totals_lines",
    "plan_text",
    "closest_text",
    "fmt_plain",
    "fmt_usd_per_1m",
    "fmt_fidelity",
    "fmt_sqnr",
    "PARETO_MAX_ROWS",
    "PLACEMENT_WIDTH",
]

import math
from typing import Any

from planner_app.commands._table import fmt_num, format_table
from planner_app.core.planning import PlanningSession
from planner_app.core.plans.records import DeploymentPlan, Figures

#: rows of the Pareto table before "(N more, see the plan JSON)"
PARETO_MAX_ROWS = 30
#: widest placement text in the Pareto table (longer ones end in "…")
PLACEMENT_WIDTH = 72
#: what the fidelity module reports for identical outputs (no noise): a placeholder, not a measurement
_SQNR_EXACT_DB = 200.0


class _Right(str):
    """A pre-formatted number: right-aligned in its column."""


def fmt_plain(value: float | None, sig: int = 3) -> str:
    """``sig`` significant digits in plain decimals (``0.00000147``, ``1,690``), never ``1.47e-06``."""
    if value is None:
        return "-"
    value = float(value)
    if not math.isfinite(value):
        return fmt_num(value)
    if value == 0:
        return "0"
    decimals = max(0, sig - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{min(decimals, 12)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def fmt_usd_per_1m(usd_per_1k: float | None) -> str:
    """A cost given per 1,000 requests, shown per 1 million requests."""
    return "-" if usd_per_1k is None else fmt_plain(usd_per_1k * 1000.0)


def fmt_fidelity(value: float | None) -> str:
    """Fidelity with 4 decimals: ``0.9995`` next to ``1.0000``, never ``1`` next to ``0.998``."""
    return "-" if value is None else f"{value:.4f}"


def fmt_sqnr(db: float | None) -> str:
    """SQNR in dB; identical outputs (the 200 dB placeholder, or infinite) read ``exact``."""
    if db is None:
        return "-"
    if db >= _SQNR_EXACT_DB or db == math.inf:
        return "exact"
    return f"{db:.1f} dB"


def _bytes(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def _r(value: float | None, sig: int = 3) -> _Right | None:
    return None if value is None else _Right(fmt_plain(value, sig))


def _table(headers: list[str], rows: list[list[Any]], title: str | None = None) -> str:
    """:func:`format_table`, with pre-formatted numbers (:class:`_Right`) right-aligned."""
    for col in range(len(headers)):
        if not any(isinstance(r[col], _Right) for r in rows):
            continue
        width = max([len(headers[col])] + [len(str(r[col])) for r in rows if r[col] is not None] + [1])
        for r in rows:
            r[col] = ("-" if r[col] is None else str(r[col])).rjust(width)
        headers[col] = headers[col].rjust(width)
    return format_table(headers, rows, title=title)


def _shorten(text: str, width: int = PLACEMENT_WIDTH) -> str:
    """A placement summary cut to ``width`` characters; the stages shorten, the ``| codec`` suffix stays."""
    if len(text) <= width:
        return text
    stages, sep, codec = text.partition(" | ")
    suffix = sep + codec
    keep = max(10, width - len(suffix) - 1)
    return stages[:keep].rstrip() + "…" + suffix


def stage_table(plan: DeploymentPlan) -> str:
    """One row per stage: device, level, units, compute time, memory, part file."""
    rows = []
    for s in plan.stages:
        units = f"{s.unit_ids[0]}-{s.unit_ids[-1]}" if len(s.unit_ids) > 1 else str(s.unit_ids[0])
        rows.append([s.index, s.device, s.level, units, len(s.node_names), _r(s.compute_ms),
                     _r(s.memory_bytes / 1e6), _r(s.artifact.bytes / 1e3) if s.artifact else "-", s.provenance,
                     s.artifact.path if s.artifact else "(no part file)"])
    return _table(
        ["stage", "device", "level", "units", "nodes", "compute ms", "memory MB", "part kB", "provenance", "part"],
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
        rows.append([f"{src} → {dst}", " → ".join(t.route_devices), tensors, t.bytes, t.wire_bytes, t.codec,
                     _r(t.transfer_ms)])
    return _table(["what", "route", "tensors", "bytes", "wire bytes", "codec", "time ms"], rows,
                        title=f"Transfers ({len(plan.transfers)})")  # fmt: skip


def _fig_row(name: str, f: Figures, factor: float | None = None) -> list[object]:
    return [name, _r(f.latency_ms), _r(f.throughput_rps), _Right(fmt_usd_per_1m(f.cost_usd_per_1k)),
            _bytes(f.bytes_on_links_per_request), _r(f.energy_j_per_request), _Right(fmt_fidelity(f.predicted_fidelity)),
            "yes" if f.feasible else "no", "-" if factor is None else f"{fmt_plain(factor)}x"]  # fmt: skip


_FIG_HEADERS = ["placement", "latency ms", "throughput rps", "USD/1M req", "link bytes/req", "energy J/req",
                "fidelity", "feasible", "plan better by"]  # fmt: skip


def comparison_table(plan: DeploymentPlan) -> str:
    """The plan next to each baseline, with how many times better the plan is on the objective."""
    rows = [_fig_row("this plan", plan.totals)]
    rows += [_fig_row(b.name, b.figures, b.improvement_factor) for b in plan.baselines]
    return _table(list(_FIG_HEADERS), rows, title=f"Plan vs baselines (objective: {plan.objective.name})")


def pareto_table(plan: DeploymentPlan, max_rows: int = PARETO_MAX_ROWS) -> str:
    """The trade-off front, one row per non-dominated placement (the first ``max_rows``, and the chosen one)."""
    if not plan.pareto:
        return "Pareto front: not computed (use --pareto)"
    shown = list(plan.pareto[:max_rows])
    shown += [p for p in plan.pareto[max_rows:] if p.chosen]
    rows = [[("* " if p.chosen else "  ") + _shorten(p.placement), _r(p.figures.latency_ms),
             _Right(fmt_usd_per_1m(p.figures.cost_usd_per_1k)), _bytes(p.figures.bytes_on_links_per_request),
             _r(p.figures.energy_j_per_request), _Right(fmt_fidelity(p.figures.predicted_fidelity))]
            for p in shown]  # fmt: skip
    text = _table(["placement (* = chosen)", "latency ms", "USD/1M req", "link bytes/req", "energy J/req", "fidelity"],
                  rows, title=f"Pareto front ({len(plan.pareto)} points)")  # fmt: skip
    hidden = len(plan.pareto) - len(shown)
    if hidden > 0:
        text += f"\n  ({hidden} more, see the plan JSON: pareto[])"
    return text


def totals_lines(plan: DeploymentPlan) -> list[str]:
    """The chosen plan's headline figures, one per line."""
    t = plan.totals
    out = [
        f"latency {fmt_plain(t.latency_ms)} ms · throughput {fmt_plain(t.throughput_rps)} req/s · "
        f"{fmt_usd_per_1m(t.cost_usd_per_1k)} USD per 1M requests ({fmt_plain(t.cost_usd_per_month)} USD/month at "
        f"{fmt_plain(plan.workload.rate_rps)} req/s)",
    ]
    if t.energy_j_per_request is not None:
        out.append(f"energy on battery devices: {fmt_plain(t.energy_j_per_request)} J/request")
    if t.bandwidth_mbps_per_link:
        out.append("bandwidth: " + ", ".join(f"{k} {fmt_plain(v)} Mbps" for k, v in t.bandwidth_mbps_per_link.items()))
    out.append(f"predicted fidelity {fmt_fidelity(t.predicted_fidelity)} (cost model, from whole-model measurements per level)")
    m = t.measured_fidelity
    if m is not None:
        top1 = "" if m.top1_agreement is None else f", top-1 agreement {m.top1_agreement:.3f}"
        how = (f"as deployed, cut codec {m.codec}, graph optimization on; {m.samples} held-out inputs"
               if m.as_deployed else f"{m.samples} synthetic inputs")
        out.append(f"measured on the exported parts ({how}): fidelity {fmt_fidelity(m.score)}, "
                   f"cosine {m.cosine:.5f}{top1}, SQNR {fmt_sqnr(m.sqnr_db)}")
    band = plan.uncertainty.get("totals.latency_ms")
    if band is not None and band.low is not None and band.high is not None:
        out.append(f"latency 95 % interval {fmt_plain(band.low)}-{fmt_plain(band.high)} ms ({band.basis})")
    if plan.measurement is not None:
        b = plan.measurement
        out.append(f"clock: {b.clock} ({b.clock_note}); per-part overhead {b.part_overhead_ms:.3f} ms "
                   f"({b.part_overhead_provenance})")
    if t.violations:
        out.append("VIOLATES: " + "; ".join(t.violations))
    out.append(f"solver: {plan.solver.name}{' (exact)' if plan.solver.exact else ''}, {fmt_plain(plan.solver.solve_ms)} ms")
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


def closest_text(run: PlanningSession) -> str:
    """The closest plan of an infeasible session, with what it breaks (nothing is exported)."""
    res = run.result
    assert res is not None
    pred = res.prediction
    rows = [[p.index, p.device, p.level, f"{p.unit_ids[0]}-{p.unit_ids[-1]}", _r(p.compute_ms), p.provenance]
            for p in pred.parts]
    lines = [
        f"No feasible plan for workload {run.workload.name!r} on {run.topology.name!r} "
        f"(first constraint that fails: {res.failing_constraint}).",
        "",
        _table(["stage", "device", "level", "units", "compute ms", "provenance"], rows,
               title=f"Closest plan: {res.placement.summary()}"),
        "",
        f"latency {fmt_plain(pred.latency_ms)} ms · throughput {fmt_plain(pred.throughput_rps)} req/s · "
        f"{fmt_usd_per_1m(pred.cost_usd_per_1k)} USD per 1M requests · fidelity {fmt_fidelity(pred.fidelity)}",
        "violates:",
        *[f"  - {v}" for v in pred.violations],
    ]
    return "\n".join(lines)
