"""Running a plan for real: what to run where, and the measured-against-predicted report.

The network side (agents, the link emulator) lives in :mod:`planner_app.agent`;
this module holds the pure parts both ends agree on:

- :func:`execution_spec` reads an exported plan (untrusted: validated, every part
  resolved inside the plan's folder and hashed against the sha256 the plan
  names) into an :class:`ExecutionSpec`: the stages in order with their device,
  part file and predicted compute time, and the plan's messages (the raw inputs
  from the source, tensors from a stage straight to each device that reads them,
  the results to the consumer) with the summed latency and bottleneck bandwidth in
  each direction of the route each takes, from the plan's own topology, which is
  what the link emulator imposes; it checks that the plan's dataflow holds;
- :func:`request_timing` turns the agents' timing records of one request into its
  :class:`RequestTiming`; :func:`run_report` turns those into the report ``edgeplan
  run`` prints and writes: end-to-end latency (median, p90), throughput, per-stage
  compute and per-message time, each beside the plan's prediction with the error in
  percent, and the notes that bound how far the comparison can be trusted.

A run executes the plan the way its cost model predicts it
(``core.optimizer.dataflow``): a device runs its stages one after another,
distinct devices at the same time, and a message leaves when its stage ends.

Times are wall-clock milliseconds (the clock a user sees); the plan's compute
figures are in its profile's clock (usually a dedicated core's CPU time), which
the plan states (``measurement.clock``) and the report repeats. The report gives
both: end-to-end latency in wall time, and the same with each stage's compute
counted in the computing thread's CPU time (what a dedicated core would take) —
the request re-timed along the plan's dataflow — each beside the prediction. Every measured median carries its 95 % interval
(order statistics over the requests) and every figure its provenance.
"""

from __future__ import annotations

__all__ = ["ExecutionError", "MessageSpec", "StageSpec", "ExecutionSpec", "RequestTiming", "execution_spec",
           "sample_inputs", "request_timing", "run_report", "predicted_as_run_ms"]

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import sha256_file
from planner_app.core.plans.records import DeploymentPlan, has_parts, load_plan
from planner_app.core.plans.rederive import route_holds
from planner_app.core.profiling.records import median_ci
from planner_app.core.topology.io import topology_from_dict
from planner_app.core.topology.routes import Router


class ExecutionError(PlannerError):
    """A plan that cannot be run: no parts, a part missing or changed, a device without an agent."""


