"""The deployment plan: the JSON document a team deploys from.

A :class:`DeploymentPlan` says where each stage of a model runs, at which
compression level, what crosses which link, and what the planner predicts for
it (latency, throughput, bandwidth per link, cost, energy, fidelity), next to
the baselines it beat and the Pareto front when asked. Every figure carries its
provenance. One runnable ONNX file per stage sits next to the plan
(``parts/stage_00_<device>.onnx``), named with its sha256 and size in bytes.

The document is versioned (``schema_version``), has stable keys with units in
their names, and is validated on import twice: against the JSON Schema in
``resources/plan.schema.json`` (generated from these records by
:func:`write_schemas`; a test fails when it is stale) and by the records
themselves, then cross-checked (stage numbering, transfers, the embedded
topology's hash). Writing with parts is :func:`planner_app.core.plans.export.export_plan`;
checking parts and their chain is :func:`planner_app.core.plans.check.validate_plan`.

Example
-------
>>> plan = load_plan("out/plan.json")  # doctest: +SKIP
>>> [(s.device, s.level) for s in plan.stages]  # doctest: +SKIP
[('camera', 'int8-dynamic'), ('edge', 'fp32')]
"""

from __future__ import annotations

__all__ = [
    "PLAN_SCHEMA_VERSION",
    "PLAN_SCHEMA_PATH",
    "OBJECTIVES",
    "PlanError",
    "ToolInfo",
    "TopologyInfo",
    "ModelInfo",
    "Objective",
    "Constraints",
    "Artifact",
    "Stage",
    "Transfer",
    "Figures",
    "MeasuredFidelity",
    "Uncertainty",
    "MeasurementBasis",
    "Totals",
    "Baseline",
    "SolverInfo",
    "ParetoPoint",
    "DeploymentPlan",
    "canonical_sha256",
    "plan_json_schema",
    "write_schemas",
    "plan_from_dict",
    "load_plan",
    "plan_to_json",
    "has_parts",
]

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Final, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from planner_app import __version__
from planner_app.core.errors import PlannerError, Problem
from planner_app.core.fileio import read_json, sha256_bytes
from planner_app.core.resources import resource_path
from planner_app.core.topology.records import Workload

PLAN_SCHEMA_VERSION: Final = 1
PLAN_SCHEMA_PATH = "plan.schema.json"
OBJECTIVES = ("latency", "throughput", "cost", "bandwidth", "energy")

_SHA256 = r"^[0-9a-f]{64}$"
NonNegative = Annotated[float, Field(ge=0)]


