"""What research planners need of the cost model: per-link message overhead, direct-only links,
workloads without a consumer, rates that are not stated, batches, and the MILP's proven gap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner_app.core.optimizer import optimize
from planner_app.core.optimizer.brute_force import brute_force
from planner_app.core.optimizer.chain_dp import solve_chain
from planner_app.core.optimizer.cost_model import MESSAGE_OVERHEAD_MS, evaluate
from planner_app.core.optimizer.milp import solve_milp
from planner_app.core.optimizer.problem import (
    Constraints,
    ModelStructure,
    Placement,
    PlanningProblem,
)
from planner_app.core.optimizer.synthetic import random_problem, time_table_from_flops
from planner_app.core.profiling.timetable import TimeTable
from planner_app.core.topology.io import load_topology, save_topology
from planner_app.core.topology.records import Device, Link, Topology, Workload


def _topology(workload: Workload | None = None, **link: object) -> Topology:
    return Topology(
        name="hand",
        devices=[Device(id="cam", kind="camera", tier="device", peak_gflops_fp32=10, memory_mb=512),
                 Device(id="cloud", kind="cloud", tier="cloud", peak_gflops_fp32=1000, memory_mb=65536,
                        cost_usd_per_hour=3.6)],
        links=[Link(id="l1", a="cam", b="cloud", bandwidth_ab_mbps=8, bandwidth_ba_mbps=80, latency_ms=10,
                    **link)],  # type: ignore[arg-type]
        workloads=[workload or Workload(name="w", source="cam", rate_rps=10.0)],
    )


def _model() -> ModelStructure:
    return ModelStructure.chain([1e6, 2e6], [10_000, 1_000], input_bytes=100_000, param_bytes=[1e6, 2e6])


def _table() -> TimeTable:
    ms = np.array([[4.0, 1.0], [6.0, 1.0]])[:, :, None]
    return TimeTable(["cam", "cloud"], ["fp32"], ms, np.array([[1e6], [2e6]]))


def _problem(topo: Topology, **kw: object) -> PlanningProblem:
    return PlanningProblem.build(topo, None, _model(), _table(), codecs=["none"], part_overhead_ms=0.0,
                                 **kw)  # type: ignore[arg-type]


SPLIT = Placement(("cam", "cloud"), ("fp32", "fp32"))


def test_message_overhead_comes_from_the_link_else_the_topology_else_half_a_millisecond() -> None:
    base = evaluate(SPLIT, _problem(_topology()))
    up, down = 10 + 10.0 + MESSAGE_OVERHEAD_MS, 10 + 0.1 + MESSAGE_OVERHEAD_MS
    assert base.transfer_ms == pytest.approx(up + down)
    topo = _topology()
    topo.message_overhead_ms = 2.0
    assert evaluate(SPLIT, _problem(topo)).transfer_ms == pytest.approx(up + down + 2 * 1.5)
    linked = evaluate(SPLIT, _problem(_topology(message_overhead_ms=0.0)))
    assert linked.transfer_ms == pytest.approx(up + down - 2 * MESSAGE_OVERHEAD_MS)
    assert "per-message overhead" in linked.provenance["transfer_ms"]


def test_a_direct_only_link_is_the_route_between_its_ends() -> None:
    devices = [Device(id=d, kind="edge_server", tier="edge", peak_gflops_fp32=100, memory_mb=1024) for d in "abc"]

    def topo(direct: bool) -> Topology:
        return Topology(devices=devices, links=[
            Link(id="slow", a="a", b="b", bandwidth_ab_mbps=1, bandwidth_ba_mbps=1, latency_ms=5, direct_only=direct),
            Link(id="ac", a="a", b="c", bandwidth_ab_mbps=1000, bandwidth_ba_mbps=1000, latency_ms=1),
            Link(id="cb", a="c", b="b", bandwidth_ab_mbps=1000, bandwidth_ba_mbps=1000, latency_ms=1)])

    assert topo(False).route("a", "b", 1_000_000).links == ["ac", "cb"]  # relaying through c is faster
    forced = topo(True)
    assert forced.route("a", "b", 1_000_000).links == ["slow"]
    assert forced.route("b", "a", 0).links == ["slow"]
    assert forced.route("a", "c", 1_000_000).links == ["ac"]  # other pairs route as before


def test_a_workload_without_consumer_keeps_results_on_the_last_stage() -> None:
    wl = Workload(name="w", source="cam", rate_rps=10.0, results_stay=True)
    pred = evaluate(SPLIT, _problem(_topology(wl)))
    assert [(t.from_device, t.to_device) for t in pred.transfers] == [("cam", "cloud")]
    with pytest.raises(ValueError, match="drop one"):
        Workload(name="w", source="cam", consumer="cloud", results_stay=True)


@pytest.mark.parametrize("seed", range(8))
def test_dp_milp_and_brute_force_agree_without_a_consumer(seed: int) -> None:
    p = random_problem(np.random.default_rng(seed), n_units=4, n_devices=3, n_levels=2,
                       objective=["latency", "cost", "throughput", "energy"][seed % 4])
    wl = p.workload.model_copy(update={"results_stay": True})
    p = PlanningProblem.build(p.topology, wl, p.structure, p.time_table, codecs=["none"],
                              constraints=p.constraints, objective=p.objective)
    bf = brute_force(p)
    assert bf.best is not None
    milp = solve_milp(p)
    assert milp.best_prediction is not None
    assert math.isclose(p.objective_value(milp.best_prediction), bf.best_value, rel_tol=1e-6, abs_tol=1e-9)
    chain = solve_chain(p)
    assert chain.best_prediction is not None
    assert p.objective_value(chain.best_prediction) >= bf.best_value * (1 - 1e-9)
    in_chain = brute_force(p, "chain")  # a path topology: the chain DP is exact over its space
    assert math.isclose(p.objective_value(chain.best_prediction), in_chain.best_value, rel_tol=1e-6, abs_tol=1e-9)
    for t in evaluate(bf.best, p).transfers:
        assert t.cut < p.n_units  # nothing is sent after the last part


def test_capacity_limits_apply_only_when_the_workload_states_a_rate(tmp_path) -> None:
    slow = Placement(("cam", "cam"), ("fp32", "fp32"))  # 10 ms a request on the camera
    stated = _problem(_topology(Workload(name="w", source="cam", rate_rps=200.0)))
    assert any(v.startswith("capacity") for v in evaluate(slow, stated).violations)
    assumed = _topology(Workload(name="w", source="cam"))
    pred = evaluate(slow, _problem(assumed))
    assert pred.feasible and not assumed.workloads[0].rate_stated
    save_topology(assumed, tmp_path / "t.json")
    again = load_topology(tmp_path / "t.json")
    assert not again.workloads[0].rate_stated  # saving does not state the default
    assert again.workloads[0].rate_rps == 1.0


def test_batches_count_calls_for_utilization_and_requests_for_throughput() -> None:
    wl = Workload(name="w", source="cam", rate_rps=40.0, batch_size=4)
    per_batch = evaluate(SPLIT, _problem(_topology(wl)))
    single = evaluate(SPLIT, _problem(_topology(Workload(name="w", source="cam", rate_rps=10.0))))
    # the source's figures are per batch already: same times, 10 calls/s either way
    assert per_batch.latency_ms == pytest.approx(single.latency_ms)
    assert per_batch.device_utilization == pytest.approx(single.device_utilization)
    assert per_batch.throughput_rps == pytest.approx(4 * single.throughput_rps)
    assert per_batch.rate_rps == 40.0 and per_batch.batch_size == 4
    # figures measured for one request, scaled to the batch of 4 (linear, no batching gain)
    scaled = evaluate(SPLIT, _problem(_topology(wl), figures_batch_size=1))
    assert scaled.compute_ms == pytest.approx(4 * single.compute_ms)
    assert [t.bytes for t in scaled.transfers] == [4 * t.bytes for t in single.transfers]


def test_every_milp_answer_states_its_gap() -> None:
    p = random_problem(np.random.default_rng(1), n_units=6, n_devices=3, n_levels=2)
    res = optimize(p, solver="milp", baselines=False)
    assert res.exact and res.gap == 0.0 and "proven optimal (gap 0)" in res.exact_scope
    big = random_problem(np.random.default_rng(2), n_units=40, n_devices=5, n_levels=2, shape="mesh",
                         objective="throughput")
    stopped = optimize(big, solver="milp", baselines=False, time_limit_s=0.05)
    assert not stopped.exact
    assert stopped.gap is None or 0 < stopped.gap <= 1.0
    assert "proven gap" in stopped.exact_scope or "no bound" in stopped.exact_scope
    assert any("proven gap" in n or "no bound proven" in n for n in stopped.notes)
    assert any("--pipeline" in n and "--time-limit" in n for n in stopped.notes)  # what to do about it
    with pytest.raises(Exception, match="time limit"):
        optimize(p, time_limit_s=-1)


def test_the_flops_table_and_constraints_stay_unchanged_for_stated_rates() -> None:
    """Guard: a workload with a stated rate keeps the capacity limit in its constraints."""
    topo = _topology()
    p = PlanningProblem.build(topo, None, _model(), time_table_from_flops(_model(), topo), codecs=["none"])
    assert p.constraints.capacity
    p2 = PlanningProblem.build(topo, None, _model(), time_table_from_flops(_model(), topo), codecs=["none"],
                               constraints=Constraints(capacity=True))
    assert p2.constraints.capacity
