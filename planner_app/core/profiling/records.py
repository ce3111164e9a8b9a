"""The records a profile is made of, and their JSON form.

:class:`HostInfo` (the machine that measured), :class:`ProfileSettings` (how),
:class:`LevelProfile` (what one compression level measured) and
:class:`ModelProfile` (all levels of one model, saved and loaded as JSON).
:mod:`profiling` measures them and re-exports every name here.

Example
-------
>>> ProfileSettings().uses_cpu_clock()
True
"""

from __future__ import annotations

__all__ = [
    "PROFILE_FORMAT",
    "ProfileError",
    "ProfileInterrupted",
    "HostInfo",
    "ProfileSettings",
    "LevelProfile",
    "ModelProfile",
]

import math
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from planner_app.core.compression.cut_codecs import CutCodec
from planner_app.core.compression.fidelity import Fidelity
from planner_app.core.errors import PlannerError, Problem
from planner_app.core.fileio import atomic_write_json, read_json
from planner_app.core.profiling import cache as profile_cache
from planner_app.core.progress import Cancelled

PROFILE_FORMAT = 1


class ProfileError(PlannerError):
    """A profile file is wrong (missing field, another model) or a level cannot be measured."""


class ProfileInterrupted(Cancelled):
    """Profiling stopped early (Ctrl-C or cancel); ``partial`` holds the finished levels."""

    def __init__(self, message: str, partial: ModelProfile) -> None:
        super().__init__(message)
        self.partial = partial


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if ":" in line:
                    key, _, value = line.partition(":")
                    info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


@dataclass
class HostInfo:
    """The machine that measured: what the cache key and the device model need."""

    cpu_model: str
    cores: int
    onnxruntime_version: str
    platform: str
    machine: str = ""
    simd: str = ""
    cpu_mhz: float = 0.0
    fingerprint: str = ""

    @classmethod
    def detect(cls) -> HostInfo:
        """Describe this host (CPU model, cores, SIMD width, onnxruntime version)."""
        import onnxruntime as ort

        info = _cpuinfo()
        flags = set(info.get("flags", info.get("Features", "")).split())
        simd = (
            "avx512" if "avx512f" in flags else "avx2" if {"avx2", "fma"} <= flags
            else "neon" if ("asimd" in flags or platform.machine() in ("arm64", "aarch64")) else "sse"
        )
        try:
            mhz = float(info.get("cpu MHz", 0.0))
        except ValueError:
            mhz = 0.0
        host = cls(
            cpu_model=info.get("model name") or platform.processor() or platform.machine(),
            cores=os.cpu_count() or 1,
            onnxruntime_version=ort.__version__,
            platform=platform.platform(),
            machine=platform.machine(),
            simd=simd,
            cpu_mhz=mhz,
        )
        host.fingerprint = profile_cache.digest(
            [host.cpu_model, host.cores, host.onnxruntime_version, host.machine, host.simd, platform.system()]
        )[:16]
        return host

    def peak_gflops_fp32_per_core(self) -> float:
        """Theoretical fp32 peak of one core: FLOPs per cycle of the SIMD unit × clock."""
        flops_per_cycle = {"avx512": 64, "avx2": 32, "neon": 16, "sse": 8}.get(self.simd, 8)
        ghz = self.cpu_mhz / 1000 if self.cpu_mhz > 0 else 2.5
        return flops_per_cycle * ghz


@dataclass
class ProfileSettings:
    """How a profile is measured; every field is part of the cache key.

    One thread by default: timings are reproducible and match what a single-core
    edge device sees. ``graph_optimization='all'`` is what a deployment runs (int8
    kernels only appear after fusion); attribution survives the fusions through
    :class:`UnitMapper` and the optimized graph onnxruntime writes out.
    """

    threads: int = 1
    execution_provider: str = "CPUExecutionProvider"
    graph_optimization: str = "all"
    warmup: int = 3
    runs: int = 30
    max_seconds: float = 20.0
    fidelity_samples: int = 8
    #: 'auto': the calling thread's CPU time when threads == 1 (onnxruntime then computes in
    #: that thread), so other processes on a busy machine do not inflate the figures; else wall
    clock: str = "auto"

    def key(self) -> dict[str, Any]:
        return asdict(self)

    def uses_cpu_clock(self) -> bool:
        """True when latencies are the calling thread's CPU time (a dedicated core's view)."""
        return self.clock == "thread-cpu" or (self.clock == "auto" and self.threads == 1)