class PlanError(PlannerError):
    """A plan file is invalid or does not match its parts; :attr:`problems` names each."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolInfo(_Record):
    """Which program wrote the plan, and when."""

    name: Literal["planner_app"] = "planner_app"
    version: str = __version__
    created_utc: str = Field(
        default_factory=lambda: datetime.now(UTC).replace(microsecond=0).isoformat(),
        description="ISO 8601 time the plan was written",
    )


class TopologyInfo(_Record):
    """The topology the plan was made for, embedded so the plan stands alone."""

    name: str
    path: str | None = Field(default=None, description="file the topology was read from, if any")
    sha256: Annotated[str, Field(pattern=_SHA256)] = Field(
        description="sha256 of the embedded document as canonical JSON (sorted keys, no spaces)"
    )
    document: dict[str, Any] = Field(description="the topology document (schema: topology.schema.json)")


class ModelInfo(_Record):
    """The whole model the stages were cut from."""

    name: str
    source: str = Field(description="as the user gave it: a path or 'sample:NAME'")
    path: str | None = Field(default=None, description="absolute path of the ONNX file when the plan was made")
    sha256: Annotated[str, Field(pattern=_SHA256)]
    bytes: Annotated[int, Field(ge=0)]
    opsets: dict[str, int] = Field(description="operator set version per domain ('' = ai.onnx)")
    input_shapes: dict[str, list[Annotated[int, Field(ge=1)]]]
    input_dtypes: dict[str, str] = Field(default_factory=dict, description="numpy dtype name per input")
    output_names: list[str]
    output_shapes: dict[str, list[int]] = Field(default_factory=dict)
    units: Annotated[int, Field(ge=1)] = Field(description="number of units (groups of nodes) the optimizer placed")
    total_flops: NonNegative = 0.0


class Objective(_Record):
    """What the optimizer minimised (throughput: maximised)."""

    name: Literal["latency", "throughput", "cost", "bandwidth", "energy", "weighted"]
    weights: dict[str, float] = Field(default_factory=dict, description="objective name → weight, for 'weighted'")


class Constraints(_Record):
    """The hard limits the plan was asked to meet (None = no limit)."""

    slo_ms: Annotated[float, Field(gt=0)] | None = None
    max_cost_usd_per_1k: NonNegative | None = None
    min_fidelity: Annotated[float, Field(ge=0, le=1)] | None = None
    levels: list[str] = Field(default_factory=lambda: ["fp32"], description="compression levels allowed")
    privacy: Literal["none", "raw_input_in_zone"] = "none"
    private_tensors: list[str] = Field(default_factory=list)
    pinned_units: dict[str, str] = Field(default_factory=dict, description="unit id → device id")
    max_stages_per_device: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="pipeline mode: each device hosts at most this many contiguous stages")


class Artifact(_Record):
    """A file written with the plan, relative to the plan's folder."""

    path: str
    sha256: Annotated[str, Field(pattern=_SHA256)]
    bytes: Annotated[int, Field(ge=0)]

    @field_validator("path")
    @classmethod
    def _relative_inside(cls, v: str) -> str:
        p = PurePosixPath(v)
        if not v or p.is_absolute() or ".." in p.parts or "\\" in v or re.match(r"^[A-Za-z]:", v):
            raise ValueError(f"artifact path {v!r} must be relative to the plan's folder, without '..'")
        return v


class Stage(_Record):
    """One part of the model on one device, at one compression level."""

    index: Annotated[int, Field(ge=0)]
    device: str
    level: str = Field(description="compression level of this part (fp32, fp16, int8-dynamic, ...)")
    unit_ids: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    unit_names: list[str] = Field(default_factory=list)
    node_names: list[str] = Field(min_length=1)
    inputs: list[str] = Field(min_length=1, description="tensor names the part reads")
    outputs: list[str] = Field(min_length=1, description="tensor names the part produces")
    artifact: Artifact | None = Field(
        default=None,
        description="the part's ONNX file; absent when the model has no runnable parts (a model described "
        "by measurements only, such as a layer table): then no stage of the plan has one")
    compute_ms: NonNegative = Field(description="predicted compute time per request on the device")
    unit_ms: list[NonNegative] | None = Field(
        default=None, description="the time table's ms of each unit on this device at this level "
        "(compute_ms = their sum + overhead_ms; absent in plans made before it was recorded)")
    overhead_ms: NonNegative | None = Field(default=None, description="fixed ms of running the part once")
    weights_bytes: Annotated[int, Field(ge=0)] = 0
    peak_activation_bytes: Annotated[int, Field(ge=0)] = 0
    memory_bytes: Annotated[int, Field(ge=0)] = Field(default=0, description="weights + peak activations")
    provenance: str = Field(default="estimated", description="where compute_ms came from")


class Transfer(_Record):
    """Tensors moved between devices for one request (input, cut, or result)."""

    from_stage: int | None = Field(description="producing stage; None = the raw input at the source")
    to_stage: int | None = Field(description="consuming stage; None = the results to the consumer")
    from_device: str
    to_device: str
    tensors: list[str] = Field(min_length=1)
    bytes: Annotated[int, Field(ge=0)] = Field(description="uncompressed bytes per request")
    wire_bytes: Annotated[int, Field(ge=0)] = Field(description="bytes on the wire after the cut codec")
    codec: str = "none"
    route_devices: list[str] = Field(min_length=2)
    route_links: list[str] = Field(min_length=1)
    transfer_ms: NonNegative = Field(description="predicted time: route latency + wire bytes / bottleneck")
    queue_ms: NonNegative = Field(
        default=0.0, description="predicted wait for links of its route still sending earlier messages' bits "
        "(messages fanned out over one uplink); it arrives transfer_ms + queue_ms after its stage ends")
    provenance: str = "computed"


