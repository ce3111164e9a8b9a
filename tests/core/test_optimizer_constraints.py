"""Each constraint changes the plan when it binds; infeasible problems still get an answer;
the plan is never worse than a baseline; several workloads share devices; progress and cancel."""

from __future__ import annotations

import numpy as np
import pytest

from planner_app.core.optimizer import choose_solver, optimize
from planner_app.core.optimizer.cost_model import evaluate
from planner_app.core.optimizer.milp import solve_milp_joint
from planner_app.core.optimizer.problem import Constraints, ModelStructure, PlanningProblem
from planner_app.core.optimizer.synthetic import random_problem, time_table_from_flops
from planner_app.core.profiling.timetable import TimeTable
from planner_app.core.progress import Cancelled, CancelToken
from planner_app.core.topology.records import Device, Link, Topology, Workload

INT8 = {"precisions": ["fp32", "int8"], "int8_speedup": 3.0}


def _three_tier(rate_rps: float = 2.0, edge_memory_mb: float = 4096, zone: str = "") -> Topology:
    return Topology(
        name="three-tier",
        devices=[
            Device(id="cam", kind="camera", tier="device", peak_gflops_fp32=10 / 3, memory_mb=1024, battery=True,
                   power_active_w=3, radio_power_w=1.5, privacy_zone=zone, **INT8),
            Device(id="edge", kind="edge_server", tier="edge", peak_gflops_fp32=200, memory_mb=edge_memory_mb,
                   cost_usd_per_hour=0.5, privacy_zone=zone and "site", **INT8),
            Device(id="cloud", kind="cloud", tier="cloud", peak_gflops_fp32=5000, memory_mb=65536,
                   cost_usd_per_hour=4.0, **INT8),
        ],
        links=[
            Link(id="wifi", a="cam", b="edge", bandwidth_ab_mbps=100, bandwidth_ba_mbps=100, latency_ms=2),
            Link(id="wan", a="edge", b="cloud", bandwidth_ab_mbps=50, bandwidth_ba_mbps=200, latency_ms=15,
                 cost_usd_per_gb=0.09),
        ],
        workloads=[Workload(name="w", source="cam", rate_rps=rate_rps)],
    )


# four units: a heavy stem, two heavy middle units, a light head; the input is a 600 kB image
MODEL = ModelStructure.chain([4e8, 1.6e9, 1.6e9, 1e7], [150_000, 200_000, 100_000, 4_000], input_bytes=600_000,
                             param_bytes=[1e6, 40e6, 40e6, 4e6])


def _problem(solver_levels=("fp32", "int8"), **kw) -> PlanningProblem:
    topo = kw.pop("topology", None) or _three_tier()
    tt = time_table_from_flops(MODEL, topo, list(solver_levels))
    tt.fidelity["int8"] = 0.97
    return PlanningProblem.build(topo, None, MODEL, tt, codecs=["none"], **kw)


def _solve(problem: PlanningProblem, solver: str):
    res = optimize(problem, solver=solver, baselines=False)
    assert res.feasible, res.message
    assert evaluate(res.placement, problem).feasible
    return res


CASES = {
    # objective, constraints that bind, what must hold afterwards
    "slo": ("cost", Constraints(slo_ms=80.0), lambda p: p.latency_ms <= 80.0),
    "cost": ("latency", Constraints(max_cost_usd_per_1k=0.0005), lambda p: p.cost_usd_per_1k <= 0.0005),
    "fidelity": ("latency", Constraints(min_fidelity=0.99), lambda p: p.fidelity >= 0.99),
    "pinned": ("latency", Constraints(pinned_units={3: "cam"}), lambda p: p.parts[-1].device == "cam"),
}


