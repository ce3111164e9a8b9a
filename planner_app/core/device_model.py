"""Time of each unit on each device of a topology: measured where possible, else estimated.

For every device and level, :func:`build_time_table` takes, best first:

1. ``measured-agent``: a profile an agent measured on that device;
2. ``imported``: times measured elsewhere and imported from a file
   (units the file does not name are estimated);
3. ``measured-local``: the host's own profile, when the device *is* this host;
4. ``estimated``: the host measurement of the unit scaled by a roofline ratio.

The estimate for unit ``u`` at level ``l`` on device ``d`` is::

    t_d = t_host(u, l) × roofline_d(u, l) / roofline_host(u, l)
    roofline_x(u, l) = max(FLOPs / peak_gflops_x(precision), bytes_moved / bandwidth_x)

so the host's measured efficiency on that unit (kernel quality, cache effects) is
carried over and only the hardware peaks change; whether a unit is compute- or
memory-bound is decided per device from its FLOPs and bytes. The host is described by
a :class:`Device` record built from the detected CPU (SIMD width × clock per thread;
its int8 speed-up calibrated from the fp32 and int8 measurements of the compute
classes; its peak raised when a class measured above it, i.e. the OS reported a clock
below the turbo clock). Units the host measured at zero (folded away) stay zero. Not
modelled: a per-kernel launch floor on accelerators (tiny units on a GPU come out
optimistic) and multi-core scaling beyond the catalog's peak.

Precision rules, documented here because the optimizer relies on them:

* a device without ``int8`` gets ``np.inf`` at int8 levels (no kernels to run them);
* a device without ``fp16`` still runs an fp16 model (onnxruntime inserts casts, as
  on this host), at its fp32 peak: no speed-up, but the weights stay half size; its
  estimate starts from the host's fp16 measurement (casts included);
* a device with native ``fp16`` when the host has none: the estimate starts from the
  host's fp32 measurement (the math the host really did) and applies the device's
  fp16 roofline, since the host's cast overhead would not exist there;
* pruned levels and variants run at fp32 peak: a sparse speed-up is never assumed.

Example
-------
>>> tt = build_time_table(mg, topo, profile)                  # doctest: +SKIP
>>> tt.time(0, "jetson", "fp16"), tt.provenance_of("jetson", "fp16")  # doctest: +SKIP
(1.7, 'estimated')
"""

from __future__ import annotations

__all__ = ["HostCalibration", "host_device_record", "calibrate_host", "op_class", "build_time_table"]

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner_app.core.compression import level_precision
from planner_app.core.imported import ImportedTimesError
from planner_app.core.profiling import HostInfo, ModelProfile, ProfileError
from planner_app.core.timetable import TimeTable
from planner_app.core.topology import Device, DeviceKind, Precision, Tier

_CONV_OPS = {"Conv", "ConvTranspose", "QLinearConv", "ConvInteger"}
_MATMUL_OPS = {"MatMul", "Gemm", "Attention", "LSTM", "GRU", "RNN", "Einsum", "MatMulInteger", "QGemm"}

#: bytes of an activation value at each level (weights come from the measured model)
_ACTIVATION_SCALE = {"fp16": 0.5, "int8-static": 0.25}

#: memory bandwidth one thread of a desktop/server core sustains (STREAM-like, GB/s)
_HOST_BW_PER_THREAD_GB_PER_S = 12.0


def op_class(op_types: list[str] | tuple[str, ...]) -> str:
    """``conv``, ``matmul`` or ``memory`` (element-wise, pooling, normalization, shape ops)."""
    ops = set(op_types)
    if ops & _CONV_OPS:
        return "conv"
    if ops & _MATMUL_OPS:
        return "matmul"
    return "memory"


@dataclass
class HostCalibration:
    """What the host achieved per operator class at fp32 (for display and checks)."""

    effective_gflops: dict[str, float] = field(default_factory=dict)
    effective_gb_per_s: dict[str, float] = field(default_factory=dict)
    share_of_peak: dict[str, float] = field(default_factory=dict)
    int8_speedup: float = 1.0


