"""Benchmark: the pipeline DP on transformer-like chains over fleets of typed devices.

Chains of 50 / 100 / 300 layers (ViT-Base-like: 2.8 GFLOPs and 28 MB of fp32
weights a layer, 0.6 MB activations between layers, every fourth layer a
lighter one) over 4 / 8 / 16 / 32 devices of 2 to 4 types behind one switch
(PipeEdge's setting: a type fixes speed, memory and link bandwidth; the camera
that produces the input hangs off the same switch and receives the results).
Types: jetson-nano (235 GFLOPS, 4 GiB, 500 Mbps), jetson-agx (1,400 GFLOPS,
32 GiB, 1 Gbps), rpi4 (13.5 GFLOPS, 4 GiB, 300 Mbps), jetson-tx2 (665 GFLOPS,
8 GiB, 1 Gbps); memory limits on, one level (fp32), no cut codec.

Objectives: ``throughput`` (minimise the bottleneck: the slowest stage or
message) and ``latency`` (end to end). "solve ms" is
:func:`~planner_app.core.optimizer.pipeline.solve_pipeline` (device classes, the
DP, its latency tie-break and the evaluation of the plan), best of 3 runs, wall
clock; "cpu ms" the process time of the best run (steadier on a shared machine);
"classes" the interchangeable classes found; "states" the DP's multiset ×
class count.

Targets (issue #12): 96 layers × 16 devices of 2 types exact in under 20 ms;
300 layers × 32 devices of 4 types under 1 s.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--quick]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner_app.commands._table import format_table  # noqa: E402
from planner_app.core.optimizer.pipeline import solve_pipeline  # noqa: E402
from planner_app.core.optimizer.problem import Constraints, ModelStructure, PlanningProblem  # noqa: E402
from planner_app.core.optimizer.synthetic import time_table_from_flops  # noqa: E402
from planner_app.core.topology.records import Device, Link, Topology, Workload  # noqa: E402

#: name, fp32 GFLOPS, memory MiB, link Mbps
TYPES = [
    ("jetson-nano", 235.0, 4096.0, 500.0),
    ("jetson-agx", 1400.0, 32768.0, 1000.0),
    ("rpi4", 13.5, 4096.0, 300.0),
    ("jetson-tx2", 665.0, 8192.0, 1000.0),
]


def vit_chain(n_layers: int) -> ModelStructure:
    """ViT-Base-like layers: every fourth one a lighter (norm / projection) layer."""
    heavy = np.array([(i % 4) != 3 for i in range(n_layers)])
    flops = np.where(heavy, 2.8e9, 0.4e9)
    params = np.where(heavy, 28e6, 2.4e6)
    out = np.full(n_layers, 197 * 768 * 4)
    out[-1] = 1000 * 4
    return ModelStructure.chain(flops.tolist(), out.tolist(), input_bytes=3 * 224 * 224 * 4,
                                param_bytes=params.tolist(), name=f"vit-{n_layers}")


def fleet(n_devices: int, n_types: int) -> tuple[Topology, list[str]]:
    devices = [Device(id="cam", kind="camera", tier="device", peak_gflops_fp32=5.0, memory_mb=512),
               Device(id="switch", kind="gateway", tier="edge", peak_gflops_fp32=1.0, memory_mb=64)]
    links = [Link(id="l-cam", a="cam", b="switch", bandwidth_ab_mbps=1000, bandwidth_ba_mbps=1000, latency_ms=0.2)]
    ids: list[str] = []
    for i in range(n_devices):
        name, gf, mem, bw = TYPES[i % n_types]
        dev = f"{name}-{i // n_types}"
        ids.append(dev)
        devices.append(Device(id=dev, kind="edge_device", tier="edge", device_type=name, peak_gflops_fp32=gf,
                              memory_mb=mem, cost_usd_per_hour=gf / 1000.0))
        links.append(Link(id=f"l-{dev}", a=dev, b="switch", bandwidth_ab_mbps=bw, bandwidth_ba_mbps=bw,
                          latency_ms=0.3))
    topo = Topology(name=f"fleet-{n_devices}x{n_types}", devices=devices, links=links,
                    workloads=[Workload(name="w", source="cam", rate_rps=1.0)])
    return topo, ids


def problem(n_layers: int, n_devices: int, n_types: int, objective: str) -> PlanningProblem:
    s = vit_chain(n_layers)
    topo, ids = fleet(n_devices, n_types)
    tt = time_table_from_flops(s, topo, ["fp32"])
    return PlanningProblem.build(topo, None, s, tt, codecs=["none"], objective=objective, candidate_devices=ids,
                                 constraints=Constraints(memory=True, capacity=False, max_stages_per_device=1))


def run(cases: list[tuple[int, int, int]], repeats: int) -> list[list[str]]:
    rows = []
    for n_layers, n_devices, n_types in cases:
        for objective in ("throughput", "latency"):
            p = problem(n_layers, n_devices, n_types, objective)
            best_ms = best_cpu = float("inf")
            res = None
            for _ in range(repeats):
                p = p.with_changes()  # a fresh problem: no cached message figures
                t0, c0 = time.perf_counter(), time.process_time()
                res = solve_pipeline(p)
                best_ms = min(best_ms, (time.perf_counter() - t0) * 1000.0)
                best_cpu = min(best_cpu, (time.process_time() - c0) * 1000.0)
            assert res is not None
            pred = res.best_prediction
            stages = "-" if res.best is None else str(len(res.best.stages()))
            rows.append([
                str(n_layers), str(n_devices), str(n_types), objective, f"{best_ms:,.1f}", f"{best_cpu:,.1f}",
                "-" if pred is None else f"{pred.bottleneck_ms:,.2f}",
                "-" if pred is None else f"{pred.throughput_rps:,.2f}",
                "-" if pred is None else f"{pred.latency_ms:,.1f}",
                stages, str(len(res.classes)), f"{res.states:,}", "yes" if res.exact else "no",
            ])
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the two target cases")
    args = ap.parse_args()
    if args.quick:
        cases = [(96, 16, 2), (300, 32, 4)]
    else:
        cases = [(96, 16, 2)] + [(n, d, t) for n in (50, 100, 300) for d in (4, 8, 16, 32) for t in (2, 3, 4)
                                 if t <= d]
    rows = run(cases, repeats=3)
    print(format_table(["layers", "devices", "types", "objective", "solve ms", "cpu ms", "bottleneck ms",
                        "throughput rps",
                        "latency ms", "stages", "classes", "states", "exact"], rows))


if __name__ == "__main__":
    main()
