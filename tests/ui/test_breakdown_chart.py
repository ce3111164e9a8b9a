"""The latency breakdown draws the critical path: its bar is as high as the predicted latency."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from planner_app.core.optimizer.cost_model import evaluate  # noqa: E402
from planner_app.core.optimizer.problem import Placement  # noqa: E402
from planner_app.ui.panels.charts import BreakdownChart  # noqa: E402
from tests.core.test_optimizer_branches import _hand_problem  # noqa: E402


def _bars_at(items, x: float) -> float:
    """The summed height the bar items draw at ``x`` (read back from the pyqtgraph items)."""
    total = 0.0
    for item in items:
        xs, hs = np.asarray(item.opts["x"], float), np.asarray(item.opts["height"], float)
        total += float(hs[np.isclose(xs, x)].sum())
    return total


def test_breakdown_bar_is_the_critical_path_and_off_path_work_stands_beside_it(qtbot):
    p = _hand_problem()
    parallel = evaluate(Placement(("cam", "e1", "e2", "cam"), ("fp32",) * 4), p)
    one = evaluate(Placement.uniform(4, "e1", "fp32"), p)
    chart = BreakdownChart()
    qtbot.addWidget(chart)
    chart.show_plans([("plan", parallel), ("all on e1", one)])
    # the plan's bar: the critical path, 16 ms (not the 30 ms of work); the stacks touch end to end
    assert _bars_at(chart.path_items, 0.0) == pytest.approx(parallel.latency_ms) == pytest.approx(16.0)
    assert _bars_at(chart.path_items, 1.0) == pytest.approx(one.latency_ms)
    tops = sorted(float(i.opts["y0"][0]) + float(i.opts["height"][0]) for i in chart.path_items if i.opts["height"][0])
    assert tops[-1] == pytest.approx(16.0)
    # beside it, faded: the other branch (10 ms on one edge box) and its two messages (2 ms each)
    off = _bars_at(chart.off_items, chart.OFF_PATH_DX)
    assert off == pytest.approx(parallel.compute_ms + parallel.transfer_ms - parallel.latency_ms) == pytest.approx(14.0)
    assert _bars_at(chart.off_items, 1.0 + chart.OFF_PATH_DX) == 0.0  # one device: nothing runs alongside
    assert chart.values["latency_ms"] == pytest.approx([16.0, 26.0])
    assert sum(chart.values["stacks"][0].values()) == pytest.approx(16.0)
