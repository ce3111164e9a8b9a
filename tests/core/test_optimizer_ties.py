"""Ties of the objective are broken (latency, then bytes on links, then parts), and the per-part
overhead keeps plans from splitting or changing level when it does not pay."""

from __future__ import annotations

import numpy as np
import pytest

from planner_app.core.optimizer import optimize
from planner_app.core.optimizer.brute_force import brute_force
from planner_app.core.optimizer.chain_dp import solve_chain
from planner_app.core.optimizer.cost_model import PART_OVERHEAD_MS, evaluate
from planner_app.core.optimizer.milp import solve_milp
from planner_app.core.optimizer.problem import Constraints, ModelStructure, PlanningProblem
from planner_app.core.optimizer.synthetic import random_problem, time_table_from_flops
from planner_app.core.profiling.timetable import TimeTable
from planner_app.core.topology.records import Device, Link, Topology, Workload

INT8 = {"precisions": ["fp32", "int8"], "int8_speedup": 3.0}


def _free_topology() -> Topology:
    """Nothing costs money, nothing runs on a battery: every plan costs 0 USD and 0 J."""
    return Topology(
        name="free",
        devices=[
            Device(id="cam", kind="camera", tier="device", peak_gflops_fp32=20, memory_mb=4096, **INT8),
            Device(id="hub", kind="edge_server", tier="edge", peak_gflops_fp32=60, memory_mb=8192, **INT8),
            Device(id="box", kind="edge_server", tier="edge", peak_gflops_fp32=200, memory_mb=8192, **INT8),
        ],
        links=[
            Link(id="l1", a="cam", b="hub", bandwidth_ab_mbps=20, bandwidth_ba_mbps=20, latency_ms=1),
            Link(id="l2", a="hub", b="box", bandwidth_ab_mbps=1000, bandwidth_ba_mbps=1000, latency_ms=0.5),
        ],
        workloads=[Workload(name="w", source="cam", rate_rps=2)],
    )


# the raw input (300 kB = 120 ms over l1) dwarfs every unit's compute, so with the source out of
# the candidates the l1 upload is every plan's bottleneck: throughput ties too
MODEL = ModelStructure.chain([2e8, 3e8, 3e8, 1e8, 2e7], [200_000, 150_000, 150_000, 20_000, 1_000],
                             input_bytes=300_000)


def _problem(objective: str, **kw) -> PlanningProblem:
    topo = _free_topology()
    tt = time_table_from_flops(MODEL, topo, ["fp32", "int8"])
    return PlanningProblem.build(topo, None, MODEL, tt, codecs=["none"], objective=objective,
                                 constraints=Constraints(), **kw)


def _tie_reference(problem: PlanningProblem, space: str):
    """Among feasible plans of optimal objective: the least latency, and every plan's key."""
    bf = brute_force(problem, space)
    feas = [pr for _, pr in bf.evaluated if pr.feasible]
    best = min(problem.objective_value(pr) for pr in feas)
    equal = [pr for pr in feas if problem.objective_value(pr) <= best * (1 + 1e-9) + 1e-15]
    return best, equal


def _not_dominated_among(pred, equal) -> None:
    for other in equal:
        lt = (other.latency_ms < pred.latency_ms - 1e-9, other.link_bytes_per_request < pred.link_bytes_per_request - 1e-6)
        le = (other.latency_ms <= pred.latency_ms + 1e-9, other.link_bytes_per_request <= pred.link_bytes_per_request + 1e-6)
        assert not (all(le) and any(lt)), (pred.latency_ms, pred.link_bytes_per_request,
                                           other.latency_ms, other.link_bytes_per_request)


@pytest.mark.parametrize("objective", ["cost", "energy", "throughput"])
def test_a_tie_on_the_objective_goes_to_the_lowest_latency(objective):
    kw = {"candidate_devices": ["hub", "box"]} if objective == "throughput" else {}
    problem = _problem(objective, **kw)
    best, equal = _tie_reference(problem, "general")
    assert len(equal) > 10  # a real tie: many plans share the optimal objective
    assert max(pr.latency_ms for pr in equal) > 1.1 * min(pr.latency_ms for pr in equal)
    least = min(pr.latency_ms for pr in equal)
    for solver in ("milp", "brute", "auto"):
        res = optimize(problem, solver=solver)
        assert res.objective_value == pytest.approx(best, rel=1e-9, abs=1e-15), solver
        assert res.prediction.latency_ms == pytest.approx(least, rel=1e-9), (solver, res.placement.summary())
        _not_dominated_among(res.prediction, equal)
    # the chain DP over its own space, against brute force over the same space
    chain_best, chain_equal = _tie_reference(problem, "chain")
    dp = solve_chain(problem)
    assert dp.best_value == pytest.approx(chain_best, rel=1e-9, abs=1e-15)
    assert dp.best_prediction.latency_ms == pytest.approx(min(pr.latency_ms for pr in chain_equal), rel=1e-9)
    _not_dominated_among(dp.best_prediction, chain_equal)


