"""Topology files: load/save, schema versions and migration, atomic writes, the JSON Schema."""

from __future__ import annotations

import json
import os

import jsonschema
import pytest

from planner_app.core.errors import InputFileError, TopologyError
from planner_app.core.resources import resource_path, sample_topology_paths
from planner_app.core.topology.io import load_topology, save_topology, topology_json_schema
from planner_app.core.topology.records import SCHEMA_VERSION


@pytest.fixture
def home():
    return load_topology(sample_topology_paths()["smart_home"])


def test_save_then_load_gives_an_equal_topology(tmp_path, home):
    path = save_topology(home, tmp_path / "t.json")
    assert load_topology(path) == home
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_version_1_file_is_migrated(tmp_path):
    v1 = {
        "schema_version": 1,
        "name": "old",
        "devices": [
            {"id": "a", "kind": "camera", "tier": "device", "peak_gflops_fp32": 5, "memory_mb": 64},
            {"id": "b", "kind": "cloud", "tier": "cloud", "peak_gflops_fp32": 500, "memory_mb": 4096},
        ],
        "links": [{"id": "l", "a": "a", "b": "b", "bandwidth_mbps": 25, "latency_ms": 10}],
        "workloads": [{"name": "w", "source": "a", "rate_hz": 4}],
    }
    (tmp_path / "v1.json").write_text(json.dumps(v1))
    topo = load_topology(tmp_path / "v1.json")
    assert topo.links[0].bandwidth_ab_mbps == topo.links[0].bandwidth_ba_mbps == 25
    assert topo.workloads[0].rate_rps == 4
    assert topo.schema_version == SCHEMA_VERSION


def test_unknown_schema_version_names_the_readable_versions(tmp_path):
    (tmp_path / "f.json").write_text(json.dumps({"schema_version": 99, "devices": []}))
    with pytest.raises(TopologyError, match=r"unknown schema_version 99.*reads versions 1, 2"):
        load_topology(tmp_path / "f.json")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"devices": [', "not valid JSON.*truncated"),
        ("", "is empty"),
        ("[1, 2]", "expected a JSON object"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
    ],
)
def test_broken_files_give_clear_errors(tmp_path, content, match):
    p = tmp_path / "bad.json"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises((InputFileError, TopologyError), match=match) as info:
        load_topology(p)
    assert "bad.json" in str(info.value)


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="is a directory"):
        load_topology(tmp_path)
    with pytest.raises(InputFileError, match="does not exist"):
        load_topology(tmp_path / "nope.json")


def test_unreadable_file():
    # /proc/self/mem exists and is a file, but reading it from offset 0 fails with EIO,
    # even as root (CI runs as root, so chmod 000 would not do).
    with pytest.raises(InputFileError, match="cannot be read"):
        load_topology("/proc/self/mem")


def test_failed_save_leaves_previous_file_intact(tmp_path, home, monkeypatch):
    path = save_topology(home, tmp_path / "t.json")
    before = path.read_bytes()
    changed = home.model_copy(deep=True)
    changed.name = "changed"

    def disk_full(*args, **kwargs):  # fault injection at the OS boundary, not a mock of our code
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_topology(changed, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"], "no temp file left behind"


def test_json_schema_in_resources_is_up_to_date():
    on_disk = json.loads(resource_path("topology.schema.json").read_text())
    assert on_disk == topology_json_schema(), "run `make schemas` and commit resources/topology.schema.json"


def test_samples_validate_against_the_json_schema():
    schema = topology_json_schema()
    for path in sample_topology_paths().values():
        jsonschema.validate(json.loads(path.read_text()), schema)


def test_byte_order_mark_is_accepted(tmp_path):
    p = tmp_path / "bom.json"
    p.write_text(sample_topology_paths()["smart_home"].read_text(), encoding="utf-8-sig")
    assert load_topology(p).name == "Smart home"


def test_infinite_latency_is_rejected(tmp_path):
    data = json.loads(sample_topology_paths()["smart_home"].read_text())
    data["links"][0]["latency_ms"] = float("inf")  # json writes Infinity
    p = tmp_path / "inf.json"
    p.write_text(json.dumps(data))
    with pytest.raises(TopologyError, match=r"links\[0\].latency_ms.*finite"):
        load_topology(p)


def test_file_without_schema_version_is_read_as_version_1(tmp_path):
    p = tmp_path / "old.json"
    p.write_text(json.dumps({"devices": [{"id": "a", "kind": "camera", "tier": "device",
                                          "peak_gflops_fp32": 5, "memory_mb": 64}]}))
    assert load_topology(p).schema_version == SCHEMA_VERSION
