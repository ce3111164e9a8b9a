"""Planning with imported times: one report names every bad row, unknown devices included."""

from __future__ import annotations

import pytest

from planner_app.core.errors import PlannerError
from planner_app.core.planning import MeasureOptions, PoseOptions, SolveOptions, plan_deployment
from planner_app.core.resources import sample_topology_paths


def plan(topology, workload=None, model=None, *, profile_path=None, levels=None, objective="latency",
         constraints=None, pareto=False, out=None, imported=None, host_device=None, profile_settings=None,
         progress=None, cancel=None):
    """The session's steps composed as ``edgeplan optimize`` composes them."""
    return plan_deployment(
        topology, workload, model=model,
        measure=MeasureOptions(profile=profile_path, levels=tuple(levels) if levels else None,
                               imported=(imported,) if imported else (), host_device=host_device,
                               settings=profile_settings),
        pose=PoseOptions(objective=objective, levels=tuple(levels) if levels else None, **(constraints or {})),
        solve=SolveOptions(pareto=pareto), out=out, progress=progress, cancel=cancel)


def test_every_bad_imported_row_is_reported_at_once(tmp_path):
    csv = tmp_path / "times.csv"
    csv.write_text(
        "device,level,unit,ms\n"
        "hub,fp32,no-such-unit,1.0\n"      # unknown unit
        "toaster,fp32,0,1.0\n"             # device not in the topology
        "hub,fp99,0,1.0\n"                 # unknown level
        "hub,fp32,0,-4\n"                  # negative time
    )  # fmt: skip
    with pytest.raises(PlannerError) as info:
        plan(sample_topology_paths()["smart_home"], "hub-keyword-spotting",
                        imported=csv, out=tmp_path / "plan" / "plan.json")
    text = str(info.value)
    for line in ("line 2", "line 3", "line 4", "line 5"):
        assert line in text, text
    assert "toaster" in text
    assert not (tmp_path / "plan").exists() or not any((tmp_path / "plan").iterdir())
