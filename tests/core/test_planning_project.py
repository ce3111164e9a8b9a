"""Project files: topology + model references + profiles + chosen plans, saved atomically, read back."""

from __future__ import annotations

import json

import pytest

from planner_app.core.planning.project import (
    PROJECT_VERSION,
    ChosenPlan,
    ModelRef,
    Project,
    ProjectError,
    load_project,
    save_project,
)
from planner_app.core.profiling import HostInfo, LevelProfile, ModelProfile, ProfileSettings
from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology import load_topology

HOME = sample_topology_paths()["smart_home"]


def _profile() -> ModelProfile:
    p = ModelProfile(model_name="m", model_sha256="ab" * 32, input_shapes={"x": [1, 4]}, host=HostInfo.detect(),
                     settings=ProfileSettings(runs=3), unit_names=["u0", "u1"])
    p.levels["fp32"] = LevelProfile(level="fp32", applicable=True, latency_ms_median=1.5, unit_ms=[1.0, 0.5])
    return p


def test_a_project_round_trips_through_its_file(tmp_path):
    topo = load_topology(HOME)
    project = Project(topo, [ModelRef("hub-keyword-spotting", "sample:lstm_kws")], [_profile()],
                      [ChosenPlan("hub-keyword-spotting", ("hub", "home-server"), ("fp32", "int8-dynamic"),
                                  options={"objective": "latency", "slo_ms": 50.0})])
    path = save_project(project, tmp_path / "home.edgeplan.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "edgeplan-project" and doc["version"] == PROJECT_VERSION
    back = load_project(path)
    assert back.topology.to_dict() == topo.to_dict()
    assert back.model_for("hub-keyword-spotting").model == "sample:lstm_kws"
    assert back.profile_for("ab" * 32).levels["fp32"].unit_ms == [1.0, 0.5]
    plan = back.plan_for("hub-keyword-spotting")
    assert plan.devices == ("hub", "home-server") and plan.options["slo_ms"] == 50.0
    assert list(tmp_path.iterdir()) == [path]  # atomic: no temp file left


def test_a_plain_topology_opens_as_a_project_without_planning_state():
    project = load_project(HOME)
    assert project.topology.name and project.models == [] and project.plans == []


@pytest.mark.parametrize(("edit", "words"), [
    (lambda d: d.update(version=PROJECT_VERSION + 1), "newer than this planner"),
    (lambda d: d["plans"][0].update(devices=["hub", "toaster"]), "toaster"),
    (lambda d: d["models"][0].update(workload="nope"), "'nope'"),
    (lambda d: d["plans"][0].update(levels=["fp32"]), "2 devices but 1 levels"),
])
def test_a_bad_project_names_the_problem(tmp_path, edit, words):
    topo = load_topology(HOME)
    project = Project(topo, [ModelRef("hub-keyword-spotting", "sample:lstm_kws")], [],
                      [ChosenPlan("hub-keyword-spotting", ("hub", "hub"), ("fp32", "fp32"))])
    doc = project.to_dict()
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ProjectError, match=words) as info:
        load_project(path)
    assert info.value.exit_code == 2 and str(path) in info.value.message