def _unit_bytes(mg: Any, unit: Any) -> float:
    """Activation bytes a unit reads and writes (its non-weight inputs plus its outputs)."""
    tb = getattr(mg, "tensor_bytes", {}) or {}
    ins = sum(tb.get(t, 0) for t in getattr(unit, "inputs", []) or [])
    return float(ins + (getattr(unit, "output_bytes", 0) or 0))


def calibrate_host(mg: Any, profile: ModelProfile, host_device: Device) -> HostCalibration:
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
    for level in ("int8-static", "int8-dynamic"):
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


def host_device_record(
    host: HostInfo, threads: int = 1, *, int8_speedup: float = 2.0, peak_gflops_fp32: float | None = None
) -> Device:
    """A :class:`Device` for this host as the profile used it (``threads`` cores).

    The fp32 peak is SIMD width × clock per thread unless ``peak_gflops_fp32`` (a
    calibrated value) is given.
    """
    return Device(
        id="this-host",
        name=f"this host ({host.cpu_model})",
        kind=DeviceKind.edge_server,
        tier=Tier.edge,
        cpu_cores=max(1, threads),
        peak_gflops_fp32=peak_gflops_fp32 or host.peak_gflops_fp32_per_core() * max(1, threads),
        int8_speedup=int8_speedup,
        memory_mb=16384,
        memory_bandwidth_gb_per_s=_HOST_BW_PER_THREAD_GB_PER_S * max(1, threads),
        precisions=[Precision.fp32, Precision.int8],
    )


def _roofline_s(flops: float, nbytes: float, device: Device, precision: str) -> float:
    return max(flops / (device.peak_gflops(precision) * 1e9), nbytes / (device.memory_bandwidth_gb_per_s * 1e9))


def _effective_precision(device: Device, level: str) -> str | None:
    """The precision ``device`` computes ``level`` in; None when it cannot run it."""
    want = level_precision(level)
    have = {Precision(p).value for p in device.precisions}
    if want == "int8":
        return "int8" if "int8" in have else None
    if want == "fp16":
        return "fp16" if "fp16" in have else "fp32"
    return "fp32"


def _level_param_bytes(mg: Any, lp: Any, level: str) -> np.ndarray:
    if lp is not None and lp.applicable and len(lp.unit_param_bytes) == len(mg.units):
        return np.asarray(lp.unit_param_bytes, dtype=float)
    base = np.asarray([float(u.param_bytes or 0) for u in mg.units])
    return base * {"fp16": 0.5, "int8": 0.25}.get(level_precision(level), 1.0)


