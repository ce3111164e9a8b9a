"""Time of each unit on each device of a topology: measured where possible, else estimated.

For every device and level, :func:`build_time_table` takes, best first:

1. ``measured-agent``: a profile an agent measured on that device;
2. ``imported``: times measured elsewhere and imported from a file;
3. ``measured-local``: the host's own profile, when the device *is* this host;
4. ``estimated``: the host measurement of the unit scaled to the device (below).

Measured, imported and agent figures are used as they are. Estimates on a device
that has measurements at some level are *anchored* to them (see "Anchoring").

The estimate (a batch-1 roofline calibrated on the host)
--------------------------------------------------------
The host measures one request with ``ProfileSettings.threads`` threads (one by
default), so the host's reference is **one core**: its peak is SIMD FLOPs/cycle ×
clock of one core (:meth:`HostInfo.peak_gflops_fp32_per_core`; ``HostInfo.cores``,
the logical CPUs, is *not* the reference; with SMT we assume the measuring thread
had its core's SIMD units to itself), raised when a compute class measured above it
(the OS reported a clock below the turbo clock), and its memory bandwidth is what
one thread streams (``12 GB/s``, STREAM on a desktop/server core). For unit ``u``
at level ``l`` on device ``d``::

    t_d(u, l) = t_host(u, l') × k_d(u) / g_d(l)          (then bounds, floors and a ceiling)
    k_d(u)    = roof_d(u) / roof_host(u)
    roof_x(u) = max(FLOPs / rate_x(u), bytes / bandwidth_x(u))     (fp32 figures)

so the host's measured efficiency on that unit (kernel quality, cache effects,
per-node dispatch) is carried over and only the *usable* per-request throughput of
the hardware changes:

* **CPU devices.** A batch-1 request uses a few cores at best: ``rate = peak/cores
  × S(u)`` with the Amdahl speed-up ``S = 1 / ((1-p) + p/n)``, ``n = min(cores, 8)``
  and a parallel fraction that grows with the unit's work, ``p = 0.9 × F / (F +
  100 MFLOP)``: a 230 MFLOP ResNet conv gets ``p ≈ 0.63`` (×1.9 on 4 cores, ×2.2 on
  8), a 10 MFLOP MobileNet layer ``p ≈ 0.08`` (×1.06). These are conservative
  fits to onnxruntime's intra-op scaling at batch 1 (thread wake-up and
  synchronisation cost tens of µs per op; ResNet-class networks gain 2–3× from 4–8
  threads, depthwise/pointwise stacks and recurrent nets far less). Recurrent units
  (LSTM/GRU/RNN) use the work of *one time step* (a matrix-vector product that
  waits for the previous step), so they do not scale. Bandwidth: one thread
  streams ``min(bandwidth, 12 GB/s)``, a request ``min(bandwidth, that × S)``.
  ``peak/cores`` is the average core of a hybrid (big.LITTLE, P+E) CPU.
* **Accelerators** (GPU-class: a preset ``jetson-*``, ``aws-g4dn*``, ``aws-g5*``,
  ``gcp-g2*``, or more than 300 GFLOPS per CPU core, which no CPU core reaches): batch 1
  fills a small part of the chip. The host-scaled time uses at most 30 % of the
  fp32 peak and 60 % of the bandwidth (``k`` above with those rates), and is never
  below what the size of the work allows whatever the host reached: ``F / (peak ×
  0.30 × F/(F + 2 MFLOP))`` and ``B / (bandwidth × 0.6 × B/(B + 2 MB))`` (small ops
  fill few SMs: ≈30 % of peak for a 230 MFLOP conv, ≈4 % for a 0.3 MFLOP op; one
  LSTM step counts as one op). A **kernel-launch floor of 0.03 ms per unit** (plus
  0.005 ms per further time step of a recurrent unit) comes on top as a minimum.
  The result is in line with published batch-1 fp32 latencies (ResNet-18: ~2 ms on
  a T4, ~10 ms on an Orin Nano); the 30 % is the share of peak large batch-1 convs
  reach in cuDNN without TensorRT.
* **Floors and ceiling.** On a CPU a unit is never faster than ``min(2 µs, its host
  time)`` (a node dispatch); no unit runs above half the device's peak at its
  precision (or above one core's peak on a one-core CPU, where the host
  measurement already shows what a core reaches): batch-1 inference never fills a
  big device. Units the host measured at zero (folded away) stay zero.

Levels on a device
------------------
The ratio between levels on a device is the ratio the host measured for that unit,
adjusted by a bounded factor ``g_d(l)`` for what the device has and the host has
not: ``t_d(u,l)/t_d(u,fp32) = (t_host(u,l)/t_host(u,fp32)) / g_d(l)``. What decides
``g`` is the level record's ``precision`` (:mod:`~planner_app.core.compression.registry`),
never its name:

* int8 levels: ``g = sqrt(int8_speedup_d / int8_speedup_host)``, clamped to
  [0.5, 2]; the host's nominal int8 speed-up is 4 with AVX-512 (VNNI), else 2
  (AVX2 ``vpmaddubsw``, NEON). The square root because only the GEMM part of an
  int8 unit speeds up by the datasheet peak ratio (quantize/dequantize and memory
  traffic do not). A device without ``int8`` gets ``np.inf`` (no kernels).
* fp16 on a device with native fp16 (the host has none: its fp16 run is fp32 math
  plus casts): starts from the host's fp32 measurement with ``g = sqrt(fp16_speedup)``
  clamped to [1, 2]; a device without ``fp16`` does what the host did (casts
  included, weights half size), ``g = 1``.
* fp32 levels other than fp32 itself (pruned, variants, your own): the host's
  measured ratio, ``g = 1`` (a sparse speed-up is never assumed).

A level the profile did not measure per unit has the fp32 weights × its record's
``weight_size_factor`` as its weight bytes.

Anchoring
---------
When an agent or an imported file gives times on a device at some level (``fp32``
when present, else the first measured level), the estimates of every other level
on that device follow it: for a unit measured there, ``t = measured(u, l0) ×
est(u, l) / est(u, l0)`` (the host's level ratio, device-adjusted, scaled onto the
measurement); units it does not time are scaled by ``Σ measured / Σ est`` over the
units it does. Those figures stay ``estimated``.

Example
-------
>>> tt = build_time_table(mg, topo, profile)                  # doctest: +SKIP
>>> tt.time(0, "jetson", "fp16"), tt.provenance_of("jetson", "fp16")  # doctest: +SKIP
(1.7, 'estimated')
"""

