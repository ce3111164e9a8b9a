"""Branches of a DAG on different devices run at the same time: latency is the critical path.

A hand-worked two-branch model where the parallel split beats every sequential
plan, and the MILP held to brute force on random two-branch DAGs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner_app.core.optimizer import choose_solver, optimize
from planner_app.core.optimizer.brute_force import brute_force
from planner_app.core.optimizer.cost_model import evaluate
from planner_app.core.optimizer.dataflow import is_chain
from planner_app.core.optimizer.milp import solve_milp
from planner_app.core.optimizer.problem import (
    Constraints,
    ModelStructure,
    Placement,
    PlanningProblem,
    TensorInfo,
)
from planner_app.core.optimizer.synthetic import random_time_table, random_topology
from planner_app.core.profiling.timetable import TimeTable
from planner_app.core.topology.records import Device, Link, Topology, Workload


def _two_branches(b1: int = 1, b2: int = 1, size: int = 1000) -> ModelStructure:
    """stem (unit 0) -> branch 1 (b1 units) and branch 2 (b2 units) -> merge (last unit)."""
    n = 2 + b1 + b2
    first2, merge = 1 + b1, n - 1
    tensors = [TensorInfo("x", size, -1, (0,)), TensorInfo("a", size, 0, (1, first2))]
    for u in range(1, merge):
        last = u == b1 or u == merge - 1
        tensors.append(TensorInfo(f"t{u}", size, u, (merge,) if last else (u + 1,)))
    tensors.append(TensorInfo("y", size, merge, (), True))
    return ModelStructure("two-branches", [f"u{i}" for i in range(n)], np.full(n, 1e6), np.zeros(n), tensors)


def _hand_problem() -> PlanningProblem:
    # 8 Mbps: 1,000 bytes take 1 ms; every link adds 1 ms; no per-message or per-part overhead
    devs = [Device(id=d, kind="edge_device", tier="edge", peak_gflops_fp32=10, memory_mb=4096) for d in ("cam", "e1", "e2")]
    links = [Link(id=f"l{i}", a=a, b=b, bandwidth_ab_mbps=8, bandwidth_ba_mbps=8, latency_ms=1)
             for i, (a, b) in enumerate((("cam", "e1"), ("cam", "e2"), ("e1", "e2")))]
    topo = Topology(name="hand", devices=devs, links=links, workloads=[Workload(name="w", source="cam")],
                    message_overhead_ms=0.0)
    ms = np.array([[1, 1, 1], [100, 10, 10], [100, 10, 10], [1, 1, 1]], float)[:, :, None]  # unit x (cam, e1, e2)
    tt = TimeTable(["cam", "e1", "e2"], ["fp32"], ms, np.zeros((4, 1)))
    return PlanningProblem.build(topo, None, _two_branches(), tt, codecs=["none"], part_overhead_ms=0.0)


def test_parallel_branches_by_hand():
    p = _hand_problem()
    assert not is_chain(p.structure)
    par = evaluate(Placement(("cam", "e1", "e2", "cam"), ("fp32",) * 4), p)
    # cam: stem 0-1; 'a' to e1 and to e2 (1 + 1 ms each), both branches 3-13 side by side; each result
    # back to cam (2 ms) by 15; the merge 15-16 on cam, where the consumer is
    assert par.latency_ms == pytest.approx(16.0)
    assert par.compute_ms == pytest.approx(22.0) and par.transfer_ms == pytest.approx(8.0)  # work: unchanged sums
    assert par.device_busy_ms == pytest.approx({"cam": 2.0, "e1": 10.0, "e2": 10.0})
    path = par.critical_path
    assert [s.kind for s in path] == ["compute", "transfer", "compute", "transfer", "compute"]
    assert sum(s.ms for s in path) == pytest.approx(par.latency_ms)
    assert [s.where for s in path][0] == "cam" and path[-1].where == "cam"
    # the same split one after another would take 30 ms; the best single device takes 26 (e1, with the
    # input and the result on the wire): parallel is the best plan, and the solvers find it
    one = evaluate(Placement.uniform(4, "e1", "fp32"), p)
    assert one.latency_ms == pytest.approx(26.0)
    assert choose_solver(p) == "milp"
    for res in (solve_milp(p), brute_force(p)):
        assert res.best_prediction.latency_ms == pytest.approx(16.0)
        assert set(res.best.devices[1:3]) == {"e1", "e2"} and res.best.devices[0] == "cam"
    out = optimize(p)
    assert out.solver == "milp" and out.exact and out.prediction.latency_ms == pytest.approx(16.0)


def test_branch_waits_for_its_input_and_device():
    """Two branches on one device run one after the other; the merge waits for the slower side."""
    p = _hand_problem()
    pred = evaluate(Placement(("cam", "e1", "e1", "cam"), ("fp32",) * 4), p)
    # 'a' reaches e1 at 3; the branches run 3-13, 13-23; one message with both results is 2,000 bytes: 23+3
    assert pred.latency_ms == pytest.approx(27.0)
    assert [t.bytes for t in pred.transfers] == [1000, 2000]


def _random_two_branch_problem(seed: int) -> PlanningProblem:
    rng = np.random.default_rng(seed)
    n_dev = int(rng.integers(2, 5))
    n_lvl = int(rng.integers(1, 3)) if n_dev == 2 else 1
    b1, b2 = 1, 1
    while True:  # longer branches while brute force stays small (at most 256 placements)
        grow = rng.integers(0, 2, size=2)
        if not grow.any() or (n_dev * n_lvl) ** (2 + b1 + b2 + int(grow.sum())) > 256:
            break
        b1, b2 = b1 + int(grow[0]), b2 + int(grow[1])
    s = _two_branches(b1, b2, int(rng.integers(1_000, 100_000)))
    s = ModelStructure(s.name, s.unit_names, rng.uniform(1e7, 5e8, s.n_units), rng.uniform(0, 4e6, s.n_units),
                       s.tensors)
    topo = random_topology(rng, n_dev, ("chain", "star", "mesh")[seed % 3])
    memory = seed % 2 == 0
    if memory:
        need = (float(s.param_bytes.sum()) + float(s.activation_bytes.max())) / 2**20
        for d in list(topo.devices):
            if str(d.tier) != "cloud":
                topo.replace_device(d.model_copy(update={"memory_mb": float(rng.uniform(0.3, 1.3) * need)}))
    # times drawn per unit and device (not one speed per device): branches often fit different devices
    levels = ["fp32", "int8"][:n_lvl]
    ms = rng.uniform(1.0, 30.0, (s.n_units, n_dev, 1)) * np.array([1.0, 0.6][:n_lvl])
    pb = np.outer(s.param_bytes, [1.0, 0.25][:n_lvl])
    tt = TimeTable([d.id for d in topo.devices], levels, ms, pb, {}, {"int8": 0.98})
    objective = ("latency", "latency", {"latency": 1.0, "cost": 100.0}, "energy")[seed % 4]
    p = PlanningProblem.build(topo, None, s, tt, codecs=["none"], constraints=Constraints(memory=memory),
                              objective=objective)
    if seed % 3 == 1:
        local = float(np.nansum(np.where(np.isfinite(p.ms[:, 0, 0]), p.ms[:, 0, 0], 0)))
        p = p.with_changes(constraints=Constraints(memory=memory, slo_ms=float(rng.uniform(0.3, 1.0) * local + 1)))
    return p


def test_milp_equals_brute_force_on_two_branch_dags():
    parallel_wins = not_proven = 0
    for seed in range(100):
        p = _random_two_branch_problem(seed)
        bf, mi = brute_force(p), solve_milp(p, time_limit_s=30)
        if bf.best is None:
            assert mi.best is None, seed
            continue
        assert mi.best is not None, seed
        if mi.exact:
            assert math.isclose(mi.best_value, bf.best_value, rel_tol=1e-6, abs_tol=1e-9), (seed, mi.best_value,
                                                                                             bf.best_value)
        else:
            # its plan's messages queue for a shared link, which its latency rows leave out: not proven, and
            # the gap it states holds the true optimum
            assert mi.best_prediction.link_queueing_ms > 0 and "shared link" in mi.status, seed
            assert mi.best_value >= bf.best_value * (1 - 1e-9) and mi.gap is not None, seed
            assert bf.best_value >= mi.best_value * (1 - mi.gap) - 1e-9, (seed, mi.best_value, mi.gap, bf.best_value)
            not_proven += 1
        pred = bf.best_prediction
        assert sum(s.ms for s in pred.critical_path) == pytest.approx(pred.latency_ms)
        parallel_wins += pred.latency_ms < pred.compute_ms + pred.transfer_ms - 1e-9
    # the instances are not trivial: in some the best plan overlaps the branches
    assert parallel_wins >= 5, parallel_wins
    assert not_proven < 10, not_proven  # link sharing rarely decides


def test_chains_keep_their_summed_latency():
    s = ModelStructure.chain([1e8, 2e8, 1e8], [4000, 400, 40], input_bytes=40000)
    assert is_chain(s)
    rng = np.random.default_rng(3)
    topo = random_topology(rng, 3)
    p = PlanningProblem.build(topo, None, s, random_time_table(rng, s, topo, 1), codecs=["none"])
    for devices in (("d0", "d1", "d2"), ("d1", "d0", "d1"), ("d2", "d2", "d2")):
        pred = evaluate(Placement(devices, ("fp32",) * 3), p)
        assert pred.latency_ms == pred.compute_ms + pred.transfer_ms
        assert sum(x.ms for x in pred.critical_path) == pytest.approx(pred.latency_ms)


def test_the_dp_on_a_branched_model_says_it_is_not_proven():
    p = _hand_problem()
    out = optimize(p, solver="dp")
    assert not out.exact and "branches" in out.exact_scope
    # its plan is evaluated by the cost model all the same, and no better than the MILP's
    assert out.prediction.latency_ms == pytest.approx(evaluate(out.placement, p).latency_ms)
    assert out.prediction.latency_ms >= 16.0 - 1e-9


def _star_problem() -> PlanningProblem:
    """The hand problem with cam, e1 and e2 on a switch: every message crosses two links."""
    devs = [Device(id=d, kind="edge_device", tier="edge", peak_gflops_fp32=10, memory_mb=4096) for d in ("cam", "e1", "e2")]
    devs.append(Device(id="sw", kind="gateway", tier="edge", peak_gflops_fp32=1, memory_mb=64))
    links = [Link(id=f"l-{d}", a=d, b="sw", bandwidth_ab_mbps=8, bandwidth_ba_mbps=8, latency_ms=1)
             for d in ("cam", "e1", "e2")]
    topo = Topology(name="star", devices=devs, links=links, workloads=[Workload(name="w", source="cam")],
                    message_overhead_ms=0.0)
    ms = np.array([[1, 1, 1], [100, 10, 10], [100, 10, 10], [1, 1, 1]], float)[:, :, None]
    tt = TimeTable(["cam", "e1", "e2"], ["fp32"], ms, np.zeros((4, 1)))
    return PlanningProblem.build(topo, None, _two_branches(), tt, codecs=["none"], part_overhead_ms=0.0)


def test_messages_fanned_out_over_one_uplink_queue_for_it():
    """The stem's output goes to e1 and e2 over cam's one uplink: its bits cross it one message after the
    other, so the second branch starts a millisecond later; the results share the switch's link to cam."""
    p = _star_problem()
    par = evaluate(Placement(("cam", "e1", "e2", "cam"), ("fp32",) * 4), p)
    # 'a' to e1: leaves at 1, 2 ms of links + 1 ms of bits = 4; to e2: waits for cam's uplink until 2, so 5;
    # branches 4-14 and 5-15; results 14+3 = 17 and 15+3 = 18 (the switch's link to cam is free by then);
    # the merge 18-19
    assert par.latency_ms == pytest.approx(19.0)
    assert sorted(t.queue_ms for t in par.transfers) == pytest.approx([0.0, 0.0, 0.0, 1.0])
    assert par.link_queueing_ms == pytest.approx(1.0)
    assert sum(s.ms for s in par.critical_path) == pytest.approx(par.latency_ms)
    # the MILP's latency rows leave link sharing out: it finds this plan, bounds it, and does not call it proven
    mi, bf = solve_milp(p), brute_force(p)
    for res in (mi, bf):
        assert set(res.best.devices[1:3]) == {"e1", "e2"} and res.best_prediction.latency_ms == pytest.approx(19.0)
    assert not mi.exact and "shared link" in mi.status
    assert mi.gap is not None and 0 < mi.gap <= 1.0 / 19 + 1e-9


def test_a_chain_never_queues_for_its_links():
    """A chain's messages never overlap in time: sharing links changes nothing."""
    s = ModelStructure.chain([1e8, 2e8, 1e8], [4000, 400, 40], input_bytes=40000)
    rng = np.random.default_rng(5)
    topo = random_topology(rng, 3, "chain")
    p = PlanningProblem.build(topo, None, s, random_time_table(rng, s, topo, 1), codecs=["none"])
    for devices in (("d0", "d1", "d2"), ("d1", "d0", "d1"), ("d2", "d0", "d2")):
        pred = evaluate(Placement(devices, ("fp32",) * 3), p)
        assert all(t.queue_ms == 0 for t in pred.transfers) and pred.link_queueing_ms == 0
