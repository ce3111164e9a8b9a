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
    "CI_CONFIDENCE",
    "median_ci",
    "profile_disagreements",
    "level_disagreement",
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


#: confidence of the intervals profiles report around their medians
CI_CONFIDENCE = 0.95


def median_ci(values: list[float] | tuple[float, ...], confidence: float = CI_CONFIDENCE) -> tuple[float, float]:
    """A distribution-free confidence interval of the median: two order statistics.

    The number of runs below the true median is Binomial(n, 1/2), so
    ``[x_(j), x_(n-j+1)]`` covers the median with probability at least
    ``confidence`` for the largest such ``j`` (no assumption about the shape of
    the timing distribution, which is skewed by preemption). Fewer than 6 values
    cannot reach 95 %: the interval is then the whole range (min, max).

    >>> median_ci([float(x) for x in range(1, 21)])
    (6.0, 15.0)
    """
    xs = sorted(float(v) for v in values)
    n = len(xs)
    if n == 0:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2
    cdf, j = 0.0, 0
    # P(Binomial(n, 1/2) <= k) for k = 0, 1, ...: j is the largest rank with tail <= alpha
    for k in range(n):
        cdf += math.comb(n, k) / 2.0**n
        if cdf > alpha:
            break
        j = k + 1
    if j == 0:
        return xs[0], xs[-1]
    return xs[j - 1], xs[n - j]


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
    #: stop timing early once the 95 % interval of the median is within this share of the
    #: median on each side (0: always time ``runs`` runs, as bounded by ``max_seconds``)
    ci_target: float = 0.0
    #: never stop early before this many timed runs
    min_runs: int = 3
    #: 'auto': the calling thread's CPU time when threads == 1 (onnxruntime then computes in
    #: that thread), so other processes on a busy machine do not inflate the figures; else wall
    clock: str = "auto"

    def key(self) -> dict[str, Any]:
        return asdict(self)

    def uses_cpu_clock(self) -> bool:
        """True when latencies are the calling thread's CPU time (a dedicated core's view)."""
        return self.clock == "thread-cpu" or (self.clock == "auto" and self.threads == 1)

    def clock_name(self) -> str:
        """'thread-cpu' or 'wall': what the profile's latencies measure."""
        return "thread-cpu" if self.uses_cpu_clock() else "wall"

    def session_options(self) -> str:
        """The onnxruntime session options timed, as the agent's ``infer`` opens them too."""
        return (f"{self.execution_provider}, {self.threads} intra-op thread(s), 1 inter-op, sequential, "
                f"graph optimization {self.graph_optimization}")


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
    #: 95 % confidence interval of latency_ms_median (order statistics of the timed runs)
    latency_ms_ci_low: float = math.nan
    latency_ms_ci_high: float = math.nan
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

    def ci_relative(self) -> tuple[float, float]:
        """The interval of the median as shares of it: (below, above), e.g. (0.012, 0.018); nan if unknown."""
        m = self.latency_ms_median
        if not (m > 0 and math.isfinite(self.latency_ms_ci_low) and math.isfinite(self.latency_ms_ci_high)):
            return math.nan, math.nan
        return max(0.0, (m - self.latency_ms_ci_low) / m), max(0.0, (self.latency_ms_ci_high - m) / m)

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
    #: the inputs fidelity was measured on (held out from calibration)
    fidelity_samples: str = ""
    #: ms each extra part adds, calibrated from chained runs of the fp32 model cut into
    #: 1, 2, 4, ... parts (None: not measured); its 95 % interval; how it was measured
    part_overhead_ms: float | None = None
    part_overhead_ci_ms: list[float] = field(default_factory=list)
    part_overhead_method: str = ""
    #: what the profiling noticed (a disagreement with an earlier profile of this model)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "model_name": self.model_name,
            "model_sha256": self.model_sha256,
            "input_shapes": self.input_shapes,
            "host": asdict(self.host),
            "settings": asdict(self.settings),
            "samples": self.samples,
            "fidelity_samples": self.fidelity_samples,
            "part_overhead_ms": self.part_overhead_ms,
            "part_overhead_ci_ms": list(self.part_overhead_ci_ms),
            "part_overhead_method": self.part_overhead_method,
            "notes": list(self.notes),
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
            fidelity_samples=d.get("fidelity_samples", ""),
            part_overhead_ms=d.get("part_overhead_ms"),
            part_overhead_ci_ms=list(d.get("part_overhead_ci_ms") or []),
            part_overhead_method=d.get("part_overhead_method", ""),
            notes=list(d.get("notes") or []),
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
        po = self.part_overhead_ms
        if po is not None and not (math.isfinite(po) and po >= 0):
            out.append(f"part_overhead_ms: {po} is not a time (a finite number >= 0)")
        for key, c in self.cut_codecs.items():
            if not 0 < c.wire_ratio <= 1 or c.encode_ms_per_mb < 0 or c.decode_ms_per_mb < 0 \
                    or not 0 <= c.fidelity <= 1:
                out.append(f"cut_codecs.{key}: wire_ratio must be in (0, 1], times >= 0, fidelity in [0, 1]")
        return out


def profile_disagreements(a: ModelProfile, b: ModelProfile, *, floor: float = 0.02) -> list[str]:
    """Where two profiles of the same model on the same host disagree beyond their noise.

    A level disagrees when the 95 % intervals of the two medians do not overlap and the
    medians differ by more than ``floor`` (a share): two honest measurements of the same
    thing should overlap. Profiles in different clocks, or of another model, input shapes
    or host, are not comparable and say so.
    """
    if (a.model_sha256, a.input_shapes) != (b.model_sha256, b.input_shapes):
        return [f"not comparable: {a.model_name} {a.input_shapes} vs {b.model_name} {b.input_shapes}"]
    if a.host.fingerprint != b.host.fingerprint or a.settings.clock_name() != b.settings.clock_name():
        return ["not comparable: measured on another host or in another clock"]
    out = []
    for level, la in a.levels.items():
        lb = b.levels.get(level)
        if lb is None or not (la.applicable and lb.applicable):
            continue
        msg = level_disagreement(la, lb, floor=floor)
        if msg:
            out.append(f"{level}: {msg}")
    return out


def level_disagreement(a: LevelProfile, b: LevelProfile, *, floor: float = 0.02) -> str | None:
    """Why two measurements of one level disagree beyond noise (see :func:`profile_disagreements`), or None."""
    ma, mb = a.latency_ms_median, b.latency_ms_median
    if not (ma > 0 and mb > 0):
        return None
    rel = abs(ma - mb) / min(ma, mb)
    lo_a, hi_a = (a.latency_ms_ci_low, a.latency_ms_ci_high) if math.isfinite(a.latency_ms_ci_low) else (ma, ma)
    lo_b, hi_b = (b.latency_ms_ci_low, b.latency_ms_ci_high) if math.isfinite(b.latency_ms_ci_low) else (mb, mb)
    overlap = lo_a <= hi_b and lo_b <= hi_a
    if overlap or rel <= floor:
        return None
    return (f"median {ma:.3f} ms [{lo_a:.3f}, {hi_a:.3f}] vs {mb:.3f} ms [{lo_b:.3f}, {hi_b:.3f}] "
            f"({100 * rel:.1f} % apart, 95 % intervals do not overlap)")
