"""The planning problem and its decision: what the cost model and the optimizer share.

- :class:`ModelStructure`: the light view of a model the optimizer needs — units
  in topological order, their FLOPs and weights, and every tensor with its size,
  producer and consumers. Build it from a ``ModelGraph`` with
  :meth:`ModelStructure.from_model_graph`, or directly (tests, benchmarks).
- :class:`Constraints`: hard limits (latency SLO, $ per 1k requests, fidelity
  floor, memory, link/device capacity, privacy zone, pinned units).
- :class:`PlanningProblem`: topology + workload + model + time table + cut codecs
  + constraints + objective, with routes between every pair of candidate devices
  computed once.
- :class:`Placement`: the decision — a device and a compression level per unit,
  and one cut codec used on every message of the plan.

Execution model (what the cost model predicts, and what the exported chained
parts do): a *part* is a maximal run of consecutive units (topological order)
on one device at one level. Parts run one after another; at each boundary the
*cut set* — every tensor produced before the boundary and still needed after
it (skip connections included, graph outputs count as needed at the end) —
is sent from the previous station's device to the next one's when they differ.
The stations are the source device (holding the raw inputs), the parts in
order, and the workload's result device (receiving the graph outputs) — unless
the workload has no consumer (``Workload.results_stay``): then the results stay
on the last part's device and no message goes back.

Example
-------
>>> s = ModelStructure.chain([10.0, 20.0], [4000, 400], input_bytes=40000)
>>> s.cut_bytes.tolist()
[40000, 4000, 400]
"""

from __future__ import annotations

__all__ = [
    "OBJECTIVE_METRICS",
    "CONSTRAINT_ORDER",
    "TensorInfo",
    "ModelStructure",
    "Constraints",
    "PlanningProblem",
    "Placement",
    "ProblemError",
    "objective_weights",
    "PART_OVERHEAD_MS",
    "TIE_BREAKERS",
    "lex_better",
]

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, Protocol

import numpy as np

from planner_app.core.compression.cut_codecs import DEFAULT_CUT_CODECS, CutCodec
from planner_app.core.errors import Problem, ProblemError
from planner_app.core.models.structure import ModelStructure, TensorInfo
from planner_app.core.profiling.timetable import TimeTable
from planner_app.core.topology.records import Device, Route, Topology, Workload


def _scaled_structure(s: ModelStructure, factor: float) -> ModelStructure:
    """The same model with every tensor ``factor`` times as large (a batch of ``factor`` requests)."""
    tensors = [replace(t, size_bytes=int(round(t.size_bytes * factor))) for t in s.tensors]
    return ModelStructure(s.name, list(s.unit_names), s.flops * factor, s.param_bytes, tensors)


class Figures(Protocol):
    """What the objective reads of a prediction (cost_model.Prediction has it; the cost model
    imports this module, so this one names the figures instead of importing it)."""

    @property
    def latency_ms(self) -> float: ...
    @property
    def link_bytes_per_request(self) -> float: ...
    @property
    def parts(self) -> Sequence[object]: ...


#: objective name -> the Prediction figure it minimises
OBJECTIVE_METRICS: dict[str, str] = {
    "latency": "latency_ms",
    "throughput": "bottleneck_ms",  # 1000 / throughput_rps: minimising it maximises throughput
    "cost": "cost_usd_per_1k",
    "bandwidth": "link_bytes_per_request",
    "energy": "energy_mj_per_request",
}

#: fixed cost of running one part (one onnxruntime session call on its device), in ms, when the
#: problem gives none (``PlanningProblem.part_overhead_ms``; profiling measures it as
#: ``LevelProfile.overhead_ms``, typically 0.05-0.3 ms). Counted in latency and device busy time.
PART_OVERHEAD_MS = 0.1

#: what breaks ties of the objective, in order: latency, then bytes on links, then number of parts
TIE_BREAKERS = ("latency_ms", "link_bytes_per_request", "n_parts")

#: relative tolerance under which two figures count as equal when breaking ties
TIE_RTOL = 1e-9


