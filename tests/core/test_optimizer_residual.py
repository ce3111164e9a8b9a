"""Totally ordered DAGs (residual networks): the sequence DP as an exact lower bound.

Every unit reads its predecessor's outputs, and skip tensors jump ahead to later units. The
sequence DP charges only the edge tensors (unit k-1 -> unit k), a lower bound on every key
column of every plan (sequence_dp's module docstring); where its plan attains the bound it is
proven optimal. Held to brute force on random residual DAGs.
"""

from __future__ import annotations

import math

import numpy as np

from planner_app.core.models.graph import load_model
from planner_app.core.models.samples import sample_model_path
from planner_app.core.optimizer.brute_force import brute_force
from planner_app.core.optimizer.dataflow import is_chain, is_totally_ordered
from planner_app.core.optimizer.milp import solve_milp
from planner_app.core.optimizer.problem import (
    Constraints,
    ModelStructure,
    PlanningProblem,
    TensorInfo,
    lex_better,
)
from planner_app.core.optimizer.sequence_dp import solve_sequence
from planner_app.core.optimizer.synthetic import random_topology
from planner_app.core.profiling.timetable import TimeTable


def _residual(rng: np.random.Generator, n: int) -> ModelStructure:
    """unit u -> u+1 always; skips u -> u+2 / u+3 at random (some heavy); sometimes a second reader of
    the raw input and a second output."""
    base = int(rng.integers(1_000, 50_000))
    readers_of_x = [0] + ([int(rng.integers(1, n))] if rng.random() < 0.3 else [])
    tensors = [TensorInfo("x", base, -1, tuple(sorted(set(readers_of_x))))]
    for u in range(n - 1):
        readers = [u + 1]
        for span in (2, 3):
            if u + span < n and rng.random() < 0.4:
                if rng.random() < 0.5:
                    readers.append(u + span)  # the same tensor read again further on
                else:  # a separate skip tensor, of its own size
                    tensors.append(TensorInfo(f"s{u}_{span}", int(base * rng.uniform(0.2, 4.0)), u, (u + span,)))
        tensors.append(TensorInfo(f"t{u}", int(base * rng.uniform(0.2, 2.0)), u, tuple(readers),
                                  u == n - 3 and rng.random() < 0.2))
    tensors.append(TensorInfo("y", int(base * rng.uniform(0.01, 1.0)), n - 1, (), True))
    return ModelStructure("residual", [f"u{i}" for i in range(n)], rng.uniform(1e7, 5e8, n), rng.uniform(0, 4e6, n),
                          tensors)


def _problem(seed: int) -> PlanningProblem:
    rng = np.random.default_rng(seed)
    n_dev = int(rng.integers(2, 4))
    n_lvl = 2 if n_dev == 2 and rng.random() < 0.5 else 1
    states = n_dev * n_lvl
    n = max(3, int(math.floor(math.log(256) / math.log(states))))
    s = _residual(rng, n)
    topo = random_topology(rng, n_dev, ("chain", "star", "mesh")[seed % 3])
    memory = seed % 2 == 0
    if memory:
        need = (float(s.param_bytes.sum()) + float(s.activation_bytes.max())) / 2**20
        for d in list(topo.devices):
            if str(d.tier) != "cloud":
                topo.replace_device(d.model_copy(update={"memory_mb": float(rng.uniform(0.3, 1.3) * need)}))
    levels = ["fp32", "int8"][:n_lvl]
    ms = rng.uniform(1.0, 30.0, (n, n_dev, 1)) * np.array([1.0, 0.6][:n_lvl])
    pb = np.outer(s.param_bytes, [1.0, 0.25][:n_lvl])
    tt = TimeTable([d.id for d in topo.devices], levels, ms, pb, {}, {"int8": 0.98})
    objective = ("latency", "latency", {"latency": 1.0, "cost": 100.0}, "energy", "bandwidth")[seed % 5]
    p = PlanningProblem.build(topo, None, s, tt, codecs=["none"], constraints=Constraints(memory=memory),
                              objective=objective)
    if seed % 3 == 1:
        local = float(np.nansum(np.where(np.isfinite(p.ms[:, 0, 0]), p.ms[:, 0, 0], 0)))
        p = p.with_changes(constraints=Constraints(memory=memory, slo_ms=float(rng.uniform(0.5, 1.2) * local + 1)))
    return p


def test_residual_structures_are_totally_ordered_not_chains():
    rng = np.random.default_rng(0)
    s = _residual(rng, 6)
    assert is_totally_ordered(s)
    chain = ModelStructure.chain([1e8, 2e8, 1e8], [4000, 400, 40], input_bytes=40000)
    assert is_chain(chain) and is_totally_ordered(chain)
    for name, ordered in (("resnet18", True), ("mobilenet_v2", True), ("transformer_encoder", False)):
        st = ModelStructure.from_model_graph(load_model(sample_model_path(name)))
        assert not is_chain(st) and is_totally_ordered(st) == ordered, name


def test_sequence_dp_bound_is_exact_where_proven_on_residual_dags():
    proven = unproven = 0
    for seed in range(60):
        p = _problem(seed)
        assert is_totally_ordered(p.structure)
        bf = brute_force(p)
        seq = solve_sequence(p)
        if bf.best is None:
            assert not seq.proven, seed
            continue
        best = p.objective_key(bf.best_prediction)
        # the DP's figure bounds the optimum from below whether or not it proves its plan
        assert seq.lower_bound <= bf.best_value * (1 + 1e-9) + 1e-9, (seed, seq.lower_bound, bf.best_value)
        if seq.proven:
            proven += 1
            key = p.objective_key(seq.prediction)
            assert not lex_better(best, key), (seed, best, key)
            assert math.isclose(p.objective_value(seq.prediction), bf.best_value, rel_tol=1e-9, abs_tol=1e-12), seed
        else:
            unproven += 1
    # both outcomes happen: the bound is attained often, and not always (skips crossing devices)
    assert proven >= 20 and unproven >= 3, (proven, unproven)


def test_milp_with_presolve_equals_brute_force_on_residual_dags():
    for seed in range(0, 60, 3):
        p = _problem(seed)
        bf, mi = brute_force(p), solve_milp(p, time_limit_s=30)
        if bf.best is None:
            assert mi.best is None, seed
            continue
        assert mi.best is not None and mi.exact, seed
        assert math.isclose(mi.best_value, bf.best_value, rel_tol=1e-6, abs_tol=1e-9), (seed, mi.best_value,
                                                                                         bf.best_value)


def test_attached_chain_bound_is_exact_where_proven_on_two_branch_dags():
    """Branches that can overlap: the attached-chain bound (sequence_dp._run_attached) never beats the
    optimum, and a plan it proves is the brute-force optimum."""
    from tests.core.test_optimizer_branches import _random_two_branch_problem

    proven = unproven = 0
    for seed in range(50):
        p = _random_two_branch_problem(seed)
        assert not is_totally_ordered(p.structure)
        bf = brute_force(p)
        seq = solve_sequence(p)
        if bf.best is None:
            assert not seq.proven, seed
            continue
        assert seq.lower_bound <= bf.best_value * (1 + 1e-9) + 1e-9, (seed, seq.lower_bound, bf.best_value)
        if seq.proven:
            proven += 1
            assert not lex_better(p.objective_key(bf.best_prediction), p.objective_key(seq.prediction)), seed
            assert math.isclose(p.objective_value(seq.prediction), bf.best_value, rel_tol=1e-9, abs_tol=1e-12), seed
        else:
            unproven += 1
    assert proven >= 3 and unproven >= 10, (proven, unproven)
