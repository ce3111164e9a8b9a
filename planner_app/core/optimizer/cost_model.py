"""The cost model: what a placement costs, per request and at the workload's rate.

:func:`evaluate` turns a :class:`~planner_app.core.optimizer.problem.Placement` into a
:class:`Prediction`. The execution model is in :mod:`planner_app.core.optimizer.dataflow`:
each device runs its parts one after another, distinct devices run at the same time, and a
tensor travels straight from the device that makes it to each device that reads it.

The figures, and the model behind each:

- **latency_ms** — the critical path of one request when the system is idle
  (:func:`~planner_app.core.optimizer.dataflow.schedule`): a part starts when its
  device is done with the parts before it and every tensor it reads has arrived;
  it takes its units' compute (``TimeTable.ms``) plus ``PART_OVERHEAD_MS`` — or
  the problem's ``part_overhead_ms`` (each part is one session call on its
  device; the overhead also counts in the device's busy time, hence in cost,
  energy and throughput). One message per producing part (or the source) and
  destination device, sent when the part ends, costs ``route latency + wire
  bytes·8 / bottleneck bandwidth + overhead + (encode + decode ms per MB)·MB``;
  the overhead is the largest ``Link.message_overhead_ms`` on the route, else
  ``Topology.message_overhead_ms`` (default ``MESSAGE_OVERHEAD_MS``, 0.5 ms).
  Each part that makes a graph output sends it to the consumer; a workload
  without one (``results_stay``) sends nothing back. Wire bytes are the tensors'
  bytes times the codec's ``wire_ratio``. ``critical_path`` lists the segments
  (compute on a device, transfer over a route) whose times add up to the
  latency; ``compute_ms`` and ``transfer_ms`` are the sums of all the work. On a
  chain (:func:`~planner_app.core.optimizer.dataflow.is_chain`) the latency is
  ``compute_ms + transfer_ms``, as every part waits for the one before.
- **queueing_ms / latency_at_rate_ms** — M/D/1 waiting time ``ρ·S / (2(1 − ρ))``
  at every busy device and link direction (service time S per request,
  utilization ρ = rate × S), added to the latency; infinite when ρ ≥ 1.
  Capacity limits (ρ < 1) apply only when the workload states its rate.
  The SLO is checked on ``latency_ms``; the loaded figure is reported and
  flagged in ``warnings`` when it breaks the SLO.
- **throughput_rps** — ``batch_size × 1000 / bottleneck_ms``, the busiest device or
  link direction per call (a pipelined stream), in requests per second.
- **per request and per batch** — one call of the model serves a batch of
  ``Workload.batch_size`` requests (1 by default). Times, latency, tensor and link
  bytes, cost per 1k and energy are per call, i.e. per batch (scaled from the
  source's figures when ``PlanningProblem.build(figures_batch_size=...)`` says they
  are for another batch); utilization uses calls per second (request rate / batch);
  ``rate_rps`` and ``throughput_rps`` count requests.
- **link_mbps / link_utilization** — per link, both directions added for Mbps;
  utilization is the busier direction (links are full duplex).
- **cost_usd_per_1k** — device busy time × ``cost_usd_per_hour`` + wire bytes ×
  the route's summed ``cost_usd_per_gb``; per month at the rate (30 days).
- **energy_mj_per_request** — on battery devices: compute ms × ``power_active_w``
  plus, for each message it sends or receives, wire time over the bottleneck ×
  ``radio_power_w``. Codec time counts in latency only.
- **memory_bytes** — per device: weights of its units at their levels + the
  largest unit activation (inputs + outputs) it runs; limit ``memory_mb`` MiB.
- **fidelity** — the lowest measured fidelity of the levels used (1.0 where not
  measured), times the codec's fidelity when the plan sends any message. The
  plan export measures the real figure by running the chained parts.

Example
-------
>>> pred = evaluate(placement, problem)            # doctest: +SKIP
>>> pred.latency_ms, pred.violations               # doctest: +SKIP
(41.7, [])
"""

