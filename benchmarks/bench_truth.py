"""Benchmark the truth of predictions: predicted against measured end-to-end latency under ``run --local``.

For each sample scenario (its first workload: source, consumer, links) × each sample
model, the model is planned with every device a copy of this host (this host's quick
profile stands as every device's agent profile, so compute needs no device model) and
run with the ``edgeplan run --local`` machinery (:func:`planner_app.agent.plan_runner.run_local`
over :mod:`planner_app.core.execute`): one agent process per planned device on
127.0.0.1, links emulated with the topology's latency and bandwidth.

Two plans per pair: ``split``, forced across devices (first unit on the source, the
middle one on an edge device, the last on the cloud: the plan crosses the emulated
links), and ``chosen``, what the optimizer picks when every device is this host
(usually one stage on the source). Printed per run: the prediction (and its 95 %
interval from the plan), the measured median (and its interval) in wall time and with
each stage's compute in CPU time, and the error in percent. Also printed: the figure
the prediction would have with the per-message overhead calibrated to the cost of one
agent HTTP call measured here (``--local`` hops are HTTP calls between processes):
``predicted + messages × (measured call − the topology's per-message overhead)``.

Also measured: two quick profiles of each model, minutes apart in the same process
(cache off), and how far apart their medians are (target: within 5 %).

Targets (issue 13): median |error| under 10 % and worst under 25 %.

Run: ``.venv/bin/python benchmarks/bench_truth.py`` (a few minutes; ``--quick``: two
models, two scenarios, fewer requests).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from planner_app.agent.client import AgentClient
from planner_app.agent.local import start_local_agent
from planner_app.agent.plan_runner import run_local
from planner_app.commands._table import format_table
from planner_app.core.execute import execution_spec
from planner_app.core.models import load_model
from planner_app.core.models.samples import SAMPLE_MODELS
from planner_app.core.planning import QUICK_PROFILE, MeasureOptions, PoseOptions, plan_deployment
from planner_app.core.profiling import profile_model
from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology.io import load_topology


def http_call_ms(tmp: Path) -> float:
    """The median cost of one bare HTTP call to a local agent (echo), as a hop pays it."""
    agent = start_local_agent(tmp / "echo-agent", name="echo")
    try:
        with AgentClient(agent.url, agent.token) as c:
            return float(statistics.median(c.echo_ms(40)[5:]))
    finally:
        agent.stop()


def stability_table(models: list[str]) -> tuple[str, list[float]]:
    """Two quick profiles of each model (cache off), their fp32 medians and intervals."""
    rows, gaps = [], []
    for name in models:
        mg = load_model(f"sample:{name}")
        got = []
        for _ in range(2):
            t0 = time.perf_counter()
            prof = profile_model(mg, ["fp32"], settings=QUICK_PROFILE, use_cache=False)
            got.append((prof.levels["fp32"], time.perf_counter() - t0, prof))
        (a, ta, pa), (b, tb, _) = got
        gap = 100 * abs(a.latency_ms_median - b.latency_ms_median) / min(a.latency_ms_median, b.latency_ms_median)
        gaps.append(gap)
        rows.append([name, a.latency_ms_median, f"{a.latency_ms_ci_low:.3f}-{a.latency_ms_ci_high:.3f}", a.runs,
                     b.latency_ms_median, f"{b.latency_ms_ci_low:.3f}-{b.latency_ms_ci_high:.3f}", b.runs, gap,
                     ta + tb, pa.part_overhead_ms, a.overhead_ms])
    table = format_table(
        ["model", "median 1 ms", "95 % CI 1", "runs 1", "median 2 ms", "95 % CI 2", "runs 2", "apart %", "both s",
         "ms/extra part", "ms/call"],
        rows, title=f"quick profile stability (QUICK_PROFILE: ci_target {QUICK_PROFILE.ci_target:g}, "
                    f"{QUICK_PROFILE.min_runs}-{QUICK_PROFILE.runs} runs, {QUICK_PROFILE.clock_name()} clock)")
    return table + (f"\nworst {max(gaps):.2f} % apart (target: within 5 %: {'met' if max(gaps) < 5 else 'NOT met'})"
                    ), gaps


def _pins(topo: Any, source: str, n_units: int) -> dict[int, str] | None:
    """First unit on the source, the middle one on an edge device, the last on a cloud device."""
    edge = next((d.id for d in topo.devices if d.tier == "edge" and d.id != source), None)
    cloud = next((d.id for d in topo.devices if d.tier == "cloud"), None)
    if n_units < 3 or edge is None or cloud is None:
        return None
    return {0: source, n_units // 2: edge, n_units - 1: cloud}


def truth_rows(scenarios: list[str], models: list[str], tmp: Path, requests: int, call_ms: float,
               variants: tuple[str, ...]) -> list[list[Any]]:
    paths = sample_topology_paths()
    rows = []
    for name in models:
        mg = load_model(f"sample:{name}")
        prof_path = tmp / f"host-{name}.json"
        profile_model(mg, ["fp32"], settings=QUICK_PROFILE).save(prof_path)
        for scenario in scenarios:
            topo = load_topology(paths[scenario])
            wl = topo.workloads[0]
            for variant in variants:
                pins = _pins(topo, wl.source, len(mg.units)) if variant == "split" else {}
                if pins is None:
                    continue
                out = tmp / f"{scenario}-{name}-{variant}" / "plan.json"
                t0 = time.perf_counter()
                try:
                    session = plan_deployment(
                        topo, wl.name, model=mg,
                        measure=MeasureOptions(levels=("fp32",), profile=prof_path,
                                               agent_profiles={d.id: prof_path for d in topo.devices}),
                        pose=PoseOptions(levels=("fp32",), slo_ms=None, pinned_units=pins), out=out)
                    if session.plan is None:
                        rows.append([scenario, name, variant, "no feasible plan"] + [None] * 9)
                        continue
                    rep = run_local(execution_spec(out), requests=requests, warmup=3)
                except Exception as exc:  # noqa: BLE001 - a benchmark row, not a crash: say what failed
                    rows.append([scenario, name, variant, f"failed: {type(exc).__name__}: {str(exc)[:80]}"]
                                + [None] * 9)
                    continue
                plan = session.plan
                default_msg = float(topo.message_overhead_ms)
                messages = len(plan.transfers)
                pred = rep["predicted"]["latency_ms"]
                calibrated = pred + messages * (call_ms - default_msg)
                meas = rep["measured"]["latency_ms_median"]
                ci = rep["measured"]["latency_ms_ci95"]
                band = rep["predicted"]["latency_interval_ms"]
                rows.append([
                    scenario, name, variant, " → ".join(dict.fromkeys(st.device for st in plan.stages)),
                    pred, f"{band[0]:.2f}-{band[1]:.2f}" if band else None, meas,
                    f"{ci[0]:.2f}-{ci[1]:.2f}" if ci else None, rep["error_pct"]["latency_median"],
                    rep["error_pct"]["latency_median_cpu_compute"], calibrated,
                    round(100 * (meas - calibrated) / calibrated, 1), time.perf_counter() - t0,
                ])
                print(f"  {scenario} × {name} ({variant}): predicted {pred:.2f} ms, measured {meas:.2f} ms, "
                      f"error {rep['error_pct']['latency_median']} %", file=sys.stderr, flush=True)
    return rows


def _summary(label: str, errors: list[float]) -> str:
    if not errors:
        return f"{label}: no runs"
    med, worst = statistics.median(errors), max(errors)
    ok = med < 10 and worst < 25
    return (f"{label}: median |error| {med:.1f} %, worst {worst:.1f} % over {len(errors)} runs "
            f"(targets: under 10 % and 25 %: {'met' if ok else 'NOT met'})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two models, two scenarios, 10 requests")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--models", nargs="*", default=None, help="sample models (default: all)")
    ap.add_argument("--scenarios", nargs="*", default=None, help="sample scenarios (default: all)")
    ap.add_argument("--no-chosen", action="store_true", help="only the plans split across devices")
    args = ap.parse_args(argv)
    models = args.models or (["lstm_kws", "mobilenet_v2"] if args.quick else list(SAMPLE_MODELS))
    scenarios = args.scenarios or (["smart_home", "smart_factory"] if args.quick
                                   else sorted(sample_topology_paths()))
    requests = 10 if args.quick else args.requests
    variants = ("split",) if args.no_chosen else ("split", "chosen")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-truth-") as tmp_s:
        tmp = Path(tmp_s)
        text, _ = stability_table(models)
        print(text, flush=True)
        call_ms = http_call_ms(tmp)
        rows = truth_rows(scenarios, models, tmp, requests, call_ms, variants)
    print(format_table(
        ["scenario", "model", "plan", "devices", "predicted ms", "pred. 95 %", "measured ms", "meas. 95 %",
         "error %", "error % (CPU compute)", f"pred. +{call_ms:.2f} ms/msg", "error % (calibrated msg)", "s"],
        rows, title=f"\npredicted vs measured end-to-end latency, every device a copy of this host, `run --local` "
                    f"({requests} requests each; one agent HTTP call measured {call_ms:.2f} ms here)"), flush=True)
    ok_rows = [r for r in rows if isinstance(r[4], float)]
    for variant in ("split", "chosen"):
        errs = [abs(r[8]) for r in ok_rows if r[2] == variant and r[8] is not None]
        cal = [abs(r[11]) for r in ok_rows if r[2] == variant and r[11] is not None]
        if errs:
            print(_summary(f"{variant}, as planned", errs))
            print(_summary(f"{variant}, per-message overhead calibrated", cal))
    errs = [abs(r[8]) for r in ok_rows if r[8] is not None]
    print(_summary("all runs, as planned", errs))
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
