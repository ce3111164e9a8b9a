"""What the window offers the parts it builds (its actions, the planning panels), as a base class.

:class:`~planner_app.ui.main_window.MainWindow` derives from :class:`WindowHost`; the
modules it builds name this class instead of the window, so none of them imports the
module that imports them (no import cycle, even for type checking). The attributes are
declared here and set by the window; the methods are the window's.
"""

from __future__ import annotations

__all__ = ["WindowHost"]

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDockWidget, QMainWindow

if TYPE_CHECKING:
    from planner_app.core.topology.records import Topology
    from planner_app.ui.canvas.scene import TopologyScene
    from planner_app.ui.canvas.view import TopologyView
    from planner_app.ui.dialogs import Dialogs
    from planner_app.ui.document import TopologyDocument
    from planner_app.ui.workloads_panel import WorkloadsPanel


class WindowHost(QMainWindow):
    """The main window as the planning panels and the actions see it."""

    dialogs: Dialogs
    doc: TopologyDocument
    scene: TopologyScene
    view: TopologyView
    workloads: WorkloadsPanel
    workloads_dock: QDockWidget

    def show_hint(self, text: str | None = None) -> None:
        """Show ``text`` in the status bar (None: the default hint)."""
        raise NotImplementedError

    def set_document(self, topology: Topology, path: Path | None, modified: bool = False) -> None:
        """Show ``topology`` as the document (opened from ``path``, or new)."""
        raise NotImplementedError

    def open_path(self, path: str | Path, wait: bool = False) -> None:
        """Open a topology, model or project file."""
        raise NotImplementedError

    def maybe_save(self) -> bool:
        """Offer to save unsaved changes; False when the user cancels."""
        raise NotImplementedError
