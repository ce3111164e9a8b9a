"""The per-part overhead the optimizer charges comes from the profile when it measured one."""

from __future__ import annotations

from planner_app.core.models.graph import load_model
from planner_app.core.optimizer.problem import PART_OVERHEAD_MS
from planner_app.core.planning import (
    measured_part_overhead_ms,
)
from planner_app.core.profiling.runner import ProfileSettings, profile_model
from planner_app.core.resources import sample_topology_paths
from tests._planning import plan


def test_plan_uses_the_measured_per_call_overhead(tmp_path):
    mg = load_model("sample:lstm_kws")
    profile = profile_model(mg, levels=("fp32",), settings=ProfileSettings(runs=5, warmup=1))
    measured = profile.levels["fp32"].overhead_ms
    assert measured > 0
    run = plan(sample_topology_paths()["smart_home"], "hub-keyword-spotting",
                          mg, profile_path=profile, levels=["fp32"])
    # each part costs at least the per-call time measured, more where chained runs measured more per extra part
    chained = profile.part_overhead_ms
    assert chained is not None
    assert run.problem.overhead_ms == max(measured, chained) == measured_part_overhead_ms(profile) != PART_OVERHEAD_MS


def test_no_measurement_means_the_default():
    assert measured_part_overhead_ms(None) is None
