"""Canvas gestures: drops from the palette, link drags, moves, deletes, selection, zoom."""

from __future__ import annotations

import warnings

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from tests.ui._helpers import click, drag


def test_drag_moves_device_as_one_undo_step(window):
    before = window.doc.topology.to_dict()
    drag(window.view, QPointF(400, 100), QPointF(523, 177))
    dev = window.doc.topology.device("edge")
    # snapped to the 20 px grid, and the model (not just the item) moved
    assert (dev.position.x, dev.position.y) == (520, 180)
    assert window.doc.undo_stack.count() == 1
    link = window.scene.links["l1"]
    assert link.boundingRect().contains(QPointF(520, 180)) or link._path.currentPosition() == QPointF(520, 180)
    window.doc.undo_stack.undo()
    assert window.doc.topology.to_dict() == before
    assert window.scene.devices["edge"].pos() == QPointF(400, 100)


def _palette_drop(window, preset_id: str, scene_pos: QPointF):
    """Drop the palette's own drag payload for ``preset_id`` on the canvas.

    A real QDrag runs a nested, platform-driven event loop that cannot be driven
    offscreen, so the test takes the exact QMimeData the palette would drag and
    hands it to the view's drag-enter and drop handlers.
    """
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    item = next(it for it in window.palette.preset_items() if it.data(0, Qt.ItemDataRole.UserRole + 1) == preset_id)
    mime = window.palette.tree.mimeData([item])
    pos = window.view.mapFromScene(scene_pos)
    with warnings.catch_warnings():  # the only constructor PySide6 offers is marked deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    window.view.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    window.view.dropEvent(drop)


def test_drop_from_palette_adds_device_at_drop_point(window):
    before = window.doc.topology.to_dict()
    _palette_drop(window, "raspberry-pi-4", QPointF(203, 398))
    topo = window.doc.topology
    assert len(topo.devices) == 5
    dev = topo.devices[-1]
    assert dev.preset == "raspberry-pi-4" and str(dev.tier) == "edge"
    assert (dev.position.x, dev.position.y) == (200, 400)  # snapped drop point
    assert dev.id in window.scene.devices
    assert window.scene.selected_device_ids() == [dev.id]
    window.doc.undo_stack.undo()
    assert window.doc.topology.to_dict() == before
    assert dev.id not in window.scene.devices


def test_palette_search_filters_presets(window):
    window.palette.search.setText("jetson")
    shown = [it.text(0) for it in window.palette.preset_items() if not it.isHidden()]
    assert shown and all("Jetson" in s for s in shown)
    window.palette.search.setText("")
    assert all(not it.isHidden() for it in window.palette.preset_items())


def test_link_by_dragging_from_the_handle(window, dialogs):
    # cam (device tier) to cloud: the default offered is the device–cloud preset (5G)
    handle = window.scene.devices["cam"].mapToScene(window.scene.devices["cam"].handle_centre())
    drag(window.view, handle, QPointF(800, 100))
    assert ("choose_link_preset", "5g") in dialogs.calls
    link = window.doc.topology.links[-1]
    assert (link.a, link.b, link.preset) == ("cam", "cloud", "5g")
    assert link.id in window.scene.links
    # the source device did not move
    assert window.doc.topology.device("cam").position.x == 0
    window.doc.undo_stack.undo()
    assert len(window.doc.topology.links) == 3


def test_link_tool_links_from_anywhere_on_a_device_and_orients_uplink(window, dialogs):
    dialogs.link_preset_id = "ethernet-1g"
    window.acts["link_tool"].setChecked(True)
    drag(window.view, QPointF(800, 100), QPointF(0, 200))  # from cloud to phone
    link = window.doc.topology.links[-1]
    # the lower tier is end a, so bandwidth_ab_mbps is the uplink
    assert (link.a, link.b, link.preset) == ("phone", "cloud", "ethernet-1g")
    # a drag that ends on empty canvas links nothing
    drag(window.view, QPointF(800, 100), QPointF(600, 500))
    assert len(window.doc.topology.links) == 4


def test_parallel_links_are_curved_apart(window):
    window.editor.add_link("edge", "cloud", window.catalog.link_preset("metro-fiber-10g"))
    bends = sorted(it.bend for it in window.scene.links.values()
                   if {it.a_item.device_id, it.b_item.device_id} == {"edge", "cloud"})
    assert len(bends) == 2 and bends[0] < 0 < bends[1]
    assert window.scene.links["l1"].bend == 0


def test_delete_key_removes_device_with_its_links_in_one_step(window):
    before = window.doc.topology.to_dict()
    click(window.view, QPointF(400, 100))
    assert window.scene.selected_device_ids() == ["edge"]
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    assert "edge" not in window.scene.devices
    assert window.doc.topology.links == [] and window.scene.links == {}
    assert window.doc.undo_stack.count() == 1
    window.doc.undo_stack.undo()
    assert window.doc.topology.to_dict() == before
    assert set(window.scene.links) == {"l1", "l2", "l3"}