from __future__ import annotations

__all__ = [
    "MESSAGE_OVERHEAD_MS",
    "PART_OVERHEAD_MS",
    "PartPrediction",
    "TransferPrediction",
    "CriticalSegment",
    "Prediction",
    "MessageCoefficients",
    "message_coefficients",
    "message_overhead_ms",
    "evaluate",
    "PlacementError",
]

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from planner_app.core.errors import PlannerError
from planner_app.core.optimizer.dataflow import (
    MessageTiming,
    PartTiming,
    is_chain,
    plan_messages,
    schedule,
)
from planner_app.core.optimizer.problem import PART_OVERHEAD_MS, Placement, PlanningProblem

#: fixed cost of one message (serialization, framing, one RPC round on a LAN), in ms, where neither
#: the route's links nor the topology state one (``Link.message_overhead_ms``,
#: ``Topology.message_overhead_ms``; see :func:`message_overhead_ms`)
MESSAGE_OVERHEAD_MS = 0.5
_MONTH_S = 30 * 24 * 3600.0
_INF = math.inf


class PlacementError(PlannerError):
    """A placement does not fit its problem (wrong length, unknown device, level or codec)."""


@dataclass(frozen=True)
class MessageCoefficients:
    """Figures of one message ``a -> b`` with codec ``c`` as affine functions of its raw bytes."""

    fixed_ms: float
    ms_per_byte: float
    wire_ratio: float
    hops: int
    usd_per_1k_per_byte: float
    energy_mj_per_byte: float
    #: (link id, from device, to device, ms of link busy time per raw byte)
    link_dirs: tuple[tuple[str, str, str, float], ...]
    #: every device on the route lies in the privacy zone (True when there is no zone)
    in_zone: bool
    route_devices: tuple[str, ...]
    route_links: tuple[str, ...]

    @property
    def max_link_ms_per_byte(self) -> float:
        return max((x[3] for x in self.link_dirs), default=0.0)


def message_coefficients(problem: PlanningProblem, a: str, b: str, codec: str) -> MessageCoefficients:
    """How a message from ``a`` to ``b`` costs, per raw byte (shared by every solver)."""
    cache: dict[tuple[str, str, str], MessageCoefficients] = problem.__dict__.setdefault("_msg_cache", {})
    key = (a, b, codec)
    hit = cache.get(key)
    if hit is not None:
        return hit
    route = problem.route(a, b)
    if route is None:
        raise PlacementError(f"no message is needed from {a!r} to itself")
    c = problem.codecs[codec]
    topo = problem.topology
    bott_bytes_ms = 8.0 / (route.bottleneck_mbps * 1e3)  # ms per wire byte over the bottleneck
    links = problem.__dict__.get("_links_by_id")
    if links is None:
        links = problem.__dict__["_links_by_id"] = {lk.id: lk for lk in topo.links}
    link_dirs = []
    for i, lid in enumerate(route.links):
        u, v = route.devices[i], route.devices[i + 1]
        bw = links[lid].bandwidth_from(u)
        link_dirs.append((lid, u, v, c.wire_ratio * 8.0 / (bw * 1e3)))
    radio_w = 0.0
    records = problem.device_records
    for d in (a, b):
        dev = records[d]
        if dev.battery:
            radio_w += dev.radio_power_w
    zone = problem.privacy_zone_devices()
    coef = MessageCoefficients(
        fixed_ms=route.latency_ms + message_overhead_ms(problem, route.links),
        ms_per_byte=c.wire_ratio * bott_bytes_ms + (c.encode_ms_per_mb + c.decode_ms_per_mb) / 1e6,
        wire_ratio=c.wire_ratio,
        hops=len(route.links),
        usd_per_1k_per_byte=c.wire_ratio * route.cost_usd_per_gb / 1e9 * 1000.0,
        energy_mj_per_byte=radio_w * c.wire_ratio * bott_bytes_ms,
        link_dirs=tuple(link_dirs),
        in_zone=zone is None or all(d in zone for d in route.devices),
        route_devices=tuple(route.devices),
        route_links=tuple(route.links),
    )
    cache[key] = coef
    return coef


