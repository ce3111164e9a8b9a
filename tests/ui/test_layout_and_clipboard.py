"""Pure placement arithmetic and clipboard records (no window needed)."""

from __future__ import annotations

import pytest

from planner_app.core.errors import PlannerError
from planner_app.ui.canvas.layout import align, distribute, snap, tiers_layout
from planner_app.ui.clipboard import records_for_paste, selection_to_json
from tests.ui._helpers import big_topology, small_topology


def test_tiers_layout_puts_tiers_in_columns_and_neighbours_together():
    topo = small_topology()
    pos = tiers_layout(topo)
    assert pos["cam"][0] == pos["phone"][0] < pos["edge"][0] < pos["cloud"][0]
    assert len(set(pos.values())) == 4


def test_tiers_layout_wraps_big_tiers_into_several_columns():
    topo = big_topology(300)
    pos = tiers_layout(topo)
    assert len(pos) == 300 and len(set(pos.values())) == 300
    ys = [y for _, y in pos.values()]
    # a 300-device drawing is not one 30,000 px column
    assert max(ys) - min(ys) < 5000


def test_align_and_distribute_arithmetic():
    pos = {"a": (0.0, 10.0), "b": (50.0, 30.0), "c": (200.0, 0.0)}
    assert {x for x, _ in align(pos, "right").values()} == {200.0}
    assert {y for _, y in align(pos, "vcenter").values()} == {15.0}
    assert [x for x, _ in sorted(distribute(pos, "x").values())] == [0.0, 100.0, 200.0]
    with pytest.raises(ValueError, match="unknown align mode"):
        align(pos, "diagonal")
    assert snap(29.0, 20.0) == 20.0 and snap(31.0, 20.0) == 40.0 and snap(7.5, 0) == 7.5


def test_clipboard_keeps_only_inner_links_and_renames():
    topo = small_topology()
    text = selection_to_json(topo, ["cam", "edge"], [])
    devices, links, notes = records_for_paste(topo, text, offset=(10, 20))
    assert [d.id for d in devices] == ["cam-1", "edge-1"]
    assert [(x.a, x.b) for x in links] == [("cam-1", "edge-1")]
    assert devices[0].position.x == 10 and devices[0].position.y == 20
    with pytest.raises(PlannerError, match="does not hold planner items"):
        records_for_paste(topo, '{"devices": []}')
