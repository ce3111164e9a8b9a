"""The sample scenarios a new user opens first: each loads, validates and routes."""

from __future__ import annotations

import pytest

from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology.io import load_topology
from planner_app.core.topology.records import Tier

SAMPLES = sample_topology_paths()


def test_the_four_scenarios_exist():
    assert {"smart_home", "autonomous_driving", "hospital_imaging", "smart_factory"} <= set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_scenario_loads_validates_and_routes(name):
    topo = load_topology(SAMPLES[name])
    assert topo.workloads, "every scenario has a workload"
    assert {d.tier for d in topo.devices} == {Tier.device, Tier.edge, Tier.cloud}
    for w in topo.workloads:
        assert w.model and w.model.startswith("sample:")
        routes = topo.routes_from(w.source, 150_000)
        assert set(routes) == {d.id for d in topo.devices}, "every device reachable"
        cloud = next(d for d in topo.devices if d.tier is Tier.cloud)
        assert routes[cloud.id].hops >= 1


def test_hospital_keeps_raw_images_in_zone():
    topo = load_topology(SAMPLES["hospital_imaging"])
    triage = topo.workload("image-triage")
    assert triage.privacy == "raw_input_in_zone"
    assert topo.device(triage.source).privacy_zone == "hospital"
    assert any(d.privacy_zone != "hospital" for d in topo.devices), "a device outside the zone exists"


def test_factory_cameras_share_edge_servers():
    topo = load_topology(SAMPLES["smart_factory"])
    cams = [d for d in topo.devices if d.kind.value == "camera"]
    assert len(cams) >= 4 and len(topo.workloads) == len(cams)
    first_hops = {topo.route(c.id, "plant-server").devices[1] for c in cams}
    assert len(first_hops) < len(cams)