class Figures(_Record):
    """The predicted figures of one placement (plan, baseline, or Pareto point).

    A figure is None when it is infinite (an overloaded device has no finite
    latency at the workload's rate; a plan that moves nothing has no bandwidth).
    """

    latency_ms: NonNegative | None = Field(description="one request alone: compute + transfers on the critical path")
    latency_at_rate_ms: NonNegative | None = Field(default=None, description="with queueing at the workload's rate")
    throughput_rps: NonNegative | None
    cost_usd_per_1k: NonNegative | None
    cost_usd_per_month: NonNegative | None = None
    energy_j_per_request: NonNegative | None = Field(default=None, description="on battery devices")
    bytes_on_links_per_request: NonNegative | None = None
    predicted_fidelity: Annotated[float, Field(ge=0, le=1)] | None = None
    bottleneck: str = Field(default="", description="the busiest device or link direction")
    feasible: bool = True
    violations: list[str] = Field(default_factory=list)


class MeasuredFidelity(_Record):
    """Fidelity of the chained, compressed parts against the fp32 model, measured at export."""

    samples: Annotated[int, Field(ge=1)]
    max_abs_err: NonNegative
    mean_abs_err: NonNegative
    cosine: float
    sqnr_db: float | None = None
    top1_agreement: Annotated[float, Field(ge=0, le=1)] | None = None
    score: Annotated[float, Field(ge=0, le=1)] = Field(description="1.0 = equal to fp32")
    inputs: str = Field(default="", description="the inputs measured on (held out from calibration)")
    as_deployed: bool = Field(
        default=False, description="parts run as deployed: graph optimization on, the cut codec applied between "
        "parts")
    codec: str = Field(default="none", description="the cut codec applied to the tensors between parts")


class Uncertainty(_Record):
    """How far a figure can be off: a 95 % interval where noise was measured, and what bounds it."""

    low: float | None = Field(default=None, description="lower end, in the figure's unit (None: not bounded)")
    high: float | None = Field(default=None, description="upper end, in the figure's unit (None: not bounded)")
    basis: str = Field(description="what the interval covers and what it leaves out")


class MeasurementBasis(_Record):
    """The clock and session the plan's times are in, and the measured overheads it used."""

    clock: Literal["thread-cpu", "wall", "mixed", "unknown"] = Field(
        description="thread-cpu: CPU time of the computing thread (a dedicated core's view, what one-thread "
        "profiles measure); wall: elapsed time on a possibly shared device")
    clock_note: str = ""
    session_options: str = Field(default="", description="onnxruntime options profiled (and deployed) with")
    profile_runs: dict[str, int] = Field(default_factory=dict, description="level → timed runs of its median")
    part_overhead_ms: NonNegative = Field(description="ms added per part (per session call) in every stage")
    part_overhead_ci_ms: list[NonNegative] = Field(default_factory=list, description="its 95 % interval")
    part_overhead_provenance: str = ""


class Totals(Figures):
    """The chosen plan's figures, with per-link and per-device detail."""

    compute_ms: NonNegative = 0.0
    transfer_ms: NonNegative = 0.0
    queueing_ms: NonNegative | None = None
    bandwidth_mbps_per_link: dict[str, NonNegative] = Field(default_factory=dict)
    utilization_per_device: dict[str, NonNegative] = Field(default_factory=dict)
    utilization_per_link: dict[str, NonNegative] = Field(default_factory=dict)
    memory_bytes_per_device: dict[str, NonNegative] = Field(default_factory=dict)
    measured_fidelity: MeasuredFidelity | None = None


class Baseline(_Record):
    """A simple placement the plan is compared with, on the same cost model."""

    name: str
    description: str = ""
    placement: str = Field(default="", description="short summary, e.g. 'cam[0-3] fp32 → cloud[4-9] fp32'")
    figures: Figures
    improvement_factor: float | None = Field(
        default=None,
        description="how many times better the plan is on the objective (>1 = plan better); None if not comparable",
    )


class SolverInfo(_Record):
    """Which solver produced the plan."""

    name: str
    exact: bool = True
    solve_ms: NonNegative = 0.0
    note: str = ""


