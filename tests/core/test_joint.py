"""Several workloads planned jointly on the smart-factory sample (optimizer level).

The sample's six cameras, two line boxes and plant server, with each camera's
model replaced by a six-unit chain with mobilenet_v2's input (602 kB) and about
its FLOPs, timed by the FLOPs-based synthetic table at fp32, so the MILP stays
small and the test quick. As shipped (10 requests/s a camera) no plan comes near
full load, so the scenario raises every camera to 70 requests/s: planned one at
a time, each camera ships its raw images to the plant server and the two line
uplinks carry 108 % of what they can.
"""

from __future__ import annotations

import pytest

from planner_app.core.errors import ProblemError
from planner_app.core.models.structure import ModelStructure
from planner_app.core.optimizer import optimize
from planner_app.core.optimizer.joint import JointGoal, joint_load, solve_joint
from planner_app.core.optimizer.problem import PlanningProblem
from planner_app.core.optimizer.synthetic import time_table_from_flops
from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology import load_topology

MODEL = ModelStructure.chain([1e8] * 6, [800_000, 400_000, 200_000, 100_000, 50_000, 4000], 602_112, [2e6] * 6,
                             name="mobilenet-like")


def factory(rate=70.0, edits=None, memory_mb=None):
    topo = load_topology(sample_topology_paths()["smart_factory"])
    for i, w in enumerate(list(topo.workloads)):
        topo.workloads[i] = w.model_copy(update={"rate_rps": rate, **(edits or {}).get(w.name, {})})
    if memory_mb is not None:
        for dev_id, mb in memory_mb.items():
            topo.replace_device(topo.device(dev_id).model_copy(update={"memory_mb": mb}))
    tt = time_table_from_flops(MODEL, topo, ["fp32"])
    return [PlanningProblem.build(topo, w.name, MODEL, tt, codecs=["none"], objective="latency")
            for w in topo.workloads]


def alone(problems):
    return [optimize(p, baselines=False) for p in problems]


def test_joint_plan_keeps_every_device_and_link_under_full_load_where_one_at_a_time_does_not():
    problems = factory()
    solo = alone(problems)
    assert all(r.feasible for r in solo)  # each plan alone is fine...
    solo_load = {r.resource: r for r in joint_load(problems, [r.prediction for r in solo])}
    over = sorted(k for k, r in solo_load.items() if r.utilization >= 1.0)
    # ...but together they push 108 % through each line's uplink to the plant server
    assert over == ["link line-a-uplink line-a-edge→plant-server", "link line-b-uplink line-b-gateway→plant-server"]
    sol = solve_joint(problems, JointGoal("weighted-latency"), alone=[r.placement for r in solo])
    assert sol.feasible and sol.exact and sol.status == "optimal"
    assert sol.loads and all(r.utilization < 1.0 for r in sol.loads)
    assert all(pr.feasible for pr in sol.predictions)
    # the cost model's per-workload utilizations add up to the joint rows
    uplink = next(r for r in sol.loads if r.resource.startswith("link line-b-uplink"))
    assert set(uplink.per_workload) <= {"inspect-cam-b1", "inspect-cam-b2", "inspect-cam-b3"}
    assert sum(r.objective_value for r in solo) <= sol.objective_value / 70.0 + 1e-6  # sharing costs latency


def test_memory_is_summed_over_the_workloads_on_a_device():
    # the plant server holds 20 MiB: one model's 12 MB of weights fits, two do not
    problems = factory(rate=1.0, memory_mb={"plant-server": 20.0})
    solo = alone(problems)
    assert all(r.placement.devices[0] == "plant-server" for r in solo)
    solo_mem = next(r for r in joint_load(problems, [r.prediction for r in solo]) if r.resource == "device plant-server")
    assert solo_mem.memory_bytes > solo_mem.memory_limit_bytes
    sol = solve_joint(problems, JointGoal("weighted-latency"))
    assert sol.feasible
    server = next(r for r in sol.loads if r.resource == "device plant-server")
    assert server.memory_bytes <= server.memory_limit_bytes
    assert sum(1 for pl in sol.placements if "plant-server" in pl.devices) == 1


