"""The model seam: what planning needs of a model, whatever describes it.

A :class:`ModelSource` gives the planner a model's identity, its unit
structure (what the optimizer and the cost model read), its plan record, a
time table on a topology at some levels, and optionally a :class:`PartBuilder`
that cuts it into runnable, compressed parts. Planning, the cost model and the
plan schema only see this protocol.

:class:`OnnxModelSource` is the ONNX implementation: a loaded
:class:`~planner_app.core.models.graph.ModelGraph`, measured with onnxruntime on
this host (or from a saved profile), imported times and agent profiles, and the
device model for devices nobody measured; its parts are ONNX files. A model
described by a layer table is a second implementation with no part builder
(its plan then has no artifacts).

It lives in ``planning`` (not ``models``) because a source composes layers
below it: a model (``models``), its measurement (``profiling``) and its parts
(``plans``).
"""

from __future__ import annotations

__all__ = [
    "ModelSource",
    "PartBuilder",
    "Measured",
    "OnnxModelSource",
    "QUICK_PROFILE",
    "DEFAULT_LEVELS",
    "measured_part_overhead_ms",
    "part_overhead_provenance",
    "measurement_basis",
]

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from planner_app.core.compression import CutCodec
from planner_app.core.errors import PlannerError
from planner_app.core.models import ModelGraph, ModelStructure
from planner_app.core.optimizer.problem import PART_OVERHEAD_MS, Placement
from planner_app.core.planning.options import MeasureOptions
from planner_app.core.plans import BuiltParts, MeasurementBasis, ModelInfo, build_parts, model_info
from planner_app.core.profiling import (
    ImportedTimes,
    ModelProfile,
    ProfileError,
    ProfileSettings,
    TimeTable,
    build_time_table,
    load_imported_times,
    profile_model,
)
from planner_app.core.profiling.measured import NOT_MEASURED, time_table_from_measurements
from planner_app.core.progress import CancelToken, ProgressCallback, report
from planner_app.core.topology import Topology

#: levels measured when no profile is given and no levels are asked for
DEFAULT_LEVELS: tuple[str, ...] = ("fp32", "fp16", "int8-dynamic")

#: how a profile made on the fly is measured: runs until the 95 % interval of each median
#: is within 1 % of it (at least 12 runs, at most 60 or 5 s a level), so planning stays
#: interactive and two quick profiles agree; the clock and session options are the ones
#: the agent deploys with (one thread: the thread's CPU time, graph optimization on)
QUICK_PROFILE = ProfileSettings(warmup=3, runs=60, max_seconds=5.0, fidelity_samples=4, ci_target=0.01,
                                min_runs=12)


@dataclass(frozen=True)
class Measured:
    """What the measure step produced: the time table and what it rests on."""

    time_table: TimeTable
    #: cut codecs with their measured costs (None: the defaults)
    codecs: Mapping[str, CutCodec] | None = None
    #: the per-call overhead of one part, measured (None: the cost model's default)
    part_overhead_ms: float | None = None
    #: the local profile used, if any
    profile: ModelProfile | None = None
    profiled_now: bool = False
    notes: tuple[str, ...] = ()
    #: the clock and session of the times, and the per-part overhead with its provenance
    basis: MeasurementBasis | None = None
    #: per level, the local profile's 95 % interval of the median as shares (below, above)
    level_ci: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: the same per device an agent profiled
    device_level_ci: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)


class PartBuilder(Protocol):
    """Cuts a model along a placement into compressed, runnable parts, checked against the model."""

    def __call__(self, placement: Placement, *, fidelity_samples: int = 4,
                 cancel: CancelToken | None = None) -> BuiltParts: ...