class ParetoPoint(_Record):
    """One non-dominated placement of the trade-off front."""

    placement: str
    figures: Figures
    chosen: bool = False


class DeploymentPlan(_Record):
    """The whole plan document (see the module docstring)."""

    schema_version: Literal[1] = PLAN_SCHEMA_VERSION
    tool: ToolInfo = Field(default_factory=ToolInfo)
    topology: TopologyInfo
    model: ModelInfo
    workload: Workload
    objective: Objective
    constraints: Constraints = Field(default_factory=Constraints)
    stages: list[Stage] = Field(min_length=1)
    transfers: list[Transfer] = Field(default_factory=list)
    totals: Totals
    baselines: list[Baseline] = Field(default_factory=list)
    solver: SolverInfo
    pareto: list[ParetoPoint] | None = None
    provenance: dict[str, str] = Field(
        default_factory=dict, description="figure (dotted path) → where it came from"
    )
    measurement: MeasurementBasis | None = Field(
        default=None, description="the clock the figures are in and the overheads measured for them")
    uncertainty: dict[str, Uncertainty] = Field(
        default_factory=dict, description="figure (dotted path, stages[k] for one stage) → its interval")
    notes: list[str] = Field(default_factory=list)

    def consistency_problems(self) -> list[Problem]:
        """Problems between fields that a schema cannot see."""
        problems: list[Problem] = []
        for i, s in enumerate(self.stages):
            if s.index != i:
                problems.append(Problem(f"stages[{i}].index", f"is {s.index}, expected {i} (stages are numbered in order)"))
        seen_paths: dict[str, int] = {}
        with_parts = [s.artifact is not None for s in self.stages]
        if any(with_parts) and not all(with_parts):
            missing = [i for i, has in enumerate(with_parts) if not has]
            problems.append(Problem("stages[].artifact", f"{', '.join(f'stages[{i}]' for i in missing)} "
                                    "have no part file while the other stages do: a plan has a part for every "
                                    "stage or for none"))
        for i, s in enumerate(self.stages):
            if s.artifact is None:
                continue
            if s.artifact.path in seen_paths:
                problems.append(Problem(f"stages[{i}].artifact.path", f"{s.artifact.path!r} is also stage {seen_paths[s.artifact.path]}'s part"))
            seen_paths.setdefault(s.artifact.path, i)
        n = len(self.stages)
        for i, t in enumerate(self.transfers):
            for end in ("from_stage", "to_stage"):
                v = getattr(t, end)
                if v is not None and not 0 <= v < n:
                    problems.append(Problem(f"transfers[{i}].{end}", f"names stage {v}, but the plan has stages 0..{n - 1}"))
        if canonical_sha256(self.topology.document) != self.topology.sha256:
            problems.append(Problem("topology.sha256", "does not match the embedded topology document: it was edited after export"))
        devices = {d["id"] for d in self.topology.document.get("devices", []) if isinstance(d, dict) and isinstance(d.get("id"), str)}
        for i, s in enumerate(self.stages):
            if s.device not in devices:
                problems.append(Problem(f"stages[{i}].device", f"device {s.device!r} is not in the embedded topology"))
        units = sorted(u for s in self.stages for u in s.unit_ids)
        if units != list(range(self.model.units)):
            problems.append(Problem("stages[].unit_ids", f"the stages do not cover units 0..{self.model.units - 1} exactly once"))
        k = self.constraints.max_stages_per_device
        if k is not None:
            runs: dict[str, int] = {}
            for i, s in enumerate(self.stages):
                if i == 0 or self.stages[i - 1].device != s.device:
                    runs[s.device] = runs.get(s.device, 0) + 1
            for dev, count in runs.items():
                if count > k:
                    problems.append(Problem("stages[].device", f"device {dev!r} hosts {count} separate stages; the "
                                            f"plan is a pipeline with at most {k} per device"))
        if self.workload.input_shapes and self.workload.input_shapes != self.model.input_shapes:
            problems.append(Problem("model.input_shapes", f"{self.model.input_shapes} differ from the workload's {self.workload.input_shapes}"))
        return problems


