"""Regenerate every JSON Schema in ``resources/`` (``make schemas``).

Each schema is generated from the pydantic records; a test fails when a file in
``resources/`` is stale, so run this after changing a record.
"""

from __future__ import annotations

__all__ = ["write_all"]

from pathlib import Path


def write_all() -> list[Path]:
    """Write all schemas; returns the paths written."""
    from planner_app.core import topology_io

    written = topology_io.write_schemas()
    try:  # the plan schema exists once core.plan does
        from planner_app.core import plan
    except ImportError:
        return written
    return written + plan.write_schemas()


if __name__ == "__main__":  # pragma: no cover
    for p in write_all():
        print(f"wrote {p}")