def test_each_objective_changes_the_answer_where_it_should():
    problems = factory()
    cost = solve_joint(problems, JointGoal("total-cost"))
    latency = solve_joint(problems, JointGoal("weighted-latency"))
    # the cameras cost nothing an hour: the cheapest plan runs every model on its camera
    assert cost.objective_value == pytest.approx(0.0, abs=1e-12)
    assert all(set(pl.devices) == {p.workload.source} for p, pl in zip(problems, cost.placements, strict=True))
    assert sum(pr.latency_ms for pr in latency.predictions) < sum(pr.latency_ms for pr in cost.predictions)
    # a low-rate camera with a tight SLO: rate-weighted latency sacrifices it, worst slack protects it
    edits = {"inspect-cam-b1": {"rate_rps": 40.0, "slo_ms": 10.0}, "inspect-cam-b2": {"rate_rps": 80.0},
             "inspect-cam-b3": {"rate_rps": 80.0}}
    problems = factory(edits=edits)
    weighted = solve_joint(problems, JointGoal("weighted-latency"))
    worst = solve_joint(problems, JointGoal("worst-slack"))
    b1 = [p.workload.name for p in problems].index("inspect-cam-b1")
    assert weighted.predictions[b1].latency_ms > worst.predictions[b1].latency_ms
    assert worst.objective_value < max(pr.latency_ms / p.constraints.slo_ms
                                       for p, pr in zip(problems, weighted.predictions, strict=True))
    # weights given by name replace the rates
    heavy = solve_joint(problems, JointGoal("weighted-latency", {"inspect-cam-b1": 1000.0}))
    assert heavy.predictions[b1].latency_ms == pytest.approx(worst.predictions[b1].latency_ms)


def test_no_joint_plan_names_the_link_that_cannot_carry_everything():
    problems = factory(rate=70.0, edits={w: {"slo_ms": 7.0} for w in (
        "inspect-cam-a1", "inspect-cam-a2", "inspect-cam-a3", "inspect-cam-b1", "inspect-cam-b2", "inspect-cam-b3")})
    # 7 ms: only the plant server is fast enough (line A's edge box takes 7.6 ms, a camera 12.9), and the uplinks cannot carry all
    sol = solve_joint(problems, JointGoal("weighted-latency"))
    assert not sol.feasible
    assert set(sol.blocking) == {"link line-a-uplink line-a-edge→plant-server",
                                 "link line-b-uplink line-b-gateway→plant-server"}
    assert "line-a-uplink" in sol.message and "do not fit together" in sol.message


def test_bad_goals_are_refused():
    with pytest.raises(ProblemError, match="unknown joint objective"):
        JointGoal("fastest")
    problems = factory(edits={w.workload.name: {"slo_ms": None} for w in factory()})
    with pytest.raises(ProblemError, match="worst-slack needs a latency SLO"):
        solve_joint(problems, JointGoal("worst-slack"))


def test_shipped_joint_plan_schema_is_current():
    import json

    from planner_app.core.plans.joint import JOINT_PLAN_SCHEMA_PATH, joint_plan_json_schema
    from planner_app.core.resources import resource_path

    shipped = json.loads(resource_path(JOINT_PLAN_SCHEMA_PATH).read_text())
    assert shipped == joint_plan_json_schema(), "resources/joint_plan.schema.json is stale: run `make schemas`"


def test_a_milp_stopped_at_its_time_limit_falls_back_on_one_at_a_time_plans_that_fit_together():
    problems = factory(rate=10.0)  # as shipped: the one-at-a-time plans fit together
    solo = alone(problems)
    sol = solve_joint(problems, JointGoal("weighted-latency"), alone=[r.placement for r in solo], time_limit_s=1e-4)
    assert sol.feasible and not sol.exact and "limit reached" in sol.status
    assert sol.placements == [r.placement for r in solo] and "one-at-a-time plans fit together" in sol.notes[0]
    # without them there is no plan, and the message does not blame a device: nothing was proven
    bare = solve_joint(problems, JointGoal("weighted-latency"), time_limit_s=1e-4)
    assert not bare.feasible and not bare.blocking and "--time-limit" in bare.message