from __future__ import annotations

__all__ = [
    "HostCalibration",
    "host_device_record",
    "calibrate_host",
    "op_class",
    "is_accelerator",
    "parallel_speedup",
    "build_time_table",
]

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from planner_app.core.compression.registry import get_level, is_known_level, level_names
from planner_app.core.errors import Problem
from planner_app.core.profiling.imported import ImportedTimes, ImportedTimesError
from planner_app.core.profiling.records import LevelProfile
from planner_app.core.profiling.runner import HostInfo, ModelProfile, ProfileError
from planner_app.core.profiling.timetable import TimeTable
from planner_app.core.topology.records import Device, DeviceKind, Precision, Tier, Topology

if TYPE_CHECKING:
    from planner_app.core.models.analysis import Unit
    from planner_app.core.models.graph import ModelGraph

_CONV_OPS = {"Conv", "ConvTranspose", "QLinearConv", "ConvInteger"}
_MATMUL_OPS = {"MatMul", "Gemm", "Attention", "LSTM", "GRU", "RNN", "Einsum", "MatMulInteger", "QGemm"}
_RECURRENT_OPS = {"LSTM", "GRU", "RNN"}

#: memory bandwidth one thread of a desktop/server core sustains (STREAM-like, GB/s)
_HOST_BW_PER_THREAD_GB_PER_S = 12.0

# --- batch-1 parallelism on CPUs (Amdahl), see the module docstring
#: parallel fraction of a very large conv/GEMM at batch 1
_PARALLEL_MAX = 0.9
#: FLOPs at which a unit reaches half of ``_PARALLEL_MAX``
_PARALLEL_HALF_FLOPS = 100e6
#: cores one request can use at all (more only add synchronisation)
_MAX_USEFUL_CORES = 8

