"""The MILP's presolve keeps answers exact: each step equals brute force on random small instances.

- the sequence DP (``sequence_dp.solve_sequence``): when it claims a plan optimal, brute force
  over every placement agrees; when it does not, its lower bound holds;
- the device reductions (``reduce.reduce_problem``): brute force over the reduced problem
  finds the same best key as over the full one — with identical twins, dominated devices and
  unusable ones present, and memory, utilization, SLO and privacy limits on;
- the MILP itself with and without the presolve (so HiGHS's formulation stays tested when
  the shortcut answers most problems).

Seeds are fixed; a failure names its seed.
"""

from __future__ import annotations

import math

import numpy as np

from planner_app.core.optimizer import optimize
from planner_app.core.optimizer.brute_force import brute_force
from planner_app.core.optimizer.dataflow import is_chain, is_totally_ordered
from planner_app.core.optimizer.milp import solve_milp
from planner_app.core.optimizer.problem import Constraints, PlanningProblem, lex_better
from planner_app.core.optimizer.reduce import reduce_problem
from planner_app.core.optimizer.sequence_dp import solve_sequence
from planner_app.core.optimizer.synthetic import (
    random_problem,
    random_structure,
    random_topology,
    time_table_from_flops,
)
from planner_app.core.topology.records import Topology

OBJECTIVES = ["latency", "cost", "energy", "bandwidth", {"latency": 1.0, "cost": 100.0}, "throughput"]


def _instance(seed: int, max_general: int = 300) -> tuple[PlanningProblem, dict]:
    rng = np.random.default_rng(seed)
    n_devices, n_levels, n_units = int(rng.integers(2, 5)), int(rng.integers(1, 3)), int(rng.integers(2, 6))
    while n_units > 2 and (n_devices * n_levels) ** n_units > max_general:
        n_units -= 1
    flags = dict(dag=bool(seed % 2), shape=("chain", "star", "mesh")[seed % 3], memory=seed % 4 == 1,
                 privacy=seed % 5 == 2, slo=seed % 3 == 1, capacity=seed % 7 == 3,
                 objective=OBJECTIVES[seed % len(OBJECTIVES)], codecs=("none", "fp16") if seed % 4 == 3 else ("none",))
    return random_problem(rng, n_units, n_devices, n_levels, **flags), flags


