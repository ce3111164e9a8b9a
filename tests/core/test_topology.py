"""Topology records: validation names the field and the value; edits; routes."""

from __future__ import annotations

import pytest

from planner_app.core.errors import TopologyError
from planner_app.core.topology.io import topology_from_dict
from planner_app.core.topology.records import Device, Link, Topology, Workload


def dev(i: str, tier: str = "edge", kind: str = "edge_device", **kw) -> Device:
    return Device(id=i, kind=kind, tier=tier, peak_gflops_fp32=100, memory_mb=1024, **kw)


def link(i: str, a: str, b: str, up: float = 100, down: float | None = None, lat: float = 1.0, **kw) -> Link:
    return Link(id=i, a=a, b=b, bandwidth_ab_mbps=up, bandwidth_ba_mbps=down or up, latency_ms=lat, **kw)


def three_tier() -> Topology:
    return Topology(
        name="t",
        devices=[dev("cam", "device", "camera"), dev("edge"), dev("cloud", "cloud", "cloud")],
        links=[link("l1", "cam", "edge", 50, 100, 2), link("l2", "edge", "cloud", 20, 200, 20)],
        workloads=[Workload(name="w", source="cam", rate_rps=5, slo_ms=100)],
    )


def problems_of(data: dict) -> list[str]:
    with pytest.raises(TopologyError) as info:
        topology_from_dict(data, "t.json")
    assert "t.json" in str(info.value)
    return [str(p) for p in info.value.problems]


def test_valid_topology_round_trips_through_dict():
    topo = three_tier()
    again = topology_from_dict(topo.to_dict())
    assert again == topo


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["links"][0].update(bandwidth_ab_mbps=-5), "links[0].bandwidth_ab_mbps"),
        (lambda d: d["links"][0].update(bandwidth_ba_mbps=0), "links[0].bandwidth_ba_mbps"),
        (lambda d: d["links"][1].update(latency_ms=-1), "links[1].latency_ms"),
        (lambda d: d["devices"][1].update(cost_usd_per_hour=-0.1), "devices[1].cost_usd_per_hour"),
        (lambda d: d["devices"][0].update(peak_gflops_fp32="fast"), "devices[0].peak_gflops_fp32"),
        (lambda d: d["devices"][2].update(kind="toaster"), "devices[2].kind"),
        (lambda d: d["devices"][0].update(colour="red"), "unknown key 'colour'"),
        (lambda d: d.update(extra_top_level=1), "unknown key 'extra_top_level'"),
        (lambda d: d["links"][0].update(b="nowhere"), "names device 'nowhere', which does not exist"),
        (lambda d: d["links"][0].update(b="cam"), "connects device 'cam' to itself"),
        (lambda d: d["devices"][1].update(id="cam"), "duplicate device id 'cam'"),
        (lambda d: d["links"][1].update(id="l1"), "duplicate link id 'l1'"),
        (lambda d: d["workloads"][0].update(source="ghost"), "comes from device 'ghost'"),
        (lambda d: d["workloads"][0].update(rate_rps=0), "workloads[0].rate_rps"),
    ],
)
def test_each_bad_field_is_named(mutate, expected):
    data = three_tier().to_dict()
    mutate(data)
    problems = problems_of(data)
    assert any(expected in p for p in problems), problems


def test_bad_value_is_quoted():
    data = three_tier().to_dict()
    data["links"][0]["bandwidth_ab_mbps"] = -5
    (problem,) = problems_of(data)
    assert "-5" in problem and "greater than 0" in problem


def test_every_problem_is_reported_at_once():
    data = three_tier().to_dict()
    data["links"][0]["b"] = "x"
    data["links"][1]["b"] = "y"
    data["workloads"][0]["source"] = "z"
    assert len(problems_of(data)) == 3


def test_remove_device_removes_its_links_and_undo_data_restores_it():
    topo = three_tier()
    before = topo.to_dict()
    idx, device, links = topo.remove_device("edge")
    assert [d.id for d in topo.devices] == ["cam", "cloud"] and topo.links == []
    topo.add_device(device, idx)
    for i, lk in links:
        topo.add_link(lk, i)
    assert topo.to_dict() == before


def test_add_link_to_missing_device_is_refused():
    topo = three_tier()
    with pytest.raises(TopologyError, match="'ghost' does not exist"):
        topo.add_link(link("l9", "cam", "ghost"))


def test_new_id_is_unique():
    topo = three_tier()
    first = topo.new_id("edge")
    topo.add_device(dev(first))
    assert topo.new_id("edge") != first


def test_route_multi_hop_sums_latency_and_takes_bottleneck():
    topo = three_tier()
    r = topo.route("cam", "cloud", payload_bytes=1_000_000)
    assert r.devices == ["cam", "edge", "cloud"]
    assert r.latency_ms == pytest.approx(22)
    assert r.bottleneck_mbps == 20
    # 1 MB over 20 Mbps = 400 ms, plus 22 ms of latency
    assert r.transfer_ms(1_000_000) == pytest.approx(422)
    back = topo.route("cloud", "cam", payload_bytes=1_000_000)
    assert back.bottleneck_mbps == 100  # downlinks are faster


def test_big_payload_prefers_fat_slow_route_small_payload_prefers_fast_thin_route():
    topo = Topology(
        devices=[dev("a"), dev("b"), dev("c")],
        links=[link("thin", "a", "c", up=1, lat=1), link("fat1", "a", "b", up=1000, lat=10),
               link("fat2", "b", "c", up=1000, lat=10)],
    )
    assert topo.route("a", "c", payload_bytes=10).links == ["thin"]
    assert topo.route("a", "c", payload_bytes=10_000_000).links == ["fat1", "fat2"]