def canonical_sha256(document: Any) -> str:
    """sha256 of ``document`` as canonical JSON (sorted keys, compact, UTF-8)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256_bytes(text.encode("utf-8"))


# -- schema -------------------------------------------------------------------------
def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema generated from the records (kept in ``resources/``)."""
    from planner_app.core.schemas import schema_document

    schema = schema_document(DeploymentPlan, PLAN_SCHEMA_PATH,
                             f"planner_app deployment plan, schema_version {PLAN_SCHEMA_VERSION}")
    # defaults make these optional for the records; a plan file must still state them
    schema["required"] = sorted(set(schema.get("required", [])) | {"schema_version", "tool"})
    return schema


def write_schemas() -> list[Path]:
    """Regenerate ``resources/plan.schema.json`` (``make schemas``)."""
    from planner_app.core.schemas import write_schema

    return write_schema(PLAN_SCHEMA_PATH, plan_json_schema())


def _shipped_schema() -> dict[str, Any]:
    path = resource_path(PLAN_SCHEMA_PATH, must_exist=False)
    if path.exists():
        return cast("dict[str, Any]", read_json(path, "plan schema"))
    return plan_json_schema()  # a source tree before `make schemas`: the records are the truth


# -- reading ------------------------------------------------------------------------
def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(document)"


def _schema_problems(data: Any) -> list[Problem]:
    return _schema_problems_for(_shipped_schema(), data)


def _schema_problems_for(schema: dict[str, Any], data: Any) -> list[Problem]:
    """Every place ``data`` breaks ``schema``, each naming its field (shared with the joint plan)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        if err.validator in ("anyOf", "oneOf") and err.context:
            # an optional record (X or null): the record's own error names the field and what is wrong
            err = jsonschema.exceptions.best_match(e for e in err.context if e.validator != "type"
                                                   or e.validator_value != "null") or err
        msg = err.message
        if err.validator == "additionalProperties":
            msg = f"{msg}: remove the key or check its spelling"
        problems.append(Problem(_where(err.absolute_path), msg[:300]))
    return problems


def plan_from_dict(data: Any, source: str = "plan") -> DeploymentPlan:
    """Validate a plan document: JSON Schema, records, then cross-field checks.

    Raises :class:`PlanError` listing every problem with the field that has it.
    """
    if not isinstance(data, dict):
        raise PlanError(f"{source}: expected a JSON object (a deployment plan), got {type(data).__name__}")
    if data.get("kind") == "joint":
        raise PlanError(f"{source}: is a joint plan (every workload of the topology planned together): "
                        "`edgeplan plan validate` and `plan show` read it; give one workload's section to a "
                        "command that takes one plan")
    version = data.get("schema_version")
    if version != PLAN_SCHEMA_VERSION:
        raise PlanError(
            f"{source}: schema_version is {version!r}; this build of planner_app reads plan "
            f"schema_version {PLAN_SCHEMA_VERSION}. Re-export the plan with this version."
        )
    problems = _schema_problems(data)
    if problems:
        raise PlanError(f"{source}: does not match the plan schema ({len(problems)} problem{'s' if len(problems) != 1 else ''})", problems=problems)
    try:
        plan = DeploymentPlan.model_validate(data)
    except ValidationError as exc:
        problems = [Problem(_where(e.get("loc", ())), e.get("msg", "invalid")) for e in exc.errors()]
        raise PlanError(f"{source}: {len(problems)} invalid fields", problems=problems) from None
    problems = plan.consistency_problems()
    if problems:
        raise PlanError(f"{source}: the plan contradicts itself", problems=problems)
    return plan


def load_plan(path: str | os.PathLike[str]) -> DeploymentPlan:
    """Read and validate a plan file (not its parts: see :func:`validate_plan`)."""
    return plan_from_dict(read_json(path, "plan file"), f"plan file '{path}'")


def plan_to_json(plan: DeploymentPlan) -> dict[str, Any]:
    """The JSON-ready document, keys in record order (stable across runs)."""
    return plan.model_dump(mode="json")


def has_parts(plan: DeploymentPlan) -> bool:
    """True when the plan's stages come with runnable part files (an ONNX model's plan)."""
    return bool(plan.stages) and all(s.artifact is not None for s in plan.stages)
