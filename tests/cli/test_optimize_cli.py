"""`edgeplan optimize`: plans printed next to the baselines, the Pareto table, and bad input.

Runs the real command (in process through ``cli.main``, one real subprocess for
the no-traceback check) on the smart-home scenario's keyword spotter, the
smallest sample model, so the whole pipeline stays quick.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

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


def _edited_topology(tmp_path, edit) -> str:
    doc = json.loads(Path(HOME).read_text())
    edit(doc)
    path = tmp_path / "topo.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_optimize_prints_plan_baselines_and_front_and_writes_a_valid_plan(kws_profile, tmp_path, capsys):
    out = tmp_path / "plan.json"
    rc = main(["optimize", "--topology", HOME, "--workload", KWS, "--profile", kws_profile, "--pareto",
               "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    for text in ("Stages (", "Plan vs baselines (objective: latency)", "all-on-source", "best-single-split",
                 "Pareto front (", "plan better by", f"wrote {out}"):
        assert text in cap.out
    plan = load_plan(out)
    assert plan.pareto and plan.baselines
    for b in plan.baselines:  # the improvement factor printed is the plan's objective vs the baseline's
        assert b.improvement_factor is None or b.improvement_factor >= 1 - 1e-9 or not b.figures.feasible
    assert validate_plan(out).ok


def test_optimize_profiles_when_no_profile_is_given(tmp_path, capsys):
    rc = main(["optimize", "--topology", HOME, "--workload", KWS, "--levels", "fp32", "--objective", "cost",
               "--out", str(tmp_path / "plan.json")])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "no profile given: profiling lstm_kws at fp32" in cap.err
    assert "objective: cost" in cap.out
    assert load_plan(tmp_path / "plan.json").objective.name == "cost"


def test_no_feasible_plan_exits_3_with_the_closest_plan(kws_profile, tmp_path, capsys):
    out = tmp_path / "plan.json"
    rc = main(["optimize", "--topology", HOME, "--workload", KWS, "--profile", kws_profile, "--slo-ms", "0.0001",
               "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 3
    assert "Closest plan" in cap.out and "slo" in cap.out
    assert "edgeplan: error:" in cap.err and "'slo'" in cap.err and "Nothing was written" in cap.err
    assert not out.exists()


def test_shape_that_does_not_match_the_model(kws_profile, tmp_path, capsys):
    rc = main(["optimize", "--topology", HOME, "--workload", KWS, "--profile", kws_profile,
               "--shape", "mfcc=1x50x40", "--out", str(tmp_path / "p.json")])
    assert rc == 2
    assert "mfcc" in capsys.readouterr().err


def test_workload_shapes_that_do_not_match_the_model(kws_profile, tmp_path, capsys):
    def edit(doc):
        w = next(w for w in doc["workloads"] if w["name"] == KWS)
        w["input_shapes"] = {"audio": [1, 16000]}

    topo = _edited_topology(tmp_path, edit)
    rc = main(["optimize", "--topology", topo, "--workload", KWS, "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "workload" in err and "audio" in err


def test_source_that_reaches_no_other_device(tmp_path, capsys):
    def edit(doc):
        src = next(w for w in doc["workloads"] if w["name"] == KWS)["source"]
        doc["links"] = [link for link in doc["links"] if src not in (link["a"], link["b"])]

    topo = _edited_topology(tmp_path, edit)
    r = subprocess.run([sys.executable, "-m", "planner_app", "optimize", "--topology", topo, "--workload", KWS,
                        "--out", str(tmp_path / "p.json")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "reaches no other device" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [("--min-fidelity", "1.5", "between 0 and 1"), ("--slo-ms", "-3", "positive"),
     ("--max-cost-usd-per-1k", "-1", ">= 0")],
)
def test_bad_limits_are_named(tmp_path, capsys, flag, value, needle):
    rc = main(["optimize", "--topology", HOME, "--workload", KWS, flag, value, "--out", str(tmp_path / "p.json")])
    assert rc == 2
    assert needle in capsys.readouterr().err


def test_unknown_workload_and_missing_topology(tmp_path, capsys):
    assert main(["optimize", "--topology", HOME, "--workload", "nope", "--out", str(tmp_path / "p.json")]) == 2
    assert "no workload 'nope'" in capsys.readouterr().err
    assert main(["optimize", "--topology", str(tmp_path / "missing.json"), "--out", str(tmp_path / "p.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_levels_the_profile_lacks_and_a_bad_output_path(kws_profile, tmp_path, capsys):
    rc = main(["optimize", "--topology", HOME, "--workload", KWS, "--profile", kws_profile,
               "--levels", "fp32,int8-static", "--out", str(tmp_path / "p.json")])
    assert rc == 2
    assert "were not profiled" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    for out, needle in ((tmp_path / "plan.txt", "must end in .json"), (tmp_path / "afile" / "p.json", "is a file")):
        t0 = time.perf_counter()
        assert main(["optimize", "--topology", HOME, "--workload", KWS, "--out", str(out)]) == 2
        assert needle in capsys.readouterr().err
        assert time.perf_counter() - t0 < 5, "refused before profiling"


def test_optimize_refuses_an_unwritable_out_before_any_work(kws_profile, capsys):
    rc = main(["optimize", "--topology", HOME, "--workload", KWS, "--profile", kws_profile,
               "--out", "/proc/edgeplan-plan.json", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "/proc/edgeplan-plan.json" in err and "--out" in err


def test_unknown_level_is_named_with_the_valid_levels(kws_profile, tmp_path, capsys):
    rc = main(["optimize", "--topology", HOME, "--workload", KWS, "--profile", kws_profile,
               "--levels", "fp32,bogus", "--out", str(tmp_path / "p.json"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "unknown compression level 'bogus'" in err and "model profile --levels bogus" not in err
    for level in ("fp32", "fp16", "int8-dynamic", "int8-static", "pruned-50", "pruned-75", "variant:NAME"):
        assert level in err


def test_unreachable_consumer_says_what_the_user_can_do(kws_profile, tmp_path, capsys):
    def edit(doc):
        doc["links"] = [lk for lk in doc["links"] if {lk["a"], lk["b"]} != {"hub", "home-server"}]
        next(w for w in doc["workloads"] if w["name"] == KWS)["consumer"] = "cloud-cpu"

    topo = _edited_topology(tmp_path, edit)
    rc = main(["optimize", "--topology", topo, "--workload", KWS, "--profile", kws_profile,
               "--out", str(tmp_path / "p.json"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "unreachable" in err and "drop those devices from the candidates" not in err
    assert "add a link" in err and "consumer" in err and topo in err
