"""The window's file handling: save/open, unsaved prompt, recovery, drops, export, settings."""

from __future__ import annotations

import json
import os
import time

from PySide6.QtCore import QPointF, QSettings

from planner_app.core.topology.io import load_topology, save_topology
from planner_app.ui.autosave import find_recovery_files
from planner_app.ui.main_window import MainWindow
from tests.ui._helpers import ScriptedDialogs, big_topology, drag, small_topology


def test_save_then_open_reproduces_the_topology(window, dialogs, tmp_path, qtbot):
    drag(window.view, QPointF(400, 100), QPointF(460, 160))
    window.editor.add_note(100, 300, "uplink is shared")
    target = tmp_path / "out" / "my topo.json"
    target.parent.mkdir()
    dialogs.save_path_answer = str(target)
    assert window.isWindowModified()
    assert window.acts["save"].trigger() is None and target.exists()
    assert not window.isWindowModified()
    assert "my topo.json" in window.windowTitle()
    saved = window.doc.topology.to_dict()
    assert load_topology(target).to_dict() == saved
    # open it again in a fresh document: the same records come back
    window.new_document()
    assert window.doc.topology.devices == []
    with qtbot.waitSignal(window.documentOpened, timeout=10_000):
        window.open_path(target)
    assert window.doc.topology.to_dict() == saved
    assert set(window.scene.devices) == {"cam", "phone", "edge", "cloud"}
    assert str(target.resolve()) == window.recent_files()[0]


def test_title_shows_unsaved_mark(window):
    assert not window.isWindowModified()
    window.editor.add_note(0, 0)
    assert window.isWindowModified() and "[*]" in window.windowTitle()
    window.doc.undo_stack.undo()
    assert not window.isWindowModified()


def test_closing_with_unsaved_changes_asks(window, dialogs, tmp_path):
    window.editor.add_note(0, 0)
    dialogs.save_answer = "cancel"
    assert not window.close()
    assert window.isVisible() and dialogs.kinds() == ["ask_save_changes"]
    dialogs.save_answer = "save"
    dialogs.save_path_answer = str(tmp_path / "saved.json")
    assert window.close()
    assert (tmp_path / "saved.json").exists()
    assert len(load_topology(tmp_path / "saved.json").notes) == 1


def test_discarding_closes_without_writing(window, dialogs, tmp_path):
    window.editor.add_note(0, 0)
    dialogs.save_answer = "discard"
    assert window.close()
    assert list(tmp_path.glob("*.json")) == []


def test_open_error_is_shown_naming_the_problem(window, dialogs, tmp_path, qtbot):
    bad = tmp_path / "bad.json"
    data = small_topology().to_dict()
    data["links"][0]["b"] = "nowhere"
    bad.write_text(json.dumps(data))
    with qtbot.waitSignal(window.openFailed, timeout=10_000):
        window.open_path(bad)
    kind, text = dialogs.calls[-1]
    assert kind == "error" and "nowhere" in text and "Traceback" not in text
    assert window.doc.topology.name == "small"  # the open document is untouched


def test_dropped_topology_opens_and_a_dropped_onnx_loads_as_a_model(window, dialogs, tmp_path, qtbot):
    path = tmp_path / "dropped.json"
    save_topology(big_topology(12), path)
    with qtbot.waitSignal(window.documentOpened, timeout=10_000):
        window.view.filesDropped.emit([str(path)])
    assert len(window.doc.topology.devices) == 12
    # an .onnx file loads as the current workload's model (planning panels); a missing one is named
    window.open_dropped([str(tmp_path / "model.onnx")])
    qtbot.waitUntil(lambda: not window.planning.runner.busy, timeout=10_000)
    kind, text = dialogs.calls[-1]
    assert kind == "error" and "model.onnx" in text and "Traceback" not in text


def test_recovery_file_is_written_and_offered_after_a_crash(make_window, tmp_path, qtbot, settings):
    recovery = tmp_path / "recovery"
    w = make_window(recovery_dir=recovery, autosave_ms=50)
    w.editor.add_note(10, 10, "unsaved work")
    qtbot.waitUntil(lambda: w.autosaver.path.exists(), timeout=5_000)
    data = json.loads(w.autosaver.path.read_text())
    assert data["topology"]["notes"][0]["text"] == "unsaved work"
    # simulate a crash: the file stays, and it names a process that no longer exists
    data["pid"] = 2**22 + 12345
    w.autosaver.timer.stop()
    w.autosaver.path.write_text(json.dumps(data))
    w.autosaver.path = tmp_path / "elsewhere.json"  # this window must not delete it on close
    w.doc.undo_stack.setClean()
    w.close()
    assert [r.devices for r in find_recovery_files(recovery)] == [4]

    dialogs2 = ScriptedDialogs()
    w2 = MainWindow(settings=settings, dialogs=dialogs2, recovery_dir=recovery)
    qtbot.addWidget(w2)
    w2.startup([])
    assert dialogs2.kinds()[0] == "ask_recover"
    assert w2.doc.topology.notes[0].text == "unsaved work"
    assert w2.isWindowModified()  # recovered work is unsaved work
    # the file stays until the recovered work is saved; it now names this live session
    (kept,) = recovery.glob("recovery-*.json")
    assert json.loads(kept.read_text())["pid"] == os.getpid()
    assert find_recovery_files(recovery) == []  # not offered to another instance meanwhile
    dialogs2.save_path_answer = str(tmp_path / "recovered.json")
    assert w2.save()
    assert list(recovery.glob("recovery-*.json")) == []


