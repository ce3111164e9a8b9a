"""`edgeplan plan validate|show` on a real exported plan, and on hand-edited copies of it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from planner_app.cli import main
from planner_app.core.models.graph import load_model
from planner_app.core.profiling.runner import ProfileSettings, profile_model
from planner_app.core.resources import sample_topology_paths
from tests._planning import plan


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A two-stage keyword-spotting plan (first unit pinned to the hub, last to the cloud)."""
    mg = load_model("sample:lstm_kws")
    prof = profile_model(mg, ["fp32"], settings=ProfileSettings(warmup=1, runs=3, max_seconds=2.0, fidelity_samples=2))
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    run = plan(sample_topology_paths()["smart_home"], "hub-keyword-spotting", mg, profile_path=prof,
                          constraints={"pinned_units": {0: "hub", len(mg.units) - 1: "cloud-cpu"}, "slo_ms": None},
                          out=out)
    assert run.feasible and len(run.plan.stages) >= 2
    return out


@pytest.fixture
def plan_copy(exported, tmp_path) -> Path:
    shutil.copytree(exported.parent, tmp_path / "copy")
    return tmp_path / "copy" / "plan.json"


def test_validate_a_good_plan(plan_copy, capsys):
    assert main(["plan", "validate", str(plan_copy), "--model", "sample:lstm_kws"]) == 0
    out = capsys.readouterr().out
    assert "valid plan" in out and "parts with matching sha256" in out
    assert "chain: equals the model" in out


def test_validate_without_chain(plan_copy, capsys):
    assert main(["plan", "validate", "--no-chain", str(plan_copy)]) == 0
    assert "chain: not run" in capsys.readouterr().out


def test_show_prints_stages_and_baselines(plan_copy, capsys):
    assert main(["plan", "show", str(plan_copy)]) == 0
    out = capsys.readouterr().out
    assert "Stages (" in out and "hub" in out and "cloud-cpu" in out and "Plan vs baselines" in out


def test_hash_mismatch_names_the_part(plan_copy, capsys):
    part = sorted((plan_copy.parent / "parts").iterdir())[1]
    part.write_bytes(part.read_bytes() + b"\0")
    assert main(["plan", "validate", str(plan_copy)]) == 2
    err = capsys.readouterr().err
    assert part.name in err and "sha256" in err


def test_missing_part_is_named(plan_copy, capsys):
    part = sorted((plan_copy.parent / "parts").iterdir())[0]
    part.unlink()
    assert main(["plan", "validate", str(plan_copy)]) == 2
    err = capsys.readouterr().err
    assert part.name in err and "missing" in err


def _swap_units(doc):
    """Every unit still covered once, but not by the part that holds it."""
    a, b = doc["stages"][0], doc["stages"][1]
    a["unit_ids"], b["unit_ids"] = b["unit_ids"], a["unit_ids"]


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d["totals"].__setitem__("latency_ms", -1), "totals.latency_ms"),
        (lambda d: d["stages"][0].__setitem__("levle", "fp32"), "levle"),
        (lambda d: d["stages"][0].pop("artifact"), "stages[0]"),
        (lambda d: d["stages"][0].__setitem__("device", "toaster"), "toaster"),
        (lambda d: d["stages"][0].__setitem__("level", "int4"), "unknown compression level 'int4'"),
        (lambda d: _swap_units(d), "stages[0].unit_ids"),
    ],
)
def test_schema_violation_names_the_field(plan_copy, capsys, edit, needle):
    doc = json.loads(plan_copy.read_text())
    edit(doc)
    plan_copy.write_text(json.dumps(doc))
    assert main(["plan", "validate", str(plan_copy)]) == 2
    assert needle in capsys.readouterr().err


def test_part_swapped_for_another_valid_onnx_file(plan_copy, capsys):
    """Re-hashing by hand does not help: the parts must still compute the model."""
    doc = json.loads(plan_copy.read_text())
    parts = plan_copy.parent / "parts"
    first, second = (parts / Path(s["artifact"]["path"]).name for s in doc["stages"][:2])
    first.write_bytes(second.read_bytes())
    doc["stages"][0]["artifact"]["sha256"] = doc["stages"][1]["artifact"]["sha256"]
    doc["stages"][0]["artifact"]["bytes"] = doc["stages"][1]["artifact"]["bytes"]
    plan_copy.write_text(json.dumps(doc))
    assert main(["plan", "validate", str(plan_copy)]) == 2
    assert "stages[0]" in capsys.readouterr().err