@runtime_checkable
class ModelSource(Protocol):
    """What planning needs of a model (see the module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str:
        """The model as the user named it (a path, ``sample:NAME``, a table file)."""
        ...

    @property
    def sha256(self) -> str: ...

    @property
    def input_shapes(self) -> dict[str, list[int]]: ...

    def structure(self) -> ModelStructure: ...

    def model_info(self) -> ModelInfo: ...

    def measure(self, topology: Topology, options: MeasureOptions, *,
                progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> Measured:
        """A time table on every device of ``topology`` at ``options.levels``."""
        ...

    @property
    def part_builder(self) -> PartBuilder | None: ...


def measured_part_overhead_ms(profile: ModelProfile | None) -> float | None:
    """The per-part overhead the profile measured, or None to use the cost model's default.

    Two measurements bound it: what each extra part adds in chained runs of the model's
    parts (``ModelProfile.part_overhead_ms``: a call, its input binding and output copies,
    fusions lost across the cut), and the per-call time no kernel explains in a whole run
    at fp32 (``overhead_ms``, which the first part pays too). The cost model charges one
    figure per part, so it takes the larger: a one-part plan then predicts the whole
    model's measured time, and extra parts are never charged less than a call costs.
    Profiles without chained runs give the per-call time alone.
    """
    if profile is None:
        return None
    fp32 = profile.levels.get("fp32")
    per_call = float(fp32.overhead_ms or 0.0) if fp32 is not None and fp32.applicable else 0.0
    per_call = per_call if math.isfinite(per_call) and per_call > 0 else 0.0
    chained = profile.part_overhead_ms
    if chained is not None and math.isfinite(chained) and chained >= 0:
        return max(float(chained), per_call)
    return per_call or None


def part_overhead_provenance(profile: ModelProfile | None) -> str:
    """Where :func:`measured_part_overhead_ms` took its figure from (for the plan's provenance)."""
    if profile is not None and profile.part_overhead_ms is not None and math.isfinite(profile.part_overhead_ms):
        ci = profile.part_overhead_ci_ms
        where = f" (95 % interval {ci[0]:.3f}-{ci[1]:.3f} ms)" if len(ci) == 2 else ""
        fp32 = profile.levels.get("fp32")
        per_call = fp32.overhead_ms if fp32 is not None and fp32.applicable else 0.0
        return (f"measured-local: the larger of {profile.part_overhead_ms:.3f} ms per extra part from "
                f"{profile.part_overhead_method}{where}, and {per_call:.3f} ms per call no kernel explains in "
                "whole fp32 runs")
    if measured_part_overhead_ms(profile) is not None:
        return "measured-local: the per-call time no kernel explains in whole fp32 runs (no chained runs timed)"
    return "default: the cost model's per-part overhead (nothing measured it)"


@dataclass
class OnnxModelSource:
    """An ONNX model, measured with onnxruntime and the device model; its parts are ONNX files."""

    graph: ModelGraph
    given_as: str = ""
    _structure: ModelStructure | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def label(self) -> str:
        return self.given_as or (str(self.graph.path) if self.graph.path else self.graph.name)

    @property
    def sha256(self) -> str:
        return self.graph.sha256

    @property
    def input_shapes(self) -> dict[str, list[int]]:
        return {k: list(v) for k, v in self.graph.inputs.items()}

    def structure(self) -> ModelStructure:
        if self._structure is None:
            self._structure = ModelStructure.from_model_graph(self.graph)
        return self._structure

    def model_info(self) -> ModelInfo:
        return model_info(self.graph, self.label)

    @property
    def part_builder(self) -> PartBuilder:
        graph = self.graph

        def build(placement: Placement, *, fidelity_samples: int = 4,
                  cancel: CancelToken | None = None) -> BuiltParts:
            return build_parts(graph, placement, fidelity_samples=fidelity_samples, cancel=cancel)

        return build

    # -- measure --------------------------------------------------------------------
    def _load_profile(self, given: Path | ModelProfile) -> ModelProfile:
        if isinstance(given, ModelProfile):
            profile, path = given, f"(in memory, {given.model_name})"
        else:
            profile, path = ModelProfile.load(given), str(given)
        mg = self.graph
        if profile.model_sha256 != mg.sha256:
            raise ProfileError(
                f"profile '{path}' measured model {profile.model_name} (sha256 "
                f"{profile.model_sha256[:12]}…), not {mg.name} (sha256 {mg.sha256[:12]}…): profile this "
                "model with `edgeplan model profile`, or omit --profile to profile it now."
            )
        if profile.input_shapes and {k: list(v) for k, v in profile.input_shapes.items()} != mg.inputs:
            raise ProfileError(
                f"profile '{path}' was measured with input shapes {profile.input_shapes}, but the "
                f"workload runs {mg.inputs}: profile again with these shapes."
            )
        return profile

    def _agent_profiles(self, given: Mapping[str, Path | ModelProfile],
                        topology: Topology) -> dict[str, ModelProfile]:
        out: dict[str, ModelProfile] = {}
        for device_id, item in given.items():
            where = str(item) if isinstance(item, Path) else f"(in memory, {item.model_name})"
            if not topology.has_device(device_id):
                raise ProfileError(
                    f"agent profile '{where}' is for device {device_id!r}, which topology {topology.name!r} "
                    f"lacks: the devices are {', '.join(d.id for d in topology.devices)}."
                )
            prof = item if isinstance(item, ModelProfile) else ModelProfile.load(item)
            if prof.model_sha256 != self.graph.sha256:
                raise ProfileError(
                    f"agent profile '{where}' measured model {prof.model_name}, not {self.graph.name}: profile "
                    "this model on that device."
                )
            out[device_id] = prof
        return out

    def measure(self, topology: Topology, options: MeasureOptions, *,
                progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> Measured:
        """Local profile (saved or now), imported times and agent profiles, in any mix."""
        mg = self.graph
        notes: list[str] = []
        ids = [d.id for d in topology.devices]
        imported: ImportedTimes | None = None
        for path in options.imported:
            one = load_imported_times(path, mg, device_ids=ids)
            imported = one if imported is None else _merge_imported(imported, one)
            notes.append(f"times imported from '{path}' for {', '.join(one.devices)}")
        agents = self._agent_profiles(options.agent_profiles, topology)
        for device_id in agents:
            notes.append(f"times measured by the agent of {device_id!r}")
        host = topology.device(options.host_device) if options.host_device is not None else None
        if cancel is not None:
            cancel.raise_if_cancelled()

        profile: ModelProfile | None = None
        profiled_now = False
        if options.profile is not None:
            profile = self._load_profile(options.profile)
            usable = [lv for lv, lp in profile.levels.items() if lp.applicable]
            levels = list(options.levels) if options.levels else usable
            where = options.profile if isinstance(options.profile, Path) else f"(in memory, {profile.model_name})"
            notes.append(f"profile '{where}' used (levels {', '.join(levels)})")
        elif options.profile_now:
            levels = list(dict.fromkeys(["fp32", *(options.levels or DEFAULT_LEVELS)]))
            settings = options.settings or QUICK_PROFILE
            report(progress, 0.0, f"no profile given: profiling {mg.name} at {', '.join(levels)} on this host")
            profile = profile_model(mg, levels, settings=settings, progress=progress, cancel=cancel)
            profiled_now = True
            notes.append(_profile_note(profile, levels, settings))
            notes.extend(profile.notes)
        else:
            levels = list(options.levels or DEFAULT_LEVELS)
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(progress, 1.0, "building the time table (estimating devices not measured)")
        if profile is not None:
            tt = build_time_table(mg, topology, profile, levels, host_device=host, imported=imported,
                                  agent_profiles=agents or None)
            not_applicable = [lv for lv in levels if lv != "fp32" and lv not in tt.fidelity]
            if not_applicable:
                notes.append(f"levels {', '.join(not_applicable)} do not apply to {mg.name} on this host")
        else:
            if imported is None and not agents:
                raise PlannerError(
                    f"nothing to measure {mg.name} with: give a profile, imported times or agent profiles, "
                    "or let the model be profiled on this host now."
                )
            tt = time_table_from_measurements(self.structure(), ids, levels, imported=imported,
                                              agent_profiles=agents)
            missing = sorted({d for (d, _), p in tt.provenance.items() if p == NOT_MEASURED})
            if missing:
                notes.append(f"no local profile: {', '.join(missing)} run nothing at the levels no measurement "
                             "covers")
        codecs = dict(profile.cut_codecs) if profile is not None and profile.cut_codecs else None
        level_ci = {lv: lp.ci_relative() for lv, lp in (profile.levels.items() if profile else ()) if lp.applicable}
        device_ci = {dev: {lv: lp.ci_relative() for lv, lp in p.levels.items() if lp.applicable}
                     for dev, p in agents.items()}
        return Measured(tt, codecs, measured_part_overhead_ms(profile), profile, profiled_now, tuple(notes),
                        measurement_basis(profile, agents, imported is not None), level_ci, device_ci)


def measurement_basis(profile: ModelProfile | None, agents: Mapping[str, ModelProfile] | None = None,
                      imported: bool = False) -> MeasurementBasis:
    """What the plan states about its figures: their clock, session options and per-part overhead."""
    clocks = {p.settings.clock_name() for p in [profile, *(agents or {}).values()] if p is not None}
    if imported:
        clocks.add("unknown")
    clock = clocks.pop() if len(clocks) == 1 else "mixed" if clocks else "unknown"
    notes = {
        "thread-cpu": "times are the computing thread's CPU time with one thread: what a dedicated core takes; "
                      "on a shared device the wall time is longer by the share of the core others take",
        "wall": "times are wall clock on the measuring host, including what other processes took from it",
        "mixed": "times come from sources in different clocks (see the provenance of each device)",
        "unknown": "times come from files that do not state their clock",
    }
    measured = measured_part_overhead_ms(profile)
    oh = PART_OVERHEAD_MS if measured is None else measured
    # the interval is the chained figure's, when that is the figure used (not the per-call floor)
    ci = [float(c) for c in profile.part_overhead_ci_ms] if profile is not None and measured is not None \
        and profile.part_overhead_ms is not None and measured == profile.part_overhead_ms else []
    runs = {lv: lp.runs for lv, lp in profile.levels.items() if lp.applicable} if profile is not None else {}
    return MeasurementBasis(clock=clock, clock_note=notes[clock],
                            session_options=profile.settings.session_options() if profile is not None else "",
                            profile_runs=runs, part_overhead_ms=float(oh), part_overhead_ci_ms=ci,
                            part_overhead_provenance=part_overhead_provenance(profile))


def _profile_note(profile: ModelProfile, levels: list[str], settings: ProfileSettings) -> str:
    """What a profile made now measured: runs and the 95 % interval of each median, clock, session."""
    parts = []
    for lv in levels:
        lp = profile.levels.get(lv)
        if lp is None or not lp.applicable:
            continue
        below, above = lp.ci_relative()
        ci = f" ±{100 * max(below, above):.1f} %" if math.isfinite(below) else ""
        parts.append(f"{lv} {lp.latency_ms_median:.3f} ms{ci} ({lp.runs} runs)")
    return (f"profiled on this host now: {', '.join(parts)} (95 % interval of the median; "
            f"{settings.clock_name()} clock; {settings.session_options()}, as deployed)")


def _merge_imported(a: ImportedTimes, b: ImportedTimes) -> ImportedTimes:
    """Two imported files as one; the later file wins where both time a pair."""
    return ImportedTimes(source=f"{a.source}, {b.source}", n_units=a.n_units, times={**a.times, **b.times},
                         device_rows={**a.device_rows, **b.device_rows})