def _same_key(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return not lex_better(a, b, 1e-7) and not lex_better(b, a, 1e-7)


def _best_key(problem: PlanningProblem) -> tuple[float, ...] | None:
    bf = brute_force(problem, "general")
    return None if bf.best_prediction is None else problem.objective_key(bf.best_prediction)


def test_sequence_dp_is_optimal_whenever_it_says_so_and_bounds_otherwise() -> None:
    proven = bounded = declined = ordered_dags = 0
    for seed in range(3000, 3060):
        problem, flags = _instance(seed)
        res = solve_sequence(problem)
        ref = _best_key(problem)
        label = f"seed {seed} {flags}"
        if not is_totally_ordered(problem.structure):
            # branches can overlap: latency is a critical path, not the sum the DP adds up: it must decline
            assert not res.proven and res.best is None and res.reason, label
            declined += 1
            continue
        # chains, and totally ordered DAGs (the DP's sum is then a lower bound: see sequence_dp)
        ordered_dags += not is_chain(problem.structure)
        if res.proven:
            proven += 1
            assert ref is not None and res.prediction is not None, label
            assert _same_key(problem.objective_key(res.prediction), ref), (label, res.prediction, ref)
        elif res.best is not None and ref is not None:
            bounded += 1
            assert res.lower_bound <= ref[0] * (1 + 1e-9), label  # a relaxation never beats the optimum
        if flags["objective"] == "throughput":
            assert not res.proven and "throughput" in res.reason, label
    # most problems are proven; some are not (a limit that adds up over a plan binds); the random
    # DAGs here are all totally ordered (declined: tests/core/test_optimizer_branches.py's two branches)
    assert proven >= 25 and bounded >= 1 and declined + ordered_dags >= 5, (proven, bounded, declined, ordered_dags)


def test_milp_with_and_without_presolve_equals_brute_force() -> None:
    for seed in range(4000, 4036):
        problem, flags = _instance(seed, max_general=200)
        ref = _best_key(problem)
        for presolve in (True, False):
            mi = solve_milp(problem, presolve=presolve)
            label = f"seed {seed} presolve={presolve} {flags}"
            assert mi.exact and (mi.gap == 0.0 or mi.best is None), label
            if ref is None:
                assert mi.best is None, label
                continue
            assert mi.best_prediction is not None, label
            assert _same_key(problem.objective_key(mi.best_prediction), ref), (label, mi.best.summary())


def _with_twins(topo: Topology, device: str, count: int) -> Topology:
    """``count`` copies of ``device``, each with copies of its links (same figures, same neighbours)."""
    out = topo.model_copy(deep=True)
    rec = topo.device(device)
    for t in range(count):
        twin = f"{device}-twin{t}"
        out.devices.append(rec.model_copy(update={"id": twin}))
        for lk in topo.links:
            if device in (lk.a, lk.b):
                out.links.append(lk.model_copy(update={
                    "id": f"{lk.id}-t{t}", "a": twin if lk.a == device else lk.a, "b": twin if lk.b == device else lk.b}))
    return out


def _twin_problem(seed: int) -> PlanningProblem:
    """A random problem with twins of an edge device (and of the source's neighbour) and a slower copy."""
    rng = np.random.default_rng(seed)
    n_devices = int(rng.integers(2, 4))
    topo = random_topology(rng, n_devices, ("chain", "star")[seed % 2], zones=seed % 5 == 2)
    topo = _with_twins(topo, "d1", 1 + seed % 2)
    # a slower copy of d1: dominated, not identical
    slow = topo.device("d1").model_copy(update={"id": "d1-slow", "peak_gflops_fp32": topo.device("d1").peak_gflops_fp32 / 3})
    topo.devices.append(slow)
    for lk in list(topo.links):
        if lk.a == "d1" and not lk.id.endswith(("-t0", "-t1")):
            topo.links.append(lk.model_copy(update={"id": f"{lk.id}-slow", "a": "d1-slow"}))
        elif lk.b == "d1" and not lk.id.endswith(("-t0", "-t1")):
            topo.links.append(lk.model_copy(update={"id": f"{lk.id}-slow", "b": "d1-slow"}))
    levels = ["fp32", "int8"][: 1 + seed % 2]
    n_units = 4
    while n_units > 2 and (len(topo.devices) * len(levels)) ** n_units > 600:
        n_units -= 1  # small enough to enumerate
    s = random_structure(rng, n_units, dag=bool(seed % 3))
    tt = time_table_from_flops(s, topo, levels)
    cons = Constraints(memory=seed % 2 == 0, capacity=seed % 3 != 2,
                       privacy="raw_input_in_zone" if seed % 5 == 2 else "none")
    objective = ("latency", "cost", "energy", "bandwidth", {"latency": 1.0, "cost": 50.0})[seed % 5]
    return PlanningProblem.build(topo, None, s, tt, codecs=["none", "int8"][: 1 + seed % 2], constraints=cons,
                                 objective=objective)


def test_reductions_drop_twins_and_dominated_devices_and_keep_the_optimum() -> None:
    dropped_twins = 0
    for seed in range(5000, 5016):
        problem = _twin_problem(seed)
        ref = _best_key(problem)
        # with and without a latency bound (the bound only lets utilization limits be ruled out)
        bound = None if ref is None else ref[1]
        for lat in (None, bound):
            red = reduce_problem(problem, lat)
            label = f"seed {seed} bound={lat} dropped={red.dropped}"
            assert set(red.problem.devices) | set(red.dropped) == set(problem.devices), label
            assert problem.source in red.problem.devices, label
            got = _best_key(red.problem)
            if ref is None:
                assert got is None, label
                continue
            assert got is not None and _same_key(got, ref), (label, got, ref)
            dropped_twins += any("twin" in d for d in red.dropped)
    assert dropped_twins >= 8, dropped_twins


def test_reductions_keep_the_optimum_on_random_instances_with_binding_limits() -> None:
    reduced = 0
    for seed in range(6000, 6030):
        problem, flags = _instance(seed)
        ref = _best_key(problem)
        red = reduce_problem(problem, None if ref is None else ref[1] if "latency" in str(flags["objective"]) else None)
        reduced += bool(red.dropped)
        got = _best_key(red.problem)
        label = f"seed {seed} {flags} dropped={red.dropped}"
        assert (got is None) == (ref is None), label
        if ref is not None and got is not None:
            assert _same_key(got, ref), (label, got, ref)
    assert reduced >= 1, reduced  # random devices seldom dominate one another: the twins test covers more


def test_unusable_devices_are_dropped_and_throughput_keeps_every_device() -> None:
    rng = np.random.default_rng(7)
    topo = _with_twins(random_topology(rng, 3, "chain"), "d1", 1)
    tiny = topo.device("d1-twin0").model_copy(update={"memory_mb": 1e-6})
    topo.replace_device(tiny)
    s = random_structure(rng, 4, dag=True)
    tt = time_table_from_flops(s, topo, ["fp32"])
    p = PlanningProblem.build(topo, None, s, tt, codecs=["none"], constraints=Constraints(memory=True))
    red = reduce_problem(p)
    assert "runs no unit" in red.dropped["d1-twin0"]
    # throughput is a maximum over devices: two twins share a load one of them would carry alone
    q = p.with_changes(objective="throughput", constraints=Constraints(memory=False))
    assert reduce_problem(q).dropped == {}


def test_the_answer_says_how_it_was_proven() -> None:
    problem, _ = _instance(3000)
    res = optimize(problem, solver="milp", baselines=False)
    assert res.exact and res.gap == 0.0
    assert "proven optimal" in res.exact_scope
    seq = solve_sequence(problem)
    assert seq.proven == ("sequence DP" in res.exact_scope)
    assert math.isfinite(res.objective_value)


def test_auto_answers_with_the_sequence_dp_only_when_it_is_the_best_over_every_placement() -> None:
    by_sequence = 0
    for seed in range(8000, 8030):
        problem, flags = _instance(seed, max_general=200)
        ref = _best_key(problem)
        auto = optimize(problem, baselines=False)
        explicit = optimize(problem, solver="sequence", baselines=False)
        label = f"seed {seed} {flags} auto={auto.solver}"
        if ref is None:
            assert not explicit.feasible, label
            continue
        # explicit 'sequence' is exact over every placement (the MILP answers what it cannot prove)
        assert explicit.feasible and _same_key(problem.objective_key(explicit.prediction), ref), label
        if auto.solver == "sequence":
            by_sequence += 1
            assert auto.exact and _same_key(problem.objective_key(auto.prediction), ref), label
            assert "every placement" in auto.exact_scope, label
    assert by_sequence >= 10, by_sequence


def test_auto_with_a_pareto_front_still_answers_with_the_sequence_dp_and_builds_the_front() -> None:
    """The window asks for a front by default: the sequence DP still answers, and the front is the
    non-dominated set the MILP path would give (enumerated here: the instances are small)."""
    from planner_app.core.optimizer.pareto import criteria_vector, nondominated

    by_sequence = 0
    for seed in range(8000, 8030):
        problem, flags = _instance(seed, max_general=200)
        res = optimize(problem, baselines=False, pareto=True)
        if res.solver != "sequence":
            continue
        by_sequence += 1
        front = res.pareto_front
        assert front, (seed, flags)
        vecs = np.array([criteria_vector(e.prediction) for e in front])
        assert len(nondominated(vecs)) == len(front), (seed, flags)  # nothing on it dominates another point
        ref = brute_force(problem, "general", pareto=True).front  # the enumerated front of every placement
        ref_vecs = sorted(tuple(np.round(criteria_vector(pr), 9)) for _, pr in ref)
        assert sorted(tuple(np.round(v, 9)) for v in vecs) == ref_vecs, (seed, flags)
    assert by_sequence >= 10, by_sequence


def test_the_capped_dp_keeps_the_slo_and_the_cost_cap_exactly() -> None:
    """When only the SLO or the $ cap breaks, the labelled DP finds the best plan within them."""
    from dataclasses import replace

    capped = 0
    for seed in range(9000, 9080):
        rng = np.random.default_rng(seed)
        n_devices, n_levels = int(rng.integers(2, 5)), int(rng.integers(1, 3))
        n_units = 5
        while n_units > 2 and (n_devices * n_levels) ** n_units > 300:
            n_units -= 1
        # chains: on a model with branches latency is a critical path and the DP declines
        problem = random_problem(rng, n_units, n_devices, n_levels, dag=False,
                                 shape=("chain", "star", "mesh")[seed % 3], slo=seed % 3 != 2,
                                 objective=("cost", "energy", "bandwidth", {"energy": 1.0, "cost": 100.0})[seed % 4],
                                 codecs=("none", "fp16") if seed % 2 else ("none",))
        if seed % 3 != 1:  # a $ cap between the cheapest plan's cost and twice it
            cheapest = solve_sequence(problem.with_changes(objective="cost",
                                                           constraints=replace(problem.constraints, slo_ms=None)))
            assert cheapest.prediction is not None
            cap = cheapest.prediction.cost_usd_per_1k * float(rng.uniform(1.0, 2.0))
            problem = problem.with_changes(constraints=replace(problem.constraints, max_cost_usd_per_1k=cap))
        res = solve_sequence(problem)
        ref = _best_key(problem)
        label = f"seed {seed} {res.reason}"
        if res.proven:
            assert ref is not None and res.prediction is not None, label
            assert _same_key(problem.objective_key(res.prediction), ref), (label, ref)
            capped += "labelled DP" in res.reason
        elif ref is not None and res.best is not None:
            assert res.lower_bound <= ref[0] * (1 + 1e-9), label
    assert capped >= 10, capped


def test_what_highs_prints_goes_to_stderr_not_to_the_plans_stdout(tmp_path) -> None:
    """scipy's HiGHS printf()s debugging lines; run in a real process so file descriptors are real."""
    import subprocess
    import sys

    code = ("import ctypes\n"
            "from planner_app.core.optimizer import milp\n"
            "print('before', flush=True)\n"
            "with milp._stdout_to_stderr():\n"
            "    with milp._stdout_to_stderr():  # nested: one redirection\n"
            "        ctypes.CDLL(None).printf(b'HighsMipSolverData::debug\\n')\n"
            "print('after', flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["before", "after"]
    assert "HighsMipSolverData::debug" in out.stderr
