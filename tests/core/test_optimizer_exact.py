"""The chain DP and the MILP are optimal: both equal brute force on random small instances.

Instances mix chain and DAG models (skip connections, raw input read twice, a
second output), 2-5 devices on chain / star / mesh topologies, 1-3 levels, two
cut codecs, every objective, and memory, privacy, SLO and capacity limits
tight enough to bind. Seeds are fixed; a failure names its seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner_app.core.optimizer.brute_force import brute_force
from planner_app.core.optimizer.chain_dp import solve_chain
from planner_app.core.optimizer.cost_model import evaluate
from planner_app.core.optimizer.milp import solve_milp
from planner_app.core.optimizer.pareto import criteria_vector, dominates
from planner_app.core.optimizer.synthetic import random_problem

OBJECTIVES = ["latency", "cost", "throughput", "energy", "bandwidth", {"latency": 1.0, "cost": 100.0}]


def _instance(seed: int, max_general: int | None = None, max_chain: int = 250):
    rng = np.random.default_rng(seed)
    n_devices = int(rng.integers(2, 6))
    n_levels = int(rng.integers(1, 4))
    n_units = int(rng.integers(2, 6))
    # keep the spaces small enough to enumerate in a test: (devices x levels)^units for the
    # general space, about C(units + devices - 1, units) x levels^devices for the chain space
    while n_units > 2 and (
        (max_general is not None and (n_devices * n_levels) ** n_units > max_general)
        or math.comb(n_units + n_devices - 1, n_units) * n_levels ** min(n_units, n_devices) > max_chain
    ):
        n_units -= 1
    flags = dict(
        dag=bool(seed % 2),
        shape=("chain", "star", "mesh")[seed % 3],
        memory=seed % 4 == 1,
        privacy=seed % 5 == 2,
        slo=seed % 3 == 1,
        capacity=seed % 7 == 3,
        objective=OBJECTIVES[seed % len(OBJECTIVES)],
        codecs=("none", "fp16") if seed % 4 == 3 else ("none",),
    )
    return random_problem(rng, n_units, n_devices, n_levels, **flags), flags


def _same(a: float, b: float, rel: float) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


def _front_matrix(front) -> np.ndarray:
    return np.array(sorted(criteria_vector(pr).round(9).tolist() for _, pr in front))


def _assert_fronts_equal(mine, reference, label: str) -> None:
    """Every reference point is matched by one of mine and vice versa (within rounding)."""
    a, b = [criteria_vector(pr) for _, pr in mine], [criteria_vector(pr) for _, pr in reference]
    for name, xs, ys in ((f"{label}: missing from the front", b, a), (f"{label}: not on the reference front", a, b)):
        for x in xs:
            assert any(np.allclose(x, y, rtol=1e-9, atol=1e-12) for y in ys), f"{name}: {x}"


def _assert_no_dominated(front, label: str) -> None:
    pts = [criteria_vector(pr) for _, pr in front]
    for i, p in enumerate(pts):
        for j, q in enumerate(pts):
            assert i == j or not dominates(q, p, rtol=1e-9), f"{label}: point {i} is dominated by {j}"


def test_chain_dp_equals_brute_force_on_its_space():
    binding = {"infeasible": 0, "constrained": 0}
    for seed in range(120):
        problem, flags = _instance(seed)
        pareto = seed % 2 == 0
        dp = solve_chain(problem, pareto=pareto)
        bf = brute_force(problem, "chain", pareto=pareto)
        label = f"seed {seed} {flags}"
        if bf.best is None:
            binding["infeasible"] += 1
            assert dp.best is None, label
            continue
        assert dp.best is not None, label
        assert _same(dp.best_value, bf.best_value, 1e-9), (label, dp.best_value, bf.best_value)
        # the DP's own sums agree with the cost model on the plan it returns
        assert _same(dp.label_value, dp.best_value, 1e-9), (label, dp.label_value, dp.best_value)
        assert dp.best_prediction.feasible and evaluate(dp.best, problem).feasible
        if any(not pr.feasible and problem.objective_value(pr) < bf.best_value * (1 - 1e-9)
               for _, pr in bf.evaluated):
            binding["constrained"] += 1  # a better plan exists but breaks a limit
        if pareto:
            _assert_fronts_equal(dp.front, bf.front, label)
            _assert_no_dominated(dp.front, label)
    # the instances are not trivial: limits bind, and some problems have no plan at all
    assert binding["constrained"] >= 8 and binding["infeasible"] >= 3, binding


def test_stagewise_dp_under_memory_and_utilization_limits_equals_brute_force():
    """Scalar objectives with memory/utilization limits take the stage-wise DP: check it too."""
    binding = 0
    for seed in range(7000, 7060):
        rng = np.random.default_rng(seed)
        problem = random_problem(
            rng, int(rng.integers(2, 7)), int(rng.integers(2, 5)), int(rng.integers(1, 4)),
            dag=bool(seed % 2), shape=("chain", "star", "mesh")[seed % 3], memory=seed % 2 == 0,
            capacity=seed % 3 != 1, slo=seed % 3 == 1,
            objective=("latency", "cost", "energy", "bandwidth", {"latency": 1.0, "cost": 100.0})[seed % 5])
        dp, bf = solve_chain(problem), brute_force(problem, "chain")
        if bf.best is None:
            assert dp.best is None, seed
            continue
        assert dp.best is not None and _same(dp.best_value, bf.best_value, 1e-9), seed
        assert _same(dp.label_value, dp.best_value, 1e-9), seed
        binding += any(not pr.feasible and problem.objective_value(pr) < bf.best_value * (1 - 1e-9)
                       for _, pr in bf.evaluated)
    assert binding >= 4, binding


def test_milp_equals_brute_force_on_every_placement():
    binding = 0
    for seed in range(1000, 1100):
        problem, flags = _instance(seed, max_general=250)
        mi = solve_milp(problem)
        bf = brute_force(problem, "general")
        label = f"seed {seed} {flags}"
        assert mi.exact, label
        if bf.best is None:
            assert mi.best is None, label
            continue
        assert mi.best is not None, label
        assert _same(mi.best_value, bf.best_value, 1e-6), (label, mi.best_value, bf.best_value)
        if any(not pr.feasible and problem.objective_value(pr) < bf.best_value * (1 - 1e-9)
               for _, pr in bf.evaluated):
            binding += 1  # a better plan exists but breaks a limit
    assert binding >= 8, binding


@pytest.mark.parametrize("seed", [9, 17, 21, 38])
def test_pareto_front_of_the_milp_path_has_no_dominated_point(seed):
    from planner_app.core.optimizer import optimize

    problem, flags = _instance(seed, max_general=400)
    res = optimize(problem, solver="milp", pareto=True, baselines=False)
    assert res.feasible and len(res.pareto_front) >= 4
    bf = brute_force(problem, "general", pareto=True)
    _assert_fronts_equal([(e.placement, e.prediction) for e in res.pareto_front], bf.front, f"seed {seed}")
    _assert_no_dominated([(e.placement, e.prediction) for e in res.pareto_front], f"seed {seed}")
