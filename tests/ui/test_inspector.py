"""Inspector and workloads panel: edits change the model, validate inline, undo as one step."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLineEdit


def _editor(form, name):
    return form.editors[name]


def test_typing_a_name_edits_the_model_and_undoes_in_one_step(window):
    window.scene.select_ids(["edge"])
    insp = window.inspector
    assert insp.stack.currentIndex() == 1
    line = _editor(insp.device_form, "name")
    assert isinstance(line, QLineEdit) and line.text() == "Edge box"
    line.selectAll()
    QTest.keyClicks(line, "Gateway 7")
    assert window.doc.topology.device("edge").name == "Gateway 7"
    assert window.scene.devices["edge"].name == "Gateway 7"  # the canvas follows the model
    assert window.doc.undo_stack.count() == 1
    window.doc.undo_stack.undo()
    assert window.doc.topology.device("edge").name == "Edge box"
    assert line.text() == "Edge box"


def test_spin_box_has_units_and_range_and_edits_the_model(window):
    window.scene.select_ids(["cloud"])
    spin = _editor(window.inspector.device_form, "memory_mb")
    assert isinstance(spin, QDoubleSpinBox) and spin.suffix() == " MB" and spin.minimum() > 0
    spin.setValue(32768)
    assert window.doc.topology.device("cloud").memory_mb == 32768


def test_invalid_value_shows_inline_error_and_changes_nothing(window):
    window.scene.select_ids(["edge"])
    form = window.inspector.device_form
    before = window.doc.topology.to_dict()
    _editor(form, "power_idle_w").setValue(10)
    # active power below idle power breaks a rule of the core record
    _editor(form, "power_active_w").setValue(5)
    assert "below power_idle_w" in form.errors["power_active_w"].text()
    assert not form.errors["power_active_w"].isHidden()
    assert window.doc.topology.device("edge").power_active_w == 0
    url = _editor(form, "agent_url")
    QTest.keyClicks(url, "ftp://x")
    assert "http" in form.errors["agent_url"].text()
    assert window.doc.topology.device("edge").agent_url is None
    url.clear()
    QTest.keyClicks(url, "http://10.0.0.7:8765")
    assert form.errors["agent_url"].isHidden()
    assert window.doc.topology.device("edge").agent_url == "http://10.0.0.7:8765"
    window.doc.undo_stack.setIndex(0)
    assert window.doc.topology.to_dict() == before


def test_multi_selection_edits_shared_fields(window, qtbot):
    window.scene.select_ids(["cam", "phone"])
    form = window.inspector.device_form
    assert "(mixed)" in form._labels["peak_gflops_fp32"].text()
    assert not _editor(form, "name").isEnabled()
    zone = _editor(form, "privacy_zone")
    assert isinstance(zone, QComboBox)
    zone.setEditText("lab")
    assert {window.doc.topology.device(d).privacy_zone for d in ("cam", "phone")} == {"lab"}
    assert window.doc.undo_stack.count() == 1
    # the shading follows: the old zone is gone, the new one covers both devices
    qtbot.waitUntil(lambda: set(window.scene.zones) == {"lab"})
    window.doc.undo_stack.undo()
    assert window.doc.topology.device("cam").privacy_zone == "home"


def test_link_inspector_and_preset(window):
    window.scene.select_ids(["l3"])
    insp = window.inspector
    assert insp.stack.currentIndex() == 2
    _editor(insp.link_form, "latency_ms").setValue(35)
    assert window.doc.topology.link("l3").latency_ms == 35
    idx = insp.link_preset.findData("metro-fiber-10g")
    insp.link_preset.activated.emit(idx)
    link = window.doc.topology.link("l3")
    assert link.preset == "metro-fiber-10g" and (link.a, link.b) == ("edge", "cloud")
    assert window.doc.undo_stack.count() == 2


def test_device_preset_keeps_identity_position_and_zone(window):
    window.scene.select_ids(["cam"])
    insp = window.inspector
    insp.device_preset.activated.emit(insp.device_preset.findData("smart-camera-cv25"))
    dev = window.doc.topology.device("cam")
    assert dev.preset == "smart-camera-cv25" and dev.privacy_zone == "home" and dev.position.x == 0


def test_workloads_panel_add_edit_remove(window):
    panel = window.workloads
    assert panel.list.count() == 1
    name = panel.add_workload()
    assert panel.list.count() == 2 and panel.list.currentRow() == 1
    rate = _editor(panel.form, "rate_rps")
    rate.setValue(12.5)
    shapes = _editor(panel.form, "input_shapes")
    QTest.keyClicks(shapes, "x: 1x3x")
    assert "cannot read" in panel.form.errors["input_shapes"].text()
    QTest.keyClicks(shapes, "64x64")
    assert panel.form.errors["input_shapes"].isHidden()
    src = _editor(panel.form, "source")
    src.setCurrentText("phone")
    w = window.doc.topology.workload(name)
    assert (w.rate_rps, w.input_shapes, w.source) == (12.5, {"x": [1, 3, 64, 64]}, "phone")
    slo = _editor(panel.form, "slo_ms")
    slo.setValue(0)  # the minimum reads "none"
    assert window.doc.topology.workload(name).slo_ms is None
    slo.setValue(150)
    assert window.doc.topology.workload(name).slo_ms == 150
    # duplicate names are refused inline
    QTest.keyClick(_editor(panel.form, "name"), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(_editor(panel.form, "name"), "detect")
    assert "already" in panel.form.errors["name"].text()
    panel.remove_current()
    assert [w.name for w in window.doc.topology.workloads] == ["detect"]
    while window.doc.undo_stack.canUndo():
        window.doc.undo_stack.undo()
    assert [w.name for w in window.doc.topology.workloads] == ["detect"]
    assert panel.list.count() == 1


def test_renaming_a_device_moves_its_links_and_workloads_in_one_step(window):
    window.scene.select_ids(["cam"])
    before = window.doc.topology.to_dict()
    line = _editor(window.inspector.device_form, "id")
    line.setFocus()
    line.selectAll()
    QTest.keyClicks(line, "door-cam")
    topo = window.doc.topology
    assert topo.has_device("door-cam") and not topo.has_device("cam")
    assert topo.link("l1").a == "door-cam" and topo.workloads[0].source == "door-cam"
    assert window.scene.selected_device_ids() == ["door-cam"] and line.hasFocus()
    assert window.doc.undo_stack.count() == 1  # the keystrokes merged
    QTest.keyClicks(line, "!")
    assert "door-cam!" not in window.scene.devices and window.inspector.device_form.errors["id"].text()
    line.setText("edge")
    line.textEdited.emit("edge")
    assert "already used" in window.inspector.device_form.errors["id"].text()
    window.doc.undo_stack.undo()
    assert window.doc.topology.to_dict() == before
    assert "cam" in window.scene.devices and window.scene.links["l1"].a_item.device_id == "cam"
