"""Menus, toolbar and context menus of the main window, with standard shortcuts.

:func:`build` creates every ``QAction`` once (returned by name so tests can
trigger exactly what a user clicks) and lays out the File / Edit / View /
Help menus and the toolbar.
"""

from __future__ import annotations

__all__ = ["build", "rebuild_recent", "update_enabled", "fill_context_menu", "SHORTCUTS_HELP"]

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QPointF, QSize
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QStyle, QToolBar

from planner_app.core.resources import sample_topology_paths
from planner_app.ui.style import icon
from planner_app.ui.window_host import WindowHost

SHORTCUTS_HELP = """<table cellpadding=3>
<tr><td><b>Ctrl+N / Ctrl+O / Ctrl+S / Ctrl+W</b></td><td>new, open, save, close</td></tr>
<tr><td><b>Ctrl+Z / Ctrl+Shift+Z</b></td><td>undo, redo</td></tr>
<tr><td><b>Ctrl+X / Ctrl+C / Ctrl+V</b></td><td>cut, copy, paste (links inside the selection come along)</td></tr>
<tr><td><b>Ctrl+D</b></td><td>duplicate the selection</td></tr>
<tr><td><b>Delete</b></td><td>delete the selection (a device takes its links along)</td></tr>
<tr><td><b>Ctrl+A</b></td><td>select all</td></tr>
<tr><td><b>Ctrl+F / F3 / Shift+F3</b></td><td>find a device and centre on it; next, previous match</td></tr>
<tr><td><b>L</b></td><td>Link tool: drag from one device to another</td></tr>
<tr><td><b>Arrow keys</b></td><td>move the selection one grid step (Shift: 1 px)</td></tr>
<tr><td><b>Wheel / Ctrl++ / Ctrl+-</b></td><td>zoom at the cursor / in / out</td></tr>
<tr><td><b>Ctrl+0</b></td><td>fit everything</td></tr>
<tr><td><b>Middle button or Space+drag</b></td><td>pan</td></tr>
<tr><td><b>Ctrl+2</b></td><td>zoom to the selection</td></tr>
<tr><td><b>Ctrl+L / Ctrl+Shift+L</b></td><td>auto-layout everything / the selection</td></tr>
</table>"""


def _std(win: WindowHost, pixmap: QStyle.StandardPixmap):  # noqa: ANN202
    return win.style().standardIcon(pixmap)


