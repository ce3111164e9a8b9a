"""Running a plan for real: what to run where, and the measured-against-predicted report.

The network side (agents, the link emulator) lives in :mod:`planner_app.agent`;
this module holds the pure parts both ends agree on:

- :func:`execution_spec` reads an exported plan (untrusted: validated, every part
  resolved inside the plan's folder and hashed against the sha256 the plan
  names) into an :class:`ExecutionSpec`: the stages in order with their device,
  part file and predicted compute time, and for each hop between consecutive
  stages (and from the workload's source to the first stage, and from the last
  stage to the consumer) the summed latency and bottleneck bandwidth in each
  direction of the route the plan's transfer takes, from the plan's own topology,
  which is what the link emulator imposes;
- :func:`run_report` turns per-request timings into the report ``edgeplan run``
  prints and writes: end-to-end latency (median, p90), throughput, per-stage
  compute and per-hop time, each beside the plan's prediction with the error in
  percent, and the notes that bound how far the comparison can be trusted.

Times are wall-clock milliseconds (the clock a user sees); the plan's compute
figures are in its profile's clock (usually a dedicated core's CPU time), which
the plan states (``measurement.clock``) and the report repeats. The report gives
both: end-to-end latency in wall time, and the same with each stage's compute
counted in the computing thread's CPU time (what a dedicated core would take),
each beside the prediction. Every measured median carries its 95 % interval
(order statistics over the requests) and every figure its provenance.
"""

from __future__ import annotations

__all__ = ["ExecutionError", "HopSpec", "StageSpec", "ExecutionSpec", "RequestTiming", "execution_spec",
           "sample_inputs", "run_report", "predicted_as_run_ms"]

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import sha256_file
from planner_app.core.plans.records import DeploymentPlan, has_parts, load_plan
from planner_app.core.profiling.records import median_ci
from planner_app.core.topology.io import topology_from_dict
from planner_app.core.topology.routes import Router


class ExecutionError(PlannerError):
    """A plan that cannot be run: no parts, a part missing or changed, a device without an agent."""


@dataclass(frozen=True)
class HopSpec:
    """The emulated path between two devices: one-way latency, bandwidth each way."""

    from_device: str
    to_device: str
    latency_ms: float
    forward_mbps: float
    backward_mbps: float
    links: tuple[str, ...]
    #: what the plan predicts for the tensors that cross here (0 when it names no transfer)
    predicted_ms: float = 0.0
    wire_bytes: int = 0
    codec: str = "none"


@dataclass(frozen=True)
class StageSpec:
    """One stage: where it runs, its part file and what the plan predicts for it."""

    index: int
    device: str
    level: str
    part_path: Path
    part_sha256: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    predicted_compute_ms: float
    provenance: str


@dataclass(frozen=True)
class ExecutionSpec:
    """What running a plan needs: stages in order, hops between them, inputs, outputs."""

    plan_path: Path
    plan: DeploymentPlan
    stages: tuple[StageSpec, ...]
    #: hops[0]: source → stage 0's device; hops[k]: stage k-1 → stage k (None: same device)
    hops: tuple[HopSpec | None, ...]
    #: for each stage k >= 1: the tensors the hop into it carries (what it and later stages read)
    carried: tuple[tuple[str, ...], ...]
    source: str
    consumer: str
    #: the results' message from the last stage's device to the consumer (None: the consumer runs the
    #: last stage, or the workload's results stay there)
    delivery: HopSpec | None = None

    @property
    def devices(self) -> list[str]:
        """The planned devices, in stage order, once each."""
        return list(dict.fromkeys(s.device for s in self.stages))


def _resolve_part(plan_dir: Path, rel: str, sha: str, stage: int) -> Path:
    path = (plan_dir / rel).resolve()
    if not path.is_relative_to(plan_dir.resolve()):
        raise ExecutionError(f"stage {stage}: part path {rel!r} leads out of the plan's folder: re-export the plan")
    if not path.is_file():
        raise ExecutionError(f"stage {stage}: part file '{path}' is missing: keep the parts/ folder beside the "
                             "plan, or export it again")
    if sha256_file(path) != sha:
        raise ExecutionError(f"stage {stage}: part file '{path}' does not hash to the plan's sha256 {sha[:12]}…: "
                             "it changed after export; export the plan again")
    return path