def message_overhead_ms(problem: PlanningProblem, link_ids: Sequence[str]) -> float:
    """Fixed ms of one message over a route: the largest figure of its links (``Link.message_overhead_ms``,
    else ``Topology.message_overhead_ms``, default ``MESSAGE_OVERHEAD_MS``). The overhead is the
    endpoints' serialization and RPC round, paid once per message; the slowest link's setup dominates."""
    topo = problem.topology
    default = float(getattr(topo, "message_overhead_ms", MESSAGE_OVERHEAD_MS))
    links = problem.__dict__.get("_links_by_id")
    if links is None:
        links = problem.__dict__["_links_by_id"] = {lk.id: lk for lk in topo.links}
    figures = [links[lid].message_overhead_ms for lid in link_ids]
    return max((default if f is None else float(f) for f in figures), default=default)


@dataclass
class PartPrediction:
    """One part: consecutive units on one device at one level."""

    index: int
    device: str
    level: str
    unit_ids: list[int]
    #: the units' compute plus ``overhead_ms``
    compute_ms: float
    weights_bytes: float
    peak_activation_bytes: float
    provenance: str
    #: the fixed cost of running the part (one session call)
    overhead_ms: float = 0.0


@dataclass
class TransferPrediction:
    """One message at boundary ``cut`` (0 = raw input, n = results)."""

    cut: int
    from_part: int | None
    to_part: int | None
    from_device: str
    to_device: str
    tensors: list[str]
    bytes: int
    wire_bytes: float
    codec: str
    route_devices: list[str]
    route_links: list[str]
    transfer_ms: float
    #: ms it waits for links of its route still sending earlier messages' bits (fan-out over one uplink)
    queue_ms: float = 0.0


@dataclass
class CriticalSegment:
    """One step of the critical path: a part's compute on a device, or a transfer over a route.

    The segments follow each other without gaps: their ``ms`` add up to ``latency_ms``.
    """

    kind: str  # 'compute' | 'transfer'
    start_ms: float
    ms: float
    #: the device (compute) or the route's devices joined by ' → ' (transfer)
    where: str
    part: int | None
    transfer: int | None
    label: str


def _json(v: Any) -> Any:
    if isinstance(v, float):
        return None if not math.isfinite(v) else v
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json(x) for x in v]
    return v