@pytest.mark.parametrize("solver", ["dp", "milp"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_binding_constraint_changes_the_plan(case, solver):
    objective, constraints, holds = CASES[case]
    free = _solve(_problem(objective=objective, constraints=Constraints()), solver)
    bound = _solve(_problem(objective=objective, constraints=constraints), solver)
    assert not holds(free.prediction), f"{case} does not bind in this scenario"
    assert holds(bound.prediction)
    assert bound.placement != free.placement
    assert bound.objective_value >= free.objective_value - 1e-12


@pytest.mark.parametrize("solver", ["dp", "milp"])
def test_memory_capacity_and_privacy_change_the_plan(solver):
    free = _solve(_problem(), solver)
    assert "edge" in free.placement.devices or "cloud" in free.placement.devices

    # memory: the edge cannot hold all four units any more, even at int8
    small = _problem(topology=_three_tier(edge_memory_mb=15))
    res = _solve(small, solver)
    assert res.prediction.memory_bytes.get("edge", 0) <= 15 * 2**20 < evaluate(free.placement, small).memory_bytes["edge"]

    # capacity: sending the raw image (48 ms of Wi-Fi a request) is fastest for one request, but at
    # 22 req/s the Wi-Fi cannot keep up; the camera's int8 stem (40 ms) + 150 kB (12 ms) can
    busy = _problem(topology=_three_tier(rate_rps=22))
    assert not evaluate(free.placement, busy).feasible
    res = _solve(busy, solver)
    assert max(res.prediction.device_utilization.values()) < 1 and max(res.prediction.link_utilization.values()) < 1

    # privacy: the camera's zone 'home' holds only the camera (the edge is in 'site'), so the raw
    # image cannot leave it: the first unit runs on the camera
    private = _problem(topology=_three_tier(zone="home"), constraints=Constraints(privacy="raw_input_in_zone"))
    res = _solve(private, solver)
    assert res.placement.devices[0] == "cam" and free.placement.devices[0] != "cam"


def test_throughput_objective_pipelines():
    lat = _solve(_problem(objective="latency"), "dp")
    thr = _solve(_problem(objective="throughput"), "dp")
    assert thr.prediction.throughput_rps >= lat.prediction.throughput_rps
    assert thr.prediction.bottleneck_ms == pytest.approx(1000 / thr.prediction.throughput_rps)
    assert _solve(_problem(objective="throughput"), "milp").objective_value == pytest.approx(thr.objective_value, rel=1e-6)


def test_infeasible_problem_names_the_first_failing_constraint_and_the_closest_plan():
    p = _problem(constraints=Constraints(min_fidelity=0.99, slo_ms=1.0))
    res = optimize(p)
    assert not res.feasible and res.failing_constraint == "slo"
    assert res.placement is not None and len(res.placement.devices) == MODEL.n_units
    assert "slo" in res.message and res.prediction.violations
    # the closest plan breaks the limits by the least total (normalised) excess of any plan we know
    assert "slo" in res.prediction.violation_amounts
    assert res.prediction.total_violation <= min(b.prediction.total_violation for b in res.baselines) + 1e-12

    p = _problem(topology=_three_tier(edge_memory_mb=1), constraints=Constraints(pinned_units={1: "edge"}))
    res = optimize(p, solver="milp")
    assert not res.feasible and res.failing_constraint == "memory"


def test_plan_is_never_worse_than_a_baseline_on_random_instances():
    for seed in range(12):
        rng = np.random.default_rng(500 + seed)
        p = random_problem(rng, int(rng.integers(6, 30)), int(rng.integers(2, 6)), int(rng.integers(1, 4)),
                           dag=bool(seed % 2), shape=("chain", "star", "mesh")[seed % 3],
                           objective=("latency", "cost", "throughput", "energy")[seed % 4])
        res = optimize(p)
        assert {b.name for b in res.baselines} >= {"all-on-source", "best-single-split", "dads-min-cut"}
        for b in res.baselines:
            if b.prediction.feasible:
                assert res.feasible
                assert res.objective_value <= p.objective_value(b.prediction) * (1 + 1e-9), (seed, b.name)
                assert res.improvement_over(b, p) is None or res.improvement_over(b, p) >= 1 - 1e-9


def test_auto_picks_the_dp_on_chains_and_the_milp_elsewhere():
    assert choose_solver(_problem()) == "dp"
    star = _three_tier()  # the camera reaches the edge and, over LTE, the cloud; the two are not linked
    star.remove_link("wan")
    star.add_link(Link(id="lte", a="cam", b="cloud", bandwidth_ab_mbps=20, bandwidth_ba_mbps=20, latency_ms=30))
    p = _problem(topology=star)
    assert choose_solver(p) == "milp"
    res = optimize(p)
    assert res.solver in ("milp", "sequence") or res.solver.startswith("baseline:")
    assert res.exact_scope.startswith("every placement")


def test_pareto_front_trades_latency_for_cost():
    res = optimize(_problem(), pareto=True)
    pts = sorted((e.prediction.latency_ms, e.prediction.cost_usd_per_1k) for e in res.pareto_front)
    assert len(pts) >= 3
    assert all(b[1] < a[1] or b[0] == a[0] for a, b in zip(pts, pts[1:], strict=False)) or len({p[1] for p in pts}) > 1


def test_several_workloads_share_a_device():
    topo = Topology(
        name="two-cams",
        devices=[
            Device(id="cam1", kind="camera", tier="device", peak_gflops_fp32=20, memory_mb=1024),
            Device(id="cam2", kind="camera", tier="device", peak_gflops_fp32=20, memory_mb=1024),
            Device(id="edge", kind="edge_server", tier="edge", peak_gflops_fp32=50, memory_mb=8192),
        ],
        links=[Link(id="a", a="cam1", b="edge", bandwidth_ab_mbps=1000, bandwidth_ba_mbps=1000, latency_ms=1),
               Link(id="b", a="cam2", b="edge", bandwidth_ab_mbps=1000, bandwidth_ba_mbps=1000, latency_ms=1)],
        workloads=[Workload(name="w1", source="cam1", rate_rps=45), Workload(name="w2", source="cam2", rate_rps=45)],
    )
    model = ModelStructure.chain([2e8, 2e8, 2e8], [1000, 1000, 1000], input_bytes=1000)
    tt = time_table_from_flops(model, topo, ["fp32"])
    problems = [PlanningProblem.build(topo, w, model, tt, codecs=["none"], objective="latency",
                                      candidate_devices=[topo.workload(w).source, "edge"]) for w in ("w1", "w2")]
    alone = [optimize(p, solver="milp", baselines=False) for p in problems]
    edge_alone = sum(r.prediction.device_utilization.get("edge", 0.0) for r in alone)
    assert edge_alone > 1.0  # each alone moves everything to the edge: together they would overload it
    joint = solve_milp_joint(problems)
    assert joint.exact and joint.placements is not None
    assert joint.shared_utilization["device edge"] < 1.0
    assert all(pr.feasible for pr in joint.predictions)
    assert joint.total_value >= sum(r.objective_value for r in alone) - 1e-9


def test_progress_and_cancel():
    seen: list[float] = []
    optimize(_problem(), pareto=True, progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        optimize(_problem(), cancel=token)


def test_pinned_unit_to_a_non_candidate_is_refused():
    from planner_app.core.optimizer.problem import ProblemError

    with pytest.raises(ProblemError, match="pinned to 'phone'"):
        _problem(constraints=Constraints(pinned_units={0: "phone"}))


def test_time_table_shapes_are_checked():
    topo = _three_tier()
    with pytest.raises(ValueError, match="ms has shape"):
        TimeTable(["cam"], ["fp32"], np.ones((2, 2, 1)), np.ones((2, 1)))
    assert _problem(topology=topo).devices == ["cam", "edge", "cloud"]
