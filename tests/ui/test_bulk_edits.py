"""Select all, delete and paste on big topologies: one signal, one undo step, named in History."""

from __future__ import annotations

import time

from tests.ui._helpers import big_topology


def test_select_all_emits_one_selection_change(make_window):
    w = make_window(big_topology(300))
    w.scene.finish_build()
    seen = []
    w.scene.selectionChanged.connect(lambda: seen.append(1))
    t0 = time.perf_counter()
    w.acts["select_all"].trigger()
    elapsed = time.perf_counter() - t0
    assert len(seen) == 1
    assert len(w.scene.selected_device_ids()) == 300
    assert w.inspector.title.text() == "300 devices"
    assert elapsed < 5.0, f"select all of 300 devices took {elapsed:.1f} s"


def test_delete_all_is_one_named_undo_step_and_undo_restores_exactly(make_window, qtbot):
    topo = big_topology(300)
    w = make_window(topo)
    w.scene.finish_build()
    before = w.doc.topology.to_dict()
    n_links = len(w.doc.topology.links)
    w.acts["select_all"].trigger()
    seen = []
    w.scene.selectionChanged.connect(lambda: seen.append(1))
    w.acts["delete"].trigger()
    assert w.doc.topology.devices == [] and w.doc.topology.links == []
    assert w.scene.devices == {} and w.scene.links == {}
    assert len(seen) <= 1  # not one per removed item
    assert w.doc.undo_stack.count() == 1
    assert w.doc.undo_stack.undoText() == f"Delete 300 devices and {n_links} links"
    w.doc.undo_stack.undo()
    assert w.doc.topology.to_dict() == before
    qtbot.waitUntil(lambda: not w.scene.building, timeout=5_000)  # big inserts draw over a few turns
    assert set(w.scene.devices) == {d.id for d in topo.devices}
    assert set(w.scene.links) == {lk.id for lk in topo.links}
    assert w.counts.text().startswith("300 devices")
    w.doc.undo_stack.redo()
    assert w.doc.topology.devices == []


def test_history_names_the_deleted_device_and_its_links(window):
    window.scene.select_ids(["edge"])
    window.acts["delete"].trigger()
    assert window.doc.undo_stack.undoText() == "Delete Edge box and 3 links"
    window.doc.undo_stack.undo()
    assert "edge" in window.scene.devices and len(window.scene.links) == 3


def test_deleting_a_device_takes_its_workloads_and_says_so(window):
    before = window.doc.topology.to_dict()
    window.scene.select_ids(["cam"])
    window.acts["delete"].trigger()
    assert window.doc.undo_stack.undoText() == "Delete Camera and 1 link (and workload detect)"
    assert window.doc.topology.workloads == []
    window.doc.undo_stack.undo()
    assert window.doc.topology.to_dict() == before