def build(win: WindowHost) -> dict[str, QAction]:
    """Create the actions, menus and toolbar of ``win``; returns the actions by name."""
    acts: dict[str, QAction] = {}
    ed = win.editor

    def act(name: str, text: str, slot: Callable[[], object], shortcut=None, tip: str = "", ico=None,  # noqa: ANN001
            checkable: bool = False) -> QAction:
        a = QAction(text, win)
        if shortcut is not None:
            if isinstance(shortcut, list):
                a.setShortcuts(shortcut)
            else:
                a.setShortcut(shortcut)
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        if ico is not None:
            a.setIcon(ico)
        a.setCheckable(checkable)
        if checkable:
            a.toggled.connect(lambda on: slot(on))  # type: ignore[call-arg]
        else:
            a.triggered.connect(lambda _checked=False: slot())
        acts[name] = a
        win.addAction(a)  # shortcuts work even with the menu bar hidden
        return a

    SP = QStyle.StandardPixmap
    K = QKeySequence.StandardKey
    act("new", "&New", win.new_document, K.New, "Start an empty topology", _std(win, SP.SP_FileIcon))
    act("open", "&Open…", win.open_dialog, K.Open, "Open a topology file", _std(win, SP.SP_DialogOpenButton))
    act("save", "&Save", win.save, K.Save, "Save the topology", _std(win, SP.SP_DialogSaveButton))
    act("save_as", "Save &As…", win.save_as, K.SaveAs, "Save under a new name")
    act("close", "&Close", win.close_document, QKeySequence("Ctrl+W"), "Close this topology (asks to save changes)")
    act("export", "&Export Image…", win.export_image, QKeySequence("Ctrl+E"), "Export the canvas as PNG or SVG")
    act("quit", "&Quit", win.close, K.Quit, "Close the window")
    act("export_grid", "Include &Grid", lambda _on: None, None, "Draw the grid in exported images", checkable=True)
    act("export_transparent", "&Transparent Background", lambda _on: None, None,
        "Leave the background of exported PNGs clear", checkable=True)
    act("export_selection", "&Selection Only", lambda _on: None, None,
        "Export only the selected items and the links between them", checkable=True)

    undo = win.doc.undo_stack.createUndoAction(win, "&Undo")
    undo.setShortcut(K.Undo)
    undo.setIcon(_std(win, SP.SP_ArrowBack))
    redo = win.doc.undo_stack.createRedoAction(win, "&Redo")
    redo.setShortcuts([QKeySequence(K.Redo), QKeySequence("Ctrl+Y")])
    redo.setIcon(_std(win, SP.SP_ArrowForward))
    acts["undo"], acts["redo"] = undo, redo
    win.addAction(undo)
    win.addAction(redo)
    act("cut", "Cu&t", win.cut_selection, K.Cut, "Cut the selection")
    act("copy", "&Copy", ed.copy, K.Copy, "Copy the selection (with the links inside it)")
    act("paste", "&Paste", ed.paste, K.Paste, "Paste devices, links and notes")
    act("duplicate", "D&uplicate", ed.duplicate, QKeySequence("Ctrl+D"), "Duplicate the selection")
    act("delete", "&Delete", win.delete_selection, [QKeySequence(K.Delete), QKeySequence("Backspace")],
        "Delete the selection", _std(win, SP.SP_TrashIcon))
    act("select_all", "Select &All", win.scene.select_all, K.SelectAll)
    act("find", "&Find Device…", win.find_device, K.Find, "Find a device by name and centre on it")
    act("find_next", "Find &Next", win.find_next, QKeySequence("F3"), "Go to the next device that matches")
    act("find_previous", "Find Pre&vious", lambda: win.find_next(-1), QKeySequence("Shift+F3"),
        "Go to the previous device that matches")
    act("note", "Add &Note", win.add_note_at_centre, QKeySequence("Ctrl+Shift+N"), "Add a text note", icon("note"))
    act("add_zone", "Add Privacy &Zone…", win.add_privacy_zone, None,
        "A region whose devices may share raw data: around the selection, or empty to drop devices into")
    act("link_tool", "&Link Tool", win.set_link_tool, QKeySequence("L"),
        "Link tool: drag from one device to another to connect them", icon("link_tool"), checkable=True)

    act("zoom_in", "Zoom &In", lambda: win.view.zoom_by(1.25), K.ZoomIn)
    act("zoom_out", "Zoom &Out", lambda: win.view.zoom_by(0.8), K.ZoomOut)
    act("fit", "&Fit to Window", win.view.fit_all, QKeySequence("Ctrl+0"), "Show everything")
    act("layout", "&Auto-layout", win.auto_layout, QKeySequence("Ctrl+L"),
        "Arrange devices in layers (end devices, edge, cloud), each device's children beside it",
        icon("auto_layout"))
    act("layout_selection", "Auto-layout &Selection", lambda: win.auto_layout(True), QKeySequence("Ctrl+Shift+L"),
        "Lay out only the selected devices, where they are")
    act("zoom_selection", "Zoom to &Selection", win.view.zoom_to_selection, QKeySequence("Ctrl+2"),
        "Fit the selected items in the view")
    act("grid", "Show &Grid", win.scene.set_grid_visible,
        QKeySequence("Ctrl+'"), checkable=True)
    act("short_labels", "S&hort Labels", win.scene.set_short_labels, None,
        "Cut long device names to one width (hover a device for its whole name)", checkable=True)
    act("snap", "&Snap to Grid", lambda on: setattr(win.scene, "snap_enabled", on), None, checkable=True)
    for mode in ("left", "hcenter", "right", "top", "vcenter", "bottom"):
        act(f"align_{mode}", f"Align {mode}", partial(ed.align_selection, mode))
    act("distribute_x", "Distribute horizontally", partial(ed.distribute_selection, "x"))
    act("distribute_y", "Distribute vertically", partial(ed.distribute_selection, "y"))
    act("about", "&About", lambda: win.dialogs.info(win, "About Edge Planner",
        "Edge Planner: plan where each part of a neural network runs across device, edge and cloud, "
        "and how much to compress it."))
    act("shortcuts", "&Keyboard Shortcuts", lambda: win.dialogs.info(win, "Keyboard shortcuts", SHORTCUTS_HELP),
        K.HelpContents)

    bar = win.menuBar()
    m = bar.addMenu("&File")
    for n in ("new", "open"):
        m.addAction(acts[n])
    samples = m.addMenu("Open &Sample")
    for name in sample_topology_paths():
        samples.addAction(name.replace("_", " ").title(), partial(win.open_sample, name))
    win.recent_menu = m.addMenu("&Recent")
    m.addSeparator()
    for n in ("save", "save_as", "export", "close"):
        m.addAction(acts[n])
    export_opts = m.addMenu("Export &Options")
    for n in ("export_grid", "export_transparent", "export_selection"):
        export_opts.addAction(acts[n])
    m.addSeparator()
    m.addAction(acts["quit"])

    m = bar.addMenu("&Edit")
    for n in ("undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete", None, "select_all", "find",
              "find_next", "find_previous", None, "note", "add_zone", "link_tool"):
        m.addSeparator() if n is None else m.addAction(acts[n])
    arrange = m.addMenu("A&lign and Distribute")
    for n in ("align_left", "align_hcenter", "align_right", "align_top", "align_vcenter", "align_bottom",
              None, "distribute_x", "distribute_y"):
        arrange.addSeparator() if n is None else arrange.addAction(acts[n])

    m = bar.addMenu("&View")
    for n in ("zoom_in", "zoom_out", "fit", "zoom_selection", None, "layout", "layout_selection", None, "grid", "snap", "short_labels"):
        m.addSeparator() if n is None else m.addAction(acts[n])
    m.addSeparator()
    panels = m.addMenu("&Panels")
    for dock in (win.palette_dock, win.inspector_dock, win.history_dock, win.workloads_dock, win.overview_dock):
        panels.addAction(dock.toggleViewAction())

    m = bar.addMenu("&Help")
    m.addAction(acts["shortcuts"])
    m.addAction(acts["about"])

    tb = QToolBar("Main", win)
    tb.setObjectName("toolbar-main")
    tb.setIconSize(QSize(22, 22))
    for n in ("new", "open", "save", None, "undo", "redo", None, "delete", "link_tool", "note", None, "layout"):
        tb.addSeparator() if n is None else tb.addAction(acts[n])
    win.addToolBar(tb)
    win.toolbar = tb
    rebuild_recent(win)
    update_enabled(win)
    return acts


