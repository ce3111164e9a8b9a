"""Measured against predicted, as the window shows a plan's run: rows of one table and one chart.

:func:`comparison_from_report` turns the report of a run
(:func:`planner_app.agent.plan_runner.run_local` → ``core.execute.run_report``)
into a :class:`RunComparison`: one :class:`RunRow` per figure — the end-to-end
latency (median and p90), each stage's compute, each hop's time there and back —
each with the predicted and the measured milliseconds and the error in percent.
No Qt here: the Run panel draws these rows, tests read them.

A hop's measurement is the forwarding agent's time minus the next agent's: the
link both ways (and HTTP). Its prediction is therefore the plan's transfer into
the next stage plus the way back: the route's one-way latency and the model's
outputs over the backward bandwidth, the same terms ``core.execute.predicted_as_run_ms``
sums for the whole path (they belong there per hop too; that module is being
changed by another engineer, so the per-hop split is made here for now).

Example
-------
>>> comparison_from_report(report, spec).rows[0].name        # doctest: +SKIP
'end to end, median'
"""

from __future__ import annotations

__all__ = ["RunRow", "RunComparison", "comparison_from_report"]

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunRow:
    """One figure of a run: what the plan predicted, what was measured (ms), and the error (%)."""

    kind: str  # "end to end", "stage" or "hop"
    name: str
    predicted_ms: float | None
    measured_ms: float | None
    #: basis of the prediction and of the measurement, for a tooltip
    note: str = ""
    #: a short name for a chart's axis
    short: str = ""

    @property
    def error_pct(self) -> float | None:
        """(measured - predicted) / predicted in percent; None when either is missing."""
        p, m = self.predicted_ms, self.measured_ms
        if p is None or m is None or not math.isfinite(m) or p <= 0:
            return None
        return 100.0 * (m - p) / p


@dataclass(frozen=True)
class RunComparison:
    """A run of a plan, summarised for the window (see the module docstring)."""

    plan_label: str
    requests: int
    rows: tuple[RunRow, ...]
    notes: tuple[str, ...] = ()
    #: the whole report, as ``edgeplan run --out`` writes it
    report: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def row(self, name: str) -> RunRow:
        """The row called ``name`` (KeyError naming the rows there are)."""
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no row {name!r}; rows: {[r.name for r in self.rows]}")


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(float(x)) else None


def _output_bytes(output_shapes: dict[str, list[int]]) -> int:
    """The model's outputs in bytes as a run returns them (float32, uncompressed)."""
    total = 0
    for shape in output_shapes.values():
        n = 1
        for d in shape:
            n *= max(1, int(d))
        total += 4 * n
    return total


def comparison_from_report(report: dict[str, Any], spec: Any, plan_label: str = "") -> RunComparison:
    """The rows of a run ``report`` of the plan behind ``spec`` (an ``ExecutionSpec``)."""
    pred, meas = report["predicted"], report["measured"]
    as_run = _num(report.get("predicted_as_run", {}).get("latency_ms"))
    planned = _num(pred.get("latency_ms"))
    e2e_pred = as_run if as_run is not None else planned
    e2e_note = ("predicted: the plan's stages and hops on the path the run takes (through the stages and back "
                f"along the chain); the plan itself predicts {planned or float('nan'):.2f} ms to the consumer. "
                f"measured: {meas.get('latency_from', 'end to end')}, wall clock")
    rows = [RunRow("end to end", "end to end, median", e2e_pred, _num(meas.get("latency_ms_median")), e2e_note,
                   "e2e median"),
            RunRow("end to end", "end to end, p90", e2e_pred, _num(meas.get("latency_ms_p90")),
                   e2e_note + "; the plan predicts one figure, set against the 90th percentile", "e2e p90")]
    for s in report.get("stages", []):
        rows.append(RunRow("stage", f"stage {s['index']} on {s['device']} ({s['level']})",
                           _num(s.get("predicted_compute_ms")), _num(s.get("measured_compute_ms_median")),
                           f"predicted from {s.get('predicted_provenance', '?')}; measured: the agent's timing "
                           "of its session call (median, wall)", f"stage {s['index']}"))
    back_bytes = _output_bytes(dict(spec.plan.model.output_shapes))
    measured_hops = iter(report.get("hops", []))
    n_hop = 0
    for hop in spec.hops:
        if hop is None:
            continue
        h = next(measured_hops, None)
        n_hop += 1
        back_ms = hop.latency_ms + (back_bytes * 8 / (hop.backward_mbps * 1e6) * 1e3 if hop.backward_mbps > 0 else 0.0)
        links = "+".join(hop.links) or f"{hop.from_device}→{hop.to_device}"
        rows.append(RunRow("hop", f"hop {hop.from_device}→{hop.to_device} ({links})", hop.predicted_ms + back_ms,
                           _num(h.get("measured_round_trip_ms_median")) if h else None,
                           f"there and back: predicted {hop.predicted_ms:.2f} ms there (the plan's transfer) + "
                           f"{back_ms:.2f} ms back ({hop.latency_ms:g} ms latency, {back_bytes} B of outputs at "
                           f"{hop.backward_mbps:g} Mbps); measured: the forwarding agent's time minus the next "
                           "agent's (link both ways, HTTP and tensor frames)", f"hop {n_hop}"))
    return RunComparison(plan_label or str(report.get("plan", "")), int(report.get("requests", 0)), tuple(rows),
                         tuple(report.get("notes", [])), report)
