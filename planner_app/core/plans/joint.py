"""The joint plan: every workload of a topology planned together, in one file.

A :class:`JointPlan` holds one section per workload, each a complete
:class:`~planner_app.core.plans.records.DeploymentPlan` (its stages, transfers,
totals and its own copy of the topology, so a section cut out of the file stands
alone), and what only the joint view shows:

- ``load``: per device and link direction, the utilization each workload adds and
  their sum (below 1 in a joint plan), the memory each holds on a device and the
  device's memory; next to them the same sums for the plans made **one at a time**,
  which may overcommit what they share;
- ``objective``: the objective stated over all workloads (``worst-slack``,
  ``total-cost`` or ``weighted-latency``) and its value.

Each section's parts sit in their own folder, ``parts/workload_KK/`` beside the
plan; the export writes them all, or nothing
(:func:`~planner_app.core.plans.export.export_joint_plan`). The schema is
``resources/joint_plan.schema.json`` (``make schemas``).

Example
-------
>>> plan = load_joint_plan("out/joint.json")   # doctest: +SKIP
>>> [(w.workload.name, [s.device for s in w.stages]) for w in plan.workloads]   # doctest: +SKIP
"""

from __future__ import annotations

__all__ = [
    "JOINT_PLAN_KIND",
    "JOINT_PLAN_SCHEMA_PATH",
    "JOINT_PLAN_SCHEMA_VERSION",
    "JointObjective",
    "LoadRow",
    "JointPlan",
    "is_joint_document",
    "section_parts_dir",
    "joint_plan_json_schema",
    "write_joint_schemas",
    "joint_plan_from_dict",
    "load_joint_plan",
    "joint_load_problems",
    "export_joint_plan",
]

import math
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Final, Literal, cast

from pydantic import Field, ValidationError

from planner_app.core.errors import Problem
from planner_app.core.fileio import read_json
from planner_app.core.plans.export import PARTS_DIR
from planner_app.core.plans.records import (
    DeploymentPlan,
    PlanError,
    SolverInfo,
    ToolInfo,
    TopologyInfo,
    _Record,
    _schema_problems_for,
    _where,
)
from planner_app.core.progress import CancelToken, ProgressCallback
from planner_app.core.resources import resource_path

JOINT_PLAN_SCHEMA_VERSION: Final = 1
JOINT_PLAN_SCHEMA_PATH = "joint_plan.schema.json"
JOINT_PLAN_KIND: Final = "joint"
NonNegative = Annotated[float, Field(ge=0)]


class JointObjective(_Record):
    """What the joint plan minimised, over every workload."""

    name: Literal["worst-slack", "total-cost", "weighted-latency"]
    description: str = ""
    weights: dict[str, NonNegative] = Field(
        default_factory=dict, description="workload name → weight (weighted-latency, and the worst-slack tie-break)")
    value: float | None = Field(default=None, description="the objective's value for this plan (None: unbounded)")
    unit: str = ""


class LoadRow(_Record):
    """One device or link direction: what every workload puts on it, jointly and one at a time."""

    resource: str = Field(description="'device ID' or 'link ID A→B'")
    kind: Literal["device", "link"]
    utilization: NonNegative = Field(description="sum over the workloads of rate × busy ms / 1000 (joint plan)")
    utilization_per_workload: dict[str, NonNegative] = Field(default_factory=dict)
    memory_bytes: NonNegative | None = Field(default=None, description="devices: bytes every workload's parts hold")
    memory_bytes_per_workload: dict[str, NonNegative] = Field(default_factory=dict)
    memory_limit_bytes: NonNegative | None = None
    one_at_a_time_utilization: NonNegative | None = Field(
        default=None, description="the same sum for the plans made one workload at a time (None: not computed)")
    one_at_a_time_per_workload: dict[str, NonNegative] = Field(default_factory=dict)
    one_at_a_time_memory_bytes: NonNegative | None = None