def lex_better(a: Sequence[float], b: Sequence[float], rtol: float = TIE_RTOL) -> bool:
    """Key ``a`` is strictly better than ``b``: lexicographic, components equal within ``rtol``."""
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        tol = rtol * max(abs(x), abs(y)) if math.isfinite(x) and math.isfinite(y) else 0.0
        if x < y - tol:
            return True
        if x > y + tol:
            return False
    return False


#: the order in which constraints are added when looking for the one that fails first
CONSTRAINT_ORDER = ("runnable", "pinned", "stages", "privacy", "memory", "capacity", "fidelity", "slo", "cost")


def objective_weights(objective: str | Mapping[str, float]) -> dict[str, float]:
    """``'latency'`` or ``{'latency': 1, 'cost': 50}`` -> ``{metric name: weight}``.

    Weighted sums add raw figures (ms, USD per 1k, bytes, mJ): scale the weights
    to the units you mean.
    """
    if isinstance(objective, str):
        items = {objective: 1.0}
    else:
        items = dict(objective)
    out: dict[str, float] = {}
    for name, w in items.items():
        if name not in OBJECTIVE_METRICS:
            raise ProblemError(
                f"objective {name!r} is unknown; use one of {', '.join(OBJECTIVE_METRICS)} "
                "or a dict of them with weights"
            )
        if not (w >= 0 and math.isfinite(w)):
            raise ProblemError(f"objective weight for {name!r} is {w}; weights must be finite and >= 0")
        if w > 0:
            out[name] = float(w)
    if not out:
        raise ProblemError("the objective has no positive weight; give at least one")
    return out


@dataclass(frozen=True)
class Constraints:
    """Hard limits a plan must meet. ``None`` = no limit; booleans switch a check off."""

    slo_ms: float | None = None
    max_cost_usd_per_1k: float | None = None
    min_fidelity: float | None = None
    memory: bool = True
    #: utilization < 1 on every device and link direction at the workload's rate
    capacity: bool = True
    #: 'raw_input_in_zone': graph inputs (and ``private_tensors``) only travel inside the source's zone
    privacy: Literal["none", "raw_input_in_zone"] = "none"
    private_tensors: tuple[str, ...] = ()
    #: unit id -> device id
    pinned_units: Mapping[int, str] = field(default_factory=dict)
    #: pipeline mode: each device hosts at most this many contiguous stages (None = no limit);
    #: a stage is a maximal run of consecutive units on one device, whatever their levels
    max_stages_per_device: int | None = None

    def __post_init__(self) -> None:
        k = self.max_stages_per_device
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ProblemError(f"max_stages_per_device is {k!r}; give a whole number >= 1 (or None: no limit)")

    @classmethod
    def from_workload(cls, w: Workload, **overrides: Any) -> Constraints:
        """The limits a workload states (SLO, accuracy budget, privacy), with overrides."""
        base: dict[str, Any] = {
            "slo_ms": w.slo_ms,
            "min_fidelity": None if w.accuracy_budget_pct is None else 1.0 - w.accuracy_budget_pct / 100.0,
            "privacy": w.privacy,
            "private_tensors": tuple(w.private_tensors),
        }
        base.update(overrides)
        return cls(**base)

    def without(self, *kinds: str) -> Constraints:
        """A copy with the named constraint kinds (see ``CONSTRAINT_ORDER``) switched off."""
        changes: dict[str, Any] = {}
        for k in kinds:
            if k == "slo":
                changes["slo_ms"] = None
            elif k == "cost":
                changes["max_cost_usd_per_1k"] = None
            elif k == "fidelity":
                changes["min_fidelity"] = None
            elif k == "memory":
                changes["memory"] = False
            elif k == "capacity":
                changes["capacity"] = False
            elif k == "privacy":
                changes["privacy"] = "none"
                changes["private_tensors"] = ()
            elif k == "pinned":
                changes["pinned_units"] = {}
            elif k == "stages":
                changes["max_stages_per_device"] = None
        return replace(self, **changes)


