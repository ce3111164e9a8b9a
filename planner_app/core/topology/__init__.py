"""Devices, links, workloads and the topology that holds them: records and their edits, files and migrations, routes, the device and link catalog.

Every public name of the package is re-exported here; import from the package.
"""

from __future__ import annotations

from planner_app.core.topology.catalog import (
    Catalog,
    DevicePreset,
    LinkPreset,
    load_catalog,
)
from planner_app.core.topology.io import (
    MIGRATIONS,
    TOPOLOGY_SCHEMA_PATH,
    load_topology,
    migrate,
    save_topology,
    topology_from_dict,
    topology_json_schema,
)
from planner_app.core.topology.records import (
    SCHEMA_VERSION,
    TIER_OF_KIND,
    Device,
    DeviceKind,
    Link,
    Note,
    Position,
    Precision,
    RemovedItems,
    Route,
    Router,
    Tier,
    Topology,
    Workload,
    ZoneRegion,
    reference_problems,
)

__all__ = [
    "SCHEMA_VERSION",
    "Tier",
    "DeviceKind",
    "Precision",
    "Position",
    "Device",
    "Link",
    "Workload",
    "ZoneRegion",
    "Note",
    "Topology",
    "Route",
    "Router",
    "TIER_OF_KIND",
    "reference_problems",
    "RemovedItems",
    "MIGRATIONS",
    "migrate",
    "topology_from_dict",
    "load_topology",
    "save_topology",
    "topology_json_schema",
    "TOPOLOGY_SCHEMA_PATH",
    "DevicePreset",
    "LinkPreset",
    "Catalog",
    "load_catalog",
]
