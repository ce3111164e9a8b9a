"""Re-deriving what a plan claims from the plan's own inputs.

A plan file is untrusted: it may have been edited by hand or by a tool after
export. Its schema and records say each value has the right type; this module
checks that the values agree with each other and with the topology embedded in
the plan, re-deriving every figure it can:

- the workload's source and consumer are devices of the topology;
- every transfer starts on the device of its producing stage (or the source)
  and ends on the device of its consuming stage (or the consumer), carries
  tensors its producer writes and its consumer reads, and follows a route of
  real links, in order, between those devices; its time is the route's latency
  + wire bytes over the bottleneck + the per-message overhead (plus the cut
  codec's encode and decode time, bounded);
- every tensor that crosses between devices has a transfer (an emptied
  ``transfers`` list is caught), and so do the model's outputs when the
  consumer is another device;
- the totals are what the stages and transfers add up to: compute, transfer and
  latency (the critical path: devices run at the same time, each one stage after
  another in order, a stage starts when the transfers sent to it have arrived;
  on a chain that is the plain sum), bytes on links, memory and utilization
  per device; throughput is at most what the busiest device serves, cost at least
  what the devices' time costs.

These follow the cost model (:mod:`planner_app.core.optimizer.cost_model`); a
change there must change them too (``tests/test_hostile_items.py`` re-derives a
real plan exactly, and the property suite validates every plan it exports).

The first problem in document order names the field that disagrees; all are
listed. Parts (their bytes, hashes, levels) are checked against the files in
:mod:`planner_app.core.plans.check`.
"""

from __future__ import annotations

__all__ = ["derived_problems", "level_content_problem", "plan_timings", "route_holds"]

import math
from typing import TYPE_CHECKING, Any

from planner_app.core.errors import PlannerError, Problem
from planner_app.core.plans.records import DeploymentPlan

if TYPE_CHECKING:
    import onnx

    from planner_app.core.optimizer.dataflow import MessageTiming, PartTiming
    from planner_app.core.topology.records import Topology

#: relative tolerance of a re-derived figure (the plan rounds bytes to integers)
_RTOL = 1e-6
#: the most a cut codec may add to a message, ms per MB of raw tensor (encode + decode)
_CODEC_MS_PER_MB_BOUND = 200.0


def _close(a: float, b: float, abs_tol: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=_RTOL, abs_tol=abs_tol)


def _topology(plan: DeploymentPlan, problems: list[Problem]) -> Topology | None:
    from planner_app.core.topology.io import topology_from_dict

    try:
        return topology_from_dict(plan.topology.document, "the plan's embedded topology")
    except PlannerError as exc:
        problems.append(Problem("topology.document", exc.message))
        return None