@dataclass(frozen=True)
class MessageSpec:
    """One message of the plan: tensors from a stage (or the source's raw inputs) to a device, or the
    results to the consumer; the route the link emulator imposes, and what the plan predicts."""

    #: its index in the plan's transfers (how agents name it)
    key: int
    #: the producing stage's index (None: the raw inputs, from the source)
    from_stage: int | None
    #: the first stage that reads it (None: the results, to the consumer)
    to_stage: int | None
    from_device: str
    to_device: str
    tensors: tuple[str, ...]
    latency_ms: float
    forward_mbps: float
    backward_mbps: float
    links: tuple[str, ...]
    #: what the plan predicts for it, one way: route latency, wire bytes over the bottleneck, per-message
    #: overhead, and any wait for links still sending earlier messages (``queue_ms``)
    predicted_ms: float = 0.0
    wire_bytes: int = 0
    codec: str = "none"
    queue_ms: float = 0.0
    #: (directed link, its bandwidth in this direction, Mbps) for each link of the route: messages crossing
    #: the same directed link share it (the link emulator paces them on one clock per directed link)
    link_dirs: tuple[tuple[str, float], ...] = ()

    @property
    def results(self) -> bool:
        return self.to_stage is None


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
    """What running a plan needs: its stages (in topological order) and its messages.

    The run follows the plan's execution model (``core.optimizer.dataflow``): a device
    runs its stages one after another, devices run at the same time, and each message
    goes straight from the device that makes its tensors to the device that reads them.
    """

    plan_path: Path
    plan: DeploymentPlan
    stages: tuple[StageSpec, ...]
    messages: tuple[MessageSpec, ...]
    source: str
    consumer: str
    #: the plan's topology (records)
    topology: Any = None

    @property
    def devices(self) -> list[str]:
        """The devices that run stages, in stage order, once each."""
        return list(dict.fromkeys(s.device for s in self.stages))

    @property
    def agent_devices(self) -> list[str]:
        """Every device of the run that needs an agent: the stages' and a consumer that results go to."""
        return list(dict.fromkeys([*self.devices, *(m.to_device for m in self.messages if m.results)]))

    @property
    def source_has_agent(self) -> bool:
        """Whether the source is one of the run's agents (its raw inputs are injected there); else the
        client stands in for the source and sends the raw-input messages itself."""
        return self.source in self.agent_devices

    @property
    def delivers(self) -> bool:
        """Whether results cross to the consumer (else the request ends when the last stage does)."""
        return any(m.results for m in self.messages)


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
    """Read and check the plan at ``plan_path`` and derive what running it needs.

    Besides the parts, the plan's dataflow is checked: walking the stages in order,
    every tensor a stage reads is a raw input at the source, made earlier on its
    device, or brought there by an earlier message; every message carries tensors its
    sender holds by then. A plan that fails this cannot run and says which tensor.
    """
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
    if [s.index for s in stages] != list(range(len(stages))):
        raise ExecutionError(f"plan '{plan_path}': stage indices {[s.index for s in stages]} are not 0..n-1")
    links = {lk.id: lk for lk in topo.links}

    def route_of(t: Any) -> tuple[float, float, float, tuple[str, ...], tuple[tuple[str, float], ...]]:
        """(latency, bandwidth there, bandwidth back, links, (directed link, its bandwidth there) each) of
        the route the transfer names (the cost model picks routes for the payload), else the best route
        for no payload."""
        a, b = t.from_device, t.to_device
        if route_holds(t, links) and t.route_devices[0] == a and t.route_devices[-1] == b:
            devs, lids = list(t.route_devices), list(t.route_links)
            back_bw = min(links[lid].bandwidth_from(devs[i + 1]) for i, lid in enumerate(lids))
            latency = sum(links[lid].latency_ms for lid in lids)
        else:
            there, back = router.routes_from(a).get(b), router.routes_from(b).get(a)
            if there is None or back is None:
                raise ExecutionError(f"plan '{plan_path}': no route between {a!r} and {b!r} in its topology")
            devs, lids = list(there.devices), list(there.links)
            back_bw, latency = back.bottleneck_mbps, there.latency_ms
        dirs = tuple((f"{lid}:{devs[i]}>{devs[i + 1]}", links[lid].bandwidth_from(devs[i])) for i, lid in enumerate(lids))
        return latency, min(bw for _, bw in dirs), back_bw, tuple(lids), dirs

    messages = []
    for key, t in enumerate(plan.transfers):
        if t.from_device == t.to_device:
            continue
        latency, there_bw, back_bw, route, dirs = route_of(t)
        messages.append(MessageSpec(key, t.from_stage, t.to_stage, t.from_device, t.to_device, tuple(t.tensors),
                                    latency, there_bw, back_bw, route, predicted_ms=t.transfer_ms + t.queue_ms,
                                    wire_bytes=t.wire_bytes, codec=t.codec, queue_ms=t.queue_ms, link_dirs=dirs))
    spec = ExecutionSpec(plan_path, plan, tuple(stages), tuple(messages), source, consumer, topo)
    _check_dataflow(spec)
    return spec


