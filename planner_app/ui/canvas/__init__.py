"""The topology canvas: scene, view, items and layout arithmetic."""

from __future__ import annotations

from planner_app.ui.canvas.items import DeviceItem, LinkItem, NoteItem, ZoneItem
from planner_app.ui.canvas.scene import TopologyScene
from planner_app.ui.canvas.view import PRESET_MIME, TopologyView

__all__ = ["DeviceItem", "LinkItem", "NoteItem", "ZoneItem", "TopologyScene", "TopologyView", "PRESET_MIME"]