def _transfer_problems(plan: DeploymentPlan, topo: Topology, problems: list[Problem]) -> None:
    devices = {d.id for d in topo.devices}
    source = plan.workload.source
    consumer = plan.workload.consumer or source
    if source not in devices:
        problems.append(Problem("workload.source", f"device {source!r} is not in the embedded topology"))
        return
    if consumer not in devices:
        problems.append(Problem("workload.consumer", f"device {consumer!r} is not in the embedded topology"))
        return
    stages = plan.stages
    model_inputs = set(plan.model.input_shapes)
    model_outputs = set(plan.model.output_names)
    links = {lk.id: lk for lk in topo.links}
    available: dict[str, set[str]] = {source: set(model_inputs)}
    for s in stages:
        available.setdefault(s.device, set()).update(s.outputs, s.inputs)
    for i, t in enumerate(plan.transfers):
        where = f"transfers[{i}]"
        src = stages[t.from_stage] if t.from_stage is not None else None
        dst = stages[t.to_stage] if t.to_stage is not None else None
        want_from = src.device if src is not None else source
        want_to = dst.device if dst is not None else consumer
        if t.from_device != want_from:
            what = f"stage {t.from_stage} runs on" if src is not None else "the workload's source is"
            problems.append(Problem(f"{where}.from_device", f"is {t.from_device!r}, but {what} {want_from!r}"))
            continue
        if t.to_device != want_to:
            what = f"stage {t.to_stage} runs on" if dst is not None else "the results go to"
            problems.append(Problem(f"{where}.to_device", f"is {t.to_device!r}, but {what} {want_to!r}"))
            continue
        # a message carries what its device holds: what its stages write or receive, and the raw input on
        # the source (the cost model relays a model input along with a cut from the source's stage)
        held = available.get(t.from_device, set())
        # read by the stage it goes to or by a later stage on that device (the tensor waits there)
        read = ({x for s in stages if s.device == dst.device and s.index >= dst.index for x in s.inputs}
                if dst is not None else model_outputs)
        stray = [x for x in t.tensors if x not in held or x not in read]
        if stray:
            problems.append(Problem(f"{where}.tensors", f"{stray} are not held on {t.from_device!r} and read by "
                                    f"{'stage ' + str(t.to_stage) if dst is not None else 'the consumer'}"))
            continue
        rd, rl = t.route_devices, t.route_links
        if rd[0] != t.from_device or rd[-1] != t.to_device or len(rl) != len(rd) - 1:
            problems.append(Problem(f"{where}.route_devices", f"{rd} over {rl} is not a route from "
                                    f"{t.from_device!r} to {t.to_device!r}"))
            continue
        latency = 0.0
        bottleneck = math.inf
        for k, lid in enumerate(rl):
            link = links.get(lid)
            if link is None or {link.a, link.b} != {rd[k], rd[k + 1]}:
                problems.append(Problem(f"{where}.route_links[{k}]", f"{lid!r} is not a link between "
                                        f"{rd[k]!r} and {rd[k + 1]!r} in the embedded topology"))
                break
            latency += link.latency_ms
            bottleneck = min(bottleneck, link.bandwidth_from(rd[k]))
        else:
            if t.wire_bytes > t.bytes or (t.codec == "none" and t.wire_bytes != t.bytes):
                problems.append(Problem(f"{where}.wire_bytes", f"is {t.wire_bytes} for {t.bytes} bytes with codec "
                                        f"{t.codec!r}"))
                continue
            # the cost model's rule: the largest per-message figure of the route's links, else the topology's
            stated = [links[lid].message_overhead_ms for lid in rl]
            overhead = max((topo.message_overhead_ms if f is None else float(f) for f in stated),
                           default=topo.message_overhead_ms)
            base = latency + overhead + t.wire_bytes * 8.0 / (bottleneck * 1e3)
            codec_bound = 0.0 if t.codec == "none" else _CODEC_MS_PER_MB_BOUND * t.bytes / 1e6 + 0.01
            # wire bytes are rounded to whole bytes in the file: allow a byte's worth on the bottleneck
            slack = 8.0 / (bottleneck * 1e3) + 1e-6 * max(1.0, base)
            if not base - slack <= t.transfer_ms <= base + codec_bound + slack:
                problems.append(Problem(f"{where}.transfer_ms", f"is {t.transfer_ms:.6g} ms, but its route takes "
                                        f"{base:.6g} ms (latency {latency:g} ms + {t.wire_bytes} B over "
                                        f"{bottleneck:g} Mbps + {overhead:g} ms per message)"))
    # every tensor that crosses devices travels in a transfer: to the stage that reads it, or to an
    # earlier stage on the same device (the next stage there reads it where it already is)
    arrivals: dict[str, list[int]] = {}
    for t in plan.transfers:
        if t.to_stage is not None:
            for x in t.tensors:
                arrivals.setdefault(x, []).append(t.to_stage)
    carried = {(t.to_stage, x) for t in plan.transfers for x in t.tensors if t.to_stage is None}
    producer: dict[str, int] = {}
    for s in stages:
        for x in s.outputs:
            producer.setdefault(x, s.index)
    for s in stages:
        for x in s.inputs:
            p = producer.get(x)
            if p is None and x not in model_inputs:
                problems.append(Problem(f"stages[{s.index}].inputs", f"tensor {x!r} is neither a model input nor "
                                        "written by a stage"))
                continue
            from_dev = stages[p].device if p is not None else source
            here = any(j <= s.index and stages[j].device == s.device for j in arrivals.get(x, []))
            if from_dev != s.device and not here:
                frm = f"stage {p}" if p is not None else "the source"
                problems.append(Problem("transfers", f"no transfer carries {x!r} from {frm} on {from_dev!r} to "
                                        f"stage {s.index} on {s.device!r}"))
    for x in plan.model.output_names:
        p = producer.get(x)
        if p is None:
            problems.append(Problem("model.output_names", f"output {x!r} is written by no stage"))
        elif stages[p].device != consumer and (None, x) not in carried:
            problems.append(Problem("transfers", f"no transfer carries output {x!r} from stage {p} on "
                                    f"{stages[p].device!r} to the consumer {consumer!r}"))


