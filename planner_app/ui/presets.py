"""The catalog as the editor sees it: presets, default link per tier pair, new records.

Thin glue over :mod:`planner_app.core.topology.catalog`: the catalog is loaded once per
process, and a new device or link gets a fresh id from the topology.
"""

from __future__ import annotations

__all__ = ["catalog", "default_link_preset", "device_from_preset", "link_from_preset", "DEFAULT_LINK_BY_TIERS"]

from functools import lru_cache

from planner_app.core.topology.catalog import Catalog, DevicePreset, LinkPreset, load_catalog
from planner_app.core.topology.records import Device, Link, Topology

#: unordered tier pair → link preset id a user most likely wants there
DEFAULT_LINK_BY_TIERS: dict[frozenset[str], str] = {
    frozenset({"device"}): "wifi6",
    frozenset({"device", "edge"}): "wifi6",
    frozenset({"edge"}): "ethernet-1g",
    frozenset({"edge", "cloud"}): "wan-business",
    frozenset({"device", "cloud"}): "5g",
    frozenset({"cloud"}): "dc-10g",
}


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The shipped catalog (read once)."""
    return load_catalog()


def default_link_preset(tier_a: str, tier_b: str, cat: Catalog | None = None) -> LinkPreset:
    """The preset offered first when linking a ``tier_a`` device to a ``tier_b`` one."""
    cat = cat or catalog()
    want = DEFAULT_LINK_BY_TIERS.get(frozenset({str(tier_a), str(tier_b)}))
    for preset in cat.links:
        if preset.id == want:
            return preset
    return cat.links[0]


def device_from_preset(topology: Topology, preset: DevicePreset, x: float, y: float) -> Device:
    """A new device from ``preset`` at ``(x, y)`` with an id not used in ``topology``."""
    device_id = topology.new_id(preset.id)
    return preset.make_device(device_id, x=x, y=y)


def link_from_preset(topology: Topology, preset: LinkPreset, a: str, b: str) -> Link:
    """A new link ``a``–``b`` from ``preset`` with a fresh id."""
    return preset.make_link(topology.new_id(f"{preset.medium}"), a, b)
