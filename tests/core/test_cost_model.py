"""The cost model against figures worked out by hand, and each constraint it checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from planner_app.core.compression.cut_codecs import CutCodec
from planner_app.core.optimizer.cost_model import (
    MESSAGE_OVERHEAD_MS,
    PART_OVERHEAD_MS,
    PlacementError,
    evaluate,
)
from planner_app.core.optimizer.problem import (
    Constraints,
    ModelStructure,
    Placement,
    PlanningProblem,
    ProblemError,
    TensorInfo,
)
from planner_app.core.profiling.timetable import TimeTable
from planner_app.core.topology.records import Device, Link, Topology, Workload


def _topology(rate_rps: float = 10.0, cam_memory_mb: float = 512, privacy: str = "none") -> Topology:
    return Topology(
        name="hand",
        devices=[
            Device(id="cam", kind="camera", tier="device", peak_gflops_fp32=10, memory_mb=cam_memory_mb,
                   power_active_w=2.0, radio_power_w=1.0, battery=True, privacy_zone="home"),
            Device(id="cloud", kind="cloud", tier="cloud", peak_gflops_fp32=1000, memory_mb=65536,
                   cost_usd_per_hour=3.6),
        ],
        links=[Link(id="l1", a="cam", b="cloud", bandwidth_ab_mbps=8, bandwidth_ba_mbps=80, latency_ms=10,
                    cost_usd_per_gb=0.1)],
        workloads=[Workload(name="w", source="cam", rate_rps=rate_rps, privacy=privacy)],
    )


def _model() -> ModelStructure:
    return ModelStructure.chain([1e6, 2e6], [10_000, 1_000], input_bytes=100_000, param_bytes=[1e6, 2e6])


def _table(levels=("fp32",), fidelity=None) -> TimeTable:
    base = np.array([[4.0, 1.0], [6.0, 1.0]])  # unit x device (cam, cloud)
    ms = np.stack([base * (1.0 if i == 0 else 0.5) for i in range(len(levels))], axis=2)
    pb = np.array([[1e6 / (1 + i) for i in range(len(levels))], [2e6 / (1 + i) for i in range(len(levels))]])
    prov = {("cam", lv): "measured-local" for lv in levels}
    return TimeTable(["cam", "cloud"], list(levels), ms, pb, prov, fidelity or {})


def _problem(**kw) -> PlanningProblem:
    kw.setdefault("part_overhead_ms", 0.0)  # the hand figures below leave the per-part overhead out
    topo = kw.pop("topology", None) or _topology()
    return PlanningProblem.build(topo, None, _model(), kw.pop("table", None) or _table(),
                                 codecs=kw.pop("codecs", ["none"]), **kw)


SPLIT = Placement(("cam", "cloud"), ("fp32", "fp32"))


def test_hand_computed_split():
    pred = evaluate(SPLIT, _problem())
    up = 10 + 10_000 * 8 / 8e3 + MESSAGE_OVERHEAD_MS  # 10 ms latency + 10 ms on the wire
    down = 10 + 1_000 * 8 / 80e3 + MESSAGE_OVERHEAD_MS
    assert pred.latency_ms == pytest.approx(4 + 1 + up + down, rel=1e-12)
    assert pred.compute_ms == pytest.approx(5.0)
    assert pred.transfer_ms == pytest.approx(up + down)
    assert [(t.from_device, t.to_device, t.bytes) for t in pred.transfers] == [("cam", "cloud", 10_000), ("cloud", "cam", 1_000)]
    assert pred.transfers[0].tensors == ["t0"] and pred.transfers[1].tensors == ["t1"]
    # cloud: 1 ms at $3.6/h = $1e-6 per request; link: 11 kB at $0.1/GB
    assert pred.cost_usd_per_1k == pytest.approx(1e-3 + 11_000 * 0.1 / 1e9 * 1000, rel=1e-12)
    assert pred.cost_usd_per_month == pytest.approx(pred.cost_usd_per_1k / 1000 * 10 * 30 * 24 * 3600)
    # battery camera: 4 ms at 2 W, radio 10 ms + 0.1 ms at 1 W
    assert pred.energy_mj_per_request == pytest.approx(8 + 10 + 0.1, rel=1e-12)
    assert pred.memory_bytes["cam"] == pytest.approx(1e6 + 110_000)
    assert pred.memory_bytes["cloud"] == pytest.approx(2e6 + 11_000)
    assert pred.link_bytes_per_request == pytest.approx(11_000)
    assert pred.link_mbps["l1"] == pytest.approx(10 * 11_000 * 8 / 1e6)
    assert pred.link_utilization["l1"] == pytest.approx(0.1)  # 10 ms per request up, at 10 req/s
    assert pred.device_utilization == pytest.approx({"cam": 0.04, "cloud": 0.01})
    assert pred.throughput_rps == pytest.approx(100.0) and "l1" in pred.bottleneck
    q = sum(r * s / (2 * (1 - r)) for r, s in [(0.04, 4), (0.01, 1), (0.1, 10), (0.001, 0.1)])
    assert pred.queueing_ms == pytest.approx(q, rel=1e-9)
    assert pred.latency_at_rate_ms == pytest.approx(pred.latency_ms + q)
    assert pred.fidelity == 1.0 and pred.feasible and pred.violations == []
    assert [(p.device, p.unit_ids, p.provenance) for p in pred.parts] == [("cam", [0], "measured-local"), ("cloud", [1], "estimated")]


def test_part_overhead_counts_once_per_part_in_latency_busy_time_cost_and_energy():
    assert PART_OVERHEAD_MS > 0
    table = _table(("fp32", "int8"))
    base = evaluate(SPLIT, _problem(table=table))
    pred = evaluate(SPLIT, _problem(table=table, part_overhead_ms=0.25))
    assert pred.latency_ms == pytest.approx(base.latency_ms + 2 * 0.25, rel=1e-12)  # two parts
    assert [p.overhead_ms for p in pred.parts] == [0.25, 0.25]
    assert pred.device_busy_ms == pytest.approx({"cam": 4.25, "cloud": 1.25})
    assert pred.cost_usd_per_1k == pytest.approx(base.cost_usd_per_1k + 0.25 * 3.6 / 3.6e6 * 1000, rel=1e-12)
    assert pred.energy_mj_per_request == pytest.approx(base.energy_mj_per_request + 0.25 * 2.0, rel=1e-12)
    # a part is a run on one device at one level: a level change on the camera is a second part there
    flip = Placement(("cam", "cam"), ("fp32", "int8"))
    assert len(evaluate(flip, _problem(table=table, part_overhead_ms=0.25)).parts) == 2
    assert evaluate(flip, _problem(table=table, part_overhead_ms=0.25)).device_busy_ms["cam"] == pytest.approx(4 + 3 + 2 * 0.25)
    # the default
    assert _problem(part_overhead_ms=None).overhead_ms == PART_OVERHEAD_MS
    with pytest.raises(ProblemError, match="part_overhead_ms"):
        _problem(part_overhead_ms=-1.0)


def test_all_local_sends_nothing():
    pred = evaluate(Placement.uniform(2, "cam", "fp32"), _problem())
    assert pred.transfers == [] and pred.latency_ms == pytest.approx(10.0)
    assert pred.cost_usd_per_1k == 0.0 and pred.link_bytes_per_request == 0.0
    assert pred.energy_mj_per_request == pytest.approx(20.0)


def test_skip_connection_cut_set_is_sent_whole():
    tensors = [TensorInfo("x", 1000, -1, (0,)), TensorInfo("a", 300, 0, (1, 2)), TensorInfo("b", 200, 1, (2,)),
               TensorInfo("y", 10, 2, (), True)]
    s = ModelStructure("skip", ["u0", "u1", "u2"], [1, 1, 1], [0, 0, 0], tensors)
    assert s.cut_bytes.tolist() == [1000, 300, 500, 10]
    assert s.cut_tensor_names(2) == ["a", "b"]
    topo = _topology()
    tt = TimeTable(["cam", "cloud"], ["fp32"], np.ones((3, 2, 1)), np.zeros((3, 1)))
    p = PlanningProblem.build(topo, None, s, tt, codecs=["none"])
    pred = evaluate(Placement(("cam", "cam", "cloud"), ("fp32",) * 3), p)
    assert [t.bytes for t in pred.transfers] == [500, 10]
    assert set(pred.transfers[0].tensors) == {"a", "b"}


def test_codec_shrinks_wire_bytes_and_fidelity():
    table = _table(("fp32", "int8"), {"fp32": 1.0, "int8": 0.98})
    codec = CutCodec("half", 0.5, encode_ms_per_mb=1.0, decode_ms_per_mb=1.0, fidelity=0.99)
    p = _problem(table=table, codecs={"none": CutCodec("none", 1.0), "half": codec})
    plain = evaluate(Placement(("cam", "cloud"), ("int8", "fp32")), p)
    coded = evaluate(Placement(("cam", "cloud"), ("int8", "fp32"), "half"), p)
    assert coded.transfers[0].wire_bytes == 5_000
    # half the wire time, plus 2 ms/MB of codec time on 10 kB
    assert coded.transfers[0].transfer_ms == pytest.approx(plain.transfers[0].transfer_ms - 5 + 0.02)
    assert plain.fidelity == pytest.approx(0.98) and coded.fidelity == pytest.approx(0.98 * 0.99)
    local = evaluate(Placement(("cam", "cam"), ("fp32", "fp32"), "half"), p)
    assert local.fidelity == 1.0  # nothing is sent, so the codec does not touch the result


def test_each_constraint_is_reported_with_its_excess():
    pred = evaluate(SPLIT, _problem(topology=_topology(cam_memory_mb=1)))
    assert [v.split(":")[0] for v in pred.violations] == ["memory"]
    assert pred.violation_amounts["memory"] == pytest.approx(1.11e6 / 2**20 - 1)

    pred = evaluate(SPLIT, _problem(constraints=Constraints(slo_ms=30)))
    assert pred.violations[0].startswith("slo:") and "by 6.10 ms" in pred.violations[0]

    pred = evaluate(SPLIT, _problem(topology=_topology(rate_rps=200)))
    assert any(v.startswith("capacity:") and "l1 cam→cloud" in v for v in pred.violations)
    assert math.isinf(pred.queueing_ms)

    pinned = _problem(constraints=Constraints(pinned_units={1: "cam"}))
    assert evaluate(SPLIT, pinned).violations[0].startswith("pinned:")
    assert evaluate(Placement.uniform(2, "cam", "fp32"), pinned).feasible

    cost = _problem(constraints=Constraints(max_cost_usd_per_1k=1e-4))
    assert evaluate(SPLIT, cost).violations[0].startswith("cost:")

    fid = _problem(table=_table(("fp32", "int8"), {"int8": 0.9}), constraints=Constraints(min_fidelity=0.95))
    assert evaluate(Placement(("cam", "cloud"), ("int8", "fp32")), fid).violations[0].startswith("fidelity:")


def test_privacy_keeps_the_raw_input_in_its_zone():
    p = _problem(topology=_topology(privacy="raw_input_in_zone"))
    assert p.constraints.privacy == "raw_input_in_zone"
    assert evaluate(SPLIT, p).feasible  # only t0, a computed tensor, leaves the camera
    raw_out = evaluate(Placement.uniform(2, "cloud", "fp32"), p)
    assert raw_out.violations[0].startswith("privacy:") and "'input'" not in raw_out.violations[0]
    assert "input" in raw_out.violations[0] and "cloud" in raw_out.violations[0]
    marked = _problem(constraints=Constraints(private_tensors=("t0",)))
    assert not evaluate(SPLIT, marked).feasible


def test_unrunnable_units_and_json():
    table = _table()
    table.ms[1, 0, 0] = np.inf
    p = _problem(table=table)
    pred = evaluate(Placement.uniform(2, "cam", "fp32"), p)
    assert pred.violations[0].startswith("runnable:") and math.isinf(pred.latency_ms)
    doc = json.loads(json.dumps(pred.to_dict()))
    assert doc["latency_ms"] is None and doc["feasible"] is False
    assert {"latency_ms", "cost_usd_per_1k", "energy_mj_per_request", "link_mbps", "memory_bytes"} <= set(doc)


def test_bad_placements_and_problems_are_named():
    p = _problem()
    with pytest.raises(PlacementError, match="not candidates"):
        evaluate(Placement(("cam", "edge"), ("fp32", "fp32")), p)
    with pytest.raises(PlacementError, match="levels"):
        evaluate(Placement(("cam", "cam"), ("fp32", "int4")), p)
    with pytest.raises(PlacementError, match="model 'chain' has 2"):
        evaluate(Placement(("cam",), ("fp32",)), p)
    with pytest.raises(ProblemError, match="objective 'speed'"):
        _problem(objective="speed")
    with pytest.raises(ProblemError, match="time table has 2 units"):
        PlanningProblem.build(_topology(), None, ModelStructure.chain([1], [1], 1), _table())


def test_adapter_from_a_real_model_graph():
    from planner_app.core.models.graph import load_model
    from planner_app.core.models.samples import sample_model_path

    mg = load_model(sample_model_path("mobilenet_v2", image_size=96, width_mult=0.5))
    s = ModelStructure.from_model_graph(mg)
    assert s.n_units == len(mg.units)
    assert s.flops.sum() == pytest.approx(sum(u.flops for u in mg.units))
    # interior cut sets agree with the model graph's own cuts (its cut p sits after unit p)
    for cut in mg.cuts():
        assert s.cut_bytes[cut.position + 1] == cut.bytes
    assert s.cut_bytes[0] == sum(mg.tensor_bytes[name] for name in mg.inputs)
    assert s.cut_bytes[-1] == sum(mg.tensor_bytes[name] for name in mg.outputs)
