"""The pipeline DP: held to brute force over every device subset and order, and its plans are pipelines."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner_app.core.optimizer import Constraints, optimize
from planner_app.core.optimizer.cost_model import evaluate
from planner_app.core.optimizer.dataflow import is_chain
from planner_app.core.optimizer.pipeline import device_classes, solve_pipeline
from planner_app.core.optimizer.problem import Placement, PlanningProblem, ProblemError, lex_better
from planner_app.core.optimizer.registry import get_solver
from planner_app.core.optimizer.synthetic import fleet_problem

OBJECTIVES: list[str | dict[str, float]] = ["throughput", "latency", "cost", {"latency": 1.0, "cost": 20.0}]
TYPES = [[1, 2], [2, 1], [1, 1, 1], [3], [2, 2]]


def _brute_pipeline(p: PlanningProblem) -> tuple[tuple[float, ...], Placement] | None:
    """Every placement whose devices each host one contiguous stage at one level (every subset and
    order of devices, every split, every level per stage)."""
    best: tuple[tuple[float, ...], Placement] | None = None
    n = p.n_units
    for devs in itertools.product(p.devices, repeat=n):
        stages = Placement(devs, (p.levels[0],) * n).stages()
        if not Placement(devs, (p.levels[0],) * n).is_pipeline(1):
            continue
        for stage_levels in itertools.product(p.levels, repeat=len(stages)):
            lv = tuple(x for (a, b, _), x in zip(stages, stage_levels, strict=True) for _ in range(a, b))
            for codec in p.codecs:
                pl = Placement(devs, lv, codec)
                pred = evaluate(pl, p)
                if pred.feasible:
                    key = p.objective_key(pred)
                    if best is None or lex_better(key, best[0]):
                        best = (key, pl)
    return best


def _instance(seed: int) -> PlanningProblem:
    rng = np.random.default_rng(seed)
    tc = TYPES[seed % len(TYPES)]
    p = fleet_problem(rng, 4 if sum(tc) < 4 else 3, tc, n_levels=1 + seed % 2, objective=OBJECTIVES[seed % 4],
                      memory=seed % 3 != 0, chain=seed % 2 == 0, noise=0.4 if seed % 2 else 0.0,
                      codecs=("none", "fp16") if seed % 5 == 0 else ("none",))
    if seed % 7 == 3:  # a latency limit that binds now and then
        slo = float(rng.uniform(0.5, 1.5)) * evaluate(Placement.uniform(p.n_units, p.devices[0], p.levels[0]), p).latency_ms
        p = p.with_changes(constraints=Constraints(memory=p.constraints.memory, capacity=False, slo_ms=slo,
                                                   max_stages_per_device=1))
    if seed % 6 == 1:  # a unit pinned to one device: that device's class stands alone
        unit, dev = int(rng.integers(0, p.n_units)), p.devices[int(rng.integers(0, len(p.devices)))]
        p = p.with_changes(constraints=Constraints(memory=p.constraints.memory, capacity=False,
                                                   slo_ms=p.constraints.slo_ms, max_stages_per_device=1,
                                                   pinned_units={unit: dev}))
    return p


@pytest.mark.parametrize("block", range(4))
def test_pipeline_dp_equals_brute_force_over_device_subsets_and_orders(block: int) -> None:
    """120 random fleets (memory limits, levels, codecs, SLOs, pinned units, four objectives): the DP's
    optimum is brute force's."""
    for seed in range(block * 30, block * 30 + 30):
        p = _instance(seed)
        bf = _brute_pipeline(p)
        res = solve_pipeline(p)
        if bf is None:
            assert res.best is None, f"seed {seed}: brute force finds no pipeline, the DP returns {res.best}"
            continue
        assert res.best is not None and res.best_prediction is not None, f"seed {seed}: DP found nothing"
        got = p.objective_value(res.best_prediction)
        if not is_chain(p.structure):
            # a DAG: the cost model takes the critical path, the DP sums stage after stage (not exact)
            assert not res.exact and got >= bf[0][0] * (1 - 1e-7) - 1e-12, (seed, res.notes)
            continue
        assert res.exact, (seed, res.notes)
        assert math.isclose(got, bf[0][0], rel_tol=1e-7, abs_tol=1e-12), (seed, res.best.summary(), bf[1].summary())
        if p.weights == {"throughput": 1.0}:  # ties go to the lower latency
            assert math.isclose(res.best_prediction.latency_ms, bf[0][1], rel_tol=1e-7), seed
        assert math.isclose(res.dp_value, got if "throughput" in p.weights else res.dp_value, rel_tol=1e-7)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_units=st.integers(2, 12), k=st.integers(1, 3))
