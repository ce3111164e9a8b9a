"""Benchmark profiling: every sample model at every level, attribution, speed, repeatability.

Prints four tables:

1. per sample model and level: latency (median, CV), size (as stored, deflated),
   fidelity against fp32 (SQNR, cosine, top-1 agreement), share of the profiled run
   that per-node attribution explains (target >= 95 %), and profiling overhead
   (profiled run / plain run);
2. a 100-unit model profiled at 4 levels x 30 runs: wall time (target < 60 s);
3. two repeated profiles of the same model: medians agree within 5 %;
4. a summary of the targets.

Run: ``.venv/bin/python benchmarks/bench_profile.py`` (``--quick`` for fewer runs,
``--models a,b`` to choose samples). Nothing is cached: every number is measured now.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from planner_app.commands._table import format_table
from planner_app.core.compression.levels import LEVELS
from planner_app.core.models.graph import load_model
from planner_app.core.models.samples import SAMPLE_MODELS
from planner_app.core.profiling.runner import HostInfo, ProfileSettings, profile_model


def mlp_chain(n_layers: int, width: int = 256, seed: int = 0) -> onnx.ModelProto:
    """MatMul+Add+Relu x ``n_layers``: one unit per layer."""
    rng = np.random.default_rng(seed)
    nodes, inits, prev = [], [], "x"
    for i in range(n_layers):
        inits.append(numpy_helper.from_array((rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32), f"w{i}"))
        inits.append(numpy_helper.from_array(np.zeros(width, np.float32), f"b{i}"))
        nodes += [
            helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"], name=f"matmul{i}"),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"], name=f"add{i}"),
            helper.make_node("Relu", [f"a{i}"], [f"h{i}"], name=f"relu{i}"),
        ]
        prev = f"h{i}"
    graph = helper.make_graph(nodes, "mlp100", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, width])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [8, width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def per_level_table(models: list[str], levels: list[str], settings: ProfileSettings) -> tuple[str, list[float]]:
    rows, shares = [], []
    for name in models:
        mg = load_model(f"sample:{name}")
        t0 = time.perf_counter()
        prof = profile_model(mg, levels, settings=settings, use_cache=False)
        took = time.perf_counter() - t0
        for level, lp in prof.levels.items():
            if not lp.applicable:
                rows.append([name, level, None, None, None, None, None, None, None, None, None, None, None, f"n/a: {lp.reason[:60]}"])
                continue
            f = lp.fidelity
            shares.append(lp.attributed_share)
            rows.append([
                name, level, lp.latency_ms_median, 100 * lp.latency_cv, lp.wall_ms_median, lp.size_bytes / 1e6, lp.stored_size_bytes / 1e6,
                f.sqnr_db, f"{f.cosine:.5f}", f.top1_agreement, 100 * lp.attributed_share, 100 * lp.kernel_share,
                lp.profiling_overhead, "",
            ])
        print(f"  {name}: {len(prof.levels)} levels in {took:.1f} s", file=sys.stderr)
    table = format_table(
        ["model", "level", "median ms", "CV %", "wall ms", "MB", "deflated MB", "SQNR dB", "cosine", "top-1",
         "attributed %", "kernels %", "prof/plain", "note"],
        rows, title=f"1. sample models x levels ({settings.runs} runs, {settings.threads} thread, "
                    f"graph optimization '{settings.graph_optimization}'; median/CV in thread CPU time, "
                    "wall = median wall time)",
    )
    return table, shares


def hundred_units(runs: int) -> tuple[str, float, float]:
    mg = load_model(mlp_chain(100).SerializeToString(), name="mlp100")
    levels = ["fp32", "fp16", "int8-dynamic", "int8-static"]
    t0 = time.perf_counter()
    prof = profile_model(mg, levels, settings=ProfileSettings(runs=runs), use_cache=False)
    wall = time.perf_counter() - t0
    share = min(lp.attributed_share for lp in prof.levels.values() if lp.applicable)
    rows = [[len(mg.units), f"{len(levels)} x {runs}", wall, 100 * share]]
    return format_table(["units", "levels x runs", "wall s", "min attributed %"], rows,
                        title="\n2. a 100-unit model (MatMul+Add+Relu x 100), from scratch"), wall, share


def repeatability(name: str, runs: int) -> tuple[str, float]:
    mg = load_model(f"sample:{name}")
    settings = ProfileSettings(runs=runs)
    a = profile_model(mg, ["fp32"], settings=settings, use_cache=False).levels["fp32"]
    b = profile_model(mg, ["fp32"], settings=settings, use_cache=False).levels["fp32"]
    diff = abs(a.latency_ms_median - b.latency_ms_median) / a.latency_ms_median
    wall_diff = abs(a.wall_ms_median - b.wall_ms_median) / a.wall_ms_median
    min_diff = abs(a.latency_ms_min - b.latency_ms_min) / a.latency_ms_min
    rows = [[name, a.latency_ms_median, b.latency_ms_median, 100 * diff, a.wall_ms_median, b.wall_ms_median,
             100 * wall_diff, a.latency_ms_min, b.latency_ms_min, 100 * min_diff]]
    return format_table(["model", "median 1 ms", "median 2 ms", "diff %", "wall 1 ms", "wall 2 ms", "wall diff %",
                         "min 1 ms", "min 2 ms", "min diff %"], rows,
                        title="\n3. two repeated profiles at fp32"), diff


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 runs instead of 30")
    ap.add_argument("--models", default=",".join(SAMPLE_MODELS))
    ap.add_argument("--levels", default=",".join(LEVELS))
    args = ap.parse_args(argv)
    runs = 10 if args.quick else 30
    host = HostInfo.detect()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"host: {host.cpu_model}, {host.cores} cores, {host.simd}, onnxruntime {host.onnxruntime_version}; "
          f"load average at start {load:.1f}")
    table, shares = per_level_table(args.models.split(","), args.levels.split(","), ProfileSettings(runs=runs))
    print(table)
    t2, wall, share100 = hundred_units(30)
    print(t2)
    t3, diff = repeatability("mobilenet_v2", runs)
    print(t3)
    summary = [
        ["attribution explains >= 95 % (median over rows)", f"{100 * statistics.median(shares):.1f} %",
         statistics.median(shares) >= 0.95],
        ["attribution explains >= 95 % (worst row)", f"{100 * min(shares):.1f} %", min(shares) >= 0.95],
        ["100-unit model, 4 levels x 30 runs < 60 s", f"{wall:.1f} s", wall < 60],
        ["repeated profiles agree within 5 % at the median", f"{100 * diff:.1f} %", diff <= 0.05],
    ]
    print(format_table(["target", "measured", "met"], summary, title="\n4. targets"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