# --- batch-1 efficiency of accelerators (GPU-class devices)
_ACCELERATOR_PRESETS = ("jetson-", "aws-g4dn", "aws-g5", "gcp-g2")
#: fp32 GFLOPS per CPU core above which a device is an accelerator: no CPU core reaches it
#: (2 × 512-bit FMA × ~4 GHz ≈ 256 GFLOPS; the Jetsons, 200-450 per core, are caught by preset)
_ACCELERATOR_GFLOPS_PER_CORE = 300.0
_GPU_EFFICIENCY_MAX = 0.30
_GPU_EFFICIENCY_HALF_FLOPS = 2e6
_GPU_BW_EFFICIENCY_MAX = 0.6
_GPU_BW_HALF_BYTES = 2e6
#: kernel launch + synchronisation per unit on a GPU, ms
_GPU_UNIT_FLOOR_MS = 0.03
#: each further time step of a recurrent unit on a GPU (one small kernel per step), ms
_GPU_STEP_FLOOR_MS = 0.005
#: dispatch of one node by onnxruntime on a CPU, ms
_CPU_UNIT_FLOOR_MS = 0.002
#: at batch 1 no unit runs above this share of a multi-core device's or accelerator's peak
_BATCH1_PEAK_SHARE = 0.5

# --- level ratios
#: bounds of the device-over-host adjustment of a level's speed-up
_LEVEL_FACTOR_BOUNDS = (0.5, 2.0)
_FP16_FACTOR_BOUNDS = (1.0, 2.0)
#: nominal int8/fp32 throughput of the host's SIMD (AVX-512 hosts have VNNI since 2019)
_HOST_NOMINAL_INT8 = {"avx512": 4.0, "avx2": 2.0, "neon": 2.0, "sse": 2.0}


def op_class(op_types: list[str] | tuple[str, ...]) -> str:
    """``conv``, ``matmul`` or ``memory`` (element-wise, pooling, normalization, shape ops)."""
    ops = set(op_types)
    if ops & _CONV_OPS:
        return "conv"
    if ops & _MATMUL_OPS:
        return "matmul"
    return "memory"


def is_accelerator(device: Device) -> bool:
    """True for GPU-class devices (batch-1 efficiency far below peak, a launch floor)."""
    preset = (device.preset or "").lower()
    if preset.startswith(_ACCELERATOR_PRESETS):
        return True
    return device.peak_gflops_fp32 / max(1, device.cpu_cores) > _ACCELERATOR_GFLOPS_PER_CORE


def parallel_speedup(flops: float, cores: int) -> float:
    """Amdahl speed-up of one batch-1 unit of ``flops`` on ``cores`` CPU cores."""
    n = max(1, min(int(cores), _MAX_USEFUL_CORES))
    if n == 1 or flops <= 0:
        return 1.0
    p = _PARALLEL_MAX * flops / (flops + _PARALLEL_HALF_FLOPS)
    return 1.0 / ((1.0 - p) + p / n)


@dataclass
class HostCalibration:
    """What the host achieved per operator class at fp32 (for display and checks)."""

    effective_gflops: dict[str, float] = field(default_factory=dict)
    effective_gb_per_s: dict[str, float] = field(default_factory=dict)
    share_of_peak: dict[str, float] = field(default_factory=dict)
    int8_speedup: float = 1.0


def _unit_bytes(mg: ModelGraph, unit: Unit) -> float:
    """Activation bytes a unit reads and writes (its non-weight inputs plus its outputs)."""
    tb = getattr(mg, "tensor_bytes", {}) or {}
    ins = sum(tb.get(t, 0) for t in getattr(unit, "inputs", []) or [])
    return float(ins + (getattr(unit, "output_bytes", 0) or 0))


