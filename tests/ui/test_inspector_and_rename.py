"""The inspector comes forward on selection; double-click renames in place on the canvas."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from tests.ui._helpers import click, view_point


def test_selecting_an_item_brings_the_inspector_forward_from_behind_history(window, qtbot):
    window.history_dock.raise_()
    # tabbed docks both report isVisible(): what the user sees is the visible region
    qtbot.waitUntil(lambda: window.inspector_dock.visibleRegion().isEmpty(), timeout=2_000)
    click(window.view, QPointF(400, 100))  # the edge box
    assert window.scene.selected_device_ids() == ["edge"]
    qtbot.waitUntil(lambda: not window.inspector_dock.visibleRegion().isEmpty(), timeout=2_000)
    assert window.history_dock.visibleRegion().isEmpty()
    assert window.inspector.device_form.editors["name"].text() == "Edge box"
    # a panel the user closed stays closed
    window.inspector_dock.close()
    window.scene.select_ids(["cloud"])
    assert window.inspector_dock.isHidden()


def _double_click(window, scene_pos: QPointF) -> None:
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      view_point(window.view, scene_pos))


def _open_editor(window, qtbot, scene_pos: QPointF):
    with qtbot.waitActive(window):  # a context manager: a plain call waits for nothing
        window.activateWindow()
    _double_click(window, scene_pos)
    editor = window.label_editor.editor
    assert editor is not None and editor.isVisible()
    qtbot.waitUntil(editor.hasFocus, timeout=2_000)
    return editor


def test_double_click_renames_a_device_in_place_and_enter_commits_one_undo_step(window, qtbot):
    editor = _open_editor(window, qtbot, QPointF(400, 100))
    assert editor.text() == "Edge box" and editor.selectedText() == "Edge box"
    qtbot.keyClicks(editor, "Gateway")
    assert window.doc.topology.device("edge").name == "Edge box"  # nothing until Enter
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert window.label_editor.editor is None
    assert window.doc.topology.device("edge").name == "Gateway"
    assert window.scene.devices["edge"].name == "Gateway"
    assert window.doc.undo_stack.count() == 1
    assert window.doc.undo_stack.undoText() == "Rename Edge box to Gateway"
    window.acts["undo"].trigger()
    assert window.doc.topology.device("edge").name == "Edge box"


def test_escape_cancels_the_in_place_rename(window, qtbot):
    editor = _open_editor(window, qtbot, QPointF(400, 100))
    qtbot.keyClicks(editor, "Nope")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert window.label_editor.editor is None
    assert window.doc.topology.device("edge").name == "Edge box"
    assert window.doc.undo_stack.count() == 0


def test_double_click_edits_a_note_in_place(window, qtbot):
    note_id = window.editor.add_note(600, 300, "old text")
    item = window.scene.notes[note_id]
    editor = _open_editor(window, qtbot, item.sceneBoundingRect().center())
    assert editor.toPlainText() == "old text"
    qtbot.keyClicks(editor, "line one")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(editor, "line two")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert window.doc.note(note_id).text == "line one\nline two"
    assert window.doc.undo_stack.undoText() == "Edit note"


def test_ctrl_z_in_the_in_place_editor_commits_then_undoes(window, qtbot):
    editor = _open_editor(window, qtbot, QPointF(400, 100))
    qtbot.keyClicks(editor, "Gateway")
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.label_editor.editor is None
    assert window.doc.topology.device("edge").name == "Edge box"
    assert window.doc.undo_stack.canRedo() and window.doc.undo_stack.redoText() == "Rename Edge box to Gateway"