def test_unreachable_pairs_are_reported_not_crashed_on():
    topo = three_tier()
    topo.add_device(dev("island"))
    assert topo.route("cam", "island") is None
    assert topo.unreachable_from("cam") == ["island"]
    assert "island" not in topo.routes_from("cam", 1000)


def test_same_device_route_is_free():
    r = three_tier().route("cam", "cam", 10**9)
    assert r.hops == 0 and r.transfer_ms(10**9) == 0


def test_workload_lookup_errors_name_the_choices():
    with pytest.raises(TopologyError, match="workloads are: w"):
        three_tier().workload("nope")


def test_power_active_below_idle_is_rejected():
    with pytest.raises(ValueError, match="power_active_w"):
        dev("x", power_idle_w=10, power_active_w=5)


def test_agent_url_must_be_http():
    with pytest.raises(ValueError, match="http"):
        dev("x", agent_url="ftp://box")
    assert dev("x", agent_url="http://10.0.0.5:8765").agent_url == "http://10.0.0.5:8765"


# -- edits in core (the window's undo commands and `edgeplan topology` call these) --------
def test_rename_device_moves_links_and_workloads_and_renaming_back_restores_exactly():
    from planner_app.core.resources import sample_topology_paths
    from planner_app.core.topology.io import load_topology

    topo = load_topology(sample_topology_paths()["smart_home"])
    before = topo.to_dict()
    changed = topo.rename_device("hub", "pi-hub")
    assert changed == ["hub-keyword-spotting"]
    assert not topo.has_device("hub") and topo.device("pi-hub").name == "Smart-home hub (Pi 5)"
    assert {lk.id for lk in topo.links_of("pi-hub")} == {"doorbell-wifi", "phone-wifi", "hub-lan"}
    assert topo.route("doorbell", "pi-hub") is not None
    topo.rename_device("pi-hub", "hub")
    assert topo.to_dict() == before


def test_rename_device_refuses_a_taken_or_malformed_id_and_changes_nothing():
    from planner_app.core.resources import sample_topology_paths
    from planner_app.core.topology.io import load_topology

    topo = load_topology(sample_topology_paths()["smart_home"])
    before = topo.to_dict()
    with pytest.raises(TopologyError, match="already used"):
        topo.rename_device("hub", "phone")
    with pytest.raises(TopologyError, match="1-64 letters"):
        topo.rename_device("hub", "bad id!")
    with pytest.raises(TopologyError, match="no device 'nohub'"):
        topo.rename_device("nohub", "x")
    assert topo.to_dict() == before


def test_notes_workloads_and_positions_are_edited_through_the_topology():
    from planner_app.core.topology.records import Note

    topo = Topology(devices=[Device(id="a", kind="camera", tier="device", peak_gflops_fp32=1, memory_mb=1)],
                    workloads=[Workload(name="w", source="a")])
    topo.add_note(Note(id="n1", text="hello"))
    with pytest.raises(TopologyError, match="already used"):
        topo.add_note(Note(id="n1"))
    moved = topo.set_positions({"a": (10.0, 20.0), "n1": (5.0, 6.0)})
    assert moved == (["a"], ["n1"])
    assert (topo.device("a").position.x, topo.notes[0].position.y) == (10.0, 6.0)
    with pytest.raises(TopologyError, match="no device or note"):
        topo.set_positions({"zz": (0.0, 0.0)})
    old = topo.replace_workload(0, Workload(name="w2", source="a", rate_rps=3))
    assert old.name == "w" and topo.workload_index("w2") == 0
    with pytest.raises(TopologyError, match="already used"):
        topo.add_workload(Workload(name="w2", source="a"))
    assert topo.remove_workload("w2")[0] == 0 and topo.remove_note("n1")[1].text == "hello"


def test_remove_items_takes_links_and_workloads_in_one_pass_and_restore_puts_them_back():
    from planner_app.core.resources import sample_topology_paths
    from planner_app.core.topology.io import load_topology

    topo = load_topology(sample_topology_paths()["smart_home"])
    before = topo.to_dict()
    removed = topo.remove_items(["hub", "phone"], ["cloud-dc"], [n.id for n in topo.notes])
    assert not topo.has_device("hub") and not topo.has_device("phone") and not topo.notes
    assert {lk.id for _, lk in removed.links} == {"doorbell-wifi", "phone-wifi", "hub-lan", "cloud-dc"}
    assert "hub-keyword-spotting" in {w.name for _, w in removed.workloads}
    topo.validate_references()  # what is left is a valid topology
    topo.restore_items(removed)
    assert topo.to_dict() == before


def test_zone_regions_are_records_of_the_topology_and_round_trip():
    from planner_app.core.topology.records import ZoneRegion

    topo = three_tier()
    assert topo.set_zone_region("home", ZoneRegion(zone="home", x=0, y=0, width=200, height=100)) is None
    again = topology_from_dict(topo.to_dict(), "t.json")
    assert again.zone_region("home") == ZoneRegion(zone="home", x=0, y=0, width=200, height=100)
    old = again.set_zone_region("home", None)
    assert old is not None and again.zone_region("home") is None
    with pytest.raises(TopologyError, match="given as the region of"):
        again.set_zone_region("lab", ZoneRegion(zone="home", x=0, y=0, width=1, height=1))
    bad = topo.to_dict()
    bad["zone_regions"][0]["width"] = 0
    with pytest.raises(TopologyError, match="width"):
        topology_from_dict(bad, "t.json")