def calibrate_host(mg: ModelGraph, profile: ModelProfile, host_device: Device) -> HostCalibration:
    """Effective GFLOPS and GB/s of the host per op class, and its measured int8 speed-up."""
    cal = HostCalibration()
    fp32 = profile.levels.get("fp32")
    if fp32 is None or not fp32.applicable or not fp32.unit_ms:
        return cal
    sums: dict[str, list[float]] = {}
    for unit, ms in zip(mg.units, fp32.unit_ms, strict=False):
        c = op_class(unit.op_types)
        s = sums.setdefault(c, [0.0, 0.0, 0.0])
        s[0] += float(unit.flops or 0)
        s[1] += _unit_bytes(mg, unit) + float(unit.param_bytes or 0)
        s[2] += ms
    for c, (flops, nbytes, ms) in sums.items():
        if ms <= 0:
            continue
        cal.effective_gflops[c] = flops / (ms * 1e6)
        cal.effective_gb_per_s[c] = nbytes / (ms * 1e6)
        cal.share_of_peak[c] = cal.effective_gflops[c] / host_device.peak_gflops_fp32
    # the host's int8 speed-up from an int8 level it measured; calibrated levels first: they run
    # int8 kernels without quantizing activations at run time, so they show the kernels' gain
    int8_levels = [lv for lv in profile.levels if is_known_level(lv) and get_level(lv).precision == "int8"]
    for level in sorted(int8_levels, key=lambda lv: not get_level(lv).needs_calibration):
        lp = profile.levels.get(level)
        if lp is None or not lp.applicable or len(lp.unit_ms) != len(fp32.unit_ms):
            continue
        idx = [i for i, u in enumerate(mg.units) if op_class(u.op_types) != "memory"]
        t32 = sum(fp32.unit_ms[i] for i in idx)
        t8 = sum(lp.unit_ms[i] for i in idx)
        if t32 > 0 and t8 > 0:
            cal.int8_speedup = max(0.25, t32 / t8)
            break
    return cal


def _host_threads(host: HostInfo, threads: int) -> int:
    """Cores the profile used: ``threads``, or every logical CPU when 0 (onnxruntime's default)."""
    return max(1, threads if threads > 0 else host.cores)


def host_device_record(
    host: HostInfo, threads: int = 1, *, int8_speedup: float | None = None, peak_gflops_fp32: float | None = None
) -> Device:
    """A :class:`Device` for this host as the profile used it (``threads`` cores).

    The fp32 peak is SIMD width × clock of one core × ``threads`` unless
    ``peak_gflops_fp32`` (a calibrated value) is given; ``int8_speedup`` defaults to
    the nominal int8/fp32 ratio of the host's SIMD.
    """
    n = _host_threads(host, threads)
    return Device(
        id="this-host",
        name=f"this host ({host.cpu_model})",
        kind=DeviceKind.edge_server,
        tier=Tier.edge,
        cpu_cores=n,
        peak_gflops_fp32=peak_gflops_fp32 or host.peak_gflops_fp32_per_core() * n,
        int8_speedup=int8_speedup or _HOST_NOMINAL_INT8.get(host.simd, 2.0),
        memory_mb=16384,
        memory_bandwidth_gb_per_s=_HOST_BW_PER_THREAD_GB_PER_S * n,
        precisions=[Precision.fp32, Precision.int8],
    )


def _recurrent_steps(mg: ModelGraph, unit: Unit) -> int:
    """Time steps of a recurrent unit (longest non-feature dim of its first 3-d input), else 1."""
    if not set(unit.op_types) & _RECURRENT_OPS:
        return 1
    shapes = getattr(mg, "tensor_shapes", {}) or {}
    for t in getattr(unit, "inputs", []) or []:
        shape = shapes.get(t)
        if shape and len(shape) >= 3:
            return max([1] + [int(d) for d in shape[:-1] if isinstance(d, int) and d > 0])
    return 1