class JointPlan(_Record):
    """Every workload of a topology planned together (see the module docstring)."""

    schema_version: Literal[1] = JOINT_PLAN_SCHEMA_VERSION
    kind: Literal["joint"] = JOINT_PLAN_KIND
    tool: ToolInfo = Field(default_factory=ToolInfo)
    topology: TopologyInfo
    objective: JointObjective
    solver: SolverInfo
    workloads: list[DeploymentPlan] = Field(min_length=1, description="one complete plan per workload")
    load: list[LoadRow] = Field(default_factory=list)
    overcommitted_one_at_a_time: list[str] = Field(
        default_factory=list, description="resources the one-at-a-time plans load to 100 % or more, or past memory")
    notes: list[str] = Field(default_factory=list)

    def consistency_problems(self) -> list[Problem]:
        """Problems between fields that a schema cannot see, each section's own included."""
        problems: list[Problem] = []
        names = [w.workload.name for w in self.workloads]
        seen_paths: dict[str, int] = {}
        for k, w in enumerate(self.workloads):
            where = f"workloads[{k}]"
            problems.extend(Problem(f"{where}.{p.location}", p.message) for p in w.consistency_problems())
            if names.index(w.workload.name) != k:
                problems.append(Problem(f"{where}.workload.name", f"workload {w.workload.name!r} is planned twice"))
            if w.topology.sha256 != self.topology.sha256:
                problems.append(Problem(f"{where}.topology.sha256", "differs from the joint plan's topology: every "
                                        "section is planned on the same topology"))
            folder = section_parts_dir(k)
            for i, s in enumerate(w.stages):
                if s.artifact is None:
                    continue
                if PurePosixPath(s.artifact.path).parent != PurePosixPath(folder):
                    problems.append(Problem(f"{where}.stages[{i}].artifact.path", f"{s.artifact.path!r} is not in "
                                            f"the section's folder {folder}/"))
                if s.artifact.path in seen_paths:
                    problems.append(Problem(f"{where}.stages[{i}].artifact.path", f"{s.artifact.path!r} is also a "
                                            f"part of workloads[{seen_paths[s.artifact.path]}]"))
                seen_paths.setdefault(s.artifact.path, k)
        for i, row in enumerate(self.load):
            if not math.isclose(row.utilization, sum(row.utilization_per_workload.values()), rel_tol=1e-6,
                                abs_tol=1e-9):
                problems.append(Problem(f"load[{i}].utilization", f"is {row.utilization:.6g}, its workloads add up "
                                        f"to {sum(row.utilization_per_workload.values()):.6g}"))
            unknown = sorted((set(row.utilization_per_workload) | set(row.memory_bytes_per_workload)) - set(names))
            if unknown:
                problems.append(Problem(f"load[{i}]", f"names workloads {unknown} that the plan does not hold"))
        return problems


def section_parts_dir(index: int) -> str:
    """Folder of section ``index``'s parts, relative to the plan: ``parts/workload_00``."""
    return f"{PARTS_DIR}/workload_{index:02d}"


def is_joint_document(data: Any) -> bool:
    """True for a parsed JSON document that says it is a joint plan."""
    return isinstance(data, dict) and data.get("kind") == JOINT_PLAN_KIND


# -- the joint figures, re-derived from the sections -------------------------------------
def joint_load_problems(plan: JointPlan) -> list[Problem]:
    """Re-derive ``load`` from the sections and check that nothing is past full.

    Per device: the sum of each section's ``utilization_per_device`` (each section's
    own figures are re-derived from its stages by the plan checker) and of its
    ``memory_bytes_per_device``; per link direction: each transfer's wire bytes over
    the direction's bandwidth in the embedded topology, times the workload's call rate.
    Workloads that state no rate put no load (capacity does not apply to them).
    """
    problems: list[Problem] = []
    doc = plan.topology.document
    links = {lk.get("id"): lk for lk in doc.get("links", []) if isinstance(lk, dict)}
    devices = {d.get("id"): d for d in doc.get("devices", []) if isinstance(d, dict)}
    util: dict[str, dict[str, float]] = {}
    memory: dict[str, float] = {}
    for w in plan.workloads:
        name = w.workload.name
        for dev, mem in w.totals.memory_bytes_per_device.items():
            memory[f"device {dev}"] = memory.get(f"device {dev}", 0.0) + mem
        if not w.workload.rate_stated:
            continue
        for dev, u in w.totals.utilization_per_device.items():
            util.setdefault(f"device {dev}", {})[name] = util.get(f"device {dev}", {}).get(name, 0.0) + u
        calls = w.workload.rate_rps / max(1, w.workload.batch_size)
        for t in w.transfers:
            for j, lid in enumerate(t.route_links):
                lk = links.get(lid)
                if lk is None or j + 1 >= len(t.route_devices):
                    continue  # the section's own check names a route that leaves the topology
                u_dev = t.route_devices[j]
                bw = lk.get("bandwidth_ab_mbps") if u_dev == lk.get("a") else lk.get("bandwidth_ba_mbps")
                if not isinstance(bw, int | float) or bw <= 0:
                    continue
                key = f"link {lid} {u_dev}→{t.route_devices[j + 1]}"
                row = util.setdefault(key, {})
                row[name] = row.get(name, 0.0) + calls * t.wire_bytes * 8.0 / (bw * 1e3) / 1000.0
    recorded = {r.resource: (i, r) for i, r in enumerate(plan.load)}
    for key, per in sorted(util.items()):
        total = sum(per.values())
        if total <= 0:
            continue
        hit = recorded.get(key)
        if hit is None:
            problems.append(Problem("load", f"has no row for {key}, which the workloads load to {total:.4g}"))
        elif not math.isclose(hit[1].utilization, total, rel_tol=1e-4, abs_tol=1e-6):
            problems.append(Problem(f"load[{hit[0]}].utilization", f"is {hit[1].utilization:.6g}, but the "
                                    f"workloads' stages and transfers make {total:.6g}"))
        if total >= 1.0:
            problems.append(Problem("load", f"{key} is {total:.0%} busy with every workload at its rate: the "
                                    "joint plan must keep it below 100 %"))
    for key, used in sorted(memory.items()):
        dev = devices.get(key.removeprefix("device "))
        mb = dev.get("memory_mb") if dev else None
        if isinstance(mb, int | float) and used > float(mb) * 1024 * 1024 * (1 + 1e-9):
            problems.append(Problem("load", f"{key} holds {used / 2**20:.1f} MiB of parts, but has "
                                    f"{float(mb):.1f} MiB"))
    return problems


