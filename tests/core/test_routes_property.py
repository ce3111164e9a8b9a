"""Property-based checks of routes and files on random topologies (hypothesis)."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner_app.core.topology.io import load_topology, save_topology
from planner_app.core.topology.records import Device, Link, Topology, Workload

KINDS = [("camera", "device"), ("edge_server", "edge"), ("cloud", "cloud"), ("gateway", "edge")]


@st.composite
def topologies(draw, max_devices: int = 7):
    n = draw(st.integers(2, max_devices))
    devices = []
    for i in range(n):
        kind, tier = draw(st.sampled_from(KINDS))
        devices.append(Device(
            id=f"d{i}", name=draw(st.text(max_size=12)), kind=kind, tier=tier,
            peak_gflops_fp32=draw(st.floats(0.5, 1e5)), memory_mb=draw(st.floats(1, 1e6)),
            cost_usd_per_hour=draw(st.floats(0, 10)),
            privacy_zone=draw(st.sampled_from(["", "home", "plant"])),
        ))  # fmt: skip
    pairs = [(a, b) for a, b in itertools.combinations(range(n), 2)]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=3 * n))
    links = []
    for k, (a, b) in enumerate(chosen):  # parallel links allowed
        links.append(Link(
            id=f"l{k}", a=f"d{a}", b=f"d{b}",
            bandwidth_ab_mbps=draw(st.sampled_from([1.0, 10.0, 50.0, 100.0, 1000.0])),
            bandwidth_ba_mbps=draw(st.sampled_from([1.0, 10.0, 50.0, 100.0, 1000.0])),
            latency_ms=draw(st.floats(0, 50)), cost_usd_per_gb=draw(st.floats(0, 1)),
        ))  # fmt: skip
    workloads = [Workload(name="w", source="d0", rate_rps=draw(st.floats(0.1, 100)))]
    return Topology(name=draw(st.text(max_size=20)), devices=devices, links=links, workloads=workloads)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topologies())
def test_save_then_load_gives_an_equal_topology(topo):
    with tempfile.TemporaryDirectory() as tmp:
        path = save_topology(topo, Path(tmp) / "t.json")
        assert load_topology(path) == topo


def _graph(topo: Topology, payload: float) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    g.add_nodes_from(d.id for d in topo.devices)
    for lk in topo.links:
        g.add_edge(lk.a, lk.b, key=lk.id, lat=lk.latency_ms, bw=lk.bandwidth_ab_mbps)
        g.add_edge(lk.b, lk.a, key=lk.id, lat=lk.latency_ms, bw=lk.bandwidth_ba_mbps)
    return g


@settings(max_examples=80, deadline=None)
@given(topologies())
def test_zero_payload_routes_equal_networkx_shortest_latency(topo):
    g = _graph(topo, 0)
    expected = nx.single_source_dijkstra_path_length(g, "d0", weight="lat")
    routes = topo.routes_from("d0", 0)
    assert set(routes) == set(expected)
    for t, lat in expected.items():
        assert abs(routes[t].latency_ms - lat) < 1e-9


@settings(max_examples=60, deadline=None)
@given(topologies(max_devices=6), st.sampled_from([1e3, 1e5, 1e6, 1e7]))
def test_payload_routes_are_optimal_over_all_simple_paths(topo, payload):
    """Σ latency + size/bottleneck is not additive: compare with every simple path."""
    g = _graph(topo, payload)
    routes = topo.routes_from("d0", payload)
    for target in g.nodes:
        if target == "d0":
            continue
        best = None
        for path in nx.all_simple_edge_paths(g, "d0", target):
            lat = sum(g.edges[e]["lat"] for e in path)
            bott = min(g.edges[e]["bw"] for e in path)
            t = lat + payload * 8 / (bott * 1e3)
            best = t if best is None else min(best, t)
        if best is None:
            assert target not in routes
        else:
            assert abs(routes[target].transfer_ms(payload) - best) < 1e-6 * max(1, best)
