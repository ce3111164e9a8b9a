"""The options of each planning step, as frozen records.

Each step of :class:`~planner_app.core.planning.session.PlanningSession` takes one
of these. They are pydantic models with ``extra='forbid'``: a misspelt or
out-of-range option is an :class:`OptionsError` (exit code 2) that names the
field and what it accepts, never a ``TypeError`` deep inside a step.

Example
-------
>>> SolveOptions(solver="dp", pareto=True).pareto
True
>>> SolveOptions(paretto=True)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
planner_app.core.planning.options.OptionsError: solve option 'paretto': unknown option ...
"""

from __future__ import annotations

__all__ = [
    "OptionsError",
    "LoadOptions",
    "MeasureOptions",
    "PoseOptions",
    "SolveOptions",
    "ExportOptions",
]

import math
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from planner_app.core.compression.registry import is_known_level, level_names
from planner_app.core.errors import PlannerError
from planner_app.core.optimizer.problem import OBJECTIVE_METRICS
from planner_app.core.optimizer.registry import solver_choices
from planner_app.core.profiling import ModelProfile, ProfileSettings


class OptionsError(PlannerError):
    """An option of a planning step is unknown or out of range (exit code 2)."""


class _Options(BaseModel):
    """Base of every step's options: frozen, unknown keys refused, errors name the field."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    _step: ClassVar[str] = "planning"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise OptionsError(self._describe(exc)) from None

    @classmethod
    def _describe(cls, exc: ValidationError) -> str:
        by_field: dict[str, list[str]] = {}
        for err in exc.errors():
            loc = err["loc"]
            field = str(loc[0]) if loc else "(options)"
            if len(loc) > 1 and isinstance(loc[1], str) and loc[1].startswith("literal["):
                continue  # a union's "or the word 'workload'" branch: the number's message says more
            if err["type"] == "extra_forbidden":
                known = ", ".join(sorted(cls.model_fields))
                text = f"unknown option (the options are {known})"
            else:
                text = f"{str(err['msg']).removeprefix('Value error, ')} (got {err.get('input')!r})"
            by_field.setdefault(field, [])
            if text not in by_field[field]:
                by_field[field].append(text)
        parts = [f"{cls._step} option {field!r}: {'; '.join(texts)}" for field, texts in by_field.items()]
        return "; ".join(parts)


def _check_levels(levels: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if levels is None:
        return None
    bad = [lv for lv in levels if not is_known_level(lv)]
    if bad:
        raise ValueError(
            f"unknown compression level{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}: the levels are "
            f"{', '.join(level_names(True))}"
        )
    return tuple(dict.fromkeys(levels))


class LoadOptions(_Options):
    """What :meth:`PlanningSession.load_model` loads.

    ``model``: an ONNX file or ``sample:NAME`` (default: the workload's model
    field, relative to the topology file); ``shapes``: dynamic input dimensions
    (default: the workload's ``input_shapes``).
    """

    _step: ClassVar[str] = "load"
    model: str | Path | None = None
    shapes: dict[str, tuple[Annotated[int, Field(ge=0)], ...]] = Field(default_factory=dict)


class MeasureOptions(_Options):
    """Where the time table's figures come from: any mix of the sources below.

    ``profile``: a local profile, saved (``edgeplan model profile``) or in memory; without one
    the model is profiled on this host now when ``profile_now`` (few runs, see
    :data:`~planner_app.core.planning.session.QUICK_PROFILE`). ``imported``:
    per-unit times measured elsewhere (CSV/JSON). ``agent_profiles``: device id →
    a profile that device's agent measured. ``host_device``: the topology device
    that is this machine. With no local profile at all, only the measured
    (device, level) pairs can run; the others are marked not measured.
    """

    _step: ClassVar[str] = "measure"
    levels: tuple[str, ...] | None = None
    profile: Path | ModelProfile | None = None
    profile_now: bool = True
    settings: ProfileSettings | None = None
    imported: tuple[Path, ...] = ()
    agent_profiles: dict[str, Path | ModelProfile] = Field(default_factory=dict)
    host_device: str | None = None

    @field_validator("levels")
    @classmethod
    def _known_levels(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return _check_levels(v)


class PoseOptions(_Options):
    """The objective and the constraints.

    ``slo_ms`` and ``min_fidelity`` default to ``"workload"`` (the workload's own
    SLO and accuracy budget); a number replaces it, ``None`` removes the limit.

    ``objective``: one of ``latency``, ``throughput``, ``cost``, ``bandwidth``,
    ``energy``, or weights over them. ``levels``: compression levels the plan may
    use (default: every measured level). ``pinned_units``: unit id → device id.
    ``max_stages_per_device``: pipeline mode — each device hosts at most this many
    contiguous stages (1: a pipeline, the devices and their order chosen by the
    planner; ``auto`` then uses the pipeline DP); None: no such limit.
    """

    _step: ClassVar[str] = "pose"
    objective: str | dict[str, float] = "latency"
    slo_ms: Annotated[float, Field(gt=0)] | Literal["workload"] | None = "workload"
    max_cost_usd_per_1k: Annotated[float, Field(ge=0)] | None = None
    min_fidelity: Annotated[float, Field(ge=0, le=1)] | Literal["workload"] | None = "workload"
    levels: tuple[str, ...] | None = None
    pinned_units: dict[int, str] = Field(default_factory=dict)
    max_stages_per_device: Annotated[int, Field(ge=1, le=1024)] | None = None

    @field_validator("levels")
    @classmethod
    def _known_levels(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return _check_levels(v)

    @field_validator("objective")
    @classmethod
    def _check_objective(cls, v: str | dict[str, float]) -> str | dict[str, float]:
        names = list(OBJECTIVE_METRICS)
        keys = [v] if isinstance(v, str) else list(v)
        bad = [k for k in keys if k not in names]
        if bad:
            raise ValueError(f"unknown objective {', '.join(map(repr, bad))}: choose from {', '.join(names)}")
        if isinstance(v, dict) and not all(math.isfinite(w) and w >= 0 for w in v.values()):
            raise ValueError("objective weights must be finite and >= 0")
        return v


class SolveOptions(_Options):
    """How :meth:`PlanningSession.solve` searches: the solver (``auto`` picks), the Pareto front,
    and ``time_limit_s``, the seconds the solver may take (the MILP then states its proven gap)."""

    _step: ClassVar[str] = "solve"
    solver: str = "auto"
    pareto: bool = False
    baselines: bool = True
    time_limit_s: Annotated[float, Field(gt=0, le=86400)] | None = None

    @field_validator("solver")
    @classmethod
    def _check_solver(cls, v: str) -> str:
        if v not in solver_choices():
            raise ValueError(f"unknown solver {v!r}: choose from {', '.join(solver_choices())}")
        return v


class ExportOptions(_Options):
    """Where :meth:`PlanningSession.export` writes the plan (its parts go to ``parts/`` beside it)."""

    _step: ClassVar[str] = "export"
    out: Path
    fidelity_samples: Annotated[int, Field(ge=1, le=1024)] = 4