@dataclass
class Prediction:
    """Everything :func:`evaluate` predicts for a placement (see the module docstring)."""

    latency_ms: float
    compute_ms: float
    transfer_ms: float
    queueing_ms: float
    latency_at_rate_ms: float
    rate_rps: float
    throughput_rps: float
    bottleneck_ms: float
    bottleneck: str
    cost_usd_per_1k: float
    cost_usd_per_month: float
    link_bytes_per_request: float
    energy_mj_per_request: float
    fidelity: float
    parts: list[PartPrediction]
    transfers: list[TransferPrediction]
    device_busy_ms: dict[str, float]
    device_utilization: dict[str, float]
    energy_mj_per_device: dict[str, float]
    memory_bytes: dict[str, float]
    memory_limit_bytes: dict[str, float]
    link_mbps: dict[str, float]
    link_utilization: dict[str, float]
    link_bytes: dict[str, float]
    violations: list[str] = field(default_factory=list)
    #: constraint kind -> normalised excess (0.2 = 20 % over the limit); the sum ranks 'closest' plans
    violation_amounts: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    #: requests one call serves: the figures above are per call (per batch) except
    #: ``rate_rps`` and ``throughput_rps``, which count requests
    batch_size: int = 1
    #: the parts' compute and the transfers, in order, whose times add up to ``latency_ms``
    critical_path: list[CriticalSegment] = field(default_factory=list)
    #: ms the latency grows because messages queue for links they share (0: none does, or not on the
    #: critical path); solvers whose latency rows leave link sharing out check it
    link_queueing_ms: float = 0.0

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def total_violation(self) -> float:
        return float(sum(self.violation_amounts.values()))

    @property
    def energy_j_per_request(self) -> float:
        return self.energy_mj_per_request / 1000.0

    def metric(self, name: str) -> float:
        """A figure by objective name ('latency', 'cost', ...) or attribute name."""
        from planner_app.core.optimizer.problem import OBJECTIVE_METRICS

        return float(getattr(self, OBJECTIVE_METRICS.get(name, name)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (infinities become None), units in key names."""
        d = asdict(self)
        d["feasible"] = self.feasible
        return cast("dict[str, Any]", _json(d))


def _check(placement: Placement, problem: PlanningProblem) -> None:
    n = problem.n_units
    if len(placement.devices) != n:
        raise PlacementError(f"placement has {len(placement.devices)} units, model {problem.structure.name!r} has {n}")
    bad_d = sorted(set(placement.devices) - set(problem.devices))
    if bad_d:
        raise PlacementError(f"placement uses devices {bad_d} that are not candidates ({', '.join(problem.devices)})")
    bad_l = sorted(set(placement.levels) - set(problem.levels))
    if bad_l:
        raise PlacementError(f"placement uses levels {bad_l}; allowed: {', '.join(problem.levels)}")
    if placement.codec not in problem.codecs:
        raise PlacementError(f"placement uses cut codec {placement.codec!r}; allowed: {', '.join(problem.codecs)}")


def evaluate(placement: Placement, problem: PlanningProblem) -> Prediction:
    """Predict every figure of ``placement`` and list the constraints it breaks."""
    _check(placement, problem)
    s = problem.structure
    n = s.n_units
    devices = problem.device_records
    tt = problem.time_table
    dev_index = {d: i for i, d in enumerate(problem.devices)}
    lvl_index = {x: i for i, x in enumerate(problem.levels)}
    violations: list[str] = []
    amounts: dict[str, float] = {}

    def violate(kind: str, text: str, amount: float) -> None:
        violations.append(f"{kind}: {text}")
        amounts[kind] = amounts.get(kind, 0.0) + max(float(amount), 1e-9)

    # -- parts ------------------------------------------------------------------------
    parts: list[PartPrediction] = []
    busy: dict[str, float] = {}
    weights: dict[str, float] = {}
    peak_act: dict[str, float] = {}
    provs: set[str] = set()
    overhead = problem.overhead_ms
    for pi, (start, end, dev, lvl) in enumerate(placement.parts()):
        d, li = dev_index[dev], lvl_index[lvl]
        times = problem.ms[start:end, d, li]
        compute = float(times.sum()) + overhead
        if not math.isfinite(compute):
            bad = [s.unit_names[start + i] for i, t in enumerate(times) if not math.isfinite(t)]
            violate("runnable", f"units {', '.join(bad[:5])} cannot run at level {lvl} on {dev}", 1.0)
        w = float(problem.param_bytes[start:end, li].sum())
        act = float(problem.activation_bytes[start:end].max())
        prov = tt.provenance_of(dev, lvl)
        provs.add(prov)
        parts.append(PartPrediction(pi, dev, lvl, list(range(start, end)), compute, w, act, prov, overhead))
        busy[dev] = busy.get(dev, 0.0) + compute
        weights[dev] = weights.get(dev, 0.0) + w
        peak_act[dev] = max(peak_act.get(dev, 0.0), act)

    # -- messages: each tensor straight from its producer to the devices that read it (dataflow) --
    private_names = set(problem.constraints.private_tensors) if problem.privacy_zone_devices() is not None else set()
    raw_private = problem.privacy_zone_devices() is not None and problem.constraints.privacy == "raw_input_in_zone"
    part_of = [0] * n
    for p in parts:
        part_of[p.unit_ids[0]:p.unit_ids[-1] + 1] = [p.index] * len(p.unit_ids)
    result_device = None if problem.results_stay else problem.result_device
    codec = problem.codecs[placement.codec]
    transfers: list[TransferPrediction] = []
    timings: list[MessageTiming] = []
    result_msgs: list[int] = []
    link_busy: dict[tuple[str, str, str], float] = {}
    link_bytes: dict[str, float] = {}
    transfer_ms = 0.0
    link_usd = 0.0
    radio_mj: dict[str, float] = {}
    total_link_bytes = 0.0
    for msg in plan_messages(s, placement.devices, part_of, problem.source, result_device):
        a = msg.from_device
        b = result_device if msg.to_device is None else msg.to_device
        assert b is not None
        raw = int(sum(s.tensors[ti].size_bytes for ti in msg.tensors))
        names = [s.tensors[ti].name for ti in msg.tensors]
        k = n if msg.to_device is None else msg.readers[0]
        pa = None if msg.from_part < 0 else msg.from_part
        pb = None if msg.to_device is None else part_of[msg.readers[0]]
        coef = message_coefficients(problem, a, b, placement.codec)
        t_ms = coef.fixed_ms + coef.ms_per_byte * raw
        transfer_ms += t_ms
        wire = coef.wire_ratio * raw
        if msg.to_device is None:
            result_msgs.append(len(transfers))
        timings.append(MessageTiming(pa, b, t_ms, tuple(sorted({part_of[r] for r in msg.readers})),
                                     tuple((f"{lid}:{u}>{v}", per_byte * raw) for lid, u, v, per_byte in coef.link_dirs)))
        transfers.append(TransferPrediction(k, pa, pb, a, b, names, raw, wire, placement.codec,
                                            list(coef.route_devices), list(coef.route_links), t_ms))
        for lid, u, v, per_byte in coef.link_dirs:
            link_busy[(lid, u, v)] = link_busy.get((lid, u, v), 0.0) + per_byte * raw
            link_bytes[lid] = link_bytes.get(lid, 0.0) + wire
        total_link_bytes += wire * coef.hops
        link_usd += coef.usd_per_1k_per_byte * raw
        wire_ms = coef.wire_ratio * raw * 8.0 / (problem.routes[(a, b)].bottleneck_mbps * 1e3)
        for d in (a, b):
            dv = devices[d]
            if dv.battery and dv.radio_power_w:
                radio_mj[d] = radio_mj.get(d, 0.0) + dv.radio_power_w * wire_ms
        private = [s.tensors[ti].name for ti in msg.tensors
                   if s.tensors[ti].name in private_names or (raw_private and s.tensors[ti].producer < 0)]
        if private and not coef.in_zone:
            outside = [d for d in coef.route_devices if d not in (problem.privacy_zone_devices() or set())]
            violate("privacy", f"tensors {', '.join(private[:3])} at boundary {k} would travel "
                    f"{' → '.join(coef.route_devices)}, leaving the privacy zone on {', '.join(outside)}", 1.0)

    compute_ms = float(sum(p.compute_ms for p in parts))
    sched = schedule([PartTiming(p.device, p.compute_ms) for p in parts], timings, result_msgs)
    for tp, t, arrive in zip(transfers, timings, sched.message_arrival_ms, strict=True):
        leave = 0.0 if t.from_part is None else sched.part_end_ms[t.from_part]
        wait = arrive - leave - t.transfer_ms
        tp.queue_ms = wait if wait > 1e-9 else 0.0  # rounding noise is no wait
    link_queueing_ms = 0.0
    if any(tp.queue_ms > 0 for tp in transfers) and not is_chain(s):
        alone = schedule([PartTiming(p.device, p.compute_ms) for p in parts],
                         [MessageTiming(t.from_part, t.to_device, t.transfer_ms, t.waiting) for t in timings],
                         result_msgs)
        grown = sched.latency_ms - alone.latency_ms
        link_queueing_ms = grown if grown > 1e-9 else 0.0
    # on a chain every part waits for the one before: the plain sum (the same figure, summed as before)
    latency_ms = compute_ms + transfer_ms if is_chain(s) else sched.latency_ms
    critical_path = [
        CriticalSegment("compute", seg.start_ms, seg.ms, parts[seg.index].device, seg.index, None,
                        f"compute on {parts[seg.index].device} (part {seg.index})")
        if seg.kind == "compute" else
        CriticalSegment("transfer", seg.start_ms, seg.ms, " → ".join(transfers[seg.index].route_devices), None,
                        seg.index, f"transfer {' → '.join(transfers[seg.index].route_devices)} "
                        f"({', '.join(transfers[seg.index].route_links)})")
        for seg in sched.critical_path
    ]
    rate = problem.rate_rps

    # -- load: utilization, throughput, queueing (rate = calls, i.e. batches, per second) --
    rate_text = (f"{rate:g} req/s" if problem.batch_size == 1
                 else f"{rate * problem.batch_size:g} req/s ({rate:g} batches of {problem.batch_size}/s)")
    util = {d: rate * b / 1000.0 for d, b in busy.items()}
    stations_busy: list[tuple[str, float]] = [(f"device {d}", b) for d, b in busy.items()]
    stations_busy += [(f"link {lid} {u}→{v}", b) for (lid, u, v), b in link_busy.items()]
    bottleneck_name, bottleneck_ms = max(stations_busy, key=lambda x: x[1], default=("", 0.0))
    throughput = problem.batch_size * 1000.0 / bottleneck_ms if bottleneck_ms > 0 else _INF
    queueing = 0.0
    for _, sv in stations_busy:
        rho = rate * sv / 1000.0
        if sv <= 0:
            continue
        queueing = _INF if rho >= 1.0 else queueing + rho * sv / (2.0 * (1.0 - rho))
    link_util: dict[str, float] = {}
    for (lid, _u, _v), b in link_busy.items():
        link_util[lid] = max(link_util.get(lid, 0.0), rate * b / 1000.0)
    link_mbps = {lid: rate * b * 8.0 / 1e6 for lid, b in link_bytes.items()}

    # -- cost, energy, memory, fidelity --------------------------------------------------
    device_usd = sum(b / 3.6e6 * devices[d].cost_usd_per_hour * 1000.0 for d, b in busy.items())
    cost_1k = device_usd + link_usd
    energy: dict[str, float] = {}
    for d, b in busy.items():
        dv = devices[d]
        if dv.battery:
            energy[d] = b * dv.power_active_w
    for d, e in radio_mj.items():
        energy[d] = energy.get(d, 0.0) + e
    memory = {d: weights[d] + peak_act[d] for d in busy}
    limits = {d: problem.memory_limit_bytes(d) for d in busy}
    fidelity = min(problem.level_fidelity(x) for x in set(placement.levels))
    if transfers:
        fidelity *= codec.fidelity

    # -- constraints ---------------------------------------------------------------------
    c = problem.constraints
    for u, d in c.pinned_units.items():
        if placement.devices[int(u)] != d:
            violate("pinned", f"unit {s.unit_names[int(u)]} is pinned to {d} but placed on {placement.devices[int(u)]}", 1.0)
    if c.max_stages_per_device is not None:
        for d, k in placement.stages_per_device().items():
            if k > c.max_stages_per_device:
                violate("stages", f"{d} hosts {k} separate stages; the pipeline allows at most "
                        f"{c.max_stages_per_device} per device", (k - c.max_stages_per_device) / c.max_stages_per_device)
    if c.memory:
        for d in busy:
            if memory[d] > limits[d]:
                violate("memory", f"{d} needs {memory[d] / 2**20:.1f} MiB, has {limits[d] / 2**20:.1f} MiB",
                        memory[d] / limits[d] - 1.0)
    if c.capacity:
        for d, u in util.items():
            if u >= 1.0:
                violate("capacity", f"{d} is {u:.0%} busy at {rate_text}", u - 1.0 + 1e-9)
        for (lid, a, b), bz in link_busy.items():
            u = rate * bz / 1000.0
            if u >= 1.0:
                violate("capacity", f"link {lid} {a}→{b} is {u:.0%} busy at {rate_text}", u - 1.0 + 1e-9)
    if c.min_fidelity is not None and fidelity < c.min_fidelity - 1e-12:
        violate("fidelity", f"{fidelity:.4f} < floor {c.min_fidelity:.4f}", (c.min_fidelity - fidelity) / max(c.min_fidelity, 1e-9))
    if c.slo_ms is not None and latency_ms > c.slo_ms * (1 + 1e-9):
        violate("slo", f"latency {latency_ms:.2f} ms > SLO {c.slo_ms:g} ms (by {latency_ms - c.slo_ms:.2f} ms)",
                latency_ms / c.slo_ms - 1.0 if math.isfinite(latency_ms) else 1e6)
    if c.max_cost_usd_per_1k is not None and cost_1k > c.max_cost_usd_per_1k * (1 + 1e-9):
        violate("cost", f"{cost_1k:.4g} USD per 1k > limit {c.max_cost_usd_per_1k:g}",
                cost_1k / max(c.max_cost_usd_per_1k, 1e-12) - 1.0)
    warnings: list[str] = []
    if c.slo_ms is not None and latency_ms <= c.slo_ms < latency_ms + queueing:
        warnings.append(f"with queueing at {rate_text} the latency is {latency_ms + queueing:.2f} ms, over the SLO")

    measured = sorted(provs, key=lambda p: ("measured-agent", "measured-local", "imported", "estimated").index(p)
                      if p in ("measured-agent", "measured-local", "imported", "estimated") else 9)
    compute_prov = measured[-1] if measured else "estimated"
    fid_prov = "measured" if all(x in tt.fidelity for x in set(placement.levels)) else "assumed 1.0 for unmeasured levels"
    provenance = {
        "compute_ms": f"{compute_prov} (time table: {', '.join(measured)})",
        "transfer_ms": "computed from topology routes + the per-message overhead (links' figures, else the "
                       f"topology's: {getattr(problem.topology, 'message_overhead_ms', MESSAGE_OVERHEAD_MS):g} ms)",
        "latency_ms": f"critical path of {compute_prov} compute + {overhead:g} ms per part + computed transfers "
                      "(devices run in parallel, each one part at a time)",
        "queueing_ms": "M/D/1 model at the workload rate",
        "throughput_rps": "computed: busiest device or link direction",
        "cost_usd_per_1k": "computed from device $/hour and link $/GB",
        "energy_mj_per_request": "computed from power_active_w and radio_power_w",
        "memory_bytes": "weights at the chosen levels + largest unit activation",
        "fidelity": f"{fid_prov}; min over levels × codec fidelity",
    }
    return Prediction(
        latency_ms=latency_ms,
        compute_ms=compute_ms,
        transfer_ms=transfer_ms,
        queueing_ms=queueing,
        latency_at_rate_ms=latency_ms + queueing,
        rate_rps=rate * problem.batch_size,
        throughput_rps=throughput,
        bottleneck_ms=bottleneck_ms,
        bottleneck=bottleneck_name,
        cost_usd_per_1k=cost_1k,
        cost_usd_per_month=cost_1k / 1000.0 * rate * _MONTH_S,
        link_bytes_per_request=total_link_bytes,
        energy_mj_per_request=float(sum(energy.values())),
        fidelity=fidelity,
        parts=parts,
        transfers=transfers,
        device_busy_ms=busy,
        device_utilization=util,
        energy_mj_per_device=energy,
        memory_bytes=memory,
        memory_limit_bytes=limits,
        link_mbps=link_mbps,
        link_utilization=link_util,
        link_bytes=link_bytes,
        violations=violations,
        violation_amounts=amounts,
        warnings=warnings,
        provenance=provenance,
        batch_size=problem.batch_size,
        critical_path=critical_path,
        link_queueing_ms=link_queueing_ms,
    )
