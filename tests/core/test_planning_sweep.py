"""Bandwidth sweep: the best plan's latency against one link's bandwidth, and where the split moves."""

from __future__ import annotations

import pytest

from planner_app.core.errors import PlannerError
from planner_app.core.planning import MeasureOptions, PlanningSession, PoseOptions, SolveOptions
from planner_app.core.planning.sweep import bandwidth_sweep, split_changes
from planner_app.core.profiling import ProfileSettings, profile_model
from planner_app.core.resources import sample_topology_paths

HOME = sample_topology_paths()["smart_home"]


@pytest.fixture(scope="module")
def solved():
    s = PlanningSession.open(HOME, "doorbell-person-detection")
    s.load_model()
    profile = profile_model(s.source.graph, ["fp32"], settings=ProfileSettings(warmup=1, runs=2, max_seconds=2,
                                                                                  fidelity_samples=2))
    s.measure(MeasureOptions(profile=profile))
    s.pose(PoseOptions(slo_ms=None))
    s.solve(SolveOptions(solver="dp"))
    return s


def test_a_slower_link_never_makes_the_best_plan_faster_and_the_split_moves(solved):
    link = "doorbell-wifi"
    points = bandwidth_sweep(solved, link, PoseOptions(slo_ms=None), factors=(1 / 256, 1 / 16, 1.0, 16.0))
    assert [p.bandwidth_mbps for p in points] == sorted(p.bandwidth_mbps for p in points)
    lat = [p.latency_ms for p in points]
    assert all(a >= b - 1e-9 for a, b in zip(lat, lat[1:], strict=False))  # more bandwidth: never slower
    # the original topology is untouched
    assert solved.topology.link(link).bandwidth_ab_mbps == 600
    changes = split_changes(points)
    for c in changes:  # each change differs from the point just before it; the others do not
        i = points.index(c)
        assert i > 0 and points[i - 1].placement != c.placement
    assert len(changes) == sum(a.placement != b.placement for a, b in zip(points, points[1:], strict=False))
    # the point at the link's own bandwidth is the session's own best plan (same solver)
    assert points[2].latency_ms == pytest.approx(solved.result.prediction.latency_ms)


def test_a_sweep_of_an_unknown_link_names_the_links(solved):
    with pytest.raises(PlannerError, match="doorbell-wifi"):
        bandwidth_sweep(solved, "nope", PoseOptions(slo_ms=None))
