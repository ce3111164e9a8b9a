"""A planning project: the topology with its model references, profiles and chosen plans, in one file.

One JSON document (``format: edgeplan-project``, ``version``), written
atomically, read back through migrations like the topology's. A plain topology
file opens too: it is a project with no models, profiles or plans. The project
stores what a planning session needs to come back as it was — which model each
workload plans with (and the input shapes asked for), the local profiles (so
nothing is measured again), and the chosen placement with the options that
produced it — never a derived figure: on reopening, every prediction is
recomputed from the profile and the topology.

Example
-------
>>> p = Project(topology=Topology(name="t"))
>>> save_project(p, "/tmp/demo.edgeplan.json")           # doctest: +SKIP
>>> load_project("/tmp/demo.edgeplan.json").topology.name  # doctest: +SKIP
't'
"""

from __future__ import annotations

__all__ = [
    "PROJECT_FORMAT",
    "PROJECT_VERSION",
    "ProjectError",
    "ModelRef",
    "ChosenPlan",
    "Project",
    "save_project",
    "load_project",
    "is_project_document",
]

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import atomic_write_json, read_json
from planner_app.core.profiling import ModelProfile
from planner_app.core.topology import Topology
from planner_app.core.topology.io import topology_from_dict

PROJECT_FORMAT = "edgeplan-project"
PROJECT_VERSION = 1

#: how many profiles or plans a project may hold (a project file is untrusted input)
MAX_ENTRIES = 256


class ProjectError(PlannerError):
    """A project file is malformed, from a newer planner, or refers to what it lacks (exit code 2)."""


@dataclass(frozen=True)
class ModelRef:
    """The model a workload plans with: ``sample:NAME`` or a path (relative to the project's folder)."""

    workload: str
    model: str
    shapes: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"workload": self.workload, "model": self.model, "shapes": {k: list(v) for k, v in self.shapes.items()}}


@dataclass(frozen=True)
class ChosenPlan:
    """The placement a user chose for a workload, with the options that posed the problem."""

    workload: str
    devices: tuple[str, ...]
    levels: tuple[str, ...]
    codec: str = "none"
    #: PoseOptions/SolveOptions as plain values (objective, slo_ms, min_fidelity, ...)
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"workload": self.workload, "devices": list(self.devices), "levels": list(self.levels),
                "codec": self.codec, "options": dict(self.options)}


@dataclass
class Project:
    """A topology and its planning state (see the module docstring)."""

    topology: Topology
    models: list[ModelRef] = field(default_factory=list)
    profiles: list[ModelProfile] = field(default_factory=list)
    plans: list[ChosenPlan] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROJECT_FORMAT,
            "version": PROJECT_VERSION,
            "topology": self.topology.to_dict(),
            "models": [m.to_dict() for m in self.models],
            "profiles": [p.to_dict() for p in self.profiles],
            "plans": [p.to_dict() for p in self.plans],
        }

    def model_for(self, workload: str) -> ModelRef | None:
        return next((m for m in self.models if m.workload == workload), None)

    def plan_for(self, workload: str) -> ChosenPlan | None:
        return next((p for p in self.plans if p.workload == workload), None)

    def profile_for(self, sha256: str) -> ModelProfile | None:
        return next((p for p in self.profiles if p.model_sha256 == sha256), None)


def is_project_document(data: object) -> bool:
    """True when ``data`` (parsed JSON) is a project rather than a plain topology."""
    return isinstance(data, dict) and data.get("format") == PROJECT_FORMAT


#: version N -> the function that turns a version-N document into version N+1
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _migrate(data: dict[str, Any], source: str) -> dict[str, Any]:
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise ProjectError(f"{source}: 'version' must be a whole number >= 1, got {version!r}.")
    if version > PROJECT_VERSION:
        raise ProjectError(
            f"{source} is version {version}, newer than this planner reads ({PROJECT_VERSION}): "
            "update the planner to open it.")
    while version < PROJECT_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["version"] = version
    return data


def _list(data: dict[str, Any], key: str, source: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ProjectError(f"{source}: '{key}' must be a list, got {type(value).__name__}.")
    if len(value) > MAX_ENTRIES:
        raise ProjectError(f"{source}: '{key}' has {len(value)} entries, more than {MAX_ENTRIES}.")
    return value


def _str_list(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProjectError(f"{what} must be a list of names.")
    return tuple(value)


def project_from_dict(data: Any, source: str = "project") -> Project:
    """Migrate and validate a project document (or wrap a plain topology document)."""
    if not is_project_document(data):
        return Project(topology=topology_from_dict(data, source))
    assert isinstance(data, dict)
    data = _migrate(dict(data), source)
    topology = topology_from_dict(data.get("topology"), f"{source}, its topology")
    names = {w.name for w in topology.workloads}
    models: list[ModelRef] = []
    for i, m in enumerate(_list(data, "models", source)):
        where = f"{source}: models[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("workload"), str) or not isinstance(m.get("model"), str):
            raise ProjectError(f"{where} needs 'workload' and 'model' (text).")
        if m["workload"] not in names:
            raise ProjectError(f"{where} names workload {m['workload']!r}, which the topology lacks: "
                               f"the workloads are {', '.join(sorted(names)) or '(none)'}.")
        shapes = m.get("shapes") or {}
        if not isinstance(shapes, dict) or not all(
                isinstance(v, list) and all(isinstance(x, int) and x > 0 for x in v) for v in shapes.values()):
            raise ProjectError(f"{where}: 'shapes' must map input names to lists of positive whole numbers.")
        models.append(ModelRef(m["workload"], m["model"], {str(k): list(v) for k, v in shapes.items()}))
    profiles: list[ModelProfile] = []
    for i, p in enumerate(_list(data, "profiles", source)):
        try:
            profiles.append(ModelProfile.from_dict(p))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProjectError(f"{source}: profiles[{i}] is missing or has a bad field ({exc}).") from None
    plans: list[ChosenPlan] = []
    for i, p in enumerate(_list(data, "plans", source)):
        where = f"{source}: plans[{i}]"
        if not isinstance(p, dict) or p.get("workload") not in names:
            raise ProjectError(f"{where} must name a workload of the topology.")
        devices = _str_list(p.get("devices"), f"{where}: 'devices'")
        levels = _str_list(p.get("levels"), f"{where}: 'levels'")
        if len(devices) != len(levels):
            raise ProjectError(f"{where}: {len(devices)} devices but {len(levels)} levels (one each per unit).")
        unknown = sorted({d for d in devices if not topology.has_device(d)})
        if unknown:
            raise ProjectError(f"{where} places units on {', '.join(unknown)}, which the topology lacks.")
        options = p.get("options") or {}
        if not isinstance(options, dict):
            raise ProjectError(f"{where}: 'options' must be an object.")
        plans.append(ChosenPlan(p["workload"], devices, levels, str(p.get("codec", "none")), options))
    return Project(topology, models, profiles, plans)


def load_project(path: str | os.PathLike[str]) -> Project:
    """Read a project file, or a plain topology file as a project without planning state."""
    data = read_json(path, "project file")
    return project_from_dict(data, f"project file '{path}'")


def save_project(project: Project, path: str | os.PathLike[str]) -> Path:
    """Write ``project`` atomically (the previous file survives a failed write)."""
    project.topology.validate_references()
    return atomic_write_json(path, project.to_dict())
