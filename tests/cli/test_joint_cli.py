"""`edgeplan optimize --workload all`: the smart-factory workloads planned together, end to end.

The sample's six cameras run the keyword-spotting sample model (the smallest) with
times imported for the cameras (5 ms a unit) and the plant server (2 ms a unit), so
the figures do not depend on this host. At 25 requests/s a camera each workload alone
moves everything to the plant server, and together they would load it to 121 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner_app.cli import main
from planner_app.core.plans.joint import load_joint_plan, section_parts_dir
from planner_app.core.resources import sample_topology_paths

CAMERAS = ("cam-a1", "cam-a2", "cam-a3", "cam-b1", "cam-b2", "cam-b3")


def _factory(tmp_path: Path, rate: float) -> tuple[str, str]:
    doc = json.loads(Path(sample_topology_paths()["smart_factory"]).read_text())
    for w in doc["workloads"]:
        w["model"], w["rate_rps"] = "sample:lstm_kws", rate
    topo = tmp_path / f"factory-{rate:g}.json"
    topo.write_text(json.dumps(doc))
    rows = ["device,level,unit,ms"] + [f"{d},fp32,{u},{2.0 if d == 'plant-server' else 5.0}"
                                       for u in range(4) for d in ("plant-server", *CAMERAS)]
    times = tmp_path / "times.csv"
    times.write_text("\n".join(rows) + "\n")
    return str(topo), str(times)


def _optimize(topo, times, out, *extra):
    return main(["optimize", "--topology", topo, "--workload", "all", "--imported", times, "--no-local-profile",
                 "--levels", "fp32", "--out", str(out), "--quiet", *extra])


def test_joint_plan_is_written_validated_and_shown(tmp_path, capsys):
    topo, times = _factory(tmp_path, 25.0)
    out = tmp_path / "joint" / "joint.json"
    assert _optimize(topo, times, out) == 0
    text = capsys.readouterr().out
    assert "Joint plan of 6 workloads" in text and "objective: worst-slack" in text
    assert "Planned one at a time, the workloads overcommit: device plant-server" in text
    row = next(line for line in text.splitlines() if line.startswith("device plant-server"))
    assert "OVERCOMMITTED" in row and "121.5 %" in row
    plan = load_joint_plan(out)
    assert [w.workload.name for w in plan.workloads] == [f"inspect-{c}" for c in CAMERAS]
    assert plan.overcommitted_one_at_a_time == ["device plant-server"]
    assert all(r.utilization < 1.0 for r in plan.load)
    server = next(r for r in plan.load if r.resource == "device plant-server")
    assert server.one_at_a_time_utilization > 1.0 and len(server.utilization_per_workload) == 6
    for k, w in enumerate(plan.workloads):  # each workload's parts in its own folder, each part on disk
        assert all(s.artifact.path.startswith(section_parts_dir(k) + "/") for s in w.stages)
        assert all((out.parent / s.artifact.path).is_file() for s in w.stages)
        assert w.baselines[0].name == "one-at-a-time"
    assert main(["plan", "validate", str(out)]) == 0
    assert "valid joint plan" in capsys.readouterr().out
    assert main(["plan", "show", str(out)]) == 0
    assert "Load on shared devices and links" in capsys.readouterr().out


def test_a_joint_plan_edited_past_full_load_is_not_valid(tmp_path, capsys):
    topo, times = _factory(tmp_path, 25.0)
    out = tmp_path / "joint.json"
    assert _optimize(topo, times, out) == 0
    capsys.readouterr()
    doc = json.loads(out.read_text())
    # every camera at 30 requests/s, each section's own figures scaled to match: the plant server, 96.5 %
    # busy at 25, would be 116 % busy; only the sum over the sections shows it
    for w in doc["workloads"]:
        w["workload"]["rate_rps"] = 30.0
        util = w["totals"]["utilization_per_device"]
        for dev in util:
            util[dev] *= 30.0 / 25.0
    out.write_text(json.dumps(doc))
    assert main(["plan", "validate", str(out), "--no-chain"]) == 2
    err = capsys.readouterr().err
    assert "device plant-server is 116% busy" in err and "below 100 %" in err


def test_total_cost_keeps_every_model_on_its_free_camera(tmp_path, capsys):
    topo, times = _factory(tmp_path, 25.0)
    out = tmp_path / "joint.json"
    assert _optimize(topo, times, out, "--joint-objective", "total-cost") == 0
    assert "objective: total-cost" in capsys.readouterr().out
    plan = load_joint_plan(out)
    assert plan.objective.value == 0.0
    assert all({s.device for s in w.stages} == {w.workload.source} for w in plan.workloads)


def test_no_joint_plan_exits_3_naming_the_device(tmp_path, capsys):
    topo, times = _factory(tmp_path, 100.0)
    out = tmp_path / "joint.json"
    assert _optimize(topo, times, out) == 3
    cap = capsys.readouterr()
    assert "do not fit together" in cap.err and "device plant-server" in cap.err
    assert "Nothing was written" in cap.err and not out.exists()
    assert "No joint plan" in cap.out


@pytest.mark.parametrize(("extra", "needle"), [
    (["--model", "sample:lstm_kws"], "--model does not apply to --workload all"),
    (["--slo-ms", "50"], "--slo-ms does not apply"),
    (["--objective", "cost"], "--joint-objective"),
    (["--solver", "dp"], "MILP only"),
])
def test_per_workload_options_are_refused(tmp_path, capsys, extra, needle):
    topo, times = _factory(tmp_path, 25.0)
    assert _optimize(topo, times, tmp_path / "j.json", *extra) == 2
    assert needle in capsys.readouterr().err


def test_unknown_joint_objective_and_joint_objective_without_all(tmp_path, capsys):
    topo, times = _factory(tmp_path, 25.0)
    with pytest.raises(SystemExit) as exc:
        _optimize(topo, times, tmp_path / "j.json", "--joint-objective", "fastest")
    assert exc.value.code == 2
    assert "invalid choice: 'fastest'" in capsys.readouterr().err
    rc = main(["optimize", "--topology", topo, "--workload", "inspect-cam-a1", "--joint-objective", "total-cost",
               "--out", str(tmp_path / "p.json")])
    assert rc == 2
    assert "add --workload all" in capsys.readouterr().err


def test_joint_weights_are_checked_and_used(tmp_path, capsys):
    topo, times = _factory(tmp_path, 25.0)
    bad = [(["--joint-weight", "inspect-cam-a1=2"], "applies to --joint-objective weighted-latency"),
           (["--joint-objective", "weighted-latency", "--joint-weight", "cam-z=2"], "no workload 'cam-z'"),
           (["--joint-objective", "weighted-latency", "--joint-weight", "inspect-cam-a1=-1"], "a number >= 0")]
    for extra, needle in bad:
        assert _optimize(topo, times, tmp_path / "j.json", *extra) == 2
        assert needle in capsys.readouterr().err
    out = tmp_path / "w.json"
    assert _optimize(topo, times, out, "--joint-objective", "weighted-latency",
                     "--joint-weight", "inspect-cam-a1=1000") == 0
    plan = load_joint_plan(out)
    assert plan.objective.weights["inspect-cam-a1"] == 1000.0 and plan.objective.weights["inspect-cam-b1"] == 25.0
    a1 = plan.workloads[0]
    # the heaviest workload keeps the fast plant server: its latency is its one-at-a-time latency
    assert a1.totals.latency_ms == pytest.approx(a1.baselines[0].figures.latency_ms)


def test_a_section_naming_another_sections_part_is_refused(tmp_path, capsys):
    topo, times = _factory(tmp_path, 25.0)
    out = tmp_path / "joint.json"
    assert _optimize(topo, times, out) == 0
    capsys.readouterr()
    doc = json.loads(out.read_text())
    doc["workloads"][1]["stages"][0]["artifact"] = doc["workloads"][0]["stages"][0]["artifact"]
    out.write_text(json.dumps(doc))
    assert main(["plan", "validate", str(out), "--no-chain"]) == 2
    err = capsys.readouterr().err
    assert "workloads[1].stages[0].artifact.path" in err and "section's folder parts/workload_01/" in err
    assert main(["run", str(out), "--local"]) == 2
    assert "is a joint plan" in capsys.readouterr().err


def test_one_at_a_time_plans_that_fit_together_are_the_proven_joint_plan_without_a_milp(tmp_path, capsys):
    topo, times = _factory(tmp_path, 5.0)  # 5 requests/s a camera: the plant server stays under full load
    out = tmp_path / "joint" / "joint.json"
    assert _optimize(topo, times, out) == 0
    text = capsys.readouterr().out
    assert "solver: alone-optimal, proven optimal" in text
    plan = load_joint_plan(out)
    assert plan.solver.name == "alone-optimal" and plan.solver.exact and not plan.overcommitted_one_at_a_time
    assert all(w.solver.name == "alone-optimal" and w.solver.exact for w in plan.workloads)
    assert any("no joint MILP was needed" in n for n in plan.notes)
    assert main(["plan", "validate", str(out)]) == 0
