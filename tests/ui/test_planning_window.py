"""Planning in the window, end to end, with real widgets, a real sample model and real profiles.

load → profile (few runs) → optimize → click a Pareto point (plan table and
overlay follow) → export → save and reopen the project; the charts hold the
predicted figures; the GUI thread never stalls over 100 ms while profiling and
optimizing; cancel keeps finished levels; bad input is a message, never a crash.
"""

from __future__ import annotations

import json
import math
import os
import shutil

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from planner_app.core.errors import PlannerError
from planner_app.core.models import load_model
from planner_app.core.plans import validate_plan
from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology import load_topology
from planner_app.ui.subprocess_jobs import live_workers
from tests.ui._helpers import ScriptedDialogs
from tests.ui.test_planning_jobs import Heartbeat, machine_oversubscribed

HOME = sample_topology_paths()["smart_home"]
KWS = "hub-keyword-spotting"
STALL_MS = 100


class PlanningDialogs(ScriptedDialogs):
    """Scripted answers for the planning questions too."""

    def __init__(self) -> None:
        super().__init__()
        self.model_answer: str | None = None
        self.shapes_answer: dict[str, list[int]] | None = None

    def choose_model(self, parent, directory):  # noqa: ANN001, D102
        return self.model_answer

    def ask_input_shapes(self, parent, model, inputs, prefill):  # noqa: ANN001, D102
        self.calls.append(("ask_input_shapes", json.dumps({"inputs": inputs, "prefill": prefill})))
        return self.shapes_answer


@pytest.fixture
def dialogs() -> PlanningDialogs:
    return PlanningDialogs()


@pytest.fixture
def home(make_window):
    win = make_window(load_topology(HOME))
    win.planning.model.set_workload(KWS)
    return win


def finish(qtbot, job, state="finished", timeout=60_000):
    assert job is not None
    qtbot.waitUntil(lambda: not job.running, timeout=timeout)
    assert job.state == state, job.error
    QTest.qWait(10)
    job.parent().parent().flush()  # the PlanningUI: panels tabbed out of sight redraw now too
    return job


def loaded_and_profiled(qtbot, win, levels=("fp32", "int8-dynamic")):
    pl = win.planning
    finish(qtbot, pl.model_panel.load(None))
    pl.profiling_panel.set_levels(list(levels))
    pl.profiling_panel.runs.setValue(3)
    finish(qtbot, pl.profiling_panel.start())
    return pl