@dataclass
class LevelProfile:
    """What one level measured on this host (or why it does not apply)."""

    level: str
    applicable: bool
    reason: str = ""
    size_bytes: int = 0
    stored_size_bytes: int = 0
    latency_ms_median: float = math.nan
    latency_ms_p90: float = math.nan
    latency_ms_min: float = math.nan
    latency_cv: float = math.nan
    unit_ms: list[float] = field(default_factory=list)
    overhead_ms: float = 0.0
    #: share of a profiled run the nodes explain (kernels + their dispatch gaps)
    attributed_share: float = 0.0
    #: share of a profiled run inside kernels alone
    kernel_share: float = 0.0
    profiled_latency_ms_median: float = math.nan
    unit_param_bytes: list[int] = field(default_factory=list)
    fidelity: Fidelity | None = None
    provenance: str = "measured-local"
    #: what latency_ms_* measure: 'thread-cpu' (a dedicated core) or 'wall'
    clock: str = "wall"
    #: plain whole-run wall time, whatever the clock (differs from the median on a busy host)
    wall_ms_median: float = math.nan
    runs: int = 0
    calibration: str = ""
    unmapped_ms: float = 0.0
    #: per runtime node (names after onnxruntime's fusions), scaled like unit_ms
    node_ms: dict[str, float] = field(default_factory=dict)
    #: the unit each runtime node was attributed to (None: unmapped)
    node_unit: dict[str, int | None] = field(default_factory=dict)

    @property
    def profiling_overhead(self) -> float:
        """Profiled run / plain run (median wall times)."""
        plain = self.wall_ms_median if self.wall_ms_median == self.wall_ms_median else self.latency_ms_median
        return self.profiled_latency_ms_median / plain if plain else math.nan

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fidelity"] = self.fidelity.to_dict() if self.fidelity else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LevelProfile:
        d = dict(d)
        fid = d.pop("fidelity", None)
        lp = cls(**d)
        lp.fidelity = Fidelity.from_dict(fid) if fid else None
        return lp


@dataclass
class ModelProfile:
    """Every level of one model measured on one host with one set of settings."""

    model_name: str
    model_sha256: str
    input_shapes: dict[str, list[int]]
    host: HostInfo
    settings: ProfileSettings
    levels: dict[str, LevelProfile] = field(default_factory=dict)
    cut_codecs: dict[str, CutCodec] = field(default_factory=dict)
    unit_names: list[str] = field(default_factory=list)
    samples: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "model_name": self.model_name,
            "model_sha256": self.model_sha256,
            "input_shapes": self.input_shapes,
            "host": asdict(self.host),
            "settings": asdict(self.settings),
            "samples": self.samples,
            "unit_names": self.unit_names,
            "levels": {k: v.to_dict() for k, v in self.levels.items()},
            "cut_codecs": {k: asdict(v) for k, v in self.cut_codecs.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelProfile:
        return cls(
            model_name=d["model_name"],
            model_sha256=d["model_sha256"],
            input_shapes={k: list(v) for k, v in d["input_shapes"].items()},
            host=HostInfo(**d["host"]),
            settings=ProfileSettings(**d["settings"]),
            levels={k: LevelProfile.from_dict(v) for k, v in d["levels"].items()},
            cut_codecs={k: CutCodec(**v) for k, v in d.get("cut_codecs", {}).items()},
            unit_names=list(d.get("unit_names", [])),
            samples=d.get("samples", ""),
        )

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON, atomically."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> ModelProfile:
        """Read a profile written by :meth:`save`; a wrong file raises :class:`ProfileError`."""
        data = read_json(path, "profile")
        if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
            raise ProfileError(
                f"profile '{path}' is not a planner profile (format {PROFILE_FORMAT}): "
                "write one with `edgeplan model profile MODEL --out FILE`."
            )
        try:
            profile = cls.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProfileError(f"profile '{path}' is missing or has a bad field ({exc}): profile the model again.") from None
        problems = profile.problems()
        if problems:
            raise ProfileError(f"profile '{path}' has bad fields: profile the model again, or fix them:",
                               problems=[Problem(*p.split(": ", 1)) if ": " in p else Problem("", p)
                                         for p in problems[:10]])
        return profile

    def problems(self) -> list[str]:
        """Fields of the wrong type, and figures that cannot be (negative times, units not matching)."""
        from planner_app.core.profiling.strict import type_problems

        out = type_problems(self)
        if out:
            return out
        for name, shape in self.input_shapes.items():
            if any(d < 1 for d in shape):
                out.append(f"input_shapes.{name}: {shape} has a dimension below 1")
        for key, lp in self.levels.items():
            where = f"levels.{key}"
            if lp.level != key:
                out.append(f"{where}.level: is {lp.level!r}, filed under {key!r}")
            if not lp.applicable:
                continue
            if self.unit_names and len(lp.unit_ms) != len(self.unit_names):
                out.append(f"{where}.unit_ms: {len(lp.unit_ms)} times for {len(self.unit_names)} units")
            numbers = [("latency_ms_median", lp.latency_ms_median), ("overhead_ms", lp.overhead_ms)]
            numbers += [(f"unit_ms[{i}]", v) for i, v in enumerate(lp.unit_ms)]
            out += [f"{where}.{n}: {v} is not a time (a finite number >= 0)" for n, v in numbers
                    if not (math.isfinite(v) and v >= 0)]
            if lp.size_bytes < 0:
                out.append(f"{where}.size_bytes: {lp.size_bytes} is negative")
        for key, c in self.cut_codecs.items():
            if not 0 < c.wire_ratio <= 1 or c.encode_ms_per_mb < 0 or c.decode_ms_per_mb < 0 \
                    or not 0 <= c.fidelity <= 1:
                out.append(f"cut_codecs.{key}: wire_ratio must be in (0, 1], times >= 0, fidelity in [0, 1]")
        return out