def route_holds(t: Any, links: dict[str, Any]) -> bool:
    """Whether the transfer's route is a walk over links of the topology (each link joins the devices beside
    it); a tampered one is not (the transfer checks report it)."""
    devs, lids = t.route_devices, t.route_links
    return bool(links) and len(devs) == len(lids) + 1 and all(
        lid in links and {links[lid].a, links[lid].b} == {devs[i], devs[i + 1]} for i, lid in enumerate(lids))


def plan_timings(plan: DeploymentPlan, topo: Topology | None = None,
                 ) -> tuple[list[PartTiming], list[MessageTiming], list[int], list[int]]:
    """The plan's stages and transfers as the cost model's scheduler takes them
    (:func:`planner_app.core.optimizer.dataflow.schedule`): the parts in stage order, the messages,
    the indices of the results' messages, and each message's index in ``plan.transfers``.

    With ``topo`` (the plan's topology) each message names the directed links it keeps busy and
    for how long (its wire bytes over each link's bandwidth), so messages that share a link queue
    as the cost model has them; without, they do not. Transfers naming no stage of the plan, or
    a stage not after their sender, are left out (the transfer checks report them)."""
    from planner_app.core.optimizer.dataflow import MessageTiming, PartTiming

    stages = sorted(plan.stages, key=lambda s: s.index)
    pos = {s.index: i for i, s in enumerate(stages)}
    parts = [PartTiming(s.device, s.compute_ms) for s in stages]
    links = {lk.id: lk for lk in topo.links} if topo is not None else {}
    msgs: list[MessageTiming] = []
    results: list[int] = []
    keys: list[int] = []
    for key, t in enumerate(plan.transfers):
        frm = pos.get(t.from_stage) if t.from_stage is not None else None
        if t.from_stage is not None and frm is None:
            continue
        if t.to_stage is None:
            waiting: tuple[int, ...] = ()
        else:
            to = pos.get(t.to_stage)
            if to is None or (frm is not None and to <= frm):
                continue
            waiting = (to,)
        busy: list[tuple[str, float]] = []
        if route_holds(t, links):
            for i, lid in enumerate(t.route_links):
                u, v = t.route_devices[i], t.route_devices[i + 1]
                busy.append((f"{lid}:{u}>{v}", t.wire_bytes * 8.0 / (links[lid].bandwidth_from(u) * 1e3)))
        if t.to_stage is None:
            results.append(len(msgs))
        msgs.append(MessageTiming(frm, t.to_device, t.transfer_ms, waiting, tuple(busy)))
        keys.append(key)
    return parts, msgs, results, keys


def _critical_path_ms(plan: DeploymentPlan, topo: Topology | None) -> tuple[float, float]:
    """The latency the cost model gives the plan's stages and transfers: devices run in parallel,
    each one stage at a time; a stage waits for the transfers sent to it; messages sharing a link
    queue for it (see :mod:`planner_app.core.optimizer.dataflow`). Also the slack of that figure:
    the plan rounds wire bytes to integers, a byte's time on each link a message crosses."""
    from planner_app.core.optimizer.dataflow import schedule

    parts, msgs, results, keys = plan_timings(plan, topo)
    slack = sum(busy / plan.transfers[k].wire_bytes for m, k in zip(msgs, keys, strict=True)
                for _, busy in m.links if plan.transfers[k].wire_bytes > 0)
    return schedule(parts, msgs, results).latency_ms, slack