def test_not_a_plan_file(tmp_path, capsys):
    bad = tmp_path / "plan.json"
    bad.write_text('{"schema_version": 1, "stages": [')
    assert main(["plan", "validate", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    bad.write_text("[1, 2]")
    assert main(["plan", "validate", str(bad)]) == 2
    assert "expected a JSON object" in capsys.readouterr().err


def test_real_process_prints_no_traceback(plan_copy):
    (plan_copy.parent / "parts" / sorted(p.name for p in (plan_copy.parent / "parts").iterdir())[0]).write_bytes(b"x")
    r = subprocess.run([sys.executable, "-m", "planner_app", "plan", "validate", str(plan_copy)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith("edgeplan: error:") and "Traceback" not in r.stderr


def test_model_moved_since_export(plan_copy, capsys):
    doc = json.loads(plan_copy.read_text())
    real = doc["model"]["path"]
    doc["model"]["path"] = doc["model"]["source"] = "/nowhere/kws.onnx"
    plan_copy.write_text(json.dumps(doc))
    assert main(["plan", "validate", str(plan_copy)]) == 0
    cap = capsys.readouterr()
    assert "was not found" in cap.err and "not compared" in cap.out
    assert main(["plan", "validate", "--model", real, str(plan_copy)]) == 0
    assert "chain: equals the model" in capsys.readouterr().out


@pytest.mark.parametrize("given", ["sample", "file"])
def test_validate_with_another_model_is_an_error(plan_copy, tmp_path, capsys, given):
    if given == "sample":
        other = "sample:resnet18"
    else:
        other = str(tmp_path / "other.onnx")
        Path(other).write_bytes(b"not the plan's model")
    assert main(["plan", "validate", "--model", other, str(plan_copy)]) == 2
    err = capsys.readouterr().err
    assert "the plan was made from model lstm_kws" in err and f"you gave {other}" in err


def test_show_warns_when_a_part_no_longer_matches(plan_copy, capsys):
    part = sorted((plan_copy.parent / "parts").iterdir())[0]
    part.write_bytes(part.read_bytes() + b"\0")
    assert main(["plan", "show", str(plan_copy)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("WARNING: this plan is NOT VALID (1 problem)")
    assert part.name in captured.out and "Stages (" in captured.out
    assert "not valid" in captured.err


def test_show_uses_one_plain_convention_for_costs_fidelity_and_bytes(plan_copy, capsys):
    doc = json.loads(plan_copy.read_text())
    doc["totals"]["cost_usd_per_1k"] = 1.47e-06
    doc["totals"]["bytes_on_links_per_request"] = 76.1
    doc["baselines"][0]["figures"]["predicted_fidelity"] = 0.99951
    point = {"placement": " → ".join(f"device-{i}[{i}] int8-dynamic" for i in range(12)) + " | codec int8",
             "figures": doc["baselines"][0]["figures"], "chosen": False}
    doc["pareto"] = [dict(point, figures=dict(point["figures"], latency_ms=10.0 + i)) for i in range(45)]
    plan_copy.write_text(json.dumps(doc))
    assert main(["plan", "show", str(plan_copy)]) == 0
    out = capsys.readouterr().out
    # the edited figures no longer add up: the NOT VALID banner quotes them as written, the tables not
    assert "NOT VALID" in out and "totals.cost_usd_per_1k" in out
    tables = out[out.index("Plan for workload"):]
    assert not re.search(r"\d(\.\d+)?e[-+]\d", tables), "no scientific notation"
    assert "0.00147 USD per 1M requests" in tables and "USD/1M req" in tables and "USD/1k" not in tables
    assert "76.1" not in tables and "    76  " in tables
    assert "0.9995" in out and "1.0000" in out
    assert "measured on the exported parts (as deployed, cut codec " in out and "cosine" in out
    # fp32 parts are exact unless a cut codec sits between them (as deployed)
    assert ("SQNR exact" in out) == (doc["totals"]["measured_fidelity"]["codec"] == "none")
    assert "clock: thread-cpu" in out and "latency 95 % interval" in out
    assert "(15 more, see the plan JSON" in out
    pareto = out[out.index("Pareto front"):].splitlines()
    assert max(len(line) for line in pareto) < 160 and "… | codec int8" in out
    assert "KB" not in out
