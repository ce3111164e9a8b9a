"""The main window: canvas in the centre, palette left, inspector right, workloads below.

The window wires parts together and owns file handling (open, save, recent
files, recovery, drops). Editing verbs live in :class:`~planner_app.ui.editing.Editor`,
menus and toolbar in :mod:`planner_app.ui.actions`, questions to the user in
:class:`~planner_app.ui.dialogs.Dialogs` (tests replace it).
"""

from __future__ import annotations

__all__ = ["MainWindow", "APP_TITLE", "ORGANISATION", "APPLICATION"]

from pathlib import Path

import shiboken6
from PySide6.QtCore import QCoreApplication, QEventLoop, QPoint, QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMenu, QUndoView, QWidget

from planner_app.core.errors import PlannerError
from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology.records import Topology
from planner_app.ui import actions
from planner_app.ui.autosave import (
    AUTOSAVE_DELAY_MS,
    Autosaver,
    default_recovery_dir,
    find_recovery_files,
)
from planner_app.ui.canvas.label_editor import LabelEditor
from planner_app.ui.canvas.overview import SHOW_FROM_DEVICES, OverviewView
from planner_app.ui.canvas.scene import TopologyScene
from planner_app.ui.canvas.view import TopologyView
from planner_app.ui.dialogs import Dialogs
from planner_app.ui.document import TopologyDocument
from planner_app.ui.editing import Editor
from planner_app.ui.files import ExportOptions, TopologyLoader, export_scene_image
from planner_app.ui.find import DeviceFinder
from planner_app.ui.inspector import InspectorPanel
from planner_app.ui.layout_runner import LayoutRunner
from planner_app.ui.palette import PalettePanel
from planner_app.ui.presets import catalog, default_link_preset
from planner_app.ui.undo_keys import UndoKeyRouter
from planner_app.ui.validation import WorkloadValidator
from planner_app.ui.window_host import WindowHost
from planner_app.ui.workload_checks import broken_by_removal
from planner_app.ui.workloads_panel import WorkloadsPanel

APP_TITLE = "Edge Planner"
ORGANISATION = "planner_app"
APPLICATION = "edgeplan"
MAX_RECENT = 8


def _is_sample(path: str | Path) -> bool:
    """True for one of the shipped sample topologies (opened as templates)."""
    try:
        target = Path(path).resolve()
    except OSError:
        return False
    return any(target == p.resolve() for p in sample_topology_paths().values())


