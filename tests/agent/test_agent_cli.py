"""Agent measurements flowing into the CLI: `model profile --agent` and `optimize --agents`."""

from __future__ import annotations

import json

from planner_app.cli import main
from planner_app.core.plans.records import load_plan
from planner_app.core.profiling import ModelProfile
from planner_app.core.resources import sample_topology_paths
from tests.agent.conftest import TOKEN, free_port

HOME = str(sample_topology_paths()["smart_home"])


def _token_file(tmp_path):
    tf = tmp_path / "agent.token"
    tf.write_text(TOKEN + "\n")
    return tf


def test_model_profile_on_an_agent_shows_progress_and_saves_an_agent_profile(agent, tmp_path, capsys):
    from planner_app.core.models import load_model

    out = tmp_path / "kws.profile.json"
    code = main(["model", "profile", "sample:lstm_kws", "--agent", agent.url, "--token-file", str(_token_file(tmp_path)),
                 "--levels", "fp32", "--runs", "3", "--warmup", "1", "--out", str(out)])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "profiling lstm_kws at fp32" in cap.err and "uploading" in cap.err  # progress, as it arrived
    assert "fp32" in cap.out and "measured by the agent" in cap.out
    prof = ModelProfile.load(out)
    assert prof.model_sha256 == load_model("sample:lstm_kws").sha256
    assert prof.levels["fp32"].provenance == "measured-agent" and prof.levels["fp32"].runs == 3


def test_model_profile_on_an_agent_needs_a_token_and_a_live_agent(agent, tmp_path, capsys):
    assert main(["model", "profile", "sample:lstm_kws", "--agent", agent.url, "--levels", "fp32"]) == 2
    assert "needs its token" in capsys.readouterr().err
    dead = f"http://127.0.0.1:{free_port()}"
    assert main(["model", "profile", "sample:lstm_kws", "--agent", dead, "--token", TOKEN, "--levels", "fp32"]) == 2
    assert "does not answer" in capsys.readouterr().err


def test_optimize_measures_on_the_agents_before_solving(agent, tmp_path, capsys):
    agents = tmp_path / "agents.json"
    agents.write_text(json.dumps({"hub": {"url": agent.url, "token_file": _token_file(tmp_path).name}}))
    plan_path = tmp_path / "plan" / "plan.json"
    code = main(["optimize", "--topology", HOME, "--workload", "hub-keyword-spotting", "--agents", str(agents),
                 "--levels", "fp32", "--no-local-profile", "--out", str(plan_path)])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "agent of hub: profiling lstm_kws at fp32" in cap.err
    assert "times measured by the agent of 'hub'" in cap.out
    plan = load_plan(plan_path)
    assert [s.device for s in plan.stages] == ["hub"]  # the only device anyone measured
    assert "measured-agent" in json.dumps(json.loads(plan_path.read_text()))


def test_optimize_refuses_an_agent_map_naming_a_device_the_topology_lacks(agent, tmp_path, capsys):
    agents = tmp_path / "agents.json"
    agents.write_text(json.dumps({"toaster": {"url": agent.url, "token_file": _token_file(tmp_path).name}}))
    code = main(["optimize", "--topology", HOME, "--workload", "hub-keyword-spotting", "--agents", str(agents),
                 "--out", str(tmp_path / "p" / "plan.json")])
    assert code == 2 and "'toaster'" in capsys.readouterr().err


def test_a_local_agent_stops_when_the_process_that_started_it_dies(tmp_path):
    """`run --local` (or the window's worker) killed mid-run leaves no agent behind (--parent-pid)."""
    import subprocess
    import sys
    import time

    code = ("import os, sys\nfrom pathlib import Path\nfrom planner_app.agent.local import start_local_agent\n"
            "a = start_local_agent(Path(sys.argv[1]))\nprint(a.proc.pid, flush=True)\nos._exit(0)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "agent")], capture_output=True, text=True,
                         timeout=120, check=True)
    pid = int(out.stdout.strip())

    def alive() -> bool:
        try:
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 20
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(), "the agent outlived the process that started it"