def test_pipeline_plans_are_pipelines(seed: int, n_units: int, k: int) -> None:
    """Whatever the instance, the plan hosts at most k contiguous stages per device and evaluates feasible."""
    rng = np.random.default_rng(seed)
    p = fleet_problem(rng, n_units, [2, 3], n_levels=2, memory=True, max_stages_per_device=k,
                      objective=OBJECTIVES[seed % 4])
    res = solve_pipeline(p)
    if res.best is None:
        return
    assert res.best.is_pipeline(k)
    assert max(res.best.stages_per_device().values()) <= k
    assert evaluate(res.best, p).feasible


def test_device_types_group_interchangeable_devices_and_split_the_others() -> None:
    p = fleet_problem(np.random.default_rng(3), 6, [3, 2])
    assert device_classes(p) == [["t0-0", "t0-1", "t0-2"], ["t1-0", "t1-1"]]
    # one device of type 0 gets a slower link: same type, no longer interchangeable
    topo = p.topology.model_copy(deep=True)
    link = topo.link("l-t0-1")
    topo.replace_link(link.model_copy(update={"bandwidth_ab_mbps": link.bandwidth_ab_mbps / 3}))
    p2 = PlanningProblem.build(topo, None, p.structure, p.time_table, codecs=["none"], constraints=p.constraints,
                               objective="throughput", candidate_devices=p.devices)
    classes = device_classes(p2)
    assert ["t0-1"] in classes and ["t1-0", "t1-1"] in classes


def test_evaluate_flags_a_plan_that_is_not_a_pipeline() -> None:
    p = fleet_problem(np.random.default_rng(4), 4, [2])
    a, b = p.devices
    zigzag = Placement((a, b, a, b), ("fp32",) * 4)
    pred = evaluate(zigzag, p)
    assert any(v.startswith("stages:") and f"{a} hosts 2" in v for v in pred.violations)
    assert evaluate(Placement((a, a, b, b), ("fp32",) * 4), p).feasible


def test_optimize_in_pipeline_mode_uses_the_pipeline_solver() -> None:
    p = fleet_problem(np.random.default_rng(5), 10, [2, 2])
    result = optimize(p)
    assert result.solver in ("pipeline", "baseline:all-on-source", "baseline:all-on-best-device") or \
        result.solver.startswith("baseline")
    assert result.feasible and result.placement.is_pipeline(1)
    assert get_solver("pipeline").space == "pipeline"
    assert "pipelines" in result.exact_scope


def test_a_mixed_throughput_objective_is_refused_with_the_reason() -> None:
    p = fleet_problem(np.random.default_rng(6), 4, [2], objective={"throughput": 1.0, "cost": 1.0})
    with pytest.raises(ProblemError, match="not a mix"):
        solve_pipeline(p)


def test_the_issue_size_targets_are_solved_exactly() -> None:
    """96 layers on 16 devices of 2 types: exact (the time target is the benchmark's)."""
    p = fleet_problem(np.random.default_rng(7), 96, [8, 8])
    res = solve_pipeline(p)
    assert res.best is not None and res.exact
    assert math.isclose(res.best_prediction.bottleneck_ms, res.dp_value, rel_tol=1e-9)


@pytest.mark.parametrize("objective", ["throughput", "latency", "cost"])
def test_long_windows_use_range_minima_and_agree_with_the_scan(objective: str, monkeypatch) -> None:
    """Stages longer than the scan window go through the binary search / sparse table: same optimum."""
    import planner_app.core.optimizer.pipeline_steps as steps

    for seed in range(6):
        p = fleet_problem(np.random.default_rng(100 + seed), 40, [2, 1], n_levels=2, memory=seed % 2 == 0,
                          objective=objective, chain=seed % 3 != 0)
        scanned = solve_pipeline(p)
        monkeypatch.setattr(steps, "SCAN_WINDOW", 0)
        searched = solve_pipeline(p)
        monkeypatch.setattr(steps, "SCAN_WINDOW", 64)
        assert (scanned.best is None) == (searched.best is None)
        if scanned.best_prediction is not None and searched.best_prediction is not None:
            assert math.isclose(p.objective_value(scanned.best_prediction),
                                p.objective_value(searched.best_prediction), rel_tol=1e-9), seed
            assert math.isclose(scanned.best_prediction.latency_ms, searched.best_prediction.latency_ms,
                                rel_tol=1e-9), seed


def test_the_pose_option_turns_pipeline_mode_on_and_refuses_nonsense() -> None:
    from planner_app.core.planning.options import OptionsError, PoseOptions, SolveOptions

    assert PoseOptions(max_stages_per_device=2).max_stages_per_device == 2
    assert PoseOptions().max_stages_per_device is None
    with pytest.raises(OptionsError, match="max_stages_per_device"):
        PoseOptions(max_stages_per_device=0)
    with pytest.raises(OptionsError, match="time_limit_s"):
        SolveOptions(time_limit_s=-1)
    with pytest.raises(ProblemError, match="max_stages_per_device"):
        Constraints(max_stages_per_device=0)
