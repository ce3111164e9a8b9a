"""Labels: whole at the zooms the samples open at, clear of devices and of each other."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QFont, QFontMetricsF

from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology.io import load_topology
from planner_app.ui.canvas import items as canvas_items

ZOOMS = (0.62, 0.76, 1.0)


def _advance_at(font: QFont, text: str, zoom: float) -> float:
    """Width of ``text`` in scene units as drawn at ``zoom`` (hinted glyphs grow when small)."""
    scaled = QFont(font)
    scaled.setPointSizeF(font.pointSizeF() * zoom)
    return QFontMetricsF(scaled).horizontalAdvance(text) / zoom


def _open(make_window, qtbot, name: str):
    w = make_window(load_topology(sample_topology_paths()[name]))
    qtbot.waitUntil(lambda: not w.scene.building, timeout=5_000)
    qtbot.wait(10)  # the label placement runs on the next event-loop turn
    return w


@pytest.mark.parametrize("name", sorted(sample_topology_paths()))
def test_labels_are_whole_and_overlap_no_device_or_label(make_window, qtbot, name):
    w = _open(make_window, qtbot, name)
    scene = w.scene
    tiles = {dev_id: it.card_rect().translated(it.pos()) for dev_id, it in scene.devices.items()}
    labels: list[tuple[str, QRectF]] = []
    for zoom in ZOOMS:
        w.view.resetTransform()
        w.view.scale(zoom, zoom)
        for dev_id, it in scene.devices.items():
            assert it.shown_name() == it.name  # whole: no ellipsis in the full label mode
            rect = it.label_rect()
            for font, text in ((canvas_items._NAME_FONT, it.name), (canvas_items._SMALL_FONT, it.figures)):
                assert _advance_at(font, text, zoom) <= rect.width(), (dev_id, text, zoom)
            assert it.boundingRect().contains(rect), dev_id  # a cached tile would cut what lies outside
            labels.append((dev_id, rect.translated(it.pos())))
        for link_id, link in scene.links.items():
            assert link.label_visible, link_id  # the samples have room for every label
            rect = link.label_scene_rect()
            assert _advance_at(canvas_items._LABEL_FONT, link.label, zoom) <= rect.width(), (link.label, zoom)
            assert link.boundingRect().contains(rect), link_id
            labels.append((link_id, rect))
    for owner, rect in labels:
        for dev_id, tile in tiles.items():
            assert not rect.intersects(tile), f"label of {owner} covers the icon of {dev_id}"
    distinct = {owner: rect for owner, rect in labels}
    owners = list(distinct)
    for i, a in enumerate(owners):
        for b in owners[i + 1:]:
            assert not distinct[a].intersects(distinct[b]), f"labels of {a} and {b} overlap"


def test_long_names_are_cut_only_in_the_short_label_mode(make_window, qtbot):
    w = _open(make_window, qtbot, "autonomous_driving")
    item = w.scene.devices["vehicle-computer"]
    assert item.shown_name() == "Vehicle computer (AGX Orin)"
    w.acts["short_labels"].setChecked(True)
    assert item.shown_name().endswith("…") and item.shown_name() != item.name
    w.acts["short_labels"].setChecked(False)
    assert item.shown_name() == item.name


def test_crowded_link_labels_move_aside_or_hide_but_never_cover_a_device(make_window, qtbot):
    from tests.ui._helpers import big_topology

    w = make_window(big_topology(120, links_per_device=2.5))
    qtbot.waitUntil(lambda: not w.scene.building, timeout=10_000)
    qtbot.wait(10)
    tiles = [it.card_rect().translated(it.pos()) for it in w.scene.devices.values()]
    shown = [lk.label_scene_rect() for lk in w.scene.links.values() if lk.label_visible]
    assert shown  # most find a place
    assert not any(r.intersects(t) for r in shown for t in tiles)


def test_a_big_drawing_places_its_labels_when_zoomed_in_far_enough_to_read_them(make_window, qtbot):
    from tests.ui._helpers import site_topology

    w = make_window(site_topology(gateways=40, cameras_per_gateway=8))  # 445 devices, 444 links
    qtbot.waitUntil(lambda: not w.scene.building, timeout=10_000)
    w.view.fit_all()
    w.view.viewport().repaint()
    qtbot.wait(20)
    assert w.view.zoom() < 0.3 and w.scene._labels_stale  # far out: nothing to read, nothing placed
    w.view.resetTransform()
    w.view.centerOn(w.scene.devices["gw0"])
    w.view.viewport().repaint()
    qtbot.waitUntil(lambda: not w.scene._labels_stale and w.scene._label_job is None, timeout=10_000)
    tiles = [it.card_rect().translated(it.pos()) for it in w.scene.devices.values()]
    shown = [lk.label_scene_rect() for lk in w.scene.links.values() if lk.label_visible]
    assert len(shown) > len(w.scene.links) / 2
    assert not any(r.intersects(t) for r in shown for t in tiles)
