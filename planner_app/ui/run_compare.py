"""Measured against predicted, as the window shows a plan's run: rows of one table and one chart.

:func:`comparison_from_report` turns the report of a run
(:func:`planner_app.agent.plan_runner.run_local` → ``core.execute.run_report``)
into a :class:`RunComparison`: one :class:`RunRow` per figure — the end-to-end
latency (median, p90, and the median with each stage's compute in CPU time), each
stage's compute, each message's one-way time (from stage to stage, the source's
raw input and the results to the consumer included) — each with the predicted and
the measured milliseconds and the error in percent. No Qt here: the Run panel draws
these rows, tests read them.

The end-to-end prediction is ``core.execute.predicted_as_run_ms`` as the report
gives it: the plan's stages and messages scheduled by its execution model (the
run executes the plan as planned, so that is the plan's own latency re-added from
its parts). A message's measurement is one way (the receiver decoding the tensors
minus the sender starting to encode them, on agents that share a clock); its
prediction includes any wait for a link shared with earlier messages. A report of
an older run without one-way times falls back to the round trip against the
transfer there and the way back.

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


def comparison_from_report(report: dict[str, Any], spec: Any, plan_label: str = "") -> RunComparison:
    """The rows of a run ``report`` of the plan behind ``spec`` (an ``ExecutionSpec``)."""
    pred, meas = report["predicted"], report["measured"]
    as_run = _num(report.get("predicted_as_run", {}).get("latency_ms"))
    planned = _num(pred.get("latency_ms"))
    e2e_pred = as_run if as_run is not None else planned
    basis = report.get("predicted_as_run", {}).get("basis", "")
    e2e_note = (f"predicted: {basis or 'the plan'} ({e2e_pred or float('nan'):.2f} ms; the plan itself states "
                f"{planned or float('nan'):.2f} ms). measured: from {meas.get('latency_from', 'the start')} to "
                f"{meas.get('latency_to', 'the end')}, wall clock")
    rows = [RunRow("end to end", "end to end, median", e2e_pred, _num(meas.get("latency_ms_median")), e2e_note,
                   "e2e median"),
            RunRow("end to end", "end to end, p90", e2e_pred, _num(meas.get("latency_ms_p90")),
                   e2e_note + "; the plan predicts one figure, set against the 90th percentile", "e2e p90")]
    cpu = _num(meas.get("latency_cpu_compute_ms_median"))
    if cpu is not None:
        rows.append(RunRow("end to end", "end to end, median, compute as CPU time", e2e_pred, cpu,
                           e2e_note + "; each stage's compute counted in its thread's CPU time (the plan's clock: "
                           "what a dedicated core would take; the wall figure also holds waiting for a shared CPU)",
                           "e2e cpu"))
    for s in report.get("stages", []):
        rows.append(RunRow("stage", f"stage {s['index']} on {s['device']} ({s['level']})",
                           _num(s.get("predicted_compute_ms")), _num(s.get("measured_compute_ms_median")),
                           f"predicted from {s.get('predicted_provenance', '?')}; measured: the agent's timing "
                           "of its session call (median, wall)", f"stage {s['index']}"))
    for n, h in enumerate(report.get("hops", []), start=1):
        links = "+".join(h.get("links", [])) or f"{h['from']}→{h['to']}"
        one_way = _num(h.get("measured_one_way_ms_median"))
        what = "results" if h.get("results") else "hop"
        stages = ""
        if "from_stage" in h:  # a dataflow run names the stages a message joins
            frm = "input" if h["from_stage"] is None else f"stage {h['from_stage']}"
            to = "consumer" if h.get("to_stage") is None else f"stage {h['to_stage']}"
            stages = f"{frm} → {to}: "
        if one_way is not None or h.get("results"):
            rows.append(RunRow("hop", f"{what} {stages}{h['from']}→{h['to']} ({links})", _num(h.get("predicted_one_way_ms")),
                               one_way,
                               f"one way: predicted {(_num(h.get('predicted_one_way_ms')) or float('nan')):.2f} ms "
                               f"(the plan's transfer, codec {h.get('codec_planned', '?')}); measured: the receiver "
                               "decoding the tensors minus the sender starting to encode them", f"{what} {n}"))
        else:  # a report without one-way times: the round trip against there and back
            back_bytes = _output_bytes(dict(spec.plan.model.output_shapes))
            lat, bw = float(h.get("latency_ms", 0.0)), float(h.get("backward_mbps", 0.0))
            back_ms = lat + (back_bytes * 8 / (bw * 1e6) * 1e3 if bw > 0 else 0.0)
            there = _num(h.get("predicted_one_way_ms")) or 0.0
            rows.append(RunRow("hop", f"hop {h['from']}→{h['to']} ({links})", there + back_ms,
                               _num(h.get("measured_round_trip_ms_median")),
                               f"there and back: predicted {there:.2f} ms there + {back_ms:.2f} ms back; measured: "
                               "the forwarding agent's time minus the next agent's", f"hop {n}"))
    return RunComparison(plan_label or str(report.get("plan", "")), int(report.get("requests", 0)), tuple(rows),
                         tuple(report.get("notes", [])), report)


def _output_bytes(output_shapes: dict[str, list[int]]) -> int:
    """The model's outputs in bytes as a run returns them (float32, uncompressed)."""
    total = 0
    for shape in output_shapes.values():
        n = 1
        for d in shape:
            n *= max(1, int(d))
        total += 4 * n
    return total