def _cpu_request_s(device: Device, flops: np.ndarray, par_flops: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Seconds one batch-1 request spends on each unit on a CPU: the roofline of what it can use (fp32)."""
    peak = device.peak_gflops_fp32 * 1e9
    bw = device.memory_bandwidth_gb_per_s * 1e9
    speedup = np.asarray([parallel_speedup(f, device.cpu_cores) for f in par_flops])
    rate = peak / device.cpu_cores * speedup
    bw_eff = np.minimum(bw, min(bw, _HOST_BW_PER_THREAD_GB_PER_S * 1e9) * speedup)
    return np.maximum(flops / rate, nbytes / bw_eff)


def _device_scaling(
    device: Device, host_s: np.ndarray, flops: np.ndarray, par_flops: np.ndarray, nbytes: np.ndarray,
    steps: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit at fp32: ``k`` (device over host time of the host-measured work), an absolute
    lower bound in ms (small work cannot fill an accelerator) and the per-unit floor in ms."""
    n = len(flops)
    if not is_accelerator(device):
        dev_s = _cpu_request_s(device, flops, par_flops, nbytes)
        k = np.divide(dev_s, host_s, out=np.ones(n), where=host_s > 0)
        return k, np.zeros(n), np.full(n, _CPU_UNIT_FLOOR_MS)
    peak = device.peak_gflops_fp32 * 1e9
    bw = device.memory_bandwidth_gb_per_s * 1e9
    # the host's efficiency on the unit carried over, at most _GPU_EFFICIENCY_MAX of the peaks
    dev_s = np.maximum(flops / (peak * _GPU_EFFICIENCY_MAX), nbytes / (bw * _GPU_BW_EFFICIENCY_MAX))
    k = np.divide(dev_s, host_s, out=np.ones(n), where=host_s > 0)
    # what the size of the work allows, whatever the host reached: small ops fill few SMs
    eff = _GPU_EFFICIENCY_MAX * par_flops / (par_flops + _GPU_EFFICIENCY_HALF_FLOPS)
    bw_eff = _GPU_BW_EFFICIENCY_MAX * nbytes / (nbytes + _GPU_BW_HALF_BYTES)
    compute = np.divide(flops, peak * eff, out=np.zeros(n), where=eff > 0)
    memory = np.divide(nbytes, bw * bw_eff, out=np.zeros(n), where=bw_eff > 0)
    floor = _GPU_UNIT_FLOOR_MS + _GPU_STEP_FLOOR_MS * (steps - 1)
    return k, np.maximum(compute, memory) * 1e3, floor


def _effective_precision(device: Device, level: str) -> str | None:
    """The precision ``device`` computes ``level`` in; None when it cannot run it."""
    want = get_level(level).precision
    have = {Precision(p).value for p in device.precisions}
    if want == "int8":
        return "int8" if "int8" in have else None
    if want == "fp16":
        return "fp16" if "fp16" in have else "fp32"
    return "fp32"


def _level_factor(device: Device, host: Device, level: str) -> float:
    """``g``: how much more the device gains from ``level`` than the host did (bounded)."""
    prec = _effective_precision(device, level)
    if prec == "int8":
        lo, hi = _LEVEL_FACTOR_BOUNDS
        return min(hi, max(lo, math.sqrt(device.int8_speedup / host.int8_speedup)))
    if prec == "fp16" and get_level(level).precision == "fp16":
        lo, hi = _FP16_FACTOR_BOUNDS
        return min(hi, max(lo, math.sqrt(device.fp16_speedup)))
    return 1.0


def _level_param_bytes(mg: ModelGraph, lp: LevelProfile | None, level: str) -> np.ndarray:
    if lp is not None and lp.applicable and len(lp.unit_param_bytes) == len(mg.units):
        return np.asarray(lp.unit_param_bytes, dtype=float)
    base = np.asarray([float(u.param_bytes or 0) for u in mg.units])
    return base * get_level(level).weight_size_factor


def _check_imported_devices(imported: ImportedTimes, ids: list[str]) -> None:
    strangers = [d for d in imported.devices if d not in ids]
    if not strangers:
        return
    rows_of = getattr(imported, "device_rows", {}) or {}
    problems = [
        Problem(where, f"device '{d}' is not in the topology")
        for d in strangers for where in (rows_of.get(d) or ["(rows)"])
    ]
    raise ImportedTimesError(
        f"imported times '{imported.source}': {len(problems)} row(s) name devices the topology lacks "
        f"({', '.join(strangers)}; topology devices: {', '.join(ids)}): rename them in the file or add the devices:",
        problems=problems,
    )


def _estimate(
    dev: Device, host: Device, level: str, host_ms: np.ndarray, fp32_ms: np.ndarray | None,
    scaling: tuple[np.ndarray, np.ndarray, np.ndarray], flops: np.ndarray,
) -> np.ndarray:
    """The estimated column of ``dev`` at ``level`` from the host's times (see the module docstring)."""
    prec = _effective_precision(dev, level)
    if prec is None:
        return np.full(len(host_ms), np.inf)
    k, lower, floor = scaling
    base = host_ms
    if prec == "fp16" and fp32_ms is not None:
        base = fp32_ms  # native fp16 there; the host's fp16 run was fp32 math plus casts
    g = _level_factor(dev, host, level)
    col = np.maximum(base * k, lower) / g
    if is_accelerator(dev) or dev.cpu_cores > 1:
        col = np.maximum(col, flops / (dev.peak_gflops(prec) * 1e9 * _BATCH1_PEAK_SHARE) * 1e3)
    col = np.maximum(col, floor if is_accelerator(dev) else np.minimum(floor, base))
    return np.where(base > 0, col, 0.0)


def _bound_level_ratio(est: dict[str, np.ndarray], host_ms: dict[str, np.ndarray | None], dev: Device,
                       host: Device) -> None:
    """Raise a level's column where the device's whole-model speed-up over fp32 would exceed
    the host's measured one × ``g`` (per-unit attribution differs between levels)."""
    e32, h32 = est.get("fp32"), host_ms.get("fp32")
    if e32 is None or h32 is None or not np.all(np.isfinite(e32)):
        return
    for level, col in est.items():
        hl = host_ms.get(level)
        if level == "fp32" or hl is None or not np.all(np.isfinite(col)) or col.sum() <= 0:
            continue
        native_fp16 = get_level(level).precision == "fp16" and _effective_precision(dev, level) == "fp16"
        host_ratio = 1.0 if native_fp16 else float(hl.sum()) / float(h32.sum()) if h32.sum() > 0 else 1.0
        least = float(e32.sum()) * host_ratio / _level_factor(dev, host, level)
        if col.sum() < least:
            est[level] = col * (least / float(col.sum()))


def _anchor(est: dict[str, np.ndarray], measured: dict[str, np.ndarray], levels: list[str]) -> dict[str, np.ndarray]:
    """Estimates scaled onto what was measured on the device (see "Anchoring")."""
    given = {lv: m for lv, m in measured.items() if np.any(np.isfinite(m))}
    if not given:
        return est
    l0 = "fp32" if "fp32" in given else next(lv for lv in levels if lv in given)
    meas, base = given[l0], est[l0]
    anchored = np.isfinite(meas) & np.isfinite(base) & (base > 0)
    total = float(base[anchored].sum())
    scale = float(meas[anchored].sum()) / total if total > 0 else 1.0
    out = {}
    for lv, col in est.items():
        new = col * scale
        with np.errstate(invalid="ignore", divide="ignore"):
            per_unit = meas * col / base
        new[anchored] = per_unit[anchored]
        out[lv] = new
    return out


def build_time_table(
    mg: ModelGraph,
    topology: Topology,
    profile: ModelProfile,
    levels: list[str] | None = None,
    *,
    host_device: Device | None = None,
    imported: ImportedTimes | None = None,
    agent_profiles: dict[str, ModelProfile] | None = None,
) -> TimeTable:
    """The :class:`TimeTable` of ``mg`` on every device of ``topology``.

    ``levels`` defaults to every level in ``profile``; a level the profile lacks
    raises :class:`ProfileError`. ``host_device`` is a topology device that *is*
    this host (its times are the measurement itself); ``imported`` an
    :class:`~planner_app.core.profiling.imported.ImportedTimes`; ``agent_profiles`` maps
    device ids to profiles their agents measured.
    """
    if profile.model_sha256 != mg.sha256:
        raise ProfileError(
            f"the profile is of model {profile.model_name} (sha256 {profile.model_sha256[:12]}…), not of "
            f"{mg.name} (sha256 {mg.sha256[:12]}…): profile this model first."
        )
    levels = list(levels or profile.levels)
    missing = [lv for lv in levels if lv not in profile.levels]
    if missing:
        raise ProfileError(
            f"levels {missing} were not profiled (profiled: {sorted(profile.levels)}): "
            f"run `edgeplan model profile --levels {','.join(levels)}`."
        )
    unknown = [lv for lv in dict.fromkeys([*levels, *profile.levels]) if not is_known_level(lv)]
    if unknown:
        # the device model reads each level's precision and weight size from its record
        raise ProfileError(
            f"the profile has levels {unknown} that no compression level record describes (levels: "
            f"{', '.join(level_names(True))}): register them with register_level() first, or profile without them."
        )
    n_units = len(mg.units)
    devices = list(topology.devices)
    ids = [d.id for d in devices]
    if imported is not None:
        _check_imported_devices(imported, ids)
    threads = profile.settings.threads
    nominal = host_device_record(profile.host, threads)
    cal = calibrate_host(mg, profile, nominal)
    # a measured rate above the nominal peak means the clock read from the OS is below the
    # turbo clock: raise the peak so the host never looks faster than its own roofline
    best = max((cal.effective_gflops.get(c, 0.0) for c in ("conv", "matmul")), default=0.0) / nominal.cpu_cores
    host = host_device_record(
        profile.host, threads, peak_gflops_fp32=max(nominal.peak_gflops_fp32, best / 0.9 * nominal.cpu_cores)
    )
    ms = np.full((n_units, len(devices), len(levels)), np.inf)
    param_bytes = np.zeros((n_units, len(levels)))
    provenance: dict[tuple[str, str], str] = {}
    fidelity: dict[str, float] = {}
    act_bytes = np.asarray([_unit_bytes(mg, u) for u in mg.units])
    flops = np.asarray([float(u.flops or 0) for u in mg.units])
    steps = np.asarray([_recurrent_steps(mg, u) for u in mg.units], dtype=float)
    par_flops = flops / steps
    fp32_lp = profile.levels.get("fp32")
    fp32_ok = fp32_lp is not None and fp32_lp.applicable and len(fp32_lp.unit_ms) == n_units
    moved32 = _level_param_bytes(mg, fp32_lp, "fp32") + act_bytes
    fp32_ms = np.asarray(fp32_lp.unit_ms, dtype=float) if fp32_ok and fp32_lp is not None else None
    host_s = _cpu_request_s(host, flops, par_flops, moved32)
    host_ms: dict[str, np.ndarray | None] = {"fp32": fp32_ms}
    for li, level in enumerate(levels):
        lp = profile.levels[level]
        param_bytes[:, li] = _level_param_bytes(mg, lp, level)
        # a level that does not apply has np.inf times; 0.0 keeps the fidelity lookup total
        fidelity[level] = (lp.fidelity.score() if lp.fidelity else float(level == "fp32")) if lp.applicable else 0.0
        host_ms[level] = np.asarray(lp.unit_ms, dtype=float) if lp.applicable and len(lp.unit_ms) == n_units else None
    for di, dev in enumerate(devices):
        is_host = host_device is not None and dev.id == host_device.id
        scaling = _device_scaling(dev, host_s, flops, par_flops, moved32, steps)
        est: dict[str, np.ndarray] = {}
        prov: dict[str, str] = {}
        for level in dict.fromkeys(["fp32", *levels]):
            hm = host_ms.get(level)
            if hm is None:  # measured here as not applicable: only a measurement elsewhere says otherwise
                est[level], prov[level] = np.full(n_units, np.inf), "measured-local"
            elif is_host:
                est[level], prov[level] = hm.copy(), "measured-local"
            else:
                est[level], prov[level] = _estimate(dev, host, level, hm, fp32_ms, scaling, flops), "estimated"
        if not is_host:
            _bound_level_ratio(est, host_ms, dev, host)
        measured: dict[str, np.ndarray] = {}
        agent = (agent_profiles or {}).get(dev.id)
        for level in levels:
            alp = agent.levels.get(level) if agent is not None else None
            if alp is not None and alp.applicable and len(alp.unit_ms) == n_units:
                measured[level] = np.asarray(alp.unit_ms, dtype=float)
                prov[level] = "measured-agent"
                continue
            imp = imported.times_for(dev.id, level) if imported is not None else None
            if imp is not None:
                measured[level] = imp
                prov[level] = "imported"
        cols = _anchor(est, measured, levels)
        for li, level in enumerate(levels):
            col = est[level].copy() if prov[level] == "measured-local" else cols[level].copy()
            m = measured.get(level)
            if m is not None:
                given = np.isfinite(m)
                col[given] = m[given]
            ms[:, di, li] = col
            provenance[(dev.id, level)] = prov[level]
    return TimeTable(
        device_ids=ids, levels=levels, ms=ms, param_bytes=param_bytes,
        provenance=provenance, fidelity=fidelity, activation_bytes=act_bytes,
    )
