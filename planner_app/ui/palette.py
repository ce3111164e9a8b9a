"""The device palette: catalog presets grouped by tier, searchable, draggable.

Dragging a preset onto the canvas drops a :data:`PRESET_MIME` payload holding
the preset id; the view turns it into an undoable "add device". A double
click (or Enter) adds the preset at the centre of the view instead.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PalettePanel"]

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from planner_app.core.topology.catalog import Catalog
from planner_app.ui.canvas.view import PRESET_MIME
from planner_app.ui.style import format_gflops, format_mb, icon, tier_colour

_TIER_TITLES = {"device": "End devices", "edge": "Edge", "cloud": "Cloud"}
_ROLE_PRESET = Qt.ItemDataRole.UserRole + 1


class _PresetTree(QTreeWidget):
    def mimeTypes(self) -> list[str]:
        return [PRESET_MIME]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        ids = [it.data(0, _ROLE_PRESET) for it in items if it.data(0, _ROLE_PRESET)]
        if ids:
            mime.setData(PRESET_MIME, ids[0].encode("utf-8"))
        return mime


class PalettePanel(QWidget):
    """Catalog device presets by tier, with a search box."""

    #: a preset was activated (double click / Enter): preset id
    presetActivated = Signal(str)

    def __init__(self, cat: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = cat
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search devices…")
        self.search.setClearButtonEnabled(True)
        self.tree = _PresetTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(26, 26))
        self.tree.setStyleSheet("QTreeWidget::item { padding: 2px 0px; }")
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(8)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._populate()
        self.search.textChanged.connect(self._on_search)
        self.tree.itemActivated.connect(self._on_activated)

    def _populate(self) -> None:
        by_tier = self.catalog.devices_by_tier()
        for tier in ("device", "edge", "cloud"):
            presets = [p for t, ps in by_tier.items() if str(t) == tier for p in ps]
            if not presets:
                continue
            group = QTreeWidgetItem(self.tree, [_TIER_TITLES[tier]])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            group.setForeground(0, tier_colour(tier, accent=True))
            for p in presets:
                it = QTreeWidgetItem(group, [p.name])
                it.setIcon(0, icon(str(p.kind)))
                it.setData(0, _ROLE_PRESET, p.id)
                it.setToolTip(0, f"<b>{p.name}</b><br>{p.description}<br>"
                                 f"{format_gflops(p.peak_gflops_fp32)}, {format_mb(p.memory_mb)}"
                                 f"{', battery' if p.battery else ''}"
                                 f"{f', ${p.cost_usd_per_hour:g}/h' if p.cost_usd_per_hour else ''}"
                                 f"<br><i>Drag onto the canvas to add.</i>")
                it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
            group.setExpanded(True)

    def preset_items(self) -> list[QTreeWidgetItem]:
        """The preset rows (not the tier headers)."""
        out: list[QTreeWidgetItem] = []
        for group in self._groups():
            out.extend(it for j in range(group.childCount()) if (it := group.child(j)) is not None)
        return out

    def _groups(self) -> list[QTreeWidgetItem]:
        """The tier headers."""
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [g for g in items if g is not None]

    def _on_search(self, text: str) -> None:
        needle = text.strip().lower()
        for group in self._groups():
            shown = 0
            for j in range(group.childCount()):
                it = group.child(j)
                if it is None:
                    continue
                preset = self.catalog.device_preset(it.data(0, _ROLE_PRESET))
                hay = f"{preset.name} {preset.id} {preset.kind} {preset.description}".lower()
                hide = bool(needle) and needle not in hay
                it.setHidden(hide)
                shown += not hide
            group.setHidden(shown == 0)

    def _on_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        preset_id = item.data(0, _ROLE_PRESET)
        if preset_id:
            self.presetActivated.emit(preset_id)