@dataclass(frozen=True)
class Placement:
    """A device and a level per unit, and the cut codec of every message.

    One codec for all messages keeps the search small and matches how a
    deployment configures its transport; a plan without messages uses 'none'.
    """

    devices: tuple[str, ...]
    levels: tuple[str, ...]
    codec: str = "none"

    def __post_init__(self) -> None:
        object.__setattr__(self, "devices", tuple(self.devices))
        object.__setattr__(self, "levels", tuple(self.levels))
        if len(self.devices) != len(self.levels):
            raise ProblemError(f"placement has {len(self.devices)} devices but {len(self.levels)} levels")

    @classmethod
    def uniform(cls, n_units: int, device: str, level: str, codec: str = "none") -> Placement:
        """Every unit on one device at one level."""
        return cls((device,) * n_units, (level,) * n_units, codec)

    @classmethod
    def from_stages(cls, stages: Sequence[tuple[int, int, str, str]], codec: str = "none") -> Placement:
        """From ``[(start, end, device, level), ...]`` covering ``0..n`` in order (end exclusive)."""
        devices: list[str] = []
        levels: list[str] = []
        for start, end, dev, lvl in stages:
            if start != len(devices):
                raise ProblemError(f"stage starting at unit {start} leaves a gap or overlap (expected {len(devices)})")
            devices += [dev] * (end - start)
            levels += [lvl] * (end - start)
        return cls(tuple(devices), tuple(levels), codec)

    def stages(self) -> list[tuple[int, int, str]]:
        """Maximal runs ``(start, end, device)`` of units on one device (levels may change inside)."""
        out: list[tuple[int, int, str]] = []
        start = 0
        for i in range(1, len(self.devices) + 1):
            if i == len(self.devices) or self.devices[i] != self.devices[start]:
                out.append((start, i, self.devices[start]))
                start = i
        return out

    def stages_per_device(self) -> dict[str, int]:
        """How many stages (see :meth:`stages`) each used device hosts."""
        out: dict[str, int] = {}
        for _, _, d in self.stages():
            out[d] = out.get(d, 0) + 1
        return out

    def is_pipeline(self, max_stages_per_device: int = 1) -> bool:
        """Every device hosts at most ``max_stages_per_device`` contiguous stages."""
        return all(v <= max_stages_per_device for v in self.stages_per_device().values())

    def parts(self) -> list[tuple[int, int, str, str]]:
        """Maximal runs ``(start, end, device, level)`` (end exclusive), in order."""
        out: list[tuple[int, int, str, str]] = []
        start = 0
        for i in range(1, len(self.devices) + 1):
            if i == len(self.devices) or (self.devices[i], self.levels[i]) != (self.devices[start], self.levels[start]):
                out.append((start, i, self.devices[start], self.levels[start]))
                start = i
        return out

    def summary(self) -> str:
        """Short text, e.g. ``'cam[0-3] fp32 → cloud[4-9] int8 | codec fp16'``."""
        text = " → ".join(f"{d}[{s}-{e - 1}] {lv}" for s, e, d, lv in self.parts())
        return text + (f" | codec {self.codec}" if self.codec != "none" else "")

    def to_dict(self) -> dict[str, Any]:
        return {"devices": list(self.devices), "levels": list(self.levels), "codec": self.codec}


