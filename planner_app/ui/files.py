"""File work for the window: background loading and canvas image export.

Loading runs on a :class:`QThreadPool` thread so a huge file never freezes
the window; the result comes back to the GUI thread through a queued signal.
Image export lives in :mod:`planner_app.ui.canvas.export` (re-exported here).
"""

from __future__ import annotations

__all__ = ["TopologyLoader", "export_scene_image", "ExportError", "ExportOptions"]


from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from planner_app.core.errors import PlannerError
from planner_app.core.topology.io import load_topology
from planner_app.ui.canvas.export import ExportError, ExportOptions, export_scene_image


class _LoadTask(QRunnable):
    def __init__(self, loader: TopologyLoader, path: str) -> None:
        super().__init__()
        self.loader, self.path = loader, path

    def run(self) -> None:
        try:
            topo = load_topology(self.path)
        except PlannerError as exc:
            self.loader.failed.emit(self.path, str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            self.loader.failed.emit(self.path, f"could not read '{self.path}': {type(exc).__name__}: {exc}")
        else:
            self.loader.loaded.emit(self.path, topo)


class TopologyLoader(QObject):
    """Loads topology files off the GUI thread; emits ``loaded`` or ``failed``."""

    loaded = Signal(str, object)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)

    def load(self, path: str) -> None:
        """Start loading ``path``."""
        self.pool.start(_LoadTask(self, path))

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until queued loads finish (tests, shutdown)."""
        return self.pool.waitForDone(timeout_ms)