def execution_spec(plan_path: str | Path) -> ExecutionSpec:
    """Read and check the plan at ``plan_path`` and derive what running it needs."""
    plan_path = Path(plan_path)
    plan = load_plan(plan_path)
    if not has_parts(plan):
        raise ExecutionError(f"plan '{plan_path}' has no part files (a layer-table plan): only ONNX plans run")
    topo = topology_from_dict(plan.topology.document, f"the topology inside plan '{plan_path}'")
    router = Router(topo)
    source = plan.workload.source
    consumer = plan.workload.consumer or source
    stages = []
    for st in sorted(plan.stages, key=lambda s: s.index):
        assert st.artifact is not None  # has_parts
        stages.append(StageSpec(st.index, st.device, st.level, _resolve_part(plan_path.parent, st.artifact.path,
                                st.artifact.sha256, st.index), st.artifact.sha256, tuple(st.inputs),
                                tuple(st.outputs), st.compute_ms, st.provenance))

    links = {lk.id: lk for lk in topo.links}

    def route_of(a: str, b: str, moves: list[Any]) -> tuple[float, float, float, tuple[str, ...]]:
        """(latency, bandwidth there, bandwidth back, links) of the route the plan's message takes
        (the one its transfer names: the cost model picks routes for the payload), else the best
        route for no payload."""
        named = next((t for t in moves if t.from_device == a and t.to_device == b
                      and all(lid in links for lid in t.route_links)), None)
        if named is not None and len(named.route_devices) == len(named.route_links) + 1:
            devs, lids = named.route_devices, named.route_links
            there_bw = min(links[lid].bandwidth_from(devs[i]) for i, lid in enumerate(lids))
            back_bw = min(links[lid].bandwidth_from(devs[i + 1]) for i, lid in enumerate(lids))
            return sum(links[lid].latency_ms for lid in lids), there_bw, back_bw, tuple(lids)
        there, back = router.routes_from(a).get(b), router.routes_from(b).get(a)
        if there is None or back is None:
            raise ExecutionError(f"plan '{plan_path}': no route between {a!r} and {b!r} in its topology")
        return there.latency_ms, there.bottleneck_mbps, back.bottleneck_mbps, tuple(there.links)

    def hop(a: str, b: str, to_stage: int | None) -> HopSpec:
        moves = [t for t in plan.transfers if t.to_stage == to_stage]
        latency, there_bw, back_bw, route = route_of(a, b, moves)
        return HopSpec(a, b, latency, there_bw, back_bw, route,
                       predicted_ms=max((t.transfer_ms for t in moves), default=0.0),
                       wire_bytes=sum(t.wire_bytes for t in moves),
                       codec=",".join(sorted({t.codec for t in moves})) or "none")

    def stage_hop(a: str, b: str, to_stage: int) -> HopSpec | None:
        return None if a == b else hop(a, b, to_stage)

    def delivery_hop() -> HopSpec | None:
        last = stages[-1].device
        if plan.workload.results_stay or consumer == last:
            return None
        return hop(last, consumer, None)

    hops = [stage_hop(source, stages[0].device, stages[0].index)]
    hops += [stage_hop(stages[k - 1].device, stages[k].device, stages[k].index) for k in range(1, len(stages))]
    model_outputs = set(plan.model.output_names)
    carried: list[tuple[str, ...]] = [()]
    for k in range(1, len(stages)):
        later = {t for s in stages[k:] for t in s.inputs}
        produced = {t for s in stages[:k] for t in s.outputs} | set(plan.model.input_shapes)
        carried.append(tuple(sorted(produced & (later | model_outputs))))
    return ExecutionSpec(plan_path, plan, tuple(stages), tuple(hops), tuple(carried), source, consumer,
                         delivery_hop())