class MainWindow(WindowHost):
    """The topology editor window."""

    #: a document finished opening (path, or '' for new/recovered)
    documentOpened = Signal(str)
    #: opening a file failed: (path, message)
    openFailed = Signal(str, str)
    #: an image export progressed (percent)
    exportProgress = Signal(int)
    #: an auto-layout was applied (and the view fitted)
    layoutFinished = Signal()

    def __init__(
        self,
        settings: QSettings | None = None,
        dialogs: Dialogs | None = None,
        recovery_dir: Path | None = None,
        autosave_ms: int = AUTOSAVE_DELAY_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or QSettings(ORGANISATION, APPLICATION)
        self.dialogs = dialogs or Dialogs()
        self.catalog = catalog()
        self.doc = TopologyDocument(parent=self)
        self.scene = TopologyScene(self.doc, self)
        self.view = TopologyView(self.scene, self)
        self.editor = Editor(self.doc, self.scene)
        self.loader = TopologyLoader(self)
        self.finder = DeviceFinder()
        self.validator = WorkloadValidator(self.doc, self.scene, self)
        self.layout_runner = LayoutRunner(self.doc, self)
        self.autosaver = Autosaver(self.doc, recovery_dir or default_recovery_dir(), autosave_ms, self)
        self.setCentralWidget(self.view)
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(1440, 900)

        self.palette = PalettePanel(self.catalog, self)
        self.inspector = InspectorPanel(self.doc, self.scene, self.catalog, self)
        self.workloads = WorkloadsPanel(self.doc, self)
        self.history = QUndoView(self.doc.undo_stack, self)
        self.history.setEmptyLabel("<opened>")
        self.palette_dock = self._dock("Devices", "palette", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", "inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.history_dock = self._dock("History", "history", self.history, Qt.DockWidgetArea.RightDockWidgetArea)
        self.workloads_dock = self._dock("Workloads", "workloads", self.workloads, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.overview = OverviewView(self.view, self)
        self.overview_dock = self._dock("Overview", "overview", self.overview, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.overview_dock.hide()  # shown for big drawings (see _on_scene_built) or from View > Panels
        self.tabifyDockWidget(self.inspector_dock, self.history_dock)
        self.inspector_dock.raise_()
        self.resizeDocks([self.palette_dock, self.inspector_dock], [290, 340], Qt.Orientation.Horizontal)
        self.resizeDocks([self.workloads_dock], [200], Qt.Orientation.Vertical)

        self.hint = QLabel(self)
        self.counts = QLabel(self)
        self.zoom_label = QLabel(self)
        self.statusBar().addWidget(self.hint, 1)
        self.statusBar().addPermanentWidget(self.counts)
        self.statusBar().addPermanentWidget(self.zoom_label)

        self.acts = actions.build(self)
        # planning: model, profiling and optimizer panels, the plan overlay, the Planning menu
        from planner_app.ui.panels import PlanningUI

        self.planning = PlanningUI(self)
        # Ctrl+Z in an inspector or workloads field undoes the document, not the field's text
        self.undo_keys = UndoKeyRouter(self.acts["undo"], self.acts["redo"], self)
        self.undo_keys.watch(self)
        self.label_editor = LabelEditor(self.view, self.doc, self)
        self.label_editor.editorOpened.connect(self.undo_keys.watch)
        self._restore_settings()
        self._connect()
        self._update_title()
        self._update_counts()
        self.show_hint()

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")  # saveState() needs names
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        doc, scene, view = self.doc, self.scene, self.view
        doc.titleChanged.connect(self._update_title)
        for sig in (doc.deviceAdded, doc.deviceRemoved, doc.linkAdded, doc.linkRemoved):
            sig.connect(self._update_counts)
        doc.topologyReset.connect(self._update_counts)
        doc.itemsRemoved.connect(self._update_counts)
        doc.itemsInserted.connect(self._update_counts)
        scene.built.connect(self._on_scene_built)
        scene.linkRequested.connect(self._on_link_requested)
        scene.contextMenuRequested.connect(self._on_context_menu)
        scene.selectionChanged.connect(self._on_selection_changed)
        view.presetDropped.connect(self._on_preset_dropped)
        view.filesDropped.connect(self.open_dropped)
        view.escapePressed.connect(lambda: self.acts["link_tool"].setChecked(False))
        view.escapePressed.connect(self.scene.clearSelection)
        view.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        self.palette.presetActivated.connect(self._on_preset_activated)
        self.validator.problemsChanged.connect(self.workloads.show_problems)
        self.layout_runner.finished.connect(self._on_layout_finished)
        self.layout_runner.discarded.connect(lambda: self.show_hint("Auto-layout dropped: the topology changed "
                                                                    "while it ran; run it again"))
        self.layout_runner.failed.connect(lambda msg: self.dialogs.error(self, "Cannot lay out", msg))
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_load_failed)
        self.autosaver.failed.connect(lambda message: self.show_hint(f"Autosave failed: {message}"))
        self.zoom_label.setText("100 %")

    # -- status and title ----------------------------------------------------------------------
    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.doc.display_name}[*] — {APP_TITLE}")
        self.setWindowModified(self.doc.modified)

    def _update_counts(self, *_args: object) -> None:
        t = self.doc.topology
        self.counts.setText(f"{len(t.devices)} devices · {len(t.links)} links · {len(t.workloads)} workloads")

    def show_hint(self, text: str | None = None) -> None:
        """Show ``text`` (or the default gesture help) on the left of the status bar."""
        self.hint.setText(text or "Drag a preset onto the canvas · drag from a device's handle to link · "
                          "wheel zooms · middle button or Space+drag pans · Ctrl+F finds")

    def _on_selection_changed(self) -> None:
        if not shiboken6.isValid(self.scene):  # the window is being torn down
            return
        n_dev = len(self.scene.selected_device_ids())
        n_link = len(self.scene.selected_link_ids())
        if n_dev or n_link or self.scene.selected_note_ids():
            self._bring_inspector_forward()
        if n_dev or n_link:
            self.show_hint(f"{n_dev} devices, {n_link} links selected · arrows move · Delete removes · "
                           "Ctrl+D duplicates")
        else:
            self.show_hint()
        actions.update_enabled(self)

    def _bring_inspector_forward(self) -> None:
        """Show the inspector's tab when another tab (History) hides it; a closed dock stays closed."""
        # a dock tabbed behind another still reports isVisible(): what shows is its visible region
        if not self.inspector_dock.isHidden() and self.inspector_dock.visibleRegion().isEmpty():
            self.inspector_dock.raise_()

    # -- documents -------------------------------------------------------------------------------
    def set_document(self, topology: Topology, path: Path | None, modified: bool = False) -> None:
        """Show ``topology`` (from ``path``); :attr:`documentOpened` follows once it is drawn."""
        self._opening = path
        self.view.setInteractive(False)  # no edits until every item exists
        # and no repaint of a half-built drawing after every slice
        self.view.viewport().setUpdatesEnabled(False)
        self.doc.reset(topology, path, modified)
        if path:
            self.add_recent(str(path))
            self.settings.setValue("last_file", str(path))

    _opening: Path | None = None
    _overview_shown = False

    def _on_scene_built(self) -> None:
        self.view.setInteractive(True)
        self.view.viewport().setUpdatesEnabled(True)
        self.view.fit_all()
        if len(self.doc.topology.devices) >= SHOW_FROM_DEVICES and not self._overview_shown:
            self._overview_shown = True  # once: a user who closes it keeps it closed
            self.overview_dock.show()
        path, self._opening = self._opening, None
        self.documentOpened.emit(str(path) if path else "")

    def new_document(self) -> bool:
        """Start an empty topology (asks to save changes first)."""
        if not self.maybe_save():
            return False
        self.set_document(Topology(name="untitled"), None)
        self.show_hint()  # not "Opened <the old file>"
        return True

    def close_document(self) -> bool:
        """File ▸ Close: put the document away (asks to save changes) and leave an empty one."""
        name = self.doc.display_name
        if not self.maybe_save():
            return False
        self.set_document(Topology(name="untitled"), None)
        self.show_hint(f"Closed {name}")
        return True

    def open_path(self, path: str | Path, wait: bool = False) -> None:
        """Open a topology file: on a worker thread, or synchronously with ``wait``."""
        path = str(path)
        if self.planning.open_path(path):  # an ONNX model or a project file
            return
        self.show_hint(f"Opening {path}…")
        self.loader.load(path)
        if wait:
            self.loader.wait()
            from PySide6.QtCore import QCoreApplication

            QCoreApplication.processEvents()  # deliver the queued result now

    def _on_loaded(self, path: str, topology: Topology) -> None:
        if _is_sample(path):
            # a sample is a template: editing it must never overwrite the shipped file
            self.set_document(topology, None)
            self.show_hint(f"Opened the sample {Path(path).name} as an untitled copy: Save asks where to keep it")
            return
        self.set_document(topology, Path(path))
        self.show_hint(f"Opened {path}")

    def _on_load_failed(self, path: str, message: str) -> None:
        self.show_hint()
        self.dialogs.error(self, "Cannot open topology", message)
        self.openFailed.emit(path, message)

    def open_dialog(self) -> None:
        """File ▸ Open."""
        if not self.maybe_save():
            return
        start = str(self.doc.path.parent) if self.doc.path else str(Path.cwd())
        path = self.dialogs.open_path(self, start)
        if path:
            self.open_path(path)

    def open_sample(self, name: str) -> None:
        """File ▸ Open Sample ▸ ``name``."""
        if self.maybe_save():
            self.open_path(sample_topology_paths()[name])

    def open_dropped(self, paths: list[str]) -> None:
        """Files dropped on the window: open the first topology, explain models."""
        for p in paths:
            if p.lower().endswith(".onnx"):
                self.open_path(p)
                return
            if p.lower().endswith(".json"):
                if self.maybe_save():
                    self.open_path(p)
                return
        if paths:
            self.dialogs.error(self, "Cannot open", f"{Path(paths[0]).name}: drop a topology or project .json "
                               "file, or an .onnx model.")

    def save(self) -> bool:
        """File ▸ Save (asks for a name the first time)."""
        if self.doc.path is None:
            return self.save_as()
        return self._save_to(self.doc.path)

    def save_as(self) -> bool:
        """File ▸ Save As."""
        start = str(self.doc.path or Path.cwd() / f"{self.doc.topology.name or 'topology'}.json")
        path = self.dialogs.save_path(self, start)
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        if self.doc.topology.name in ("", "untitled"):
            self.doc.set_name(path.stem)  # the file name is the better name from now on
        try:
            self.doc.save(path)
        except (PlannerError, OSError) as exc:
            self.dialogs.error(self, "Cannot save", f"Could not save {path}:\n{exc}")
            return False
        self.add_recent(str(path))
        self.settings.setValue("last_file", str(path))
        self.show_hint(f"Saved {path}")
        return True

    def export_options(self) -> ExportOptions:
        """The options File ▸ Export Options shows (grid, transparent, selection only)."""
        acts = getattr(self, "acts", {})

        def on(name: str) -> bool:
            return name in acts and acts[name].isChecked()

        return ExportOptions(grid=on("export_grid"), transparent=on("export_transparent"),
                             selection_only=on("export_selection"))

    def export_image(self, path: str | None = None, options: ExportOptions | None = None) -> bool:
        """File ▸ Export Image (PNG or SVG by suffix), with a progress bar for big drawings."""
        if path is None:
            start = str((self.doc.path or Path.cwd() / "topology").with_suffix(".png"))
            path = self.dialogs.save_path(self, start, "Export image", "PNG image (*.png);;SVG drawing (*.svg)")
            if not path:
                return False
        options = options or self.export_options()
        from PySide6.QtWidgets import QProgressDialog

        bar = QProgressDialog("Exporting image…", "", 0, 100, self)
        bar.setCancelButton(None)
        bar.setWindowModality(Qt.WindowModality.WindowModal)
        bar.setMinimumDuration(400)  # small drawings finish before it would show

        def progress(done: int, total: int) -> None:
            percent = int(100 * done / max(1, total))
            bar.setValue(percent)
            self.exportProgress.emit(percent)
            # the dialog only serves events once it shows and only when its value changes:
            # keep painting and timers going between every step (no input: the view is locked)
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

        self.view.setInteractive(False)  # the picture must not change between bands
        try:
            written = export_scene_image(self.scene, path, options, progress)
        except (PlannerError, OSError) as exc:
            self.dialogs.error(self, "Cannot export", str(exc))
            return False
        finally:
            self.view.setInteractive(True)
            bar.close()
            bar.deleteLater()
        self.show_hint(f"Exported {written}")
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False means the user cancelled."""
        if not self.doc.modified:
            return True
        answer = self.dialogs.ask_save_changes(self, self.doc.display_name)
        if answer == "save":
            return self.save()
        return answer == "discard"

    # -- start-up, recent files, recovery ---------------------------------------------------------
    def startup(self, paths: list[str]) -> None:
        """Open what the user asked for: recovered work, a file, the last file, or the sample."""
        if self.offer_recovery():
            return
        last = self.settings.value("last_file", "", type=str)
        samples = sample_topology_paths()
        if paths:
            self.open_path(paths[0])
        elif last and Path(last).exists():
            self.open_path(last)
        elif "smart_home" in samples:
            self.open_path(samples["smart_home"])

    def offer_recovery(self) -> bool:
        """Offer work left by a crashed session; True if it was recovered.

        Recovering keeps the recovery file (this session autosaves into it)
        until the recovered work is saved; "later" keeps every file for the
        next start; only "discard" deletes them.
        """
        found = find_recovery_files(self.autosaver.directory)
        if not found:
            return False
        newest = found[0]
        answer = self.dialogs.ask_recover(self, newest.describe())
        if answer == "discard":
            for rf in found:
                rf.path.unlink(missing_ok=True)
            return False
        if answer != "recover":
            return False
        try:
            topo = newest.load()
        except PlannerError as exc:
            self.dialogs.error(self, "Cannot recover", str(exc))
            return False
        self.set_document(topo, Path(newest.original_path) if newest.original_path else None, modified=True)
        self.autosaver.adopt(newest.path)
        self.show_hint("Recovered unsaved work: save it to keep it")
        return True

    def recent_files(self) -> list[str]:
        """Recently opened or saved files, newest first."""
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> None:
        """Put ``path`` first in the recent files."""
        path = str(Path(path).resolve())
        items = [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent_files", [path, *items][:MAX_RECENT])
        actions.rebuild_recent(self)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window_state")
        if state is not None:
            self.restoreState(state)
        self.scene.snap_enabled = self.settings.value("snap", True, type=bool)
        self.scene.grid_visible = self.settings.value("grid", True, type=bool)
        self.acts["snap"].setChecked(self.scene.snap_enabled)
        self.acts["grid"].setChecked(self.scene.grid_visible)

    def save_settings(self) -> None:
        """Persist geometry, dock layout and view options."""
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.setValue("snap", self.scene.snap_enabled)
        self.settings.setValue("grid", self.scene.grid_visible)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.save_settings()
        self.loader.wait(5_000)
        self.planning.shutdown()
        self.autosaver.stop()
        event.accept()

    # -- gestures ------------------------------------------------------------------------------------
    def _on_preset_dropped(self, preset_id: str, x: float, y: float) -> None:
        try:
            dev_id = self.editor.add_device_from_preset(preset_id, x, y)
        except PlannerError as exc:
            self.dialogs.error(self, "Cannot add device", str(exc))
            return
        self.view.setFocus()
        self.show_hint(f"Added {dev_id}: drag from its round handle to another device to link it")

    def _on_preset_activated(self, preset_id: str) -> None:
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        self._on_preset_dropped(preset_id, centre.x(), centre.y())

    def _on_link_requested(self, a: str, b: str, x: int, y: int) -> None:
        topo = self.doc.topology
        default = default_link_preset(str(topo.device(a).tier), str(topo.device(b).tier), self.catalog)
        preset = self.dialogs.choose_link_preset(self, list(self.catalog.links), default, QPoint(x, y))
        if preset is not None:
            link_id = self.editor.add_link(a, b, preset)
            self.scene.select_ids([link_id])
            self.show_hint(f"Linked {a} and {b} with {preset.name}")

    def _on_context_menu(self, sx: float, sy: float, gx: int, gy: int) -> None:
        menu = QMenu(self)
        actions.fill_context_menu(self, menu, sx, sy)
        menu.exec(QPoint(gx, gy))

    def confirm_removal(self) -> bool:
        """Before the selection is deleted (or cut): warn when that breaks workloads.

        Lists each workload deleted along with its source or consumer, and each
        one whose source can no longer reach its consumer; False if the user
        keeps the selection.
        """
        devices, links = self.scene.selected_device_ids(), self.scene.selected_link_ids()
        broken = broken_by_removal(self.doc.topology, devices, links)
        if not broken:
            return True
        if len(devices) + len(links) <= 4:
            what = ", ".join(devices + links)
        else:
            what = f"{len(devices)} devices and {len(links)} links"
        return self.dialogs.confirm_delete(self, what, broken)

    def delete_selection(self) -> int:
        """Edit ▸ Delete, after :meth:`confirm_removal`; returns how many items went."""
        return self.editor.delete_selection() if self.confirm_removal() else 0

    def cut_selection(self) -> bool:
        """Edit ▸ Cut, after :meth:`confirm_removal`."""
        return self.editor.cut() if self.confirm_removal() else False

    def find_device(self) -> None:
        """Edit ▸ Find: ask for a name, select the first match and centre on it."""
        text = self.dialogs.ask_text(self, "Find device", "Device name or id:", self.finder.text)
        if not text:
            return
        self._show_found(self.finder.start(self.doc.topology, text))

    def find_next(self, direction: int = +1) -> None:
        """Edit ▸ Find Next (F3) / Find Previous (Shift+F3); asks first when nothing was searched."""
        if not self.finder.text:
            self.find_device()
            return
        self._show_found(self.finder.step(self.doc.topology, direction))

    def _show_found(self, found: tuple[str, int, int] | None) -> None:
        if found is None:
            self.show_hint(f"No device matches {self.finder.text!r}")
            return
        dev_id, i, n = found
        self.scene.select_ids([dev_id])
        self.view.centre_on(dev_id)
        more = " · F3 next, Shift+F3 previous" if n > 1 else ""
        self.show_hint(f"Found {dev_id} ({i + 1} of {n}){more}")

    def auto_layout(self, selection_only: bool = False) -> None:
        """View ▸ Auto-layout (of the selection): computed in the background, then fitted in view."""
        ids = self.editor.layout_ids(selection_only)
        if ids is not None and len(ids) < 2:
            self.show_hint("Select two or more devices to lay them out")
            return
        if self.layout_runner.busy:
            return
        self.show_hint("Laying out…")
        self.layout_runner.run(ids)

    def _on_layout_finished(self, positions: dict, ids: object) -> None:
        self.editor.apply_layout(positions, ids)  # type: ignore[arg-type]

        def fit() -> None:
            if ids is None:
                self.view.fit_all()
            else:
                self.view.zoom_to_selection()
            self.show_hint()
            self.layoutFinished.emit()

        if self.scene.building:  # a big layout is drawn over a few event-loop turns: fit the result
            self.scene.settled.connect(fit, Qt.ConnectionType.SingleShotConnection)
        else:
            fit()

    def add_privacy_zone(self) -> None:
        """Edit ▸ Add Privacy Zone: around the selected devices, or an empty region to fill."""
        name = self.dialogs.ask_text(self, "Add privacy zone", "Zone name (devices inside may share raw data):")
        if not name or not name.strip():
            return
        if name.strip() in self.doc.zone_names():
            self.dialogs.error(self, "Cannot add privacy zone", f"There is already a privacy zone {name.strip()!r}: "
                               "drag devices into it, or pick another name.")
            return
        self.editor.add_zone(name)
        self.show_hint(f"Privacy zone {name.strip()}: drop devices inside to add them, drag them out to remove "
                       "them, drag the corner to resize")

    def rename_privacy_zone(self, zone: str) -> None:
        """Context menu ▸ Rename Privacy Zone: the zone's region and members take the new name."""
        name = self.dialogs.ask_text(self, "Rename privacy zone", f"New name for privacy zone {zone!r}:", zone)
        if name is None or not name.strip() or name.strip() == zone:
            return
        name = name.strip()
        if name in self.doc.zone_names():
            self.dialogs.error(self, "Cannot rename privacy zone", f"There is already a privacy zone {name!r}: "
                               "pick another name, or drag the devices into that zone.")
            return
        if len(name) > 64:
            self.dialogs.error(self, "Cannot rename privacy zone", f"{name[:20]!r}… is {len(name)} characters long: "
                               "a zone name has at most 64.")
            return
        self.editor.rename_zone(zone, name)
        self.show_hint(f"Renamed privacy zone {zone} to {name} (Ctrl+Z undoes it)")

    def delete_privacy_zone(self, zone: str) -> None:
        """Context menu ▸ Delete Privacy Zone: its members become public (undoable)."""
        n = self.editor.delete_zone(zone)
        if n >= 0:
            self.show_hint(f"Deleted privacy zone {zone}" + (f": {n} device{'s' if n != 1 else ''} now public" if n else "")
                           + " (Ctrl+Z undoes it)")

    def set_link_tool(self, on: bool) -> None:
        """Edit ▸ Link Tool: drags from any point of a device draw a link."""
        self.scene.link_tool = on
        self.view.viewport().setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        self.show_hint("Link tool: drag from one device to another · L or Esc leaves it" if on else None)

    def add_note_at_centre(self) -> None:
        """Insert a note in the middle of the view."""
        c = self.view.mapToScene(self.view.viewport().rect().center())
        self.editor.add_note(c.x(), c.y(), "Double-check this link")

    # -- window-level drops (anywhere outside the canvas) ------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.open_dropped(paths)
