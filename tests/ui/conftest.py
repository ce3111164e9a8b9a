"""Fixtures for the window tests: a main window with scripted dialogs and private settings."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402

from planner_app.core.topology.records import Topology  # noqa: E402
from tests.ui._helpers import ScriptedDialogs, small_topology  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    """Settings in a private INI file: tests never touch the user's settings."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def dialogs() -> ScriptedDialogs:
    return ScriptedDialogs()


@pytest.fixture
def make_window(qtbot, settings, dialogs, tmp_path):
    """Factory: a shown main window on ``topology`` (default: :func:`small_topology`)."""
    from planner_app.ui.main_window import MainWindow

    def make(topology: Topology | None = None, path: Path | None = None, **kwargs) -> MainWindow:
        kwargs.setdefault("recovery_dir", tmp_path / "recovery")
        w = MainWindow(settings=settings, dialogs=dialogs, **kwargs)
        qtbot.addWidget(w)
        w.resize(1300, 850)
        w.show()
        qtbot.waitExposed(w)
        w.set_document(topology if topology is not None else small_topology(), path)
        w.view.resetTransform()
        w.view.centerOn(400, 100)
        return w

    return make


@pytest.fixture
def window(make_window):
    return make_window()




def pytest_collection_modifyitems(config, items):
    """Mark every test in this folder ``gui`` (deselect them with ``-m "not gui"``)."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.gui)


@pytest.fixture(autouse=True)
def _collect_qt_garbage_on_the_gui_thread():
    """After each window test, collect its garbage here, on the GUI thread.

    Left for later, a Qt wrapper may be collected on a worker thread of the next
    test (the autosave, the loader, a job), where destroying it deadlocks with the
    GUI thread (see planner_app.ui.jobs._GuiThreadGarbage).
    """
    yield
    import gc

    gc.collect()
