"""Benchmark: exporting and validating a deployment plan, per sample model and level.

For each sample model, a two-stage plan on the smart-factory scenario (the
first unit pinned to the camera, the last to the cloud, the optimizer free in
between) is exported at fp32 and at int8-dynamic: the model is cut into parts,
each compressed, the chained parts checked against the model, and plan + parts
written atomically. Reported: export time (cut + compress + check + write),
validation time (`edgeplan plan validate`: schema, hashes, chain on 2 inputs),
sizes, and the measured fidelity of the exported parts.

Run: ``.venv/bin/python benchmarks/bench_plan_export.py [MODEL ...]``
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner_app.commands._table import format_table  # noqa: E402
from planner_app.core.models.graph import load_model  # noqa: E402
from planner_app.core.models.samples import SAMPLE_MODELS  # noqa: E402
from planner_app.core.planning import (  # noqa: E402
    ExportOptions,
    MeasureOptions,
    PoseOptions,
    SolveOptions,
    plan_deployment,
)
from planner_app.core.plans.check import validate_plan  # noqa: E402
from planner_app.core.profiling.runner import ProfileSettings, profile_model  # noqa: E402
from planner_app.core.resources import sample_topology_paths  # noqa: E402
from planner_app.core.topology.io import load_topology  # noqa: E402


def plan(topology, workload=None, model=None, *, profile_path=None, levels=None, objective="latency",
         constraints=None, pareto=False, out=None, imported=None, host_device=None, profile_settings=None,
         progress=None, cancel=None):
    """The session's steps composed as ``edgeplan optimize`` composes them."""
    return plan_deployment(
        topology, workload, model=model,
        measure=MeasureOptions(profile=profile_path, levels=tuple(levels) if levels else None,
                               imported=(imported,) if imported else (), host_device=host_device,
                               settings=profile_settings),
        pose=PoseOptions(objective=objective, levels=tuple(levels) if levels else None, **(constraints or {})),
        solve=SolveOptions(pareto=pareto), out=out, progress=progress, cancel=cancel)


LEVELS = ("fp32", "int8-dynamic")
SETTINGS = ProfileSettings(warmup=1, runs=5, max_seconds=3.0, fidelity_samples=2)


def bench_model(name: str, work: Path) -> list[list[object]]:
    mg = load_model(f"sample:{name}")
    profile = profile_model(mg, list(LEVELS), settings=SETTINGS)
    scenario = sample_topology_paths()["smart_factory"]
    topo = load_topology(scenario)
    w = topo.workloads[0]
    cloud = next(d.id for d in topo.devices if d.tier == "cloud")
    pins = {0: w.source, len(mg.units) - 1: cloud}
    rows = []
    for level in LEVELS:
        if not profile.levels[level].applicable:
            rows.append([name, len(mg.units), level, "-", mg.model_bytes / 1e6, None, None, None, None, None, "n/a"])
            continue
        run = plan(scenario, w.name, mg, profile_path=profile, levels=[level],
                              constraints={"pinned_units": pins, "slo_ms": None, "min_fidelity": None})
        if not run.feasible:
            rows.append([name, len(mg.units), level, "-", mg.model_bytes / 1e6, None, None, None, None, None,
                         "infeasible"])
            continue
        out = work / f"{name}-{level}" / "plan.json"
        t0 = time.perf_counter()
        run.export(ExportOptions(out=out))
        export_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        rep = validate_plan(out)
        validate_s = time.perf_counter() - t1
        parts_bytes = sum(s.artifact.bytes for s in run.plan.stages)
        mf = run.plan.totals.measured_fidelity
        rows.append([
            name, len(mg.units), level, len(run.plan.stages), mg.model_bytes / 1e6, parts_bytes / 1e6,
            os.path.getsize(out) / 1e3, export_s, validate_s, mf.cosine if mf else None,
            "ok" if rep.ok else f"INVALID: {rep.problems[0]}",
        ])
    return rows


def main(argv: list[str]) -> int:
    names = argv or sorted(SAMPLE_MODELS)
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        os.environ.setdefault("PLANNER_CACHE_DIR", str(Path(tmp) / "cache"))
        for name in names:
            rows += bench_model(name, Path(tmp))
    print(format_table(
        ["model", "units", "level", "stages", "model MB", "parts MB", "plan KB", "export s", "validate s",
         "cosine", "validate"],
        rows, title="Plan export: 2+ stage plans on smart_factory (camera → … → cloud), 2 cores shared"))
    return 0 if all(r[-1] in ("ok", "n/a") for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