@dataclass
class PlanningProblem:
    """Everything a solver needs; build with :meth:`build` (routes are computed once).

    ``devices`` are the candidate devices (default: every device of the time
    table that the source reaches). ``levels`` are the allowed compression
    levels (default: all of the time table's). ``ms``/``param_bytes`` are the
    time table restricted to them, ``ms[u, d, l]``.
    """

    topology: Topology
    workload: Workload
    structure: ModelStructure
    time_table: TimeTable
    codecs: dict[str, CutCodec]
    constraints: Constraints
    objective: str | Mapping[str, float]
    devices: list[str]
    levels: list[str]
    routes: dict[tuple[str, str], Route]
    ms: np.ndarray
    param_bytes: np.ndarray
    activation_bytes: np.ndarray
    #: fixed ms of running one part (see ``PART_OVERHEAD_MS``, the default); e.g. from a profile
    part_overhead_ms: float | None = None
    #: factor applied to the source's times and tensor sizes to make them per batch (see ``build``)
    batch_scale: float = 1.0

    @classmethod
    def build(
        cls,
        topology: Topology,
        workload: Workload | str | None,
        structure: ModelStructure,
        time_table: TimeTable,
        *,
        codecs: Mapping[str, CutCodec] | Sequence[str] | None = None,
        constraints: Constraints | None = None,
        objective: str | Mapping[str, float] = "latency",
        candidate_devices: Sequence[str] | None = None,
        levels: Sequence[str] | None = None,
        part_overhead_ms: float | None = None,
        figures_batch_size: int | None = None,
    ) -> PlanningProblem:
        """Check the inputs fit together and pre-compute routes.

        ``codecs``: names from ``DEFAULT_CUT_CODECS`` or CutCodec records (default: all three).
        ``constraints``: default :meth:`Constraints.from_workload`.
        ``part_overhead_ms``: fixed ms per part (default ``PART_OVERHEAD_MS``).
        ``figures_batch_size``: the batch the time table's times and the model's tensor sizes
        were measured at. None (default): they are already per batch of the workload's
        ``batch_size`` (an ONNX model loaded with the batch in its input shapes, a layer table
        measured per batch). Else they are scaled linearly to the workload's batch (no batching
        speed-up assumed: a conservative estimate).

        Per request and per batch: one call of the model serves one batch of
        ``Workload.batch_size`` requests. Times, latency, tensor and link bytes, cost per 1k and
        energy are per call (per batch); the workload's ``rate_rps`` counts requests, so the
        problem's :attr:`rate_rps` (calls per second) is that divided by the batch, and a
        prediction's ``throughput_rps`` counts requests again. With a batch of 1 both agree.
        """
        if figures_batch_size is not None and not (isinstance(figures_batch_size, int) and figures_batch_size >= 1):
            raise ProblemError(f"figures_batch_size is {figures_batch_size!r}; give a whole number >= 1 (or None)")
        if part_overhead_ms is not None and not (part_overhead_ms >= 0 and math.isfinite(part_overhead_ms)):
            raise ProblemError(f"part_overhead_ms is {part_overhead_ms}; it must be finite and >= 0")
        if not isinstance(workload, Workload):
            workload = topology.workload(workload)
        objective_weights(objective)
        scale = 1.0 if figures_batch_size is None else workload.batch_size / figures_batch_size
        if scale != 1.0:
            structure = _scaled_structure(structure, scale)
        n = structure.n_units
        if time_table.n_units != n:
            raise ProblemError(
                f"the time table has {time_table.n_units} units but model {structure.name!r} has {n}: "
                "build the time table from the same model"
            )
        src = workload.source
        res = workload.result_device
        router = topology.router()
        payload = float(np.mean(structure.cut_bytes)) if len(structure.cut_bytes) else 0.0
        # routes from every station that may be needed, in one pass (one Dijkstra per bandwidth)
        known = {d.id for d in topology.devices}
        from_station = router.routes_from_many(
            [src, *(d for d in time_table.device_ids if d in known), res], payload)
        reach = from_station[src]
        if candidate_devices is None:
            devices = [d for d in time_table.device_ids if d in reach]
        else:
            devices = list(candidate_devices)
            problems = [Problem("candidate_devices", f"device {d!r} is not in the time table")
                        for d in devices if d not in time_table.device_ids]
            problems += [Problem("candidate_devices", f"device {d!r} is not reachable from source {src!r}")
                         for d in devices if d in time_table.device_ids and d not in reach]
            if problems:
                raise ProblemError("some candidate devices cannot be used", problems=problems)
        if not devices:
            raise ProblemError(
                f"no device can run model {structure.name!r} for workload {workload.name!r}: the time table "
                f"covers {', '.join(time_table.device_ids)} and source {src!r} reaches {', '.join(sorted(reach))}"
            )
        lv = list(time_table.levels) if levels is None else list(levels)
        bad = [x for x in lv if x not in time_table.levels]
        if bad or not lv:
            raise ProblemError(f"levels {bad or lv} are not in the time table (it has {', '.join(time_table.levels)})")
        if codecs is None:
            codec_map = dict(DEFAULT_CUT_CODECS)
        elif isinstance(codecs, Mapping):
            codec_map = dict(codecs)
        else:
            unknown = [c for c in codecs if c not in DEFAULT_CUT_CODECS]
            if unknown:
                raise ProblemError(f"unknown cut codecs {unknown}; known: {', '.join(DEFAULT_CUT_CODECS)}")
            codec_map = {c: DEFAULT_CUT_CODECS[c] for c in codecs}
        codec_map.setdefault("none", DEFAULT_CUT_CODECS["none"])
        stations = list(dict.fromkeys([src, *devices, res]))
        routes: dict[tuple[str, str], Route] = {}
        for a in stations:
            ra = from_station[a]
            for b in stations:
                if a != b and b in ra:
                    routes[(a, b)] = ra[b]
        missing = [d for d in devices if (d, res) not in routes and d != res and not workload.results_stay]
        if missing:
            raise ProblemError(
                f"result device {res!r} of workload {workload.name!r} is unreachable from {', '.join(missing)}; "
                "link it or drop those devices from the candidates"
            )
        cons = constraints if constraints is not None else Constraints.from_workload(workload)
        if cons.capacity and not workload.rate_stated:
            # utilization at a rate means nothing when the workload states none (1 req/s is assumed)
            cons = replace(cons, capacity=False)
        for u, d in cons.pinned_units.items():
            if not 0 <= int(u) < n:
                raise ProblemError(f"pinned unit {u} is outside 0..{n - 1}")
            if d not in devices:
                raise ProblemError(f"unit {u} is pinned to {d!r}, which is not a candidate device ({', '.join(devices)})")
        di = [time_table.device_index(d) for d in devices]
        li = [time_table.level_index(x) for x in lv]
        ms = time_table.ms[:, di, :][:, :, li] * scale
        pb = time_table.param_bytes[:, li]
        act = (np.asarray(time_table.activation_bytes, float) * scale if time_table.activation_bytes is not None
               else structure.activation_bytes)
        return cls(topology, workload, structure, time_table, codec_map, cons, objective,
                   devices, lv, routes, ms, pb, np.asarray(act, float), part_overhead_ms, scale)

    # -- derived views --------------------------------------------------------------
    @property
    def n_units(self) -> int:
        return self.structure.n_units

    @property
    def source(self) -> str:
        return self.workload.source

    @property
    def result_device(self) -> str:
        return self.workload.result_device

    @property
    def results_stay(self) -> bool:
        """The workload has no consumer: results stay where the last part runs (no message back)."""
        return bool(self.workload.results_stay)

    def result_station(self, last_device: str) -> str:
        """Where the results go after the last part, which runs on ``last_device``."""
        return last_device if self.workload.results_stay else self.workload.result_device

    @property
    def batch_size(self) -> int:
        """Requests one call of the model serves (``Workload.batch_size``)."""
        return int(self.workload.batch_size)

    @property
    def rate_rps(self) -> float:
        """Calls of the model per second: the workload's request rate over its batch size."""
        return float(self.workload.rate_rps) / self.batch_size

    @property
    def overhead_ms(self) -> float:
        """Fixed ms of one part: ``part_overhead_ms``, or ``PART_OVERHEAD_MS`` when not given."""
        return float(PART_OVERHEAD_MS if self.part_overhead_ms is None else self.part_overhead_ms)

    @property
    def weights(self) -> dict[str, float]:
        """``{objective name: weight}``."""
        return objective_weights(self.objective)

    def with_changes(self, **changes: Any) -> PlanningProblem:
        """A copy with some fields replaced (``constraints=..., objective=...``)."""
        if "objective" in changes:
            objective_weights(changes["objective"])
        return replace(self, **changes)

    def restricted(
        self,
        devices: Sequence[str] | None = None,
        levels: Sequence[str] | None = None,
        codecs: Sequence[str] | None = None,
    ) -> PlanningProblem:
        """The same problem over fewer candidate devices, levels or codecs (routes are kept)."""
        devs = list(self.devices if devices is None else devices)
        lv = list(self.levels if levels is None else levels)
        tt = self.time_table
        di = [tt.device_index(d) for d in devs]
        li = [tt.level_index(x) for x in lv]
        cmap = self.codecs if codecs is None else {c: self.codecs[c] for c in codecs}
        pins = {u: d for u, d in self.constraints.pinned_units.items()}
        if any(d not in devs for d in pins.values()):
            raise ProblemError("a pinned unit's device is not among the restricted devices")
        return replace(self, devices=devs, levels=lv, codecs=dict(cmap),
                       ms=tt.ms[:, di, :][:, :, li] * self.batch_scale, param_bytes=tt.param_bytes[:, li])

    def route(self, a: str, b: str) -> Route | None:
        """The route used for every message from ``a`` to ``b`` (None when a == b)."""
        if a == b:
            return None
        return self.routes[(a, b)]

    def level_fidelity(self, level: str) -> float:
        """Measured whole-model fidelity of a level (1.0 where not measured)."""
        return float(self.time_table.fidelity.get(level, 1.0))

    @cached_property
    def device_records(self) -> dict[str, Device]:
        """Device id -> record (a plain dict: faster than ``Topology.device`` in hot loops)."""
        return {d.id: d for d in self.topology.devices}

    def privacy_zone_devices(self) -> set[str] | None:
        """Devices private tensors may visit (None = no privacy constraint).

        The source's zone; a source in the public zone ('') keeps raw data on itself.
        """
        c = self.constraints
        if c.privacy != "raw_input_in_zone" and not c.private_tensors:
            return None
        zone = self.device_records[self.source].privacy_zone
        if not zone:
            return {self.source}
        return {d.id for d in self.topology.devices if d.privacy_zone == zone}

    def private_cut_mask(self) -> np.ndarray:
        """``mask[k]``: the cut set at boundary ``k`` holds a private tensor."""
        cached: np.ndarray | None = self.__dict__.get("_private_mask")
        if cached is not None:
            return cached
        self.__dict__["_private_mask"] = mask = self._private_cut_mask()
        return mask

    def _private_cut_mask(self) -> np.ndarray:
        c = self.constraints
        s = self.structure
        mask = np.zeros(s.n_units + 1, dtype=bool)
        if self.privacy_zone_devices() is None:
            return mask
        marked = set(c.private_tensors)
        for k, tis in enumerate(s.cut_tensors):
            for ti in tis:
                t = s.tensors[ti]
                if t.name in marked or (c.privacy == "raw_input_in_zone" and t.producer < 0):
                    mask[k] = True
                    break
        return mask

    def memory_limit_bytes(self, device: str) -> float:
        """Device RAM in bytes (``memory_mb`` MiB)."""
        return float(self.device_records[device].memory_mb) * 1024.0 * 1024.0

    def objective_value(self, prediction: Figures) -> float:
        """The scalar the solvers minimise, from a :class:`Prediction`."""
        return float(sum(w * getattr(prediction, OBJECTIVE_METRICS[k]) for k, w in self.weights.items()))

    def objective_key(self, prediction: Figures) -> tuple[float, float, float, float]:
        """What every solver minimises, lexicographically: the objective, then the tie-breakers.

        Among plans of equal objective (within ``TIE_RTOL``, see :func:`lex_better`) the one
        with the lowest latency wins, then the fewest bytes on links, then the fewest parts:
        a plan is never dominated by another plan with the same objective value.
        """
        return (self.objective_value(prediction), float(prediction.latency_ms),
                float(prediction.link_bytes_per_request), float(len(prediction.parts)))