def _check_dataflow(spec: ExecutionSpec) -> None:
    """Every tensor is where it is read when it is read (see :func:`execution_spec`)."""
    where = f"plan '{spec.plan_path}'"
    raw = set(spec.plan.model.input_shapes)
    held: dict[str, set[str]] = {spec.source: set(raw)}

    def carry(m: MessageSpec) -> None:
        have = held.get(m.from_device, set())
        missing = sorted(set(m.tensors) - have)
        if missing:
            what = "the raw inputs" if m.from_stage is None else f"stage {m.from_stage}"
            raise ExecutionError(f"{where}: message {m.key} ({m.from_device} → {m.to_device}, after {what}) carries "
                                 f"{missing}, which {m.from_device!r} does not hold by then: export the plan again")
        held.setdefault(m.to_device, set()).update(m.tensors)

    by_stage: dict[int | None, list[MessageSpec]] = {}
    for m in spec.messages:
        by_stage.setdefault(m.from_stage, []).append(m)
    for m in by_stage.get(None, []):
        carry(m)
    for st in spec.stages:
        missing = sorted(set(st.inputs) - held.get(st.device, set()))
        if missing:
            raise ExecutionError(f"{where}: stage {st.index} on {st.device!r} reads {missing}, which no earlier "
                                 "stage there makes and no message brings: export the plan again")
        held.setdefault(st.device, set()).update(st.outputs)
        for m in by_stage.get(st.index, []):
            carry(m)


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
    """One request as measured, in the client's clock (agents' stamps offset to it)."""

    #: the plan's path: from the source holding the input (its agent having decoded the injected
    #: input, or the client beginning to encode the first raw-input message when it stands in for
    #: the source) to the last result decoded at the consumer's agent, or the last stage done
    e2e_ms: float
    #: what the client saw: sending the input to every agent's answer
    client_ms: float = float("nan")
    #: per stage (as in ExecutionSpec.stages): the session call, wall and the thread's CPU time
    compute_ms: list[float] = field(default_factory=list)
    compute_cpu_ms: list[float] = field(default_factory=list)
    #: per stage: from runnable (inputs here, the device free) to the session call starting
    dispatch_ms: list[float] = field(default_factory=list)
    #: per message (as in ExecutionSpec.messages): one way, the sender beginning to encode to the
    #: receiver having decoded; and the sender's call, there and back (nan where unknown)
    message_ms: list[float] = field(default_factory=list)
    message_round_trip_ms: list[float] = field(default_factory=list)
    #: the request re-timed along the plan's dataflow with each stage's compute in CPU time (nan if unknown)
    e2e_cpu_ms: float = float("nan")


def _schedule_ms(spec: ExecutionSpec, part_ms: list[float] | None = None,
                 message_ms: Mapping[int, float] | None = None) -> float:
    """The request's latency by the plan's execution model (``core.optimizer.dataflow.schedule``).

    Without durations: the plan's own figures, messages queueing for shared links as the cost
    model has them. With measured durations (``part_ms`` per stage, ``message_ms`` by message
    key, from the sender's end to the arrival): those, any queueing already in them."""
    from dataclasses import replace

    from planner_app.core.optimizer.dataflow import PartTiming, schedule
    from planner_app.core.plans.rederive import plan_timings

    parts, msgs, results, keys = plan_timings(spec.plan, spec.topology)
    if part_ms is not None:
        parts = [PartTiming(p.device, ms) for p, ms in zip(parts, part_ms, strict=True)]
    if message_ms is not None:
        msgs = [replace(m, transfer_ms=message_ms.get(k, m.transfer_ms), links=()) for m, k in zip(msgs, keys, strict=True)]
    return schedule(parts, msgs, results).latency_ms


