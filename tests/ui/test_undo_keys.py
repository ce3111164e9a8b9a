"""Ctrl+Z / Ctrl+Shift+Z work from anywhere in the window, text fields included."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def _focus(qtbot, window, widget) -> None:
    with qtbot.waitActive(window):  # a context manager: a plain call waits for nothing
        window.activateWindow()
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=2_000)


def test_ctrl_z_in_an_inspector_field_undoes_the_edit_on_the_document(window, qtbot):
    window.scene.select_ids(["edge"])
    field = window.inspector.device_form.editors["name"]
    _focus(qtbot, window, field)
    qtbot.keyClicks(field, " two")
    assert window.doc.topology.device("edge").name == "Edge box two"
    assert window.doc.undo_stack.index() == 1  # the keystrokes merged into one edit
    qtbot.keyClick(field, Qt.Key.Key_Z, CTRL)
    assert window.doc.topology.device("edge").name == "Edge box"
    assert field.text() == "Edge box"
    assert window.doc.undo_stack.index() == 0 and window.doc.undo_stack.canRedo()
    qtbot.keyClick(field, Qt.Key.Key_Z, CTRL_SHIFT)
    assert window.doc.topology.device("edge").name == "Edge box two"
    assert window.doc.undo_stack.index() == 1


def test_ctrl_z_in_a_spin_box_commits_the_typed_value_as_an_edit_then_undoes_it(window, qtbot):
    window.editor.add_note(0, 0, "earlier work")
    window.scene.select_ids(["edge"])
    spin = window.inspector.device_form.editors["peak_gflops_fp32"]
    assert isinstance(spin, QAbstractSpinBox)
    _focus(qtbot, window, spin)
    spin.setKeyboardTracking(False)  # the typed text is not a value until committed
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "99")
    assert window.doc.topology.device("edge").peak_gflops_fp32 == 150
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Z, CTRL)
    # the typed value became an edit first, and Ctrl+Z undid exactly that edit
    assert window.doc.topology.device("edge").peak_gflops_fp32 == 150
    assert window.doc.undo_stack.canRedo()
    assert window.doc.undo_stack.undoText() == "Add note"
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Y, CTRL)
    assert window.doc.topology.device("edge").peak_gflops_fp32 == 99


def test_ctrl_z_in_the_workloads_form_undoes_the_workload_edit(window, qtbot):
    field = window.workloads.form.editors["model"]
    _focus(qtbot, window, field)
    qtbot.keyClicks(field, "sample:resnet18")
    assert window.doc.topology.workloads[0].model == "sample:resnet18"
    qtbot.keyClick(field, Qt.Key.Key_Z, CTRL)
    assert window.doc.topology.workloads[0].model is None
    assert window.doc.undo_stack.index() == 0