def _totals_problems(plan: DeploymentPlan, topo: Topology | None, problems: list[Problem]) -> None:
    tot = plan.totals
    compute = sum(s.compute_ms for s in plan.stages)
    transfer = sum(t.transfer_ms for t in plan.transfers)
    if not _close(tot.compute_ms, compute):
        problems.append(Problem("totals.compute_ms", f"is {tot.compute_ms:.6g}, the stages add up to {compute:.6g}"))
    if not _close(tot.transfer_ms, transfer):
        problems.append(Problem("totals.transfer_ms", f"is {tot.transfer_ms:.6g}, the transfers add up to "
                                f"{transfer:.6g}"))
    if tot.latency_ms is not None:
        latency, slack = _critical_path_ms(plan, topo)
        if not _close(tot.latency_ms, latency, 1e-6 + slack) and not _close(tot.latency_ms, compute + transfer):
            problems.append(Problem("totals.latency_ms", f"is {tot.latency_ms:.6g}, but the critical path through "
                                    f"the stages and transfers takes {latency:.6g} ms"))
    if tot.latency_at_rate_ms is not None and tot.latency_ms is not None and tot.latency_at_rate_ms < tot.latency_ms * (1 - _RTOL):
        problems.append(Problem("totals.latency_at_rate_ms", f"is {tot.latency_at_rate_ms:.6g}, below the latency "
                                f"of a request alone ({tot.latency_ms:.6g} ms)"))
    on_links = sum(t.wire_bytes * len(t.route_links) for t in plan.transfers)
    hops = sum(len(t.route_links) for t in plan.transfers)
    if tot.bytes_on_links_per_request is not None and not math.isclose(
            tot.bytes_on_links_per_request, on_links, rel_tol=_RTOL, abs_tol=hops + 1e-6):
        problems.append(Problem("totals.bytes_on_links_per_request", f"is {tot.bytes_on_links_per_request:.6g}, "
                                f"the transfers put {on_links} bytes on links"))
    # the cost model's rule: a device holds the weights of all its stages and the largest activation of one
    weights: dict[str, float] = {}
    peak: dict[str, float] = {}
    for s in plan.stages:
        weights[s.device] = weights.get(s.device, 0.0) + s.weights_bytes
        peak[s.device] = max(peak.get(s.device, 0.0), float(s.peak_activation_bytes))
    memory = {d: weights[d] + peak[d] for d in weights}
    for dev, recorded in tot.memory_bytes_per_device.items():
        if not math.isclose(recorded, memory.get(dev, 0.0), rel_tol=_RTOL, abs_tol=len(plan.stages) + 1.0):
            problems.append(Problem(f"totals.memory_bytes_per_device.{dev}", f"is {recorded:.6g}, its stages hold "
                                    f"{memory.get(dev, 0.0):.6g} bytes"))
    for dev in memory.keys() - tot.memory_bytes_per_device.keys():
        if tot.memory_bytes_per_device:
            problems.append(Problem("totals.memory_bytes_per_device", f"has no entry for {dev!r}, which runs a stage"))
    # load: each device is busy for its stages' compute per request; the busiest station bounds throughput
    busy: dict[str, float] = {}
    for s in plan.stages:
        busy[s.device] = busy.get(s.device, 0.0) + s.compute_ms
    rate = plan.workload.rate_rps
    for dev, recorded in tot.utilization_per_device.items():
        want = rate * busy.get(dev, 0.0) / 1000.0
        if not _close(recorded, want, abs_tol=1e-9):
            problems.append(Problem(f"totals.utilization_per_device.{dev}", f"is {recorded:.6g}, but {rate:g} "
                                    f"requests/s × {busy.get(dev, 0.0):.6g} ms make {want:.6g}"))
    busiest = max(busy.values(), default=0.0)
    if tot.throughput_rps is not None and busiest > 0 and tot.throughput_rps > 1000.0 / busiest * (1 + _RTOL):
        problems.append(Problem("totals.throughput_rps", f"is {tot.throughput_rps:.6g}, above the {1000.0 / busiest:.6g} "
                                f"requests/s the busiest device ({busiest:.6g} ms per request) can serve"))
    if topo is not None and tot.cost_usd_per_1k is not None:
        usd_per_hour = {d.id: d.cost_usd_per_hour for d in topo.devices}
        floor = sum(b / 3.6e6 * usd_per_hour.get(d, 0.0) * 1000.0 for d, b in busy.items())
        if tot.cost_usd_per_1k < floor * (1 - _RTOL) - 1e-12:
            problems.append(Problem("totals.cost_usd_per_1k", f"is {tot.cost_usd_per_1k:.6g}, below the "
                                    f"{floor:.6g} USD its devices' time alone costs per 1,000 requests"))
    for i, s in enumerate(plan.stages):
        if s.memory_bytes and s.memory_bytes != s.weights_bytes + s.peak_activation_bytes:
            problems.append(Problem(f"stages[{i}].memory_bytes", f"is {s.memory_bytes}, but weights "
                                    f"{s.weights_bytes} + activations {s.peak_activation_bytes} make "
                                    f"{s.weights_bytes + s.peak_activation_bytes}"))
        if s.unit_ms is not None:  # the time table's figures for this stage: compute is their sum + overhead
            if len(s.unit_ms) != len(s.unit_ids):
                problems.append(Problem(f"stages[{i}].unit_ids", f"names {len(s.unit_ids)} units, but the stage's "
                                        f"unit_ms records the times of {len(s.unit_ms)}"))
            elif not _close(s.compute_ms, sum(s.unit_ms) + (s.overhead_ms or 0.0)):
                problems.append(Problem(f"stages[{i}].compute_ms", f"is {s.compute_ms:.6g}, but its units take "
                                        f"{sum(s.unit_ms):.6g} ms + {s.overhead_ms or 0.0:.6g} ms per part"))