def request_timing(spec: ExecutionSpec, records: Mapping[str | None, Mapping[str, Any]], *, client_ms: float,
                   offsets: Mapping[str, float] | None = None) -> RequestTiming:
    """One request's :class:`RequestTiming` from the agents' timing records.

    ``records``: device → what its agent answered for the request (``stages``, ``received``,
    ``sent``, ``injected``; stamps are its ``time.time()``), and under None what the client
    did (``start_at``, and ``sent`` when it sends the raw inputs). ``offsets``: device → its
    agent's clock minus the client's, seconds (absent: the same clock).
    """
    off = dict(offsets or {})

    def at(device: str | None, t: Any) -> float:
        return float(t) - (off.get(device, 0.0) if device is not None else 0.0)

    stage_rec: dict[int, dict[str, Any]] = {}
    received: dict[int, float] = {}
    sent: dict[int, tuple[float, float]] = {}
    for device, rec in records.items():
        for r in rec.get("stages") or []:
            stage_rec[int(r["index"])] = {**r, "device": device}
        for r in rec.get("received") or []:
            received[int(r["key"])] = at(device, r["received_at"])
        for r in rec.get("sent") or []:
            sent[int(r["key"])] = (at(device, r["sent_at"]), at(device, r["answered_at"]))
    missing = [st.index for st in spec.stages if st.index not in stage_rec]
    if missing:
        raise ExecutionError(f"the agents' records lack stage(s) {missing}: an agent of another version?")
    if spec.source_has_agent:
        injected = (records.get(spec.source) or {}).get("injected")
        if not injected:
            raise ExecutionError(f"the source {spec.source!r}'s agent did not record the injected input")
        start = at(spec.source, injected["received_at"])
    else:
        start = float((records.get(None) or {})["start_at"])
    done = [at(stage_rec[st.index]["device"], stage_rec[st.index]["done_at"]) for st in spec.stages]
    begun = [at(stage_rec[st.index]["device"], stage_rec[st.index]["start_at"]) for st in spec.stages]
    ready = [at(stage_rec[st.index]["device"], stage_rec[st.index]["ready_at"]) for st in spec.stages]
    end = max([*done, *(received.get(m.key, start) for m in spec.messages if m.results)])
    nan = float("nan")
    rt = RequestTiming((end - start) * 1e3, client_ms,
                       compute_ms=[float(stage_rec[st.index]["compute_ms"]) for st in spec.stages],
                       compute_cpu_ms=[float(stage_rec[st.index].get("compute_cpu_ms") or nan) for st in spec.stages],
                       dispatch_ms=[max(0.0, (b - r) * 1e3) for b, r in zip(begun, ready, strict=True)])
    for m in spec.messages:
        s = sent.get(m.key)
        r = received.get(m.key)
        rt.message_ms.append((r - s[0]) * 1e3 if s is not None and r is not None else nan)
        rt.message_round_trip_ms.append((s[1] - s[0]) * 1e3 if s is not None else nan)
    # re-timed: each stage as dispatch + CPU compute; each message from its producer's end (or the start)
    # to its arrival, as measured (the sender's hand-off and any wait for a shared link included)
    part_cpu = [d + c for d, c in zip(rt.dispatch_ms, rt.compute_cpu_ms, strict=True)]
    msg_ms: dict[int, float] = {}
    for m in spec.messages:
        leave = start if m.from_stage is None else done[m.from_stage]
        r = received.get(m.key)
        msg_ms[m.key] = max(0.0, (r - leave) * 1e3) if r is not None else nan
    if all(x == x for x in [*part_cpu, *msg_ms.values()]):
        rt.e2e_cpu_ms = _schedule_ms(spec, part_cpu, msg_ms)
    return rt


def _pct(measured: float, predicted: float) -> float | None:
    return None if predicted <= 0 or measured != measured else round(100.0 * (measured - predicted) / predicted, 1)


def _q(values: list[float], q: float) -> float:
    values = [v for v in values if v == v]
    return float(np.percentile(values, q)) if values else float("nan")


def _ci(values: list[float]) -> list[float] | None:
    """The 95 % interval of the median of ``values`` (None without values)."""
    values = [v for v in values if v == v]
    if not values:
        return None
    lo, hi = median_ci(values)
    return [lo, hi]