# -- schema -------------------------------------------------------------------------------
def joint_plan_json_schema() -> dict[str, Any]:
    """The JSON Schema generated from the records (kept in ``resources/``)."""
    from planner_app.core.schemas import schema_document

    schema = schema_document(JointPlan, JOINT_PLAN_SCHEMA_PATH,
                             f"planner_app joint deployment plan, schema_version {JOINT_PLAN_SCHEMA_VERSION}")
    schema["required"] = sorted(set(schema.get("required", [])) | {"schema_version", "kind", "tool"})
    return schema


def write_joint_schemas() -> list[Path]:
    """Regenerate ``resources/joint_plan.schema.json`` (``make schemas``)."""
    from planner_app.core.schemas import write_schema

    return write_schema(JOINT_PLAN_SCHEMA_PATH, joint_plan_json_schema())


def _shipped_schema() -> dict[str, Any]:
    path = resource_path(JOINT_PLAN_SCHEMA_PATH, must_exist=False)
    if path.exists():
        return cast("dict[str, Any]", read_json(path, "joint plan schema"))
    return joint_plan_json_schema()


# -- reading ------------------------------------------------------------------------------
def joint_plan_from_dict(data: Any, source: str = "joint plan") -> JointPlan:
    """Validate a joint plan document: JSON Schema, records, then cross-field checks
    (each section's own included). Raises :class:`PlanError` naming every problem."""
    if not is_joint_document(data):
        raise PlanError(f"{source}: not a joint plan (its 'kind' is not {JOINT_PLAN_KIND!r})")
    version = data.get("schema_version")
    if version != JOINT_PLAN_SCHEMA_VERSION:
        raise PlanError(f"{source}: schema_version is {version!r}; this build reads joint plan schema_version "
                        f"{JOINT_PLAN_SCHEMA_VERSION}. Re-plan with `edgeplan optimize --workload all`.")
    problems = _schema_problems_for(_shipped_schema(), data)
    if problems:
        n = len(problems)
        raise PlanError(f"{source}: does not match the joint plan schema ({n} problem{'s' if n != 1 else ''})",
                        problems=problems)
    try:
        plan = JointPlan.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(_where(e.get("loc", ())), e.get("msg", "invalid")) for e in exc.errors()]
        raise PlanError(f"{source}: {len(problems)} invalid fields", problems=problems) from None
    problems = plan.consistency_problems()
    if problems:
        raise PlanError(f"{source}: the plan contradicts itself", problems=problems)
    return plan


def load_joint_plan(path: str | os.PathLike[str]) -> JointPlan:
    """Read and validate a joint plan file (not its parts: see ``validate_joint_plan``)."""
    return joint_plan_from_dict(read_json(path, "plan file"), f"plan file '{path}'")



# -- writing ------------------------------------------------------------------------------
def export_joint_plan(
    plan: JointPlan,
    parts: Sequence[Sequence[bytes]],
    out: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write ``plan`` to ``out`` and ``parts[k][i]`` to ``workloads[k].stages[i].artifact.path``, all or
    nothing (the parts folder is replaced as a whole, as for one plan)."""
    from planner_app.core.fileio import sha256_bytes
    from planner_app.core.plans.export import check_out_path, write_plan_files
    from planner_app.core.plans.records import Artifact

    target = check_out_path(out)
    problems = plan.consistency_problems()
    if problems:
        raise PlanError("cannot export the joint plan: it contradicts itself", problems=problems)
    if len(parts) != len(plan.workloads):
        raise PlanError(f"cannot export the joint plan: {len(plan.workloads)} workloads, parts for {len(parts)}")
    artifacts: list[Artifact] = []
    blobs: list[bytes] = []
    for k, (w, blobs_k) in enumerate(zip(plan.workloads, parts, strict=True)):
        arts = [s.artifact for s in w.stages if s.artifact is not None]
        if len(arts) != len(blobs_k):
            problems.append(Problem(f"workloads[{k}].stages", f"{len(arts)} part files named, {len(blobs_k)} given"))
            continue
        for i, (art, data) in enumerate(zip(arts, blobs_k, strict=True)):
            if sha256_bytes(data) != art.sha256 or len(data) != art.bytes:
                problems.append(Problem(f"workloads[{k}].stages[{i}].artifact", "the part's bytes do not match "
                                        "its sha256/bytes"))
        artifacts.extend(arts)
        blobs.extend(blobs_k)
    if problems:
        raise PlanError("cannot export the joint plan: it does not match its parts", problems=problems)
    return write_plan_files(target, plan.model_dump(mode="json"), artifacts, blobs, progress=progress, cancel=cancel)
