"""Joint plans the fast way: the proven one-at-a-time plans as the joint optimum, and the
bounded joint MILP, checked against the plain joint MILP and against brute force.

The shipped-sample cases use the smart factory with the six-unit stand-in chain and the
FLOPs-based synthetic table of ``test_joint.py``; the brute-force cases a three-device
topology (two cameras and an edge box they share, 60 GFLOP/s) with two workloads of a three-unit chain,
where every pair of placements is enumerated.
"""

from __future__ import annotations

import itertools

import pytest

from planner_app.core.models.structure import ModelStructure
from planner_app.core.optimizer import optimize
from planner_app.core.optimizer.brute_force import enumerate_placements
from planner_app.core.optimizer.cost_model import evaluate
from planner_app.core.optimizer.joint import (
    JointGoal,
    _usable_only,
    alone_measure,
    alone_optimum,
    joint_load,
    joint_objective_value,
    solve_joint,
)
from planner_app.core.optimizer.problem import PlanningProblem
from planner_app.core.optimizer.synthetic import time_table_from_flops
from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology import load_topology
from planner_app.core.topology.records import Device, Link, Topology, Workload

MODEL = ModelStructure.chain([1e8] * 6, [800_000, 400_000, 200_000, 100_000, 50_000, 4000], 602_112, [2e6] * 6,
                             name="mobilenet-like")
GOALS = ("worst-slack", "total-cost", "weighted-latency")


def factory(goal: str, rate: float = 10.0, memory_mb=None):
    topo = load_topology(sample_topology_paths()["smart_factory"])
    for i, w in enumerate(list(topo.workloads)):
        topo.workloads[i] = w.model_copy(update={"rate_rps": rate})
    for dev_id, mb in (memory_mb or {}).items():
        topo.replace_device(topo.device(dev_id).model_copy(update={"memory_mb": mb}))
    tt = time_table_from_flops(MODEL, topo, ["fp32"])
    return [PlanningProblem.build(topo, w.name, MODEL, tt, codecs=["none"], objective=alone_measure(JointGoal(goal)))
            for w in topo.workloads]


def solo(problems):
    res = [optimize(p, baselines=False) for p in problems]
    return [r.placement for r in res], [r.feasible and r.exact for r in res]


@pytest.mark.parametrize("goal", GOALS)
def test_at_the_shipped_rate_the_proven_one_at_a_time_plans_are_the_joint_milps_optimum(goal):
    problems = factory(goal)
    placements, proven = solo(problems)
    assert all(proven)  # chains: the sequence DP proves each one
    fast = solve_joint(problems, JointGoal(goal), alone=placements, alone_proven=proven)
    assert fast.method == "alone-optimal" and fast.exact and fast.gap == 0.0 and fast.n_variables == 0
    assert fast.placements == placements
    milp = solve_joint(problems, JointGoal(goal), alone=placements, alone_proven=proven, bounds=False)
    assert milp.method == "milp" and milp.exact
    assert fast.objective_value == pytest.approx(milp.objective_value, rel=1e-7, abs=1e-12)
    # the tie-break (rate-weighted latency) is no worse than the MILP's either
    if goal != "weighted-latency":
        lat = [sum(p.workload.rate_rps * pr.latency_ms for p, pr in zip(problems, s.predictions, strict=True))
               for s in (fast, milp)]
        assert lat[0] <= lat[1] * (1 + 1e-7)


def test_no_shortcut_when_a_plan_is_not_proven_or_measures_something_else():
    problems = factory("weighted-latency")
    placements, proven = solo(problems)
    goal = JointGoal("weighted-latency")
    assert alone_optimum(problems, goal, placements, [True] * 5 + [False]) is None
    # posed for cost, the plans say nothing about the least latency
    assert alone_optimum(problems, JointGoal("total-cost"), placements, proven) is None
    sol = solve_joint(problems, goal, alone=placements, alone_proven=[True] * 5 + [False])
    assert sol.method == "milp" and sol.exact


def test_overcommitted_one_at_a_time_plans_go_to_the_milp_with_the_same_optimum_as_without_bounds():
    problems = factory("weighted-latency", rate=70.0)  # the line uplinks carry 108 % one at a time
    placements, proven = solo(problems)
    assert all(proven)
    assert any(r.overloaded for r in joint_load(problems, [evaluate(pl, p) for pl, p in zip(placements, problems,
                                                                                          strict=True)]))
    goal = JointGoal("weighted-latency")
    bounded = solve_joint(problems, goal, alone=placements, alone_proven=proven)
    plain = solve_joint(problems, goal, alone=placements, alone_proven=proven, bounds=False)
    assert bounded.method == plain.method == "milp" and bounded.exact and plain.exact
    assert bounded.objective_value == pytest.approx(plain.objective_value, rel=1e-7)
    assert all(r.utilization < 1.0 for r in bounded.loads)


