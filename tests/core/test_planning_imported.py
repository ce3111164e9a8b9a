"""Planning with imported times: one report names every bad row, unknown devices included."""

from __future__ import annotations

import pytest

from planner_app.core.errors import PlannerError
from planner_app.core.resources import sample_topology_paths
from tests._planning import plan


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
