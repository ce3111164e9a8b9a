"""Find goes through every match: Ctrl+F, then F3 / Shift+F3."""

from __future__ import annotations

from PySide6.QtCore import Qt

from planner_app.core.topology import Device, Position
from planner_app.ui.find import find_devices
from tests.ui._helpers import small_topology


def _topology():
    t = small_topology()
    t.devices.append(Device(id="cam2", name="Back camera", kind="camera", tier="device", peak_gflops_fp32=20,
                            memory_mb=512, position=Position(x=0, y=400)))
    return t


def test_find_devices_orders_exact_matches_first():
    assert find_devices(_topology(), "camera") == ["cam", "cam2"]  # "Camera" is cam's exact name
    assert find_devices(_topology(), "CAM2") == ["cam2"]
    assert find_devices(_topology(), "box") == ["edge"]
    assert find_devices(_topology(), " ") == []


def test_f3_and_shift_f3_step_through_every_match(make_window, dialogs, qtbot):
    w = make_window(_topology())
    with qtbot.waitActive(w):  # a context manager: a plain call waits for nothing
        w.activateWindow()
    w.view.setFocus()
    dialogs.text_answer = "cam"
    qtbot.keyClick(w.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert w.scene.selected_device_ids() == ["cam"]
    assert "1 of 2" in w.hint.text()
    qtbot.keyClick(w.view, Qt.Key.Key_F3)
    assert w.scene.selected_device_ids() == ["cam2"] and "2 of 2" in w.hint.text()
    qtbot.keyClick(w.view, Qt.Key.Key_F3)  # wraps around
    assert w.scene.selected_device_ids() == ["cam"]
    qtbot.keyClick(w.view, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert w.scene.selected_device_ids() == ["cam2"]
    # the view follows the match
    centre = w.view.mapToScene(w.view.viewport().rect().center())
    assert abs(centre.y() - 400) < 5


def test_find_next_survives_the_match_being_deleted(make_window, dialogs):
    w = make_window(_topology())
    dialogs.text_answer = "cam"
    w.acts["find"].trigger()
    w.acts["find_next"].trigger()
    assert w.scene.selected_device_ids() == ["cam2"]
    w.editor.delete_selection()
    w.acts["find_next"].trigger()
    assert w.scene.selected_device_ids() == ["cam"]
    assert "1 of 1" in w.hint.text()