def build_time_table(
    mg: Any,
    topology: Any,
    profile: ModelProfile,
    levels: list[str] | None = None,
    *,
    host_device: Device | None = None,
    imported: Any | None = None,
    agent_profiles: dict[str, ModelProfile] | None = None,
) -> TimeTable:
    """The :class:`TimeTable` of ``mg`` on every device of ``topology``.

    ``levels`` defaults to every level in ``profile``; a level the profile lacks
    raises :class:`ProfileError`. ``host_device`` is a topology device that *is*
    this host (its times are the measurement itself); ``imported`` an
    :class:`~planner_app.core.imported.ImportedTimes`; ``agent_profiles`` maps
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
    n_units = len(mg.units)
    devices = list(topology.devices)
    ids = [d.id for d in devices]
    if imported is not None:
        strangers = [d for d in imported.devices if d not in ids]
        if strangers:
            raise ImportedTimesError(
                f"imported times '{imported.source}' name devices {strangers} that the topology lacks "
                f"(devices: {', '.join(ids)}): rename them in the file or add the devices."
            )
    nominal = host_device_record(profile.host, profile.settings.threads)
    cal = calibrate_host(mg, profile, nominal)
    # a measured rate above the nominal peak means the clock read from the OS is below the
    # turbo clock: raise the peak so the host never looks faster than its own roofline
    best = max((cal.effective_gflops.get(c, 0.0) for c in ("conv", "matmul")), default=0.0)
    host = host_device_record(
        profile.host, profile.settings.threads, int8_speedup=cal.int8_speedup,
        peak_gflops_fp32=max(nominal.peak_gflops_fp32, best / 0.9),
    )
    ms = np.full((n_units, len(devices), len(levels)), np.inf)
    param_bytes = np.zeros((n_units, len(levels)))
    provenance: dict[tuple[str, str], str] = {}
    fidelity: dict[str, float] = {}
    act_bytes = np.asarray([_unit_bytes(mg, u) for u in mg.units])
    flops = np.asarray([float(u.flops or 0) for u in mg.units])
    for li, level in enumerate(levels):
        lp = profile.levels[level]
        pbytes = _level_param_bytes(mg, lp, level)
        param_bytes[:, li] = pbytes
        # a level that does not apply has np.inf times; 0.0 keeps the fidelity lookup total
        fidelity[level] = (lp.fidelity.score() if lp.fidelity else float(level == "fp32")) if lp.applicable else 0.0
        moved = pbytes + act_bytes * _ACTIVATION_SCALE.get(level, 1.0)
        host_prec = _effective_precision(host, level) or "fp32"
        host_roof = np.asarray([_roofline_s(f, b, host, host_prec) for f, b in zip(flops, moved, strict=True)])
        host_ms = np.asarray(lp.unit_ms, dtype=float) if lp.applicable else None
        # Where the host lacks the level's precision natively (fp16 on most CPUs) its
        # measurement is fp32 math plus casts. A device with native support is better
        # estimated from the host's fp32 run; one without it does what the host did.
        native_base = None
        fp32_lp = profile.levels.get("fp32")
        if (host_ms is not None and level_precision(level) != host_prec and fp32_lp is not None
                and fp32_lp.applicable and len(fp32_lp.unit_ms) == n_units):
            moved32 = _level_param_bytes(mg, fp32_lp, "fp32") + act_bytes
            native_base = (
                np.asarray(fp32_lp.unit_ms, dtype=float),
                np.asarray([_roofline_s(f, b, host, "fp32") for f, b in zip(flops, moved32, strict=True)]),
            )
        for di, dev in enumerate(devices):
            agent = (agent_profiles or {}).get(dev.id)
            alp = agent.levels.get(level) if agent is not None else None
            if alp is not None and alp.applicable and len(alp.unit_ms) == n_units:
                ms[:, di, li] = alp.unit_ms
                provenance[(dev.id, level)] = "measured-agent"
                continue
            imp = imported.times_for(dev.id, level) if imported is not None else None
            if host_ms is not None and host_device is not None and dev.id == host_device.id:
                col, prov = host_ms.copy(), "measured-local"
            elif host_ms is None:
                # measured here as not applicable: only a file that timed it elsewhere says otherwise
                col, prov = np.full(n_units, np.inf), "measured-local"
            else:
                prec = _effective_precision(dev, level)
                col, prov = np.full(n_units, np.inf), "estimated"
                if prec is not None:
                    base_ms, base_roof = host_ms, host_roof
                    if native_base is not None and prec == level_precision(level):
                        base_ms, base_roof = native_base
                    dev_roof = np.asarray([_roofline_s(f, b, dev, prec) for f, b in zip(flops, moved, strict=True)])
                    ratio = np.divide(dev_roof, base_roof, out=np.ones_like(dev_roof), where=base_roof > 0)
                    col = base_ms * ratio
            if imp is not None:
                given = ~np.isnan(imp)
                col[given] = imp[given]
                prov = "imported"
            ms[:, di, li] = col
            provenance[(dev.id, level)] = prov
    return TimeTable(
        device_ids=ids, levels=levels, ms=ms, param_bytes=param_bytes,
        provenance=provenance, fidelity=fidelity, activation_bytes=act_bytes,
    )
