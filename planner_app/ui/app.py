"""Start the desktop application: ``edgeplan``, ``edgeplan gui [FILE]``, ``make run``."""

from __future__ import annotations

__all__ = ["run_app", "create_application"]

import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from planner_app.ui.compat import binding_problem
from planner_app.ui.main_window import APP_TITLE, APPLICATION, ORGANISATION, MainWindow
from planner_app.ui.style import icon


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (existing one reused), named so QSettings finds our settings."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0], *(argv or [])])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APP_TITLE)
    app.setWindowIcon(QIcon(icon("edge_server")))
    return app


def run_app(argv: list[str]) -> int:
    """Open the window on ``argv[0]`` if given (else the last file or the smart-home sample)."""
    app = create_application()
    problem = binding_problem()
    if problem:
        print(f"edgeplan: error: {problem}", file=sys.stderr)
        return 2
    window = MainWindow()
    window.show()
    window.startup([a for a in argv if a])
    _quit_on_ctrl_c(app, window)
    return int(app.exec())


def _quit_on_ctrl_c(app: QApplication, window: MainWindow) -> None:
    """Ctrl-C in the terminal: write the recovery file, then leave with exit code 130.

    Qt's event loop runs in C++, so Python only sees the signal when it gets
    control back; a short idle timer gives it that chance.
    """

    def on_sigint(*_args: object) -> None:
        window.autosaver.autosave()  # unsaved work is offered for recovery next time
        app.exit(130)

    signal.signal(signal.SIGINT, on_sigint)
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(200)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run_app(sys.argv[1:]))
