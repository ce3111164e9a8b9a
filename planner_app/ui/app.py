"""Start the desktop application: ``edgeplan``, ``edgeplan gui [FILE]``, ``make run``."""

from __future__ import annotations

__all__ = ["run_app", "create_application"]

import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from planner_app.ui.compat import binding_problem
from planner_app.ui.main_window import APP_TITLE, APPLICATION, ORGANISATION, MainWindow
from planner_app.ui.style import icon


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (existing one reused), named so QSettings finds our settings."""
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0], *(argv or [])])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APP_TITLE)
    app.setWindowIcon(QIcon(icon("edge_server")))
    return app  # type: ignore[return-value]


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
    return int(app.exec())


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run_app(sys.argv[1:]))