def test_the_whole_loop_in_the_window(qtbot, home, dialogs, tmp_path):
    win = home
    pl = loaded_and_profiled(qtbot, win)
    mp = pl.model_panel
    mg = pl.model.current.source.graph
    # the Model panel: summary, unit table, and the chart holds the measured fp32 time per unit
    assert mg.name in mp.summary.text() and mp.table.rowCount() == len(mg.units)
    assert mp.chart.values["time_ms"] == pytest.approx(pl.model.profile.levels["fp32"].unit_ms)
    assert mp.chart.values["output_kb"] == pytest.approx([u.output_bytes / 1e3 for u in mg.units])
    # clicking a bar selects that unit in the table
    view = mp.chart
    target = view.mapFromScene(view.bar_scene_pos(1))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target)
    qtbot.waitUntil(lambda: pl.model.selected_unit == 1, timeout=2_000)
    pl.flush()
    assert {i.row() for i in mp.table.selectedItems()} == {1}
    # the Profiling panel: one row and one bar per measured level
    assert [pl.profiling_panel.table.item(r, 0).text() for r in range(2)] == ["fp32", "int8-dynamic"]
    assert pl.profiling_panel.chart.values["levels"] == ["fp32", "int8-dynamic"]

    op = pl.optimizer_panel
    finish(qtbot, op.optimize())
    cur = pl.model.current
    best = cur.result.prediction
    assert cur.result.feasible and op.table.rowCount() == len(best.parts)
    # values read back from the charts equal the prediction
    assert op.breakdown.values["latency_ms"][0] == pytest.approx(best.latency_ms)
    assert sum(op.breakdown.values["stacks"][0].values()) == pytest.approx(best.latency_ms)  # the critical path
    assert len(op.breakdown.values["labels"]) == 1 + len(cur.result.baselines)
    assert op.breakdown.values["latency_ms"][1:] == pytest.approx([b.prediction.latency_ms for b in cur.result.baselines])
    front = cur.result.pareto_front
    assert len(front) >= 2
    assert op.front.values["latency_ms"] == pytest.approx([e.prediction.latency_ms for e in front])
    assert op.front.values["cost_usd_per_1k"] == pytest.approx([e.prediction.cost_usd_per_1k for e in front])
    assert op.click_to_drawn_s is not None and op.solved_to_drawn_s < 0.3

    # click a Pareto point that places parts elsewhere: the table, the charts and the overlay follow
    dock = win.planning.docks["optimizer"]  # as a user would: give the front room
    dock.setFloating(True)
    dock.resize(1250, 820)
    op.front.parent().setSizes([150, 150, 150, 800])
    QTest.qWait(100)
    view = op.front
    pos = [view.point_scene_pos(i) for i in range(len(front))]

    def alone(i: int) -> bool:  # a point a user can hit alone (symbols are 11 px wide)
        return all((pos[i] - q).manhattanLength() > 8 for j, q in enumerate(pos) if j != i)

    moved = [i for i, e in enumerate(front) if e.placement != cur.result.placement and e.prediction.link_mbps]
    target = next((i for i in moved if alone(i)), moved[0])
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.mapFromScene(pos[target]))
    if len(view.group_of(target)) > 1:  # coinciding plans: one marker, a menu to choose from
        qtbot.waitUntil(lambda: view.group_menu is not None, timeout=2_000)
        view.group_menu.actions()[view.group_of(target).index(target)].trigger()
        view.group_menu.close()
    qtbot.waitUntil(lambda: pl.model.shown.pareto_index >= 0, timeout=2_000)
    pl.flush()
    k = pl.model.shown.pareto_index
    assert k == target
    assert op.front.values["chosen"] == k
    chosen = front[k].prediction
    assert [op.table.item(r, 1).text() for r in range(op.table.rowCount())] == [p.device for p in chosen.parts]
    assert op.breakdown.values["latency_ms"][0] == pytest.approx(chosen.latency_ms)
    assert op.bandwidth.values["used_mbps"] == pytest.approx(list(chosen.link_mbps.values()))
    overlay = pl.overlay
    assert set(overlay.badges) == {p.device for p in chosen.parts}
    assert set(overlay.bands) == {lid for lid, m in chosen.link_mbps.items() if m > 0}
    for lid, band in overlay.bands.items():
        assert f"{chosen.link_mbps[lid]:.3g} Mbps" in band.toolTip()
    assert overlay.legend is not None and overlay.legend.isVisible() and "Pareto point" in overlay.legend.text()
    win.resize(win.width() - 120, win.height() - 100)  # the legend keeps inside the visible canvas
    QTest.qWait(50)
    assert win.view.viewport().geometry().contains(overlay.legend.geometry())
    win.planning.acts["overlay"].trigger()  # toggles off
    assert not overlay.badges and not overlay.bands and not overlay.legend.isVisible()
    win.planning.acts["overlay"].trigger()
    assert overlay.badges

    # export: plan JSON + parts, charts as PNG and SVG, an HTML report
    out = tmp_path / "export" / "plan.json"
    plan = finish(qtbot, pl.export_plan(out)).result
    assert validate_plan(out).ok
    assert [s.device for s in plan.stages] == [p.device for p in chosen.parts]
    charts = pl.export_charts(tmp_path / "charts")
    assert {p.suffix for p in charts} == {".png", ".svg"} and all(p.stat().st_size > 500 for p in charts)
    report = pl.export_report(tmp_path / "report.html")
    text = report.read_text()
    assert "data:image/png;base64" in text and f"{chosen.latency_ms:.2f} ms" in text and "Provenance" in text

    # save the project and reopen it: the same model, profile and chosen plan come back
    project = pl.save_project(tmp_path / "home.edgeplan.json")
    assert project is not None
    saved_levels = dict(pl.model.profile.levels)
    win.new_document()
    pl.flush()
    assert pl.model.current is None and not overlay.badges
    win.open_path(project)
    qtbot.waitUntil(lambda: pl.model.current is not None and pl.model.current.result is not None
                    and not pl.runner.busy, timeout=60_000)
    again = pl.model.current
    assert again.workload == KWS and set(pl.model.profile.levels) == set(saved_levels)
    assert again.shown.placement == front[k].placement
    assert again.shown.prediction.latency_ms == pytest.approx(chosen.latency_ms)
    qtbot.waitUntil(lambda: bool(overlay.badges), timeout=5_000)
    assert set(overlay.badges) == {p.device for p in chosen.parts}
    assert not [c for c in dialogs.calls if c[0] == "error"]