def test_summed_memory_past_a_device_goes_to_the_milp_with_the_same_optimum_as_without_bounds():
    # the plant server holds one model's weights (12 MB), not two; line A's edge box (1 MiB) not one unit's 2 MB
    problems = factory("weighted-latency", rate=1.0, memory_mb={"plant-server": 20.0, "line-a-edge": 1.0})
    assert all("line-a-edge" not in _usable_only(p).devices for p in problems)  # dropped from the joint MILP
    placements, proven = solo(problems)
    goal = JointGoal("weighted-latency")
    bounded = solve_joint(problems, goal, alone=placements, alone_proven=proven)
    plain = solve_joint(problems, goal, bounds=False)
    assert bounded.method == "milp" and bounded.exact and plain.exact
    assert bounded.objective_value == pytest.approx(plain.objective_value, rel=1e-7)
    server = next(r for r in bounded.loads if r.resource == "device plant-server")
    assert server.memory_bytes <= server.memory_limit_bytes
    assert all("line-a-edge" not in pl.devices for pl in bounded.placements)


# -- brute force on tiny instances ------------------------------------------------------------
TINY = ModelStructure.chain([4e8, 4e8, 4e8], [200_000, 50_000, 1000], 150_000, [1e6] * 3, name="tiny chain")


def tiny(goal: str, rate: float) -> list[PlanningProblem]:
    topo = Topology(
        name="two cameras and an edge box",
        devices=[
            Device(id="cam-a", kind="camera", tier="device", peak_gflops_fp32=20, memory_mb=256),
            Device(id="cam-b", kind="camera", tier="device", peak_gflops_fp32=20, memory_mb=256),
            Device(id="edge", kind="edge_server", tier="edge", peak_gflops_fp32=60, memory_mb=4096, cost_usd_per_hour=0.5),
        ],
        links=[Link(id="la", a="cam-a", b="edge", medium="wifi", bandwidth_ab_mbps=100, bandwidth_ba_mbps=100,
                    latency_ms=2),
               Link(id="lb", a="cam-b", b="edge", medium="wifi", bandwidth_ab_mbps=100, bandwidth_ba_mbps=100,
                    latency_ms=2)],
        workloads=[Workload(name="a", source="cam-a", rate_rps=rate, slo_ms=200.0),
                   Workload(name="b", source="cam-b", rate_rps=rate * 1.5, slo_ms=100.0)],
    )
    tt = time_table_from_flops(TINY, topo, ["fp32"])
    return [PlanningProblem.build(topo, w.name, TINY, tt, codecs=["none"], objective=alone_measure(JointGoal(goal)))
            for w in topo.workloads]


def brute_joint(problems, goal):
    """The least (objective, tie-break) over every pair of placements that fits together."""
    options = []
    for p in problems:
        preds = [(pl, evaluate(pl, p)) for pl in enumerate_placements(p)]
        options.append([(pl, pr) for pl, pr in preds if pr.feasible])
    best = None
    for combo in itertools.product(*options):
        preds = [pr for _, pr in combo]
        loads = joint_load(problems, preds)
        if any(r.utilization >= 1.0 - 1e-6 or (r.memory_limit_bytes is not None and r.memory_bytes > r.memory_limit_bytes)
               for r in loads):
            continue
        value = joint_objective_value(goal, problems, preds)
        if best is None or value < best - 1e-9 * max(abs(best), 1e-12):
            best = value
    return best


@pytest.mark.parametrize("goal", GOALS)
@pytest.mark.parametrize("rate", [2.0, 20.0])
def test_tiny_instances_match_brute_force(goal, rate):
    problems = tiny(goal, rate)
    placements, proven = solo(problems)
    g = JointGoal(goal)
    sol = solve_joint(problems, g, alone=placements, alone_proven=proven)
    expected = brute_joint(problems, g)
    assert expected is not None and sol.feasible and sol.exact
    # at 2 requests/s the one-at-a-time plans fit together; at 20 they overcommit the edge box or a camera
    assert sol.method == ("alone-optimal" if rate == 2.0 else "milp")
    assert sol.objective_value == pytest.approx(expected, rel=1e-7, abs=1e-12)
    plain = solve_joint(problems, g, bounds=False)
    assert plain.objective_value == pytest.approx(expected, rel=1e-7, abs=1e-12)


def test_total_cost_of_zero_needs_no_milp_even_when_the_one_at_a_time_plans_are_not_proven():
    problems = factory("total-cost")
    placements, _ = solo(problems)  # every model on its free camera: 0 USD/hour
    sol = solve_joint(problems, JointGoal("total-cost"), alone=placements, alone_proven=[False] * 6)
    assert sol.method == "alone-at-bound" and sol.exact and sol.objective_value == 0.0 and sol.n_variables == 0
    assert "0 USD/hour" in sol.notes[0]
    plain = solve_joint(problems, JointGoal("total-cost"), bounds=False)
    assert plain.method == "milp" and plain.objective_value == pytest.approx(0.0, abs=1e-12)
