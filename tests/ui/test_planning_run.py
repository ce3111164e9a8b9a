"""Running the shown plan from the window: real agent processes on 127.0.0.1, links emulated.

A two-stage plan of the smallest sample model (lstm_kws, hub → home-server over
the LAN) is exported and run for real; the Run panel's table and chart hold the
measured figures beside the predicted ones. Cancel ends the agent processes; an
agent that dies mid-run is a message and the window stays usable.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology import load_topology
from tests.ui.test_planning_window import KWS, finish

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

HOME = sample_topology_paths()["smart_home"]


def agent_children() -> list[int]:
    """Process ids of the live agent processes this test process started, directly or through the
    window's worker process (the run runs there)."""
    procs: dict[int, tuple[int, list[bytes], str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            procs[int(entry.name)] = (int(fields[1]), (entry / "cmdline").read_bytes().split(b"\0"), fields[0])
        except (OSError, ValueError, IndexError):
            continue
    mine = {os.getpid()}
    grew = True
    while grew:  # descendants of this process
        grew = False
        for pid, (ppid, _, _) in procs.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                grew = True
    return [pid for pid, (_, cmd, state) in procs.items()
            if pid in mine and pid != os.getpid() and b"planner_app" in cmd and b"agent" in cmd and state != "Z"]


@pytest.fixture
def two_stages(qtbot, make_window):
    """A window whose shown plan for the keyword spotter runs on the hub, then the home server."""
    win = make_window(load_topology(HOME))
    pl = win.planning
    pl.model.set_workload(KWS)
    finish(qtbot, pl.model_panel.load(None))
    pl.profiling_panel.set_levels(["fp32"])
    pl.profiling_panel.runs.setValue(3)
    finish(qtbot, pl.profiling_panel.start())
    last = len(pl.model.current.source.graph.units) - 1
    pl.optimizer_panel.pins.setText(f"0=hub, {last}=home-server")
    finish(qtbot, pl.optimizer_panel.optimize())
    shown = pl.model.current.shown.prediction
    assert [p.device for p in shown.parts] == ["hub", "home-server"]
    return win


def test_running_the_plan_shows_measured_against_predicted(qtbot, two_stages, dialogs):
    win = two_stages
    pl = win.planning
    panel = pl.run_panel
    shown = pl.model.current.shown.prediction
    panel.requests.setValue(6)
    panel.warmup.setValue(1)
    before = agent_children()
    pl.acts["run_plan"].trigger()  # Planning ▸ Run Plan Locally
    job = panel.job
    seen: list[str] = []
    job.progressed.connect(lambda _f, m: seen.append(m))
    finish(qtbot, job, timeout=180_000)
    assert not [c for c in dialogs.calls if c[0] == "error"]
    assert any("request" in m for m in seen) and panel.progress.value() == 1000
    run = pl.model.current.run
    assert run is not None and run.requests == 6
    names = [r.name for r in run.rows]
    assert names[:2] == ["end to end, median", "end to end, p90"]
    assert [r.kind for r in run.rows].count("stage") == 2
    # one row per hop of the report: hub → home-server, and the results to the consumer when it is elsewhere
    hops = [r for r in run.rows if r.kind == "hop"]
    assert len(hops) == len(run.report["hops"]) >= 1
    assert hops[0].name.startswith("hop stage 0 → stage 1: hub→home-server")
    assert hops[0].predicted_ms == pytest.approx(run.report["hops"][0]["predicted_one_way_ms"])
    assert hops[0].measured_ms == pytest.approx(run.report["hops"][0]["measured_one_way_ms_median"])
    assert run.row("end to end, median, compute as CPU time").measured_ms > 0
    # predicted: the plan's own figures; measured: real, positive times
    stages = [r for r in run.rows if r.kind == "stage"]
    assert [r.predicted_ms for r in stages] == pytest.approx([p.compute_ms for p in shown.parts], rel=1e-6)
    assert all(r.measured_ms is not None and r.measured_ms > 0 for r in run.rows)
    e2e = run.row("end to end, median")
    assert e2e.measured_ms == pytest.approx(run.report["measured"]["latency_ms_median"])
    assert run.row("end to end, p90").measured_ms >= e2e.measured_ms
    # the table shows the rows; the chart holds the same numbers
    assert panel.table.rowCount() == len(run.rows)
    for r, row in enumerate(run.rows):
        assert panel.table.item(r, 0).text() == row.name
        assert float(panel.table.item(r, 2).text()) == pytest.approx(row.measured_ms, abs=0.006)
        assert float(panel.table.item(r, 1).text()) == pytest.approx(row.predicted_ms, abs=0.006)
        assert float(panel.table.item(r, 3).text()) == pytest.approx(row.error_pct, abs=0.06)
    assert panel.chart.values["measured_ms"] == pytest.approx([r.measured_ms for r in run.rows])
    assert panel.chart.values["predicted_ms"] == pytest.approx([r.predicted_ms for r in run.rows])
    assert "Measured 6 requests" in panel.status.text()
    assert agent_children() == before  # the agents were stopped
    assert "run_measured_vs_predicted" in pl.charts
    # another plan shown: the figures say they belong to the one that ran
    pl.model.choose_pareto(0 if pl.model.current.shown.pareto_index != 0 else 1)
    pl.flush()
    if pl.model.current.shown.placement != pl.model.current.run_placement:
        assert "not the plan shown now" in panel.status.text()


def test_cancel_stops_the_agents_and_a_dying_part_is_a_message(qtbot, two_stages, dialogs):
    win = two_stages
    pl = win.planning
    panel = pl.run_panel
    panel.requests.setValue(100_000)  # runs until cancelled
    panel.warmup.setValue(0)
    before = set(agent_children())
    job = panel.start()
    seen: list[str] = []
    job.progressed.connect(lambda _f, m: seen.append(m))
    qtbot.waitUntil(lambda: any(m.startswith("request") for m in seen), timeout=120_000)
    assert len(set(agent_children()) - before) == 2  # one agent per planned device
    panel.cancel_button.click()
    finish(qtbot, job, "cancelled", timeout=60_000)
    assert set(agent_children()) == before, "cancel left agent processes running"
    assert "cancelled" in panel.status.text() and panel.run_button.isEnabled()
    assert not [c for c in dialogs.calls if c[0] == "error"]

    # an agent that dies in the middle of the run: a message, the agents stopped, the window usable
    job = panel.start()
    seen.clear()
    job.progressed.connect(lambda _f, m: seen.append(m))
    qtbot.waitUntil(lambda: any(m.startswith("request") for m in seen), timeout=120_000)
    started = sorted(set(agent_children()) - before)
    os.kill(started[-1], signal.SIGKILL)  # the agent this run started for the second stage
    finish(qtbot, job, "failed", timeout=60_000)
    kind, text = dialogs.calls[-1]
    assert kind == "error" and "Traceback" not in text and text
    assert "failed" in panel.status.text()
    assert set(agent_children()) == before
    assert panel.run_button.isEnabled() and win.isVisible()