def derived_problems(plan: DeploymentPlan) -> list[Problem]:
    """Every disagreement between what ``plan`` records and what its own inputs give.

    >>> derived_problems(load_plan("plan.json"))  # doctest: +SKIP
    [Problem(location='transfers', message="no transfer carries 'x' from the source ...")]
    """
    problems: list[Problem] = []
    topo = _topology(plan, problems)
    if topo is not None:
        _transfer_problems(plan, topo, problems)
    _totals_problems(plan, topo, problems)
    return problems


_INT8_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger",
                       "ConvInteger", "QLinearConv", "QLinearMatMul", "QLinearAdd", "QLinearMul",
                       "DynamicQuantizeMatMul", "QGemm", "QAttention", "MatMulIntegerToFloat"})


def level_content_problem(model: onnx.ModelProto, precision: str) -> str | None:
    """Why a part's contents cannot be at a level of ``precision`` (fp32, fp16, int8), or None.

    A level changed by hand in the plan no longer matches its part: fp32 parts
    hold no quantization operators and no half-precision weights; fp16 parts
    hold half-precision weights; int8 parts hold quantization operators.
    """
    from onnx import TensorProto

    ops = {n.op_type for n in model.graph.node}
    kinds = {t.data_type for t in model.graph.initializer}
    # every quantized kernel onnxruntime writes: Q/DQ, QLinear*, DynamicQuantize* (LSTM, MatMul), *Integer
    quant = sorted(op for op in ops if op in _INT8_OPS or op.startswith(("QLinear", "DynamicQuantize"))
                   or op.endswith("Integer"))
    half = TensorProto.FLOAT16 in kinds
    floats = kinds & {TensorProto.FLOAT, TensorProto.FLOAT16}
    if precision == "fp32":
        if quant:
            return f"the part holds quantization operators ({', '.join(quant[:3])}): it is not an fp32 part"
        if half:
            return "the part holds half-precision weights: it is not an fp32 part"
    elif precision == "fp16":
        if floats and not half:
            return "the part holds no half-precision weights: it is not an fp16 part"
    elif precision == "int8" and not quant and floats:
        return "the part holds no quantization operators: it is not an int8 part"
    return None
