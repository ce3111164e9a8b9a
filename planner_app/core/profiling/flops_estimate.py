"""Times of units nobody measured, from their FLOPs and bytes alone: a roofline from the device's peaks.

The device model (:mod:`~planner_app.core.profiling.device_model`) scales a
*host measurement* of each unit to a device. A model described only by a layer
table has no host measurement; when a device's type has no times in the table,
its time is this roofline, with the same batch-1 assumptions as the device model:

* CPU: ``max(F / (peak/cores × S(F)), B / min(bandwidth, 12 GB/s × S(F)))`` with
  the device model's Amdahl speed-up ``S`` (:func:`~planner_app.core.profiling.device_model.parallel_speedup`),
  and a floor of 2 µs per unit (a node dispatch);
* accelerator (:func:`~planner_app.core.profiling.device_model.is_accelerator`):
  ``max(F / (peak × 0.30 × F/(F + 2 MFLOP)), B / (bandwidth × 0.6 × B/(B + 2 MB)))``
  (small ops fill few SMs) plus a kernel-launch floor of 0.03 ms per unit.

``peak`` is the peak at the level's precision (fp16 only where the device has
native fp16, else fp32; int8 where it has int8 kernels, else the unit cannot run:
``inf``). ``F`` is the unit's FLOPs, ``B`` the bytes it moves (activations read and
written plus its weights at that precision). No efficiency a host measured is
carried over, so these figures are optimistic for small ops: measure where you can.

Example
-------
>>> from planner_app.core.topology import Device
>>> cpu = Device(id="pi", kind="edge_device", tier="edge", cpu_cores=4, peak_gflops_fp32=24,
...              memory_mb=4096, memory_bandwidth_gb_per_s=4)
>>> [round(float(x), 3) for x in roofline_ms(cpu, np.array([2e8]), np.array([1e6]), "fp32")]
[17.297]
"""

from __future__ import annotations

__all__ = ["roofline_ms"]

import numpy as np

from planner_app.core.profiling.device_model import is_accelerator, parallel_speedup
from planner_app.core.topology import Device

_CPU_BW_PER_THREAD = 12e9
_CPU_FLOOR_MS = 0.002
_GPU_EFF_MAX, _GPU_EFF_HALF_FLOPS = 0.30, 2e6
_GPU_BW_EFF_MAX, _GPU_BW_HALF_BYTES = 0.6, 2e6
_GPU_FLOOR_MS = 0.03


def roofline_ms(device: Device, flops: np.ndarray, nbytes: np.ndarray, precision: str) -> np.ndarray:
    """Milliseconds per request of each unit on ``device`` at ``precision`` (``inf``: cannot run it)."""
    flops = np.asarray(flops, dtype=float)
    nbytes = np.asarray(nbytes, dtype=float)
    have = {str(p.value if hasattr(p, "value") else p) for p in device.precisions}
    if precision == "int8" and "int8" not in have:
        return np.full(flops.shape, np.inf)
    effective = precision if precision in have else "fp32"
    peak = device.peak_gflops(effective) * 1e9
    bw = device.memory_bandwidth_gb_per_s * 1e9
    if not is_accelerator(device):
        speedup = np.asarray([parallel_speedup(float(f), device.cpu_cores) for f in flops])
        rate = peak / device.cpu_cores * speedup
        bw_eff = np.minimum(bw, min(bw, _CPU_BW_PER_THREAD) * speedup)
        seconds = np.maximum(flops / rate, nbytes / bw_eff)
        return np.asarray(np.maximum(seconds * 1e3, _CPU_FLOOR_MS), dtype=float)
    eff = _GPU_EFF_MAX * flops / (flops + _GPU_EFF_HALF_FLOPS)
    bw_eff = _GPU_BW_EFF_MAX * nbytes / (nbytes + _GPU_BW_HALF_BYTES)
    compute = np.divide(flops, peak * eff, out=np.zeros_like(flops), where=eff > 0)
    memory = np.divide(nbytes, bw * bw_eff, out=np.zeros_like(nbytes), where=bw_eff > 0)
    return np.asarray(np.maximum(compute, memory) * 1e3 + _GPU_FLOOR_MS, dtype=float)
