"""Regenerate every JSON Schema in ``resources/`` (``make schemas``).

Each schema is generated from the pydantic records; a test fails when a file in
``resources/`` is stale, so run this after changing a record.
"""

from __future__ import annotations

__all__ = ["write_all", "schema_document", "write_schema"]

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from planner_app.core.fileio import atomic_write_json
from planner_app.core.resources import resource_path


def schema_document(model: type[BaseModel], file_name: str, title: str) -> dict[str, Any]:
    """The JSON Schema of ``model`` as shipped in ``resources/file_name``."""
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"planner_app/{file_name}"
    schema["title"] = title
    return schema


def write_schema(file_name: str, schema: dict[str, Any]) -> list[Path]:
    """Write one schema into ``resources/`` atomically."""
    target = resource_path(file_name, must_exist=False)
    atomic_write_json(target, schema)
    return [target]


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