def test_rubber_band_and_ctrl_click_selection(window):
    drag(window.view, QPointF(-150, -80), QPointF(100, 260))  # empty start: rubber band
    assert window.scene.selected_device_ids() == ["cam", "phone"]
    click(window.view, QPointF(800, 100), Qt.KeyboardModifier.ControlModifier)
    assert window.scene.selected_device_ids() == ["cam", "phone", "cloud"]
    click(window.view, QPointF(0, 0), Qt.KeyboardModifier.ControlModifier)
    assert window.scene.selected_device_ids() == ["phone", "cloud"]
    assert window.doc.undo_stack.count() == 0  # selecting is not an edit


def test_arrow_keys_nudge_and_merge_into_one_step(window):
    click(window.view, QPointF(400, 100))
    for _ in range(3):
        QTest.keyClick(window.view, Qt.Key.Key_Right)
    QTest.keyClick(window.view, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    pos = window.doc.topology.device("edge").position
    assert (pos.x, pos.y) == (460, 101)
    assert window.doc.undo_stack.count() == 1
    window.doc.undo_stack.undo()
    assert window.doc.topology.device("edge").position == type(pos)(x=400, y=100)


def test_wheel_zooms_at_the_cursor(window, qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    view = window.view
    anchor = QPointF(800, 100)
    vp_pos = view.mapFromScene(anchor)
    z0 = view.zoom()
    ev = QWheelEvent(QPointF(vp_pos), QPointF(view.viewport().mapToGlobal(vp_pos)), QPoint(0, 0), QPoint(0, 240),
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    view.wheelEvent(ev)
    assert view.zoom() > z0 * 1.3
    # the point under the cursor stays under the cursor (within a pixel or two)
    after = view.mapFromScene(anchor)
    assert abs(after.x() - vp_pos.x()) <= 2 and abs(after.y() - vp_pos.y()) <= 2


def test_middle_button_pans(window):
    view = window.view
    h0 = view.horizontalScrollBar().value()
    vp = view.viewport()
    p = vp.rect().center()
    QTest.mousePress(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, p)
    QTest.mouseMove(vp, p + type(p)(-120, 0))
    QTest.mouseRelease(vp, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, p + type(p)(-120, 0))
    assert view.horizontalScrollBar().value() == h0 + 120
    assert window.doc.undo_stack.count() == 0


def test_privacy_zone_is_shaded_around_its_devices(window, qtbot):
    qtbot.waitUntil(lambda: "home" in window.scene.zones)
    zone = window.scene.zones["home"]
    for dev in ("cam", "phone"):
        assert zone.sceneBoundingRect().contains(window.scene.devices[dev].sceneBoundingRect())
    assert not zone.sceneBoundingRect().contains(window.scene.devices["cloud"].pos())
    # moving a member re-shades the zone
    window.editor._move({"phone": (0, 600)}, "Move")
    qtbot.waitUntil(lambda: zone.sceneBoundingRect().contains(window.scene.devices["phone"].sceneBoundingRect()))


def test_copy_paste_and_duplicate_keep_links_inside_the_selection(window):
    window.scene.select_ids(["cam", "edge"])
    n_links = len(window.doc.topology.links)
    text = window.editor.copy_text()
    new_ids = window.editor.paste_text(text)
    topo = window.doc.topology
    assert len(new_ids) == 2 and all(i in window.scene.devices for i in new_ids)
    # only the cam–edge link is inside the selection; it now joins the copies
    assert len(topo.links) == n_links + 1
    assert {topo.links[-1].a, topo.links[-1].b} == set(new_ids)
    assert window.doc.undo_stack.count() == 1
    dup = window.editor.duplicate()
    assert len(dup) == 2 and len(window.doc.topology.links) == n_links + 2
    window.doc.undo_stack.undo()
    window.doc.undo_stack.undo()
    assert len(window.doc.topology.devices) == 4 and len(window.doc.topology.links) == n_links


def test_system_clipboard_cut_and_paste(window):
    window.scene.select_ids(["phone"])
    window.acts["cut"].trigger()
    assert not window.doc.topology.has_device("phone")
    window.acts["paste"].trigger()
    assert window.doc.topology.devices[-1].id.startswith("phone")


def test_align_and_distribute(window):
    window.editor._move({"phone": (0, 300)}, "Move")
    window.scene.select_ids(["cam", "phone", "edge"])
    window.acts["align_left"].trigger()
    xs = {window.doc.topology.device(d).position.x for d in ("cam", "phone", "edge")}
    assert xs == {0}
    window.acts["distribute_y"].trigger()
    ys = sorted(window.doc.topology.device(d).position.y for d in ("cam", "phone", "edge"))
    assert ys == [0, 150, 300]
    assert window.doc.undo_stack.count() == 3


def test_find_centres_on_device(window, dialogs):
    dialogs.text_answer = "edge box"
    window.view.centerOn(-2000, -2000)
    window.acts["find"].trigger()
    assert window.scene.selected_device_ids() == ["edge"]
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    assert abs(centre.x() - 400) < 5 and abs(centre.y() - 100) < 5


def test_notes_can_be_added_moved_and_edited(window):
    note_id = window.editor.add_note(300, 400, "check the uplink")
    assert note_id in window.scene.notes
    drag(window.view, QPointF(320, 410), QPointF(420, 510))
    note = window.doc.note(note_id)
    assert (note.position.x, note.position.y) == (400, 500)
    assert window.inspector.stack.currentIndex() == 3


def test_space_drag_pans_without_moving_devices(window):
    view = window.view
    v0 = view.verticalScrollBar().value()
    QTest.keyPress(view, Qt.Key.Key_Space)
    drag(view, QPointF(400, 100), QPointF(400, 40))  # starts on a device, but Space means pan
    QTest.keyRelease(view, Qt.Key.Key_Space)
    assert view.verticalScrollBar().value() != v0
    assert window.doc.topology.device("edge").position.y == 100
    assert window.doc.undo_stack.count() == 0


def test_context_menus_offer_item_and_canvas_actions(window):
    from PySide6.QtWidgets import QMenu

    from planner_app.ui import actions

    window.scene.select_ids(["cam", "phone"])
    menu = QMenu(window)
    actions.fill_context_menu(window, menu, 0, 0)
    texts = [a.text().replace("&", "") for a in menu.actions()]
    assert "Delete" in texts and "Align and Distribute" in texts
    window.scene.clearSelection()
    menu = QMenu(window)
    actions.fill_context_menu(window, menu, 123, 456)
    add = next(a for a in menu.actions() if a.text() == "Add Device Here").menu()
    edge_menu = next(a for a in add.actions() if a.text() == "Edge").menu()
    edge_menu.actions()[0].trigger()  # adds the first edge preset at the clicked point
    dev = window.doc.topology.devices[-1]
    assert str(dev.tier) == "edge" and (dev.position.x, dev.position.y) == (120, 460)


def test_standard_shortcuts_are_bound(window):
    from PySide6.QtGui import QKeySequence

    def keys(name):
        return {s.toString() for s in window.acts[name].shortcuts()}

    assert QKeySequence(QKeySequence.StandardKey.Undo).toString() in keys("undo")
    assert "Ctrl+S" in keys("save") and "Ctrl+O" in keys("open") and "Ctrl+F" in keys("find")
    assert "Ctrl+D" in keys("duplicate") and "Del" in keys("delete")
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Planning", "Help"]


def test_select_all_and_undo_history_view(window):
    window.acts["select_all"].trigger()
    assert len(window.scene.selected_device_ids()) == 4 and len(window.scene.selected_link_ids()) == 3
    window.acts["delete"].trigger()
    assert window.doc.topology.devices == []
    assert window.history.stack() is window.doc.undo_stack
    assert window.doc.undo_stack.text(0).startswith("Delete")
    window.acts["undo"].trigger()
    assert len(window.doc.topology.devices) == 4


def test_escape_leaves_the_link_tool_and_clears_the_selection(window):
    window.acts["link_tool"].setChecked(True)
    assert window.scene.link_tool
    window.scene.select_ids(["cam"])
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.scene.link_tool and not window.acts["link_tool"].isChecked()
    assert window.scene.selected_device_ids() == []


def test_cached_link_drawing_matches_a_fresh_drawing_after_a_drag(window, qtbot):
    """Links cached during a drag must never show a stale picture after it."""
    view = window.view
    vp = view.viewport()
    # cam also links to nothing that moves, so part of the picture is cached
    window.editor.add_link("cam", "phone", window.catalog.link_preset("wifi6"))
    p0 = view.mapFromScene(QPointF(400, 100))
    QTest.mouseMove(vp, p0)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p0)
    for i in range(1, 6):
        QTest.mouseMove(vp, p0 + type(p0)(12 * i, 30 * i))
        qtbot.wait(20)  # let each frame paint
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p0 + type(p0)(60, 150))
    qtbot.wait(50)
    assert window.scene.link_layer._cache is not None  # the fast path was used
    cached = view.viewport().grab().toImage()
    window.scene.link_layer.invalidate()
    view.viewport().repaint()
    fresh = view.viewport().grab().toImage()
    assert cached == fresh
