"""Autosave to a recovery file, and recovery after a crash.

While a document has unsaved changes, :class:`Autosaver` writes it
(atomically) to ``recovery-<pid>-<n>.json`` in the recovery folder a few
seconds after a change: the first change starts a short timer and every
change until it fires rides along, so a burst of typing is one write and no
edit waits longer than the delay. The record is taken on the GUI thread (the
model lives there) and written on a worker thread, so a big topology never
stalls the window. A save or a clean close deletes the file.

A recovery file whose process is gone was left by a crash: the next start
offers it. Recovering adopts the file (:meth:`Autosaver.adopt`), which is
kept until the recovered document is saved or its changes are discarded:
a second crash before that loses nothing either.
"""

from __future__ import annotations

__all__ = ["Autosaver", "RecoveryFile", "find_recovery_files", "default_recovery_dir", "AUTOSAVE_DELAY_MS"]

import datetime as _dt
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import atomic_write_json, cache_dir, read_json
from planner_app.core.topology.io import topology_from_dict
from planner_app.core.topology.records import Topology
from planner_app.ui.document import TopologyDocument

_KIND = "planner_app/recovery"
#: how long after a change its recovery record is written
AUTOSAVE_DELAY_MS = 2_000


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


class _WriteTask(QRunnable):
    """Writes one recovery record on a pool thread, unless it went stale meanwhile."""

    def __init__(self, saver: Autosaver, path: Path, record: dict[str, Any], generation: int) -> None:
        super().__init__()
        self.saver, self.path, self.record, self.generation = saver, path, record, generation

    def run(self) -> None:
        try:
            self.saver._write(self.path, self.record, self.generation)
        except OSError as exc:
            self.saver.failed.emit(f"could not write the recovery file '{self.path}': {exc}")


class Autosaver(QObject):
    """Writes the document to a recovery file ``delay_ms`` after a change while it is modified."""

    #: a background write failed: the message names the file and the cause
    failed = Signal(str)

    def __init__(self, doc: TopologyDocument, directory: Path, delay_ms: int = AUTOSAVE_DELAY_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.directory = Path(directory)
        self.path = self.directory / f"recovery-{os.getpid()}-{id(self):x}.json"
        self._dirty = False
        # a discard bumps the generation: a write queued before it must not bring the file back
        self._generation = 0
        self._lock = threading.Lock()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # writes land in the order they were taken
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.autosave_in_background)
        doc.undo_stack.indexChanged.connect(self._on_changed)
        doc.topologyReset.connect(self._on_changed)
        doc.titleChanged.connect(self._on_title)

    def _on_changed(self, *_args: object) -> None:
        self._dirty = True
        if not shiboken6.isValid(self.doc.undo_stack):  # the window is being torn down
            return
        if self.doc.modified and not self.timer.isActive():
            self.timer.start()  # not restarted by later changes: no edit waits longer than the delay

    def _on_title(self) -> None:
        if not self.doc.modified:
            self.discard()

    def _record(self) -> dict[str, Any]:
        return {
            "kind": _KIND,
            "pid": os.getpid(),
            "path": str(self.doc.path) if self.doc.path else None,
            "saved_at": _dt.datetime.now().isoformat(timespec="seconds"),
            "topology": self.doc.topology.to_dict(),
        }

    def _write(self, path: Path, record: dict[str, Any], generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # the document was saved or discarded after this record was taken
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, record)

    def autosave_in_background(self) -> bool:
        """Take the record now and write it on the worker thread; False if nothing to write."""
        if not self.doc.modified:
            self.discard()
            return False
        if not self._dirty and self.path.exists():
            return False
        self._dirty = False
        self.pool.start(_WriteTask(self, self.path, self._record(), self._generation))
        return True

    def autosave(self) -> bool:
        """Write the recovery file now, on this thread (Ctrl-C, tests), if there is unsaved work."""
        if not self.doc.modified:
            self.discard()
            return False
        self.timer.stop()
        self._dirty = False
        self._write(self.path, self._record(), self._generation)
        return True

    def adopt(self, path: Path) -> None:
        """Keep autosaving into ``path`` (a recovered file): it stays until the work is saved.

        Written at once, so the file names this (live) process and no other
        instance offers it again meanwhile.
        """
        self.wait()
        self.path = Path(path)
        self.autosave()

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Block until queued writes are done (tests, shutdown)."""
        return self.pool.waitForDone(timeout_ms)

    def discard(self) -> None:
        """Delete the recovery file (after a save, a clean close or discarded changes)."""
        self.timer.stop()
        self._dirty = False
        with self._lock:
            self._generation += 1
            self.path.unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop autosaving and delete the recovery file."""
        self.timer.stop()
        self.wait()
        self.discard()