def sample_inputs(spec: ExecutionSpec, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` random requests of the plan's input shapes and dtypes (standard normal floats)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        feed = {}
        for name, shape in spec.plan.model.input_shapes.items():
            dtype = np.dtype(spec.plan.model.input_dtypes.get(name, "float32"))
            if dtype.kind == "f":
                feed[name] = rng.standard_normal(shape).astype(dtype)
            else:
                feed[name] = rng.integers(0, 2, size=shape).astype(dtype)
        out.append(feed)
    return out


@dataclass
class RequestTiming:
    """One request as measured: end to end, per stage (compute, time in the agent), per hop."""

    e2e_ms: float
    compute_ms: list[float] = field(default_factory=list)
    agent_ms: list[float] = field(default_factory=list)
    #: per hop (as in ExecutionSpec.hops): the time there and back that no agent explains
    hop_ms: list[float] = field(default_factory=list)
    #: per stage: the computing thread's CPU time (the profile's clock with one thread; nan if unknown)
    compute_cpu_ms: list[float] = field(default_factory=list)
    #: per stage: reading and decoding its request; encoding its reply (0 where it forwards)
    receive_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)
    #: the plan's path, timed by the agents' clocks: from the source holding the input (the client
    #: sending it, or stage 0's agent having decoded it when the source runs stage 0) to the
    #: consumer's agent having decoded the results (or the last stage done when they stay there)
    consumer_e2e_ms: float | None = None
    #: per hop (as in ExecutionSpec.hops; 0 where none): one way, sender's encode to receiver's decode
    hop_one_way_ms: list[float] = field(default_factory=list)
    #: the results' message to the consumer, one way (None without one)
    delivery_ms: float | None = None

    def plan_latency_ms(self, source_runs_stage_0: bool) -> float:
        """The request as the plan sees it: from the source device holding the input to the result
        back. When the source runs stage 0 itself no network comes before it: the client's call into
        the first agent (loopback HTTP, reading and decoding the input, encoding the reply of a
        one-stage chain) is not part of the plan and is left out. When the agents timed the
        request to the consumer (``consumer_e2e_ms``), that is the figure."""
        if self.consumer_e2e_ms is not None:
            return self.consumer_e2e_ms
        if not (source_runs_stage_0 and self.agent_ms):
            return self.e2e_ms
        inner = self.agent_ms[0] - (self.receive_ms[0] if self.receive_ms else 0.0)
        if len(self.agent_ms) == 1 and self.reply_ms:
            inner -= self.reply_ms[0]
        return inner


def _pct(measured: float, predicted: float) -> float | None:
    return None if predicted <= 0 else round(100.0 * (measured - predicted) / predicted, 1)


def _q(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _ci(values: list[float]) -> list[float] | None:
    """The 95 % interval of the median of ``values`` (None without values)."""
    if not values:
        return None
    lo, hi = median_ci(values)
    return [lo, hi]


def _cpu_compute_latency(t: RequestTiming, on_source: bool) -> float:
    """The request's latency with each stage's compute in CPU time instead of wall time (nan if unknown)."""
    if not t.compute_cpu_ms or any(c != c for c in t.compute_cpu_ms):
        return float("nan")
    return t.plan_latency_ms(on_source) - sum(w - c for w, c in zip(t.compute_ms, t.compute_cpu_ms, strict=False))


def predicted_as_run_ms(spec: ExecutionSpec, *, to_consumer: bool = False) -> float:
    """The plan's own figures re-assembled for the path a run measures.

    ``to_consumer``: the run delivers the results to the consumer's agent, as the plan
    assumes: every stage's predicted compute, every hop's predicted transfer into the next
    stage and the results' transfer to the consumer (each with its per-message overhead) —
    the plan's latency re-added from its parts.

    Otherwise (a run that returns the results back along the chain to the source, or to stage
    0's agent when the source runs it): the same stages and hops, and, for the way back, each
    hop's one-way latency plus the model outputs (uncompressed) over its backward bandwidth.
    """
    if to_consumer:
        total = sum(st.predicted_compute_ms for st in spec.stages)
        total += sum(h.predicted_ms for h in spec.hops if h is not None)
        return total + (spec.delivery.predicted_ms if spec.delivery is not None else 0.0)
    out_bytes = 0
    for shape in spec.plan.model.output_shapes.values():
        n = 1
        for d in shape:
            n *= max(1, int(d))
        out_bytes += 4 * n  # float32 outputs (most models'), sent back as they are
    total = sum(st.predicted_compute_ms for st in spec.stages)
    for hop in spec.hops:
        if hop is None:
            continue
        back = hop.latency_ms + (out_bytes * 8 / (hop.backward_mbps * 1e6) * 1e3 if hop.backward_mbps > 0 else 0.0)
        total += hop.predicted_ms + back
    return total


def _band(plan: DeploymentPlan, key: str) -> list[float] | None:
    u = plan.uncertainty.get(key)
    return [u.low, u.high] if u is not None and u.low is not None and u.high is not None else None


def run_report(spec: ExecutionSpec, timings: list[RequestTiming], *, wall_s: float, rate_rps: float | None,
               mode: str, output_diff: tuple[float, float] | None, notes: list[str]) -> dict[str, Any]:
    """The report of a run: predicted beside measured, with errors in percent (JSON-ready).

    ``output_diff``: (max absolute, max relative to the largest reference value) difference
    of the outputs against the plan's parts chained in one process, or None if not compared.
    """
    plan = spec.plan
    on_source = spec.hops[0] is None
    e2e = [t.plan_latency_ms(on_source) for t in timings]
    e2e_cpu = [x for x in (_cpu_compute_latency(t, on_source) for t in timings) if x == x]
    client = [t.e2e_ms for t in timings]
    predicted = plan.totals.latency_ms or 0.0
    basis = plan.measurement
    plan_clock = basis.clock if basis is not None else "unknown (a plan written before plans stated their clock)"
    band = plan.uncertainty.get("totals.latency_ms")
    stages = []
    for k, st in enumerate(spec.stages):
        comp = [t.compute_ms[k] for t in timings if len(t.compute_ms) > k]
        cpu = [t.compute_cpu_ms[k] for t in timings if len(t.compute_cpu_ms) > k and t.compute_cpu_ms[k] == t.compute_cpu_ms[k]]
        stages.append({"index": st.index, "device": st.device, "level": st.level,
                       "predicted_compute_ms": st.predicted_compute_ms, "predicted_provenance": st.provenance,
                       "predicted_interval_ms": _band(plan, f"stages[{st.index}].compute_ms"),
                       "measured_compute_ms_median": _q(comp, 50), "measured_compute_ms_p90": _q(comp, 90),
                       "measured_compute_ms_ci95": _ci(comp),
                       "error_pct": _pct(_q(comp, 50), st.predicted_compute_ms),
                       "measured_compute_cpu_ms_median": _q(cpu, 50), "measured_compute_cpu_ms_ci95": _ci(cpu),
                       "error_cpu_pct": _pct(_q(cpu, 50), st.predicted_compute_ms) if cpu else None})
    hops = []
    for k, hp in enumerate(spec.hops):
        if hp is None:
            continue
        got = [t.hop_ms[k] for t in timings if len(t.hop_ms) > k]
        one = [t.hop_one_way_ms[k] for t in timings if len(t.hop_one_way_ms) > k]
        hops.append({"from": hp.from_device, "to": hp.to_device, "links": list(hp.links),
                     "latency_ms": hp.latency_ms, "forward_mbps": hp.forward_mbps, "backward_mbps": hp.backward_mbps,
                     "codec_planned": hp.codec, "predicted_one_way_ms": hp.predicted_ms,
                     "measured_one_way_ms_median": _q(one, 50), "measured_one_way_ms_ci95": _ci(one),
                     "error_pct": _pct(_q(one, 50), hp.predicted_ms) if one else None,
                     "measured_round_trip_ms_median": _q(got, 50), "measured_round_trip_ms_ci95": _ci(got)})
    dl = spec.delivery
    delivered = [t.delivery_ms for t in timings if t.delivery_ms is not None]
    if dl is not None:
        hops.append({"from": dl.from_device, "to": dl.to_device, "links": list(dl.links), "results": True,
                     "latency_ms": dl.latency_ms, "forward_mbps": dl.forward_mbps, "backward_mbps": dl.backward_mbps,
                     "codec_planned": dl.codec, "predicted_one_way_ms": dl.predicted_ms,
                     "measured_one_way_ms_median": _q(delivered, 50), "measured_one_way_ms_ci95": _ci(delivered),
                     "error_pct": _pct(_q(delivered, 50), dl.predicted_ms) if delivered else None,
                     # no round trip: the consumer answers the last stage, not the chain
                     "measured_round_trip_ms_median": None, "measured_round_trip_ms_ci95": None})
    to_consumer = bool(timings) and all(t.consumer_e2e_ms is not None for t in timings)
    as_run = predicted_as_run_ms(spec, to_consumer=to_consumer)
    done = len(timings)
    measured_rps = done / wall_s if wall_s > 0 else float("nan")
    return {
        "plan": str(spec.plan_path), "mode": mode, "requests": done, "rate_rps": rate_rps,
        "clock": {"measured": "wall; per-stage compute also as the computing thread's CPU time, and the "
                              "end-to-end latency with each stage's compute in that CPU time",
                  "predicted": plan_clock,
                  "predicted_note": basis.clock_note if basis is not None else ""},
        "predicted": {"latency_ms": predicted, "latency_interval_ms": [band.low, band.high]
                      if band is not None and band.low is not None else None,
                      "latency_interval_basis": band.basis if band is not None else "the plan states none",
                      "latency_at_rate_ms": plan.totals.latency_at_rate_ms,
                      "throughput_rps": plan.totals.throughput_rps,
                      "part_overhead_ms": basis.part_overhead_ms if basis is not None else None},
        "measured": {"latency_ms_median": _q(e2e, 50), "latency_ms_ci95": _ci(e2e), "latency_ms_p90": _q(e2e, 90),
                     "latency_ms_min": min(e2e, default=float("nan")),
                     "latency_cpu_compute_ms_median": _q(e2e_cpu, 50), "latency_cpu_compute_ms_ci95": _ci(e2e_cpu),
                     "client_latency_ms_median": _q(client, 50), "throughput_rps": measured_rps, "wall_s": wall_s,
                     "latency_from": ("stage 0's agent having decoded the input (the source runs stage 0)"
                                      if on_source else "the client (the source device) encoding the input"),
                     "latency_to": ((f"the consumer {spec.consumer!r}'s agent having decoded the results"
                                     if spec.delivery is not None else
                                     "the last stage done (the consumer runs it, or the results stay there)")
                                    if to_consumer else "the results back at the client, along the chain")},
        "predicted_as_run": {
            "latency_ms": as_run,
            "basis": ("the plan's stage compute, hop and results transfer predictions re-added: the run takes "
                      "the plan's path (results delivered to the consumer)") if to_consumer else
                     ("the plan's stage compute and transfer predictions on the path the run measures: through "
                      "the stages and back along the chain to the source (the plan predicts delivery to the "
                      f"consumer {spec.consumer!r} instead); the way back: each hop's latency and the outputs over "
                      "its backward bandwidth")},
        "error_pct": {"latency_median": _pct(_q(e2e, 50), predicted),
                      "latency_median_as_run": _pct(_q(e2e, 50), as_run),
                      "latency_median_cpu_compute": _pct(_q(e2e_cpu, 50), predicted) if e2e_cpu else None},
        "provenance": {
            "predicted": f"the plan '{spec.plan_path.name}' (its provenance and uncertainty sections)",
            "measured.latency_ms_*": f"{done} requests timed in wall clock, {mode}; intervals: 95 % order "
                                     "statistics of the median over the requests",
            "measured.latency_cpu_compute_ms_*": "each request's wall latency with every stage's compute "
                                                 "replaced by its thread CPU time (agents with one thread)",
            "stages[].measured_compute_*": "the agent's timing of its session call (wall; cpu: thread CPU time)",
            "hops[].measured_round_trip_ms_*": "the forwarding agent's time minus the next agent's: link both "
                                               "ways, HTTP and tensor frames",
            "hops[].measured_one_way_ms_*": "the receiver's clock when the tensors are decoded minus the "
                                            "sender's when it began encoding them (agents on one host share "
                                            "a clock; remote agents' clocks are offset by echo probes)",
        },
        "stages": stages, "hops": hops,
        "output_max_abs_diff_vs_local_chain": output_diff[0] if output_diff else None,
        "output_max_rel_diff_vs_local_chain": output_diff[1] if output_diff else None,
        "notes": notes,
    }
