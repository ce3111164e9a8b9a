"""Regenerate every JSON Schema in ``resources/`` (``make schemas``).

Each schema is generated from the pydantic records; a test fails when a file in
``resources/`` is stale, so run this after changing a record.
"""

from __future__ import annotations

__all__ = ["write_all"]

from pathlib import Path

from planner_app.core.models import layer_table
from planner_app.core.plans import joint as joint_plan_records
from planner_app.core.plans import records as plan_records
from planner_app.core.topology import io as topology_io


def write_all() -> list[Path]:
    """Write all schemas; returns the paths written."""
    return (topology_io.write_schemas() + plan_records.write_schemas() + joint_plan_records.write_joint_schemas()
            + layer_table.write_schemas())


if __name__ == "__main__":  # pragma: no cover
    for p in write_all():
        print(f"wrote {p}")
