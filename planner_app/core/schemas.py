"""Build and write the JSON Schemas shipped in ``resources/``.

Each schema is generated from its pydantic records (``topology.io`` and
``plans.records`` call these helpers); ``planning.schemas`` writes them all
(``make schemas``). A test fails when a file in ``resources/`` is stale.
"""

from __future__ import annotations

__all__ = ["schema_document", "write_schema"]

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