def test_saving_removes_the_recovery_file(make_window, tmp_path, qtbot, dialogs):
    w = make_window(autosave_ms=50)
    w.editor.add_note(0, 0)
    qtbot.waitUntil(lambda: w.autosaver.path.exists(), timeout=5_000)
    dialogs.save_path_answer = str(tmp_path / "t.json")
    assert w.save()
    assert not w.autosaver.path.exists()


def test_export_png_and_svg(window, tmp_path, dialogs):
    png, svg = tmp_path / "canvas.png", tmp_path / "canvas.svg"
    assert window.export_image(str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert window.export_image(str(svg))
    text = svg.read_text()
    assert "<svg" in text and "Edge box" in text
    assert not window.export_image(str(tmp_path / "canvas.bmp"))
    assert dialogs.calls[-1][0] == "error" and not (tmp_path / "canvas.bmp").exists()


def test_geometry_docks_and_recent_files_persist(make_window, settings, tmp_path, qtbot):
    w = make_window()
    w.resize(640, 500)  # inside the offscreen screen, which restoreGeometry clamps to
    w.workloads_dock.hide()
    w.add_recent(str(tmp_path / "a.json"))
    w.close()
    w2 = MainWindow(settings=QSettings(settings.fileName(), QSettings.Format.IniFormat), dialogs=ScriptedDialogs(),
                    recovery_dir=tmp_path / "r")
    qtbot.addWidget(w2)
    assert (w2.width(), w2.height()) == (640, 500)
    assert w2.workloads_dock.isHidden()
    assert w2.recent_files() == [str((tmp_path / "a.json").resolve())]
    assert [a.text() for a in w2.recent_menu.actions()] == w2.recent_files()


def test_startup_opens_the_smart_home_sample(settings, dialogs, tmp_path, qtbot):
    w = MainWindow(settings=settings, dialogs=dialogs, recovery_dir=tmp_path / "r")
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.documentOpened, timeout=10_000):
        w.startup([])
    assert w.doc.topology.name == "Smart home"
    assert w.doc.path is None  # a template: Save asks where to keep the copy
    assert "Smart home (unsaved)" in w.windowTitle()


def test_200_device_topology_loads_in_the_background_and_auto_layouts(window, tmp_path, qtbot):
    path = tmp_path / "big.json"
    save_topology(big_topology(200), path)
    t0 = time.perf_counter()
    with qtbot.waitSignal(window.documentOpened, timeout=20_000):
        window.open_path(path)  # returns at once; the file is read on a worker thread
    assert len(window.scene.devices) == 200 and len(window.scene.links) == 300
    assert window.editor.auto_layout()
    topo = window.doc.topology
    xs = {tier: [d.position.x for d in topo.devices if str(d.tier) == tier] for tier in ("device", "edge", "cloud")}
    # tier blocks sit left to right: every end device left of every edge device, and so on
    assert max(xs["device"]) < min(xs["edge"]) and max(xs["edge"]) < min(xs["cloud"])
    # no two devices share a spot
    assert len({(d.position.x, d.position.y) for d in topo.devices}) == 200
    assert window.doc.undo_stack.count() == 1
    window.doc.undo_stack.undo()
    assert window.doc.topology.device("d0").position == load_topology(path).device("d0").position
    assert time.perf_counter() - t0 < 30


def test_edgeplan_gui_opens_the_file_and_quits_cleanly(qapp, tmp_path, qtbot):
    """``edgeplan gui FILE`` end to end: the real entry point, user settings redirected to tmp."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from planner_app.cli import main

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    path = tmp_path / "cli.json"
    save_topology(small_topology(), path)
    seen: dict[str, object] = {}

    def close_it() -> None:
        wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not wins or wins[0].doc.path is None:  # still loading: look again soon
            QTimer.singleShot(100, close_it)
            return
        seen["title"] = wins[0].windowTitle()
        seen["devices"] = len(wins[0].doc.topology.devices)
        wins[0].close()

    QTimer.singleShot(100, close_it)
    QTimer.singleShot(20_000, qapp.quit)  # a safety net: never hang the suite
    assert main(["gui", str(path)]) == 0
    assert seen == {"title": "cli.json[*] — Edge Planner", "devices": 4}
    assert (tmp_path / "config").exists()  # settings went to the redirected folder


def test_open_sample_menu_and_recent_menu(window, qtbot, dialogs, tmp_path):
    sample_menu = next(a.menu() for a in window.menuBar().actions()[0].menu().actions()
                       if a.text().replace("&", "") == "Open Sample")
    with qtbot.waitSignal(window.documentOpened, timeout=10_000):
        next(a for a in sample_menu.actions() if a.text() == "Hospital Imaging").trigger()
    assert window.doc.path is None and window.doc.topology.name == "Hospital imaging"
    dialogs.save_path_answer = str(tmp_path / "hospital_imaging.json")
    assert window.save()
    assert window.recent_menu.actions()[0].text().endswith("hospital_imaging.json")
    window.new_document()
    with qtbot.waitSignal(window.documentOpened, timeout=10_000):
        window.recent_menu.actions()[0].trigger()
    assert window.doc.path.name == "hospital_imaging.json"
