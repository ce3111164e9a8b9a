"""Crash recovery with a real crash: an app in a subprocess is killed (SIGKILL) 3 s after an edit."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from planner_app.core.topology.io import load_topology, save_topology
from planner_app.ui.autosave import find_recovery_files
from planner_app.ui.main_window import MainWindow
from tests.ui._helpers import ScriptedDialogs, small_topology

REPO = Path(__file__).resolve().parents[2]

# the real window with its default autosave delay, on a private settings file and recovery folder
CHILD = r"""
import sys
from pathlib import Path
from PySide6.QtCore import QSettings, QTimer
from planner_app.ui.app import create_application
from planner_app.ui.main_window import MainWindow

tmp, topo = Path(sys.argv[1]), sys.argv[2]
app = create_application()
w = MainWindow(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat),
               recovery_dir=tmp / "recovery")
w.show()

def edit(_path):
    w.editor.add_note(10, 10, "made 3 s before the kill")
    print("EDITED", flush=True)

w.documentOpened.connect(lambda p: QTimer.singleShot(0, lambda: edit(p)))
w.open_path(topo)
app.exec()
"""


def _read_line(proc: subprocess.Popen, timeout_s: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout_s):
        return ""
    return proc.stdout.readline().strip()


@pytest.mark.slow
def test_an_edit_made_3_s_before_kill_9_is_recovered_and_kept_until_saved(tmp_path, qtbot):
    path = tmp_path / "site.json"
    save_topology(small_topology(), path)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(path)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _read_line(proc, 60)
        assert line == "EDITED", proc.stderr.read() if proc.poll() is not None else "the app did not start"
        time.sleep(3.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL

    recovery = tmp_path / "recovery"
    (found,) = find_recovery_files(recovery)
    assert found.original_path == str(path)

    # start again: the work is offered and comes back
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    dialogs = ScriptedDialogs()
    w = MainWindow(settings=settings, dialogs=dialogs, recovery_dir=recovery)
    qtbot.addWidget(w)
    w.startup([])
    assert dialogs.kinds() == ["ask_recover"]
    assert [n.text for n in w.doc.topology.notes] == ["made 3 s before the kill"]
    assert w.doc.path == path and w.isWindowModified()
    # kept until saved: a second crash now would lose nothing
    assert found.path.exists()
    assert json.loads(found.path.read_text())["pid"] == os.getpid()
    assert w.save()
    assert not found.path.exists()
    assert [n.text for n in load_topology(path).notes] == ["made 3 s before the kill"]


def test_not_now_keeps_the_recovery_file_and_discard_deletes_it(make_window, tmp_path, qtbot, settings):
    recovery = tmp_path / "recovery"
    w = make_window(recovery_dir=recovery)
    w.editor.add_note(10, 10, "unsaved work")
    w.autosaver.autosave()
    data = json.loads(w.autosaver.path.read_text())
    data["pid"] = 2**22 + 12345  # a process that no longer exists: a crash
    crashed = recovery / "recovery-crashed.json"
    crashed.write_text(json.dumps(data))
    w.doc.undo_stack.setClean()
    w.close()
    for answer, kept in (("later", True), ("later", True), ("discard", False)):
        dialogs = ScriptedDialogs()
        dialogs.recover_answer = answer
        w2 = MainWindow(settings=settings, dialogs=dialogs, recovery_dir=recovery)
        qtbot.addWidget(w2)
        assert not w2.offer_recovery()
        assert dialogs.kinds() == ["ask_recover"]
        assert crashed.exists() == kept
        w2.close()


def test_autosave_writes_a_few_seconds_after_a_change_off_the_gui_thread(make_window, qtbot):
    w = make_window(autosave_ms=200)
    seen_threads: list[int] = []
    original = w.autosaver._write

    def spy(*args):  # noqa: ANN002
        seen_threads.append(threading.get_ident())
        return original(*args)

    w.autosaver._write = spy
    w.editor.add_note(0, 0, "one")
    w.editor.add_note(0, 40, "two")  # a burst of edits is one write
    assert not w.autosaver.path.exists()
    qtbot.waitUntil(lambda: w.autosaver.path.exists(), timeout=5_000)
    w.autosaver.wait()
    assert seen_threads and threading.get_ident() not in seen_threads
    assert len(seen_threads) == 1
    notes = json.loads(w.autosaver.path.read_text())["topology"]["notes"]
    assert [n["text"] for n in notes] == ["one", "two"]
