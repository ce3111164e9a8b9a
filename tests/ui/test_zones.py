"""Privacy zones as containers: drop in to join, drag out to leave, resize, create; regions saved."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from planner_app.core.topology.io import load_topology
from tests.ui._helpers import drag


def _see_all(window, qtbot):
    qtbot.waitUntil(lambda: "home" in window.scene.zones)
    window.view.resetTransform()
    window.view.scale(0.7, 0.7)
    window.view.centerOn(400, 100)


def test_dropping_a_device_inside_a_zone_makes_it_a_member(window, qtbot):
    _see_all(window, qtbot)
    doc = window.doc
    before = doc.topology.to_dict()
    assert window.scene.zone_at(QPointF(0, 100)) == "home"
    drag(window.view, QPointF(800, 100), QPointF(0, 100))  # the cloud, into the home zone
    assert doc.topology.device("cloud").privacy_zone == "home"
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Move cloud into privacy zone home"
    qtbot.waitUntil(lambda: window.scene.zones["home"].region().contains(window.scene.devices["cloud"].pos()))
    doc.undo_stack.undo()
    assert doc.topology.to_dict() == before


def test_dragging_a_member_out_removes_it_and_the_region_stays(window, qtbot):
    _see_all(window, qtbot)
    doc = window.doc
    region = window.scene.zones["home"].region()
    drag(window.view, QPointF(0, 200), QPointF(400, 400))  # the phone, out of the zone
    assert doc.topology.device("phone").privacy_zone == ""
    assert doc.undo_stack.undoText() == "Move phone out of privacy zone home"
    qtbot.wait(10)
    zone = window.scene.zones["home"]
    assert not zone.region().contains(window.scene.devices["phone"].pos())  # what is drawn is what belongs
    assert zone.region().contains(window.scene.devices["cam"].sceneBoundingRect())
    assert zone.region().width() <= region.width() + 1
    doc.undo_stack.undo()
    assert doc.topology.device("phone").privacy_zone == "home"


def test_resizing_a_zone_with_its_corner_is_one_undo_step_and_covered_devices_join(window, qtbot):
    _see_all(window, qtbot)
    doc = window.doc
    zone = window.scene.zones["home"]
    corner = zone.handle_rect().center()
    drag(window.view, corner, QPointF(460, corner.y()))  # wide enough to cover the edge box at (400, 100)
    rect = doc.zone_rect("home")
    assert rect is not None and rect[0] + rect[2] >= 440
    assert doc.topology.device("edge").privacy_zone == "home"
    assert doc.undo_stack.undoText() == "Resize privacy zone home (1 joined)"
    doc.undo_stack.undo()
    assert doc.zone_rect("home") is None and doc.topology.device("edge").privacy_zone == ""


def test_add_zone_around_the_selection_and_it_survives_save_and_open(make_window, window, dialogs, tmp_path, qtbot):
    window.scene.select_ids(["edge", "cloud"])
    dialogs.text_answer = "dc"
    window.acts["add_zone"].trigger()
    doc = window.doc
    assert {doc.topology.device(d).privacy_zone for d in ("edge", "cloud")} == {"dc"}
    assert doc.undo_stack.undoText() == "Add privacy zone dc with 2 devices"
    qtbot.waitUntil(lambda: "dc" in window.scene.zones)
    region = window.scene.zones["dc"].region()
    path = tmp_path / "zones.json"
    doc.save(path)
    assert load_topology(path).zone_region("dc") is not None  # the region is part of the topology file
    again = make_window(load_topology(path), path)
    qtbot.waitUntil(lambda: "dc" in again.scene.zones)
    assert again.scene.zones["dc"].region() == region
    # an empty zone is a region to drop devices into
    window.scene.clearSelection()
    dialogs.text_answer = "lab"
    window.acts["add_zone"].trigger()
    qtbot.waitUntil(lambda: "lab" in window.scene.zones)
    assert not any(d.privacy_zone == "lab" for d in doc.topology.devices)


def test_dragging_a_zone_by_its_title_moves_it_with_its_members_in_one_undo_step(window, qtbot):
    _see_all(window, qtbot)
    doc = window.doc
    before = doc.topology.to_dict()
    zone = window.scene.zones["home"]
    start_region = zone.region()
    title = zone.title_rect().center()
    drag(window.view, title, title + QPointF(-200, -100))
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Move privacy zone home with 2 devices"
    cam, phone = doc.topology.device("cam").position, doc.topology.device("phone").position
    assert (cam.x, cam.y) == (-200, -100) and (phone.x, phone.y) == (-200, 100)  # members moved with it
    assert doc.topology.device("edge").position.x == 400  # non-members stayed
    rect = doc.zone_rect("home")
    assert rect is not None and abs(rect[0] - (start_region.x() - 200)) < 1 and abs(rect[1] - (start_region.y() - 100)) < 1
    assert {doc.topology.device(d).privacy_zone for d in ("cam", "phone")} == {"home"}
    qtbot.waitUntil(lambda: window.scene.zones["home"].region().contains(window.scene.devices["cam"].sceneBoundingRect()))
    doc.undo_stack.undo()
    assert doc.topology.to_dict() == before
    qtbot.waitUntil(lambda: window.scene.devices["cam"].pos() == QPointF(0, 0))
    doc.undo_stack.redo()
    assert doc.topology.device("cam").position.x == -200


def test_rename_and_delete_a_zone_from_its_context_menu(window, dialogs, qtbot):
    from PySide6.QtWidgets import QMenu

    from planner_app.ui import actions

    _see_all(window, qtbot)
    doc = window.doc
    before = doc.topology.to_dict()
    menu = QMenu(window)
    actions.fill_context_menu(window, menu, 0, 100)  # inside the zone, nothing selected
    texts = [a.text() for a in menu.actions()]
    assert "Rename Privacy Zone 'home'…" in texts and "Delete Privacy Zone 'home'" in texts
    menu = QMenu(window)
    actions.fill_context_menu(window, menu, 800, 600)  # outside every zone
    assert not any("Privacy Zone" in a.text() for a in menu.actions())

    dialogs.text_answer = "flat"
    window.rename_privacy_zone("home")
    assert {doc.topology.device(d).privacy_zone for d in ("cam", "phone")} == {"flat"}
    assert "home" not in doc.zone_names() and doc.zone_rect("flat") is not None
    assert doc.undo_stack.undoText() == "Rename privacy zone home to flat"
    qtbot.waitUntil(lambda: "flat" in window.scene.zones and "home" not in window.scene.zones)

    dialogs.text_answer = "flat"  # its own name: nothing to do
    window.rename_privacy_zone("flat")
    assert doc.undo_stack.count() == 1

    window.delete_privacy_zone("flat")
    assert {doc.topology.device(d).privacy_zone for d in ("cam", "phone")} == {""}
    assert doc.zone_names() == [] and doc.undo_stack.undoText() == "Delete privacy zone flat (2 devices now public)"
    qtbot.waitUntil(lambda: not window.scene.zones)
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.topology.to_dict() == before


def test_renaming_a_zone_onto_another_zone_is_refused_with_a_message(window, dialogs, qtbot):
    _see_all(window, qtbot)
    window.scene.select_ids(["edge"])
    dialogs.text_answer = "dc"
    window.acts["add_zone"].trigger()
    count = window.doc.undo_stack.count()
    dialogs.text_answer = "dc"
    window.rename_privacy_zone("home")
    assert window.doc.undo_stack.count() == count
    assert dialogs.calls and dialogs.calls[-1][0] == "error" and "already a privacy zone 'dc'" in dialogs.calls[-1][1]
    assert window.doc.topology.device("cam").privacy_zone == "home"