def test_the_gui_never_stalls_while_profiling_and_optimizing(qtbot, home):
    pl = home.planning
    finish(qtbot, pl.model_panel.load(None))
    pl.profiling_panel.set_levels(["fp32", "fp16", "int8-dynamic"])
    pl.profiling_panel.runs.setValue(3)
    with Heartbeat() as beat:
        finish(qtbot, pl.profiling_panel.start())
        finish(qtbot, pl.optimizer_panel.optimize())
        QTest.qWait(50)
    assert beat.ticks > 10
    # the GUI thread's own work between two ticks; wall time too unless other processes
    # already oversubscribe the CPUs (then the stall measures the machine, not the window)
    assert beat.longest_cpu_ms < STALL_MS, f"the GUI thread worked {beat.longest_cpu_ms:.0f} ms without a break"
    assert beat.longest_ms < STALL_MS or machine_oversubscribed(), f"the GUI thread stalled {beat.longest_ms:.0f} ms"


def test_cancel_mid_profile_keeps_the_finished_levels(qtbot, home):
    pl = home.planning
    finish(qtbot, pl.model_panel.load(None))
    panel = pl.profiling_panel
    panel.set_levels(["fp32", "fp16", "int8-dynamic", "pruned-50"] if "pruned-50" in panel.level_boxes
                     else ["fp32", "fp16", "int8-dynamic"])
    panel.runs.setValue(400)  # slow enough to cancel in the middle
    job = panel.start()
    levels_seen: list[list[str]] = []
    job.partial.connect(lambda p: levels_seen.append(list(p.levels)))
    qtbot.waitUntil(lambda: bool(levels_seen), timeout=60_000)
    panel.cancel_button.click()
    finish(qtbot, job, "cancelled")
    kept = pl.model.profile
    assert kept is not None and "fp32" in kept.levels
    assert len(kept.levels) < len(panel.chosen_levels())
    assert panel.chart.values["levels"] == [lv for lv, lp in kept.levels.items() if lp.applicable]
    assert "kept" in panel.status.text()
    assert pl.model.current.session.measured is not None  # the optimizer can use what was finished
    assert live_workers() == []  # the profiling worker process was ended
    finish(qtbot, pl.optimizer_panel.optimize())


def test_profiling_runs_in_a_worker_process_and_fills_the_panel_live(qtbot, home):
    pl = home.planning
    finish(qtbot, pl.model_panel.load(None))
    pl.show_dock("profiling")
    panel = pl.profiling_panel
    panel.set_levels(["fp32", "int8-dynamic"])
    panel.runs.setValue(3)
    job = panel.start()
    charted: list[list[str]] = []

    def on_partial(_profile: object) -> None:
        panel.refresh_later.flush()  # what the panel draws on its next turn, drawn now
        charted.append(list(panel.chart.values.get("levels", [])))

    job.partial.connect(on_partial)
    finish(qtbot, job)
    assert live_workers() and os.getpid() not in live_workers()  # measured elsewhere, the worker kept warm
    assert charted[0] == ["fp32"]  # the chart had the first level as soon as it arrived
    assert set(pl.model.profile.levels) == {"fp32", "int8-dynamic"}
    assert panel.chart.values["levels"] == ["fp32", "int8-dynamic"]
    assert pl.model.current.session.measured is not None


