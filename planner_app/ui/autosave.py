"""Autosave to a recovery file, and recovery after a crash.

While a document has unsaved changes, :class:`Autosaver` writes it every
minute (atomically) to ``recovery-<pid>.json`` in the recovery folder; a save
or a clean close deletes the file. A recovery file whose process is gone was
left by a crash: the next start offers to reopen it.
"""

from __future__ import annotations

__all__ = ["Autosaver", "RecoveryFile", "find_recovery_files", "default_recovery_dir"]

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import atomic_write_json, cache_dir, read_json
from planner_app.core.topology.io import topology_from_dict
from planner_app.core.topology.records import Topology
from planner_app.ui.document import TopologyDocument

_KIND = "planner_app/recovery"
AUTOSAVE_INTERVAL_MS = 60_000


def default_recovery_dir() -> Path:
    """``<cache>/recovery`` (honours ``$PLANNER_CACHE_DIR``)."""
    return cache_dir("recovery")


@dataclass
class RecoveryFile:
    """A recovery file left behind, with what the offer shows."""

    path: Path
    original_path: str | None
    saved_at: str
    devices: int

    def describe(self) -> str:
        """One paragraph for the recovery question."""
        what = self.original_path or "an unsaved topology"
        return f"{what}\n{self.devices} devices, autosaved {self.saved_at}"

    def load(self) -> Topology:
        """The recovered topology (:class:`PlannerError` if the file is unreadable)."""
        data = read_json(self.path, "recovery file")
        return topology_from_dict(data.get("topology"), f"recovery file '{self.path}'")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def find_recovery_files(directory: Path) -> list[RecoveryFile]:
    """Recovery files in ``directory`` whose writer process has died, newest first."""
    found = []
    for p in sorted(Path(directory).glob("recovery-*.json"), key=lambda q: q.stat().st_mtime, reverse=True):
        try:
            data = read_json(p, "recovery file")
        except PlannerError:
            continue
        if not isinstance(data, dict) or data.get("kind") != _KIND:
            continue
        pid = data.get("pid")
        if isinstance(pid, int) and _alive(pid):
            continue
        topo = data.get("topology") or {}
        found.append(RecoveryFile(p, data.get("path"), str(data.get("saved_at", "?")), len(topo.get("devices", []))))
    return found


class Autosaver(QObject):
    """Writes the document to a recovery file every ``interval_ms`` while it is modified."""

    def __init__(self, doc: TopologyDocument, directory: Path, interval_ms: int = AUTOSAVE_INTERVAL_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.directory = Path(directory)
        self.path = self.directory / f"recovery-{os.getpid()}-{id(self):x}.json"
        self._dirty = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        doc.undo_stack.indexChanged.connect(self._on_changed)
        doc.topologyReset.connect(self._on_changed)
        doc.titleChanged.connect(self._on_title)

    def _on_changed(self, *_args: object) -> None:
        self._dirty = True

    def _on_title(self) -> None:
        if not self.doc.modified:
            self.discard()

    def autosave(self) -> bool:
        """Write the recovery file now if there is unsaved, un-autosaved work."""
        if not self.doc.modified:
            self.discard()
            return False
        if not self._dirty and self.path.exists():
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, {
            "kind": _KIND,
            "pid": os.getpid(),
            "path": str(self.doc.path) if self.doc.path else None,
            "saved_at": _dt.datetime.now().isoformat(timespec="seconds"),
            "topology": self.doc.topology.to_dict(),
        })
        self._dirty = False
        return True

    def discard(self) -> None:
        """Delete the recovery file (after a save or a clean close)."""
        self.path.unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop the timer and delete the recovery file."""
        self.timer.stop()
        self.discard()