def rebuild_recent(win: WindowHost) -> None:
    """Refill File ▸ Recent from the settings."""
    menu: QMenu | None = getattr(win, "recent_menu", None)
    if menu is None:
        return
    menu.clear()
    recent = win.recent_files()
    for path in recent:
        menu.addAction(path, partial(_open_recent, win, path))
    menu.setEnabled(bool(recent))


def _open_recent(win: WindowHost, path: str) -> None:
    if win.maybe_save():
        win.open_path(path)


def update_enabled(win: WindowHost) -> None:
    """Enable the actions that need a selection only when there is one."""
    if not hasattr(win, "acts"):
        return
    scene = win.scene
    any_sel = bool(scene.selectedItems())
    movable = len(scene.movable_positions())
    for n in ("cut", "copy", "duplicate", "delete"):
        win.acts[n].setEnabled(any_sel)
    for n in ("align_left", "align_hcenter", "align_right", "align_top", "align_vcenter", "align_bottom"):
        win.acts[n].setEnabled(movable >= 2)
    win.acts["distribute_x"].setEnabled(movable >= 3)
    win.acts["layout_selection"].setEnabled(len(scene.selected_device_ids()) >= 2)
    win.acts["zoom_selection"].setEnabled(any_sel)
    win.acts["distribute_y"].setEnabled(movable >= 3)


def fill_context_menu(win: WindowHost, menu: QMenu, x: float, y: float) -> None:
    """Items for a right click at scene point ``(x, y)`` (selection already updated)."""
    if win.scene.selectedItems():
        for n in ("cut", "copy", "duplicate", "delete"):
            menu.addAction(win.acts[n])
        menu.addAction(win.acts["zoom_selection"])
        if len(win.scene.selected_device_ids()) >= 2:
            menu.addAction(win.acts["layout_selection"])
        if len(win.scene.movable_positions()) >= 2:
            arrange = menu.addMenu("Align and Distribute")
            for n in ("align_left", "align_hcenter", "align_right", "align_top", "align_vcenter",
                      "align_bottom", "distribute_x", "distribute_y"):
                arrange.addAction(win.acts[n])
        return
    add = menu.addMenu("Add Device Here")
    for tier, presets in win.catalog.devices_by_tier().items():
        sub = add.addMenu(str(tier).title())
        for p in presets:
            sub.addAction(icon(str(p.kind)), p.name, partial(win._on_preset_dropped, p.id, x, y))
    menu.addAction(icon("note"), "Add Note Here", lambda: win.editor.add_note(x, y, "Note"))
    zone = win.scene.zone_at(QPointF(x, y))
    if zone:
        menu.addSeparator()
        menu.addAction(f"Rename Privacy Zone {zone!r}…", partial(win.rename_privacy_zone, zone))
        menu.addAction(f"Delete Privacy Zone {zone!r}", partial(win.delete_privacy_zone, zone))
    menu.addSeparator()
    for n in ("paste", "select_all", "layout", "fit"):
        menu.addAction(win.acts[n])
