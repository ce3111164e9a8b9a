"""Reading, migrating and writing topology files.

Files are JSON with a ``schema_version``. Older versions are upgraded step by
step by the functions in :data:`MIGRATIONS`; a newer or unknown version is
refused with a message saying which versions this build reads. Writes are
atomic: a failed save leaves the previous file intact.

Example
-------
>>> from planner_app.core.topology.io import load_topology  # doctest: +SKIP
>>> topo = load_topology("sample_topologies/smart_home.json")  # doctest: +SKIP
"""

from __future__ import annotations

__all__ = [
    "MIGRATIONS",
    "migrate",
    "topology_from_dict",
    "load_topology",
    "save_topology",
    "topology_json_schema",
    "TOPOLOGY_SCHEMA_PATH",
]

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner_app.core.errors import Problem, TopologyError
from planner_app.core.fileio import atomic_write_json, read_json
from planner_app.core.topology.records import (
    SCHEMA_VERSION,
    Topology,
    _ReferenceProblems,
    reference_problems,
)


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 (the first draft) had one symmetric ``bandwidth_mbps`` per link
    and called the workload rate ``rate_hz``."""
    out = dict(data)
    links = []
    for link in data.get("links", []) or []:
        if isinstance(link, dict) and "bandwidth_mbps" in link:
            link = dict(link)
            bw = link.pop("bandwidth_mbps")
            link.setdefault("bandwidth_ab_mbps", bw)
            link.setdefault("bandwidth_ba_mbps", bw)
        links.append(link)
    out["links"] = links
    workloads = []
    for w in data.get("workloads", []) or []:
        if isinstance(w, dict) and "rate_hz" in w:
            w = dict(w)
            w["rate_rps"] = w.pop("rate_hz")
        workloads.append(w)
    out["workloads"] = workloads
    out["schema_version"] = 2
    return out


#: ``MIGRATIONS[n]`` turns a version-``n`` document into version ``n + 1``.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(data: dict[str, Any], source: str = "topology") -> dict[str, Any]:
    """Upgrade a topology document to :data:`SCHEMA_VERSION`."""
    # files from before schema_version existed are version 1
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise TopologyError(f"{source}: schema_version must be an integer, got {version!r}")
    if version > SCHEMA_VERSION or (version < SCHEMA_VERSION and version not in MIGRATIONS):
        readable = sorted(set(MIGRATIONS) | {SCHEMA_VERSION})
        raise TopologyError(
            f"{source}: unknown schema_version {version}; this build of planner_app reads versions "
            f"{', '.join(map(str, readable))}. Upgrade planner_app to open newer files."
        )
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    return data


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _problems_from(exc: ValidationError, data: Any) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, _ReferenceProblems):
            problems.extend(inner.problems)
            continue
        loc = tuple(err.get("loc", ()))
        where = _location(loc)
        etype = err.get("type", "")
        if etype == "extra_forbidden":
            problems.append(Problem(where, f"unknown key {loc[-1]!r}: remove it or check its spelling"))
            continue
        if etype == "missing":
            problems.append(Problem(where, "required field is missing"))
            continue
        if etype in ("float_type", "int_type") and isinstance(err.get("input"), (bool, str)):
            # the records are strict: true/false or "5" where a number belongs is a mistake to name
            problems.append(Problem(where, f"expected a number (not true/false or text) (got {json.dumps(err['input'])[:80]})"))
            continue
        msg = err.get("msg", "invalid")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        value = err.get("input")
        shown = json.dumps(value)[:80] if isinstance(value, (int, float, str, bool)) or value is None else None
        problems.append(Problem(where, f"{msg} (got {shown})" if shown is not None else msg))
    return problems


def _raw_reference_problems(data: dict[str, Any]) -> list[Problem]:
    """Reference checks on the raw document, for files that also have field errors."""

    def items(key: str) -> list[dict[str, Any]]:
        value = data.get(key)
        return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []

    def s(x: Any) -> str:
        return x if isinstance(x, str) else repr(x)

    return reference_problems(
        [s(d.get("id")) for d in items("devices")],
        [(s(lk.get("id")), s(lk.get("a")), s(lk.get("b"))) for lk in items("links")],
        [(s(w.get("name")), s(w.get("source")), None if w.get("consumer") is None else s(w.get("consumer")))
         for w in items("workloads")],
        [s(n.get("id")) for n in items("notes")],
    )


def topology_from_dict(data: Any, source: str = "topology") -> Topology:
    """Migrate and validate a topology document."""
    if not isinstance(data, dict):
        raise TopologyError(f"{source}: expected a JSON object with devices and links, got {type(data).__name__}")
    if "schema_version" not in data and not data.get("devices"):
        # a file from before schema_version had devices; an empty object is not a topology at all
        raise TopologyError(f"{source}: not a topology (no schema_version and no devices): a topology file states "
                            f"\"schema_version\": {SCHEMA_VERSION} and lists its devices and links")
    data = migrate(data, source)
    try:
        return Topology.model_validate(data)
    except ValidationError as exc:
        problems = _problems_from(exc, data)
        if not any(isinstance((e.get("ctx") or {}).get("error"), _ReferenceProblems) for e in exc.errors()):
            problems += _raw_reference_problems(data)
        n = len(problems)
        raise TopologyError(
            f"{source}: {n} problem{'s' if n != 1 else ''} in the topology", problems=problems
        ) from None


def load_topology(path: str | os.PathLike[str]) -> Topology:
    """Read, migrate and validate a topology file."""
    data = read_json(path, "topology file")
    return topology_from_dict(data, f"topology file '{path}'")


def save_topology(topology: Topology, path: str | os.PathLike[str]) -> Path:
    """Write ``topology`` atomically (the previous file survives a failed write)."""
    topology.validate_references()
    return atomic_write_json(path, topology.to_dict())


TOPOLOGY_SCHEMA_PATH = "topology.schema.json"


def topology_json_schema() -> dict[str, Any]:
    """The JSON Schema generated from the records (kept in ``resources/``)."""
    from planner_app.core.schemas import schema_document

    return schema_document(Topology, TOPOLOGY_SCHEMA_PATH, f"planner_app topology, schema_version {SCHEMA_VERSION}")


def write_schemas() -> list[Path]:
    """Regenerate the JSON Schemas in ``resources/`` (``make schemas``)."""
    from planner_app.core.schemas import write_schema

    return write_schema(TOPOLOGY_SCHEMA_PATH, topology_json_schema())


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    for p in write_schemas():
        print(f"wrote {p}")