def test_an_error_in_the_worker_is_a_message_and_the_window_stays_usable(qtbot, home, dialogs, tmp_path):
    model = tmp_path / "kws.onnx"
    shutil.copyfile(load_model("sample:lstm_kws").path, model)
    pl = home.planning
    finish(qtbot, pl.model.load_model(str(model)))
    model.write_bytes(b"not an onnx file any more")  # the worker loads the file again: it fails there
    pl.profiling_panel.set_levels(["fp32"])
    pl.profiling_panel.runs.setValue(3)
    job = finish(qtbot, pl.profiling_panel.start(), "failed")
    kind, text = dialogs.calls[-1]
    assert kind == "error" and "kws.onnx" in text and "Traceback" not in text
    assert isinstance(job.error, PlannerError)  # the worker's typed error, not a crash report
    assert pl.profiling_panel.profile_button.isEnabled()
    shutil.copyfile(load_model("sample:lstm_kws").path, model)  # fixed: profiling works again
    finish(qtbot, pl.profiling_panel.start())
    assert "fp32" in pl.model.profile.levels


def test_a_bad_model_is_a_message_and_the_window_stays_usable(qtbot, home, dialogs, tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"this is not an onnx file")
    pl = home.planning
    home.open_path(bad)
    qtbot.waitUntil(lambda: not pl.runner.busy, timeout=10_000)
    kind, text = dialogs.calls[-1]
    assert kind == "error" and "broken.onnx" in text and "Traceback" not in text
    assert pl.model.current is None
    finish(qtbot, pl.load_sample("lstm_kws"))  # still usable
    assert pl.model.current.source.name == "lstm_kws"


def test_an_infeasible_constraint_says_which_and_shows_the_closest_plan(qtbot, home, dialogs, tmp_path):
    pl = loaded_and_profiled(qtbot, home, ("fp32",))
    op = pl.optimizer_panel
    op.slo.setValue(0.1)  # 0.1 ms: nothing meets it
    finish(qtbot, op.optimize())
    result = pl.model.current.result
    assert not result.feasible
    words = op.verdict.text()
    assert "No plan meets every constraint" in words and (result.failing_constraint or "") in words
    assert "Closest plan" in words and op.table.rowCount() == len(result.prediction.parts)
    # exporting an infeasible plan is refused with a message; the window stays usable
    finish(qtbot, pl.export_plan(tmp_path / "plan.json"), "failed")
    assert not (tmp_path / "plan.json").exists()
    assert dialogs.calls[-1][0] == "error" and "breaks constraints" in dialogs.calls[-1][1]
    op.slo.setValue(0)
    finish(qtbot, op.optimize())
    assert pl.model.current.result.feasible


def test_a_failing_export_is_a_message_and_nothing_is_written(qtbot, home, dialogs, tmp_path):
    pl = loaded_and_profiled(qtbot, home, ("fp32",))
    finish(qtbot, pl.optimizer_panel.optimize())
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    finish(qtbot, pl.export_plan(blocker / "plan.json"), "failed")
    kind, text = dialogs.calls[-1]
    assert kind == "error" and "a-file" in text and "Traceback" not in text
    assert pl.export_charts(blocker / "charts") == []
    assert dialogs.calls[-1][0] == "error"
    assert pl.export_report(blocker / "r.html") is None
    finish(qtbot, pl.export_plan(tmp_path / "ok" / "plan.json"))  # the window still works


