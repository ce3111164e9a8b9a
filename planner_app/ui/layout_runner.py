"""Auto-layout off the GUI thread: compute on a pool thread, apply as one undo step.

A layered layout of 1,000 devices takes about a second of pure Python; run on
the GUI thread it froze the window for that long. :class:`LayoutRunner` hands
a snapshot of the device and link lists to a :class:`QThreadPool` thread and
brings the positions back through a queued signal. If the topology was edited
meanwhile, the result is dropped rather than applied to a different drawing.
Small topologies are laid out at once (no thread, no waiting in tests).
"""

from __future__ import annotations

__all__ = ["LayoutRunner", "SYNC_MAX_DEVICES"]

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from planner_app.core.topology import Topology
from planner_app.ui.canvas.layout import auto_layout_positions
from planner_app.ui.document import TopologyDocument

#: at most this many devices are laid out on the GUI thread (well under 100 ms)
SYNC_MAX_DEVICES = 150


class _LayoutTask(QRunnable):
    def __init__(self, runner: LayoutRunner, topology: Topology, ids: list[str] | None, revision: int) -> None:
        super().__init__()
        self.runner, self.topology, self.ids, self.revision = runner, topology, ids, revision

    def run(self) -> None:
        try:
            positions = auto_layout_positions(self.topology, self.ids)
        except Exception as exc:  # noqa: BLE001 - shown in the window, never a traceback
            self.runner.failed.emit(f"auto-layout failed: {type(exc).__name__}: {exc}")
        else:
            self.runner._done.emit(positions, self.ids, self.revision)


class LayoutRunner(QObject):
    """Computes layouts of ``doc`` in the background; :attr:`finished` carries the result."""

    #: (positions {id: (x, y)}, ids laid out or None for all); the topology is as it was asked
    finished = Signal(dict, object)
    #: the topology changed while the layout ran: the result was dropped
    discarded = Signal()
    failed = Signal(str)
    _done = Signal(dict, object, int)

    def __init__(self, doc: TopologyDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._revision = 0
        self._done.connect(self._on_done)
        # any edit, open or undo makes a running layout stale
        for sig in (doc.undo_stack.indexChanged, doc.topologyReset):
            sig.connect(self._bump)

    def _bump(self, *_args: object) -> None:
        self._revision += 1

    @property
    def busy(self) -> bool:
        """True while a layout is being computed."""
        return self.pool.activeThreadCount() > 0

    def run(self, ids: list[str] | None = None) -> None:
        """Lay out ``ids`` (None: every device); :attr:`finished` follows."""
        topo = self.doc.topology
        if len(topo.devices) <= SYNC_MAX_DEVICES:
            self.finished.emit(auto_layout_positions(topo, ids), ids)
            return
        # the record lists are copied here, on the GUI thread; edits replace records, never mutate them
        snapshot = Topology.model_construct(devices=list(topo.devices), links=list(topo.links))
        self.pool.start(_LayoutTask(self, snapshot, ids, self._revision))

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until a running layout finishes (tests, shutdown)."""
        return self.pool.waitForDone(timeout_ms)

    def _on_done(self, positions: dict, ids: object, revision: int) -> None:
        if revision != self._revision:
            self.discarded.emit()
            return
        self.finished.emit(positions, ids)
