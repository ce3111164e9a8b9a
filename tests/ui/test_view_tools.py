"""Paste offsets, zoom to selection and the overview dock."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from tests.ui._helpers import site_topology


def _tiles_overlap(window) -> list[tuple[str, str]]:
    items = list(window.scene.devices.values())
    return [(a.device_id, b.device_id) for i, a in enumerate(items) for b in items[i + 1:]
            if a.card_rect().translated(a.pos()).intersects(b.card_rect().translated(b.pos()))]


def test_repeated_paste_never_lands_on_a_device(window):
    window.scene.select_ids(["cam"])
    text = window.editor.copy_text()
    first = window.editor.paste_text(text)
    second = window.editor.paste_text(text)
    window.scene.select_ids(["edge"])
    third = window.editor.duplicate()
    assert len(first) == len(second) == len(third) == 1
    assert _tiles_overlap(window) == []


def test_zoom_to_selection_fits_the_selected_devices(window):
    window.view.resetTransform()
    window.view.centerOn(-2000, -2000)
    window.scene.select_ids(["edge", "cloud"])
    window.acts["zoom_selection"].trigger()
    seen = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    for dev in ("edge", "cloud"):
        assert seen.contains(window.scene.devices[dev].sceneBoundingRect())
    assert window.view.zoom() <= 2.0


def test_overview_appears_for_big_drawings_and_steers_the_view(make_window, qtbot):
    small = make_window()
    qtbot.wait(10)
    assert not small.overview_dock.isVisible()
    w = make_window(site_topology(gateways=10, cameras_per_gateway=6))
    qtbot.waitUntil(lambda: w.overview_dock.isVisible(), timeout=5_000)
    overview = w.overview
    qtbot.wait(120)  # the overview refits after the drawing settles
    target = w.scene.devices["cloud"].pos()
    QTest.mouseClick(overview.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     overview.mapFromScene(target))
    centre = w.view.mapToScene(w.view.viewport().rect().center())
    assert (centre - target).manhattanLength() < 40 / overview.transform().m11()
    assert overview.visible_area().contains(QPointF(centre))