def test_a_model_with_dynamic_dimensions_asks_for_them_prefilled_from_the_workload(qtbot, home, dialogs, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "dyn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    pl = home.planning
    dialogs.shapes_answer = None  # cancelled: nothing loads
    assert pl.model_panel.load(str(path)) is None
    asked = json.loads(dialogs.calls[-1][1])
    assert asked["inputs"] == {"x": "batchx8"}
    dialogs.shapes_answer = {"x": [2, 8]}
    finish(qtbot, pl.model_panel.load(str(path)))
    assert pl.model.current.source.graph.inputs == {"x": [2, 8]}
    assert pl.model.current.model_ref.shapes == {"x": [2, 8]}


def test_overlay_marks_an_overloaded_link_red_with_a_reason(qtbot, home):
    pl = loaded_and_profiled(qtbot, home, ("fp32",))
    finish(qtbot, pl.optimizer_panel.optimize())
    front = pl.model.current.result.pareto_front
    k = next(i for i, e in enumerate(front) if e.prediction.link_mbps)
    pl.model.choose_pareto(k)
    pl.flush()
    lid = next(iter(pl.overlay.bands))
    # make that link far too slow: the next optimize (stale topology) re-evaluates from the kept profile
    link = home.doc.topology.link(lid)
    home.doc.topology.links[home.doc.topology.links.index(link)] = link.model_copy(
        update={"bandwidth_ab_mbps": 0.001, "bandwidth_ba_mbps": 0.001})
    home.doc.linkChanged.emit(lid)
    assert pl.model.current.stale
    pl.optimizer_panel.slo.setValue(0)
    finish(qtbot, pl.optimizer_panel.optimize())
    entry = pl.model.current
    from planner_app.core.optimizer import evaluate

    pred = evaluate(front[k].placement, entry.session.problem)
    assert pred.link_utilization[lid] >= 1.0
    from planner_app.ui.planning_model import ShownPlan

    entry.shown = ShownPlan(front[k].placement, pred, "forced", -1)
    pl.model.planChosen.emit(entry.workload)
    pl.flush()
    band = pl.overlay.bands[lid]
    assert band.pen().color().name() == "#c62828"
    assert "overloaded" in band.toolTip()
    assert math.isfinite(pred.link_mbps[lid])
    centre = band.path().pointAtPercent(0.5)
    assert "overloaded" in pl.overlay.tooltip_at(QPointF(centre))


def test_a_bandwidth_sweep_draws_latency_against_bandwidth_and_marks_split_changes(qtbot, home):
    from planner_app.core.planning.sweep import split_changes

    pl = loaded_and_profiled(qtbot, home, ("fp32",))
    op = pl.optimizer_panel
    finish(qtbot, op.optimize())
    link = op.sweep_link.currentText()
    assert link == pl.model.default_sweep_link() and link
    finish(qtbot, op.sweep())
    swept_link, points = pl.model.current.sweep
    assert swept_link == link and op.sweep_chart.isVisible()
    values = op.sweep_chart.values
    assert values["mbps"] == pytest.approx([p.bandwidth_mbps for p in points])
    assert values["latency_ms"] == pytest.approx([p.latency_ms for p in points])
    assert values["changes_mbps"] == pytest.approx([p.bandwidth_mbps for p in split_changes(points)])
    assert "bandwidth_sweep" in pl.charts


def test_a_bad_project_file_is_a_message_and_a_plain_topology_still_opens(qtbot, home, dialogs, tmp_path):
    from planner_app.core.planning.project import PROJECT_VERSION, Project, save_project

    path = save_project(Project(load_topology(HOME)), tmp_path / "p.edgeplan.json")
    doc = json.loads(path.read_text())
    doc["version"] = PROJECT_VERSION + 1
    path.write_text(json.dumps(doc))
    home.open_path(path)
    kind, text = dialogs.calls[-1]
    assert kind == "error" and "newer than this planner" in text and str(path) in text
    with qtbot.waitSignal(home.documentOpened, timeout=10_000):
        home.open_path(HOME)
    assert home.doc.topology.name == load_topology(HOME).name and home.planning.model.current is None
