"""Auto-layout: layered (device → edge → cloud), children grouped by parent, fitted in view, of a selection."""

from __future__ import annotations

from PySide6.QtCore import QRectF

from planner_app.core.topology import Position, Topology
from planner_app.ui.canvas.layout import CELL_H, layered_layout
from tests.ui._helpers import site_topology, small_topology


def _visible(window) -> QRectF:
    view = window.view
    return view.mapToScene(view.viewport().rect()).boundingRect()


def test_layout_of_three_devices_is_fitted_in_view(make_window, qtbot):
    full = small_topology()
    topo = Topology(name="three", devices=full.devices[1:],  # phone, edge box, cloud
                    links=[lk for lk in full.links if "cam" not in (lk.a, lk.b)])
    w = make_window(topo)
    w.view.resetTransform()
    w.view.centerOn(-3000, -3000)  # looking somewhere else, as after a scroll
    with qtbot.waitSignal(w.layoutFinished, timeout=10_000):
        w.acts["layout"].trigger()
    seen = _visible(w)
    for item in w.scene.devices.values():
        assert seen.contains(item.sceneBoundingRect()), item.device_id
    assert w.doc.undo_stack.undoText() == "Auto-layout"


def test_layout_keeps_cameras_beside_their_own_gateway():
    topo = site_topology(gateways=30, cameras_per_gateway=8)  # 334 devices, shuffled
    pos = layered_layout(topo)
    assert len(pos) == len(topo.devices) and len(set(pos.values())) == len(pos)
    spans = []
    for g in range(30):
        gx, gy = pos[f"gw{g}"]
        cams = [pos[f"cam{g}-{c}"] for c in range(8)]
        assert all(x < gx for x, _ in cams)  # left of their gateway: the flow goes device → edge
        assert all(abs(y - gy) <= 4 * CELL_H / 2 for _, y in cams), g  # beside it, not anywhere
        spans.append(QRectF(min(x for x, _ in cams), min(y for _, y in cams), 1, 1).united(
            QRectF(max(x for x, _ in cams), max(y for _, y in cams), 1, 1)))
    # one gateway's cameras are one block: no two blocks overlap
    assert not any(a.intersects(b) for i, a in enumerate(spans) for b in spans[i + 1:])
    for g in range(30):  # the flow goes on: gateway left of its server, server left of the cloud
        assert pos[f"gw{g}"][0] < pos[f"srv{g % 3}"][0] < pos["cloud"][0]


def test_layout_of_a_mesh_is_not_one_endless_column():
    from tests.ui._helpers import big_topology

    pos = layered_layout(big_topology(600, links_per_device=3.0))  # random links: a mesh
    xs, ys = [x for x, _ in pos.values()], [y for _, y in pos.values()]
    assert max(ys) - min(ys) < 3 * (max(xs) - min(xs))


def test_layout_of_a_selection_moves_only_it_and_keeps_its_corner(window, qtbot):
    doc = window.doc
    before = {d.id: (d.position.x, d.position.y) for d in doc.topology.devices}
    window.scene.select_ids(["cam", "phone", "edge"])
    with qtbot.waitSignal(window.layoutFinished, timeout=10_000):
        window.acts["layout_selection"].trigger()
    after = {d.id: (d.position.x, d.position.y) for d in doc.topology.devices}
    assert after["cloud"] == before["cloud"]
    moved = ["cam", "phone", "edge"]
    assert min(after[k][0] for k in moved) == min(before[k][0] for k in moved)
    assert min(after[k][1] for k in moved) == min(before[k][1] for k in moved)
    assert after["cam"][0] < after["edge"][0]
    assert doc.undo_stack.undoText() == "Auto-layout 3 devices"
    doc.undo_stack.undo()
    assert {d.id: (d.position.x, d.position.y) for d in doc.topology.devices} == before


def test_big_layout_runs_in_the_background_and_is_dropped_if_the_topology_changed(make_window, qtbot):
    topo = site_topology(gateways=30, cameras_per_gateway=8)
    w = make_window(topo)
    with qtbot.waitSignal(w.scene.built, timeout=10_000):
        pass
    with qtbot.waitSignal(w.layoutFinished, timeout=30_000):
        w.acts["layout"].trigger()
    assert w.doc.undo_stack.undoText() == "Auto-layout"
    with qtbot.waitSignal(w.layout_runner.discarded, timeout=30_000):
        w.auto_layout()
        w.doc.undo_stack.undo()  # an edit while it runs
    w.layout_runner.wait()


def test_unlinked_devices_are_laid_in_rows():
    topo = Topology(name="loose", devices=[d.model_copy(update={"position": Position(x=0, y=0)})
                                           for d in small_topology().devices])
    pos = layered_layout(topo)
    assert len(set(pos.values())) == 4