def test_ties_are_broken_the_same_way_by_every_solver_on_random_instances():
    """DP == brute force (chain space) and MILP == brute force (every placement) on the whole key."""
    checked = 0
    for seed in range(40):
        rng = np.random.default_rng(4000 + seed)
        objective = ("cost", "energy", "throughput", "bandwidth")[seed % 4]
        problem = random_problem(rng, int(rng.integers(2, 4)), int(rng.integers(2, 4)), int(rng.integers(1, 3)),
                                 dag=bool(seed % 2), shape=("chain", "star")[seed % 2], objective=objective)
        for space, res in (("chain", solve_chain(problem)), ("general", solve_milp(problem))):
            bf = brute_force(problem, space)
            if bf.best is None:
                assert res.best is None
                continue
            want, got = problem.objective_key(bf.best_prediction), problem.objective_key(res.best_prediction)
            assert got[0] == pytest.approx(want[0], rel=1e-6, abs=1e-12), (seed, space)
            assert got[1] == pytest.approx(want[1], rel=1e-6), (seed, space, objective, got, want)
            checked += 1
    assert checked >= 40


# -- per-part overhead --------------------------------------------------------------------

def _alternating_problem(part_overhead_ms: float | None, devices=("cam",)) -> PlanningProblem:
    """Six units on a camera with two levels: fp32 is 0.03 ms faster on even units, int8 on odd ones."""
    topo = _free_topology()
    n = 6
    ms = np.zeros((n, 3, 2))
    for i in range(n):
        fast, slow = 1.0, 1.03
        ms[i, :, 0], ms[i, :, 1] = (fast, slow) if i % 2 == 0 else (slow, fast)
    ms[:, 1:, :] = 50.0  # the other devices are slow: everything stays on the camera
    tt = TimeTable(["cam", "hub", "box"], ["fp32", "int8"], ms, np.full((n, 2), 1e5))
    model = ModelStructure.chain([1e6] * n, [1_000] * n, input_bytes=10_000)
    return PlanningProblem.build(topo, None, model, tt, codecs=["none"], objective="latency",
                                 constraints=Constraints(), candidate_devices=list(devices),
                                 part_overhead_ms=part_overhead_ms)


@pytest.mark.parametrize("solver", ["milp", "brute"])
def test_without_overhead_levels_alternate_with_it_one_part_per_device(solver):
    free = optimize(_alternating_problem(0.0), solver=solver)
    assert len(free.prediction.parts) == 6  # level flips unit by unit to save 0.03 ms each time
    res = optimize(_alternating_problem(None), solver=solver)  # the default overhead
    assert PART_OVERHEAD_MS > 0.03
    assert len(res.prediction.parts) == 1, res.placement.summary()
    assert res.prediction.latency_ms == pytest.approx(3 * 1.0 + 3 * 1.03 + PART_OVERHEAD_MS)


def test_overhead_keeps_one_part_per_device_over_several_devices():
    problem = _alternating_problem(None, devices=("cam", "hub", "box"))
    for solver in ("milp", "dp"):
        res = optimize(problem, solver=solver, baselines=False)
        devs = [p.device for p in res.prediction.parts]
        assert len(devs) == len(set(devs)) == 1, (solver, res.placement.summary())


def test_a_split_must_pay_for_its_overhead():
    """The DP and MILP charge the overhead of every part, as evaluate does: equal to brute force."""
    for seed in range(20):
        rng = np.random.default_rng(8000 + seed)
        problem = random_problem(rng, int(rng.integers(2, 5)), int(rng.integers(2, 4)), int(rng.integers(1, 3)),
                                 dag=bool(seed % 2), shape=("chain", "star", "mesh")[seed % 3],
                                 objective=("latency", "throughput", "cost")[seed % 3])
        problem = problem.with_changes(part_overhead_ms=float(rng.choice([0.0, 0.5, 5.0])))
        for space, res in (("chain", solve_chain(problem)), ("general", solve_milp(problem))):
            bf = brute_force(problem, space)
            if bf.best is None:
                assert res.best is None
                continue
            assert res.best_value == pytest.approx(bf.best_value, rel=1e-6, abs=1e-12), (seed, space)
            assert evaluate(res.best, problem).latency_ms == pytest.approx(res.best_prediction.latency_ms)
