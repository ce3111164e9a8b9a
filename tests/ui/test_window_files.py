"""File handling a user relies on: samples as templates, New, Close, Save As naming."""

from __future__ import annotations

from PySide6.QtCore import Qt

from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology.io import load_topology, save_topology
from tests.ui._helpers import small_topology


def _sample_action(window, text: str):
    file_menu = window.menuBar().actions()[0].menu()
    samples = next(a.menu() for a in file_menu.actions() if a.text().replace("&", "") == "Open Sample")
    return next(a for a in samples.actions() if a.text() == text)


def test_a_sample_opens_as_an_untitled_copy_and_save_never_overwrites_it(window, dialogs, tmp_path, qtbot):
    shipped = sample_topology_paths()["smart_home"]
    before = shipped.read_bytes()
    with qtbot.waitSignal(window.documentOpened, timeout=10_000):
        _sample_action(window, "Smart Home").trigger()
    assert window.doc.path is None
    assert "(unsaved)" in window.windowTitle()
    window.editor.add_note(0, 0, "my change")
    dialogs.save_path_answer = None  # Save asks where (the user cancels)
    assert not window.acts["save"].trigger() and window.doc.path is None
    assert shipped.read_bytes() == before
    dialogs.save_path_answer = str(tmp_path / "mine.json")
    window.acts["save"].trigger()
    assert window.doc.path == tmp_path / "mine.json"
    assert "my change" in [n.text for n in load_topology(tmp_path / "mine.json").notes]
    assert shipped.read_bytes() == before
    assert str(shipped.resolve()) not in window.recent_files()


def test_new_clears_the_workloads_panel_and_the_status_bar(window, tmp_path, qtbot):
    path = tmp_path / "old.json"
    save_topology(small_topology(), path)
    with qtbot.waitSignal(window.documentOpened, timeout=10_000):
        window.open_path(path)
    assert "old.json" in window.hint.text()
    assert window.workloads.form.editors["name"].text() == "detect"
    window.acts["new"].trigger()
    assert "old.json" not in window.hint.text()
    assert window.workloads.form.editors["name"].text() == ""
    assert window.workloads.list.count() == 0
    assert window.counts.text().startswith("0 devices")


def test_save_as_names_an_untitled_topology_after_its_file(window, dialogs, tmp_path):
    window.acts["new"].trigger()
    window.editor.add_note(0, 0)
    window.scene.clearSelection()  # the inspector shows its summary, which names the topology
    assert window.inspector.title.text().startswith("untitled:")
    dialogs.save_path_answer = str(tmp_path / "plant floor.json")
    window.acts["save_as"].trigger()
    assert window.doc.topology.name == "plant floor"
    assert window.inspector.title.text().startswith("plant floor:")
    assert load_topology(tmp_path / "plant floor.json").name == "plant floor"


def test_file_close_asks_then_leaves_an_empty_document(window, dialogs, qtbot):
    with qtbot.waitActive(window):  # a context manager: a plain call waits for nothing
        window.activateWindow()
    window.editor.add_note(0, 0)
    dialogs.save_answer = "cancel"
    ctrl = Qt.KeyboardModifier.ControlModifier
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_W, ctrl)  # Ctrl+W is File ▸ Close
    assert dialogs.kinds() == ["ask_save_changes"]
    assert window.doc.topology.notes  # cancelled: still open
    dialogs.save_answer = "discard"
    qtbot.keyClick(window.view, Qt.Key.Key_W, ctrl)
    assert window.doc.topology.devices == [] and window.doc.path is None
    assert not window.isWindowModified()
    assert "Closed" in window.hint.text()