def predicted_as_run_ms(spec: ExecutionSpec) -> float:
    """The plan's own figures re-assembled along its dataflow: every stage's predicted compute and every
    message's predicted transfer, scheduled by the plan's execution model (messages sharing a link
    queue for it) — its latency re-added from its parts (what a run that executes the plan as planned
    measures)."""
    return _schedule_ms(spec)


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
    e2e = [t.e2e_ms for t in timings]
    e2e_cpu = [t.e2e_cpu_ms for t in timings if t.e2e_cpu_ms == t.e2e_cpu_ms]
    client = [t.client_ms for t in timings]
    predicted = plan.totals.latency_ms or 0.0
    basis = plan.measurement
    plan_clock = basis.clock if basis is not None else "unknown (a plan written before plans stated their clock)"
    band = plan.uncertainty.get("totals.latency_ms")
    stages = []
    for k, st in enumerate(spec.stages):
        comp = [t.compute_ms[k] for t in timings if len(t.compute_ms) > k]
        cpu = [t.compute_cpu_ms[k] for t in timings if len(t.compute_cpu_ms) > k and t.compute_cpu_ms[k] == t.compute_cpu_ms[k]]
        disp = [t.dispatch_ms[k] for t in timings if len(t.dispatch_ms) > k]
        stages.append({"index": st.index, "device": st.device, "level": st.level,
                       "predicted_compute_ms": st.predicted_compute_ms, "predicted_provenance": st.provenance,
                       "predicted_interval_ms": _band(plan, f"stages[{st.index}].compute_ms"),
                       "measured_compute_ms_median": _q(comp, 50), "measured_compute_ms_p90": _q(comp, 90),
                       "measured_compute_ms_ci95": _ci(comp),
                       "error_pct": _pct(_q(comp, 50), st.predicted_compute_ms),
                       "measured_compute_cpu_ms_median": _q(cpu, 50), "measured_compute_cpu_ms_ci95": _ci(cpu),
                       "error_cpu_pct": _pct(_q(cpu, 50), st.predicted_compute_ms) if cpu else None,
                       "measured_dispatch_ms_median": _q(disp, 50)})
    hops = []
    for k, m in enumerate(spec.messages):
        one = [t.message_ms[k] for t in timings if len(t.message_ms) > k]
        rtt = [t.message_round_trip_ms[k] for t in timings if len(t.message_round_trip_ms) > k]
        hops.append({"key": m.key, "from": m.from_device, "to": m.to_device, "from_stage": m.from_stage,
                     "to_stage": m.to_stage, "tensors": list(m.tensors), "results": m.results,
                     "links": list(m.links), "latency_ms": m.latency_ms, "forward_mbps": m.forward_mbps,
                     "backward_mbps": m.backward_mbps, "codec_planned": m.codec, "wire_bytes": m.wire_bytes,
                     "predicted_one_way_ms": m.predicted_ms,
                     "measured_one_way_ms_median": _q(one, 50), "measured_one_way_ms_ci95": _ci(one),
                     "error_pct": _pct(_q(one, 50), m.predicted_ms),
                     "measured_round_trip_ms_median": _q(rtt, 50), "measured_round_trip_ms_ci95": _ci(rtt)})
    as_run = predicted_as_run_ms(spec)
    done = len(timings)
    measured_rps = done / wall_s if wall_s > 0 else float("nan")
    results_to = [m.to_device for m in spec.messages if m.results]
    return {
        "plan": str(spec.plan_path), "mode": mode, "requests": done, "rate_rps": rate_rps,
        "execution": "dataflow: each device runs its stages one after another, devices at the same time; each "
                     "message goes straight from the device that makes its tensors to the device that reads them",
        "clock": {"measured": "wall; per-stage compute also as the computing thread's CPU time, and the "
                              "end-to-end latency re-timed along the plan's dataflow with each stage's compute in "
                              "that CPU time",
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
                     "latency_from": (f"the source {spec.source!r}'s agent having decoded the input"
                                      if spec.source_has_agent else
                                      "the client (standing in for the source) beginning to encode the input"),
                     "latency_to": (f"the last result decoded at the consumer {results_to[0]!r}'s agent (or the last "
                                    "stage done, if later)" if results_to else
                                    "the last stage done (the consumer runs it, or the results stay there)")},
        "predicted_as_run": {
            "latency_ms": as_run,
            "basis": "the plan's stage compute and message predictions, scheduled by its execution model: the run "
                     "executes the plan as planned (messages straight to their readers, results to the consumer)"},
        "error_pct": {"latency_median": _pct(_q(e2e, 50), predicted),
                      "latency_median_as_run": _pct(_q(e2e, 50), as_run),
                      "latency_median_cpu_compute": _pct(_q(e2e_cpu, 50), predicted) if e2e_cpu else None},
        "provenance": {
            "predicted": f"the plan '{spec.plan_path.name}' (its provenance and uncertainty sections)",
            "measured.latency_ms_*": f"{done} requests timed by the agents' clocks, {mode}; intervals: 95 % order "
                                     "statistics of the median over the requests",
            "measured.latency_cpu_compute_ms_*": "each request re-timed along the plan's dataflow: every stage's "
                                                 "dispatch plus its thread CPU time (agents with one thread), every "
                                                 "message from its producer's end to its arrival, as measured",
            "stages[].measured_compute_*": "the agent's timing of its session call (wall; cpu: thread CPU time)",
            "hops[].measured_one_way_ms_*": "the receiver's clock when the tensors are decoded minus the "
                                            "sender's when it began encoding them (agents on one host share "
                                            "a clock; remote agents' clocks are offset by echo probes)",
            "hops[].measured_round_trip_ms_*": "the sender's call: the message there and the agent's 202 back",
        },
        "stages": stages, "hops": hops,
        "output_max_abs_diff_vs_local_chain": output_diff[0] if output_diff else None,
        "output_max_rel_diff_vs_local_chain": output_diff[1] if output_diff else None,
        "notes": notes,
    }
