"""`edgeplan optimize --pipeline`: a real pipeline plan on a sample scenario, and bad options."""

from __future__ import annotations

import pytest

from planner_app.cli import main
from planner_app.core.models.graph import load_model
from planner_app.core.plans.check import validate_plan
from planner_app.core.plans.records import load_plan
from planner_app.core.profiling.runner import ProfileSettings, profile_model
from planner_app.core.resources import sample_topology_paths

HOME = str(sample_topology_paths()["smart_home"])
KWS = "hub-keyword-spotting"


@pytest.fixture(scope="module")
def kws_profile(tmp_path_factory):
    mg = load_model("sample:lstm_kws")
    prof = profile_model(mg, ["fp32"], settings=ProfileSettings(warmup=1, runs=3, max_seconds=2.0, fidelity_samples=2))
    return str(prof.save(tmp_path_factory.mktemp("profile") / "kws.json"))


def test_pipeline_mode_writes_a_plan_whose_devices_each_host_one_stage(kws_profile, tmp_path, capsys):
    out = tmp_path / "plan.json"
    rc = main(["optimize", "--topology", HOME, "--workload", KWS, "--profile", kws_profile, "--pipeline",
               "--objective", "throughput", "--time-limit", "5", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    plan = load_plan(out)
    devices = [s.device for s in plan.stages]
    assert len(devices) == len(set(devices)), devices  # one contiguous stage per device
    assert plan.solver.name in ("pipeline",) or plan.solver.name.startswith("baseline:")
    assert validate_plan(out).ok
    assert plan.constraints.max_stages_per_device == 1
    # a plan whose device comes back for a second stage is not a pipeline: validation says so
    s0 = plan.stages[0]
    zigzag = [s0, s0.model_copy(update={"index": 1, "device": "elsewhere"}), s0.model_copy(update={"index": 2})]
    problems = plan.model_copy(update={"stages": zigzag}).consistency_problems()
    assert any(f"device {s0.device!r} hosts 2 separate stages" in p.message for p in problems)


@pytest.mark.parametrize(("args", "text"), [
    (["--max-stages-per-device", "2"], "add --pipeline"),
    (["--pipeline", "--max-stages-per-device", "0"], "--max-stages-per-device must be"),
    (["--time-limit", "-1"], "--time-limit must be"),
])
def test_bad_pipeline_options_exit_2_naming_the_option(tmp_path, capsys, args, text):
    rc = main(["optimize", "--topology", HOME, "--workload", KWS, *args, "--out", str(tmp_path / "p.json")])
    cap = capsys.readouterr()
    assert rc == 2 and text in cap.err
