"""Image export: bounded size with progress, grid / transparent / selection-only options."""

from __future__ import annotations

from PySide6.QtGui import QImage

from planner_app.core.topology import Position
from planner_app.ui.canvas.export import ExportOptions, render_scene
from tests.ui._helpers import big_topology


def _grid_pixels(image: QImage) -> int:
    """Pixels darker than the background in the top margin, where no item is: grid lines."""
    grid = 0
    for x in range(image.width()):
        for y in range(0, 25):
            if image.pixelColor(x, y).green() < 0xF6:
                grid += 1
    return grid


def test_export_leaves_the_grid_out_unless_asked(window):
    assert window.scene.grid_visible  # the canvas shows it, the export need not
    plain = render_scene(window.scene, ExportOptions(scale=1.0))
    gridded = render_scene(window.scene, ExportOptions(scale=1.0, grid=True))
    assert _grid_pixels(plain) == 0
    assert _grid_pixels(gridded) > 100


def test_transparent_export_has_a_clear_background(window):
    image = render_scene(window.scene, ExportOptions(scale=1.0, transparent=True))
    assert image.pixelColor(2, 2).alpha() == 0
    opaque = render_scene(window.scene, ExportOptions(scale=1.0))
    assert opaque.pixelColor(2, 2).alpha() == 255


def test_selection_only_export_covers_the_selection(window, tmp_path):
    window.scene.select_ids(["cloud"])
    whole = render_scene(window.scene, ExportOptions(scale=1.0))
    part = render_scene(window.scene, ExportOptions(scale=1.0, selection_only=True))
    assert part.width() < whole.width() / 3
    assert window.scene.selected_device_ids() == ["cloud"]  # the selection survives the export
    assert all(it.isVisible() for it in window.scene.devices.values())
    window.scene.clearSelection()
    window.acts["export_selection"].setChecked(True)
    assert not window.export_image(str(tmp_path / "none.png"))
    assert "nothing selected" in window.dialogs.calls[-1][1]


def test_big_export_is_bounded_and_reports_progress(make_window, tmp_path):
    topo = big_topology(300)
    for i, d in enumerate(topo.devices):  # a drawing 30,000 units wide
        topo.devices[i] = d.model_copy(update={"position": Position(x=(i % 30) * 1000.0, y=(i // 30) * 600.0)})
    w = make_window(topo)
    w.scene.finish_build()
    seen: list[int] = []
    w.exportProgress.connect(seen.append)
    png = tmp_path / "big.png"
    assert w.export_image(str(png))
    image = QImage(str(png))
    assert image.width() * image.height() <= 12_000_000
    assert len(seen) >= 3 and seen[-1] == 100


def test_exported_svg_has_whole_names_and_labels(make_window, qtbot, tmp_path):
    from planner_app.core.resources import sample_topology_paths
    from planner_app.core.topology.io import load_topology

    w = make_window(load_topology(sample_topology_paths()["autonomous_driving"]))
    qtbot.waitUntil(lambda: not w.scene.building)
    svg = tmp_path / "drive.svg"
    assert w.export_image(str(svg))
    text = svg.read_text()
    assert "Vehicle computer (AGX Orin)" in text  # not "Vehicle computer (AGX …"
    for link in w.scene.links.values():
        assert link.label.split(" · ")[0] in text
