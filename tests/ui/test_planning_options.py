"""The Optimizer panel's solver time limit and proven gap, and Pareto points that coincide."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from planner_app.core.optimizer import AUTO_MILP_TIME_LIMIT_S
from planner_app.core.topology import load_topology
from tests.ui.test_planning_window import HOME, KWS, finish, loaded_and_profiled


@pytest.fixture
def home(make_window):
    win = make_window(load_topology(HOME))
    win.planning.model.set_workload(KWS)
    return win


def test_the_time_limit_reaches_the_solver_and_a_gap_is_stated(qtbot, home):
    pl = loaded_and_profiled(qtbot, home, ("fp32",))
    # the Workloads panel offers the loaded model first
    assert home.workloads.model_combo.itemText(0) == pl.model.current.model_ref.model == "sample:lstm_kws"
    op = pl.optimizer_panel
    assert op.time_limit.value() == AUTO_MILP_TIME_LIMIT_S and "gap" in op.time_limit.toolTip()
    op.time_limit.setValue(2.5)
    op.solver.setCurrentText("milp")
    assert op.options()[1].time_limit_s == 2.5
    finish(qtbot, op.optimize())
    cur = pl.model.current
    assert cur.options["time_limit_s"] == 2.5 and cur.result.solver == "milp"
    assert pl.model.to_project().plans[0].options["time_limit_s"] == 2.5  # kept with the project
    assert cur.result.exact and "not proven optimal" not in op.verdict.text()  # this small MILP is proven
    # a MILP stopped by its limit: the verdict states the proven gap
    cur.result = dataclasses.replace(cur.result, exact=False, gap=0.031)
    pl.model.planChosen.emit(cur.workload)
    pl.flush()
    assert "proven gap 3.10%" in op.verdict.text()
    cur.result = dataclasses.replace(cur.result, gap=float("inf"))
    pl.model.planChosen.emit(cur.workload)
    pl.flush()
    assert "no bound on the gap" in op.verdict.text()


def test_coinciding_pareto_points_are_one_marker_that_lists_and_picks_each_plan(qtbot, home):
    pl = loaded_and_profiled(qtbot, home, ("fp32", "int8-dynamic"))
    op = pl.optimizer_panel
    finish(qtbot, op.optimize())
    front = pl.model.current.result.pareto_front
    # on the real front every plan is its own marker or listed in its marker's menu
    groups = op.front.values["groups"]
    assert sorted(i for g in groups for i in g) == list(range(len(front)))
    assert len(op.front.scatter.points()) == len(groups)
    a, b = front[0].prediction, front[-1].prediction
    assert (a.latency_ms, a.cost_usd_per_1k) != (b.latency_ms, b.cost_usd_per_1k)
    twin = dataclasses.replace(a, latency_ms=a.latency_ms * (1 + 1e-4))  # a hair apart: drawn as one
    chart = op.front
    dock = pl.docks["optimizer"]
    dock.setFloating(True)
    dock.resize(1250, 820)
    QTest.qWait(50)
    chart.show_front([a, twin, b], -1, labels=["plan A", "plan A'", "plan B"])
    assert chart.values["groups"] == [[0, 1], [2]]
    assert len(chart.scatter.points()) == 2  # one marker for the pair
    counts = [i for i in chart.plot_item.items if hasattr(i, "textItem") and i.textItem.toPlainText() == "×2"]
    assert len(counts) == 1
    tip = chart._tip(0, 0, 0)
    assert "2 plans at this spot" in tip and "plan A —" in tip and "plan A' —" in tip
    # a click on the pair opens a menu of both plans; choosing the second shows it
    QTest.mouseClick(chart.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     chart.mapFromScene(chart.point_scene_pos(1)))
    qtbot.waitUntil(lambda: chart.group_menu is not None, timeout=2_000)
    menu = chart.group_menu
    assert [act.text().split(":")[0] for act in menu.actions()] == ["1", "2"]
    with qtbot.waitSignal(chart.pointClicked) as picked:
        menu.actions()[1].trigger()
    assert picked.args == [1]
    menu.close()
    # a point standing apart is picked by a plain click
    with qtbot.waitSignal(chart.pointClicked) as picked:
        QTest.mouseClick(chart.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         chart.mapFromScene(chart.point_scene_pos(2)))
    assert picked.args == [2]

