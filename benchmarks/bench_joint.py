"""Benchmark: several workloads planned jointly on the smart-factory sample.

The sample's six camera workloads, each running the sample model it names
(``mobilenet_v2``, 54 units; or ``--quick``: a six-unit chain with its input and
about its FLOPs), timed by the FLOPs-based synthetic table (``time_table_from_flops``,
no profile), at the shipped 10 requests/s and at raised rates. Per row: the
one-at-a-time plans' solve time (``optimize`` per workload, no baselines, posed with
the joint objective's own measure as ``plan_jointly`` poses them), the joint solve's
(``solve_joint``, every objective's own row; "how": ``alone-optimal`` when the proven
one-at-a-time plans fit together and no MILP runs, else ``milp``; ``--plain``: the
joint MILP without the shortcut, bound rows and cutoffs), the busiest device or
link one at a time and jointly, and the objective. "over" counts what the
one-at-a-time plans load to 100 % or more; the joint plan's busiest stays below.

Run: ``.venv/bin/python benchmarks/bench_joint.py [--quick] [--plain] [--time-limit S]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner_app.commands._table import format_table  # noqa: E402
from planner_app.core.models.structure import ModelStructure  # noqa: E402
from planner_app.core.optimizer import optimize  # noqa: E402
from planner_app.core.optimizer.joint import JointGoal, alone_measure, joint_load, solve_joint  # noqa: E402
from planner_app.core.optimizer.problem import PlanningProblem  # noqa: E402
from planner_app.core.optimizer.synthetic import time_table_from_flops  # noqa: E402
from planner_app.core.resources import sample_topology_paths  # noqa: E402
from planner_app.core.topology import load_topology  # noqa: E402


def structure(quick: bool) -> ModelStructure:
    if quick:
        return ModelStructure.chain([1e8] * 6, [800_000, 400_000, 200_000, 100_000, 50_000, 4000], 602_112,
                                    [2e6] * 6, name="mobilenet-like chain")
    from planner_app.core.models import load_model

    return ModelStructure.from_model_graph(load_model("sample:mobilenet_v2"))


def row(model: ModelStructure, rate: float, goal: str, levels: list[str], time_limit_s: float,
        plain: bool) -> list[object]:
    topo = load_topology(sample_topology_paths()["smart_factory"])
    for i, w in enumerate(list(topo.workloads)):
        topo.workloads[i] = w.model_copy(update={"rate_rps": rate})
    tt = time_table_from_flops(model, topo, levels)
    codecs = ["none"]
    measure = alone_measure(JointGoal(goal))
    problems = [PlanningProblem.build(topo, w.name, model, tt, codecs=codecs, objective=measure)
                for w in topo.workloads]
    t0 = time.perf_counter()
    alone = [optimize(p, baselines=False, time_limit_s=time_limit_s) for p in problems]
    alone_s = time.perf_counter() - t0
    loads = joint_load(problems, [r.prediction for r in alone])
    sol = solve_joint(problems, JointGoal(goal), alone=[r.placement for r in alone],
                      alone_proven=[r.feasible and r.exact for r in alone], time_limit_s=time_limit_s, bounds=not plain)
    busiest_alone = max(loads, key=lambda r: r.utilization)
    busiest = max(sol.loads, key=lambda r: r.utilization) if sol.feasible else None
    return [model.name, model.n_units, "+".join(levels), f"{rate:g}", goal, f"{alone_s:.2f}",
            f"{sol.solve_ms / 1000:.2f}", sol.method, sol.n_variables,
            f"{busiest_alone.resource} {busiest_alone.utilization:.0%}", sum(r.overloaded for r in loads),
            f"{busiest.resource} {busiest.utilization:.0%}" if busiest else f"none: {sol.message[:60]}",
            "yes" if sol.exact else f"gap {sol.gap:.2g}" if sol.gap is not None else "no",
            f"{sol.objective_value:.4g}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the six-unit chain instead of mobilenet_v2")
    ap.add_argument("--plain", action="store_true", help="the joint MILP alone: no shortcut, bounds or cutoffs")
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per MILP solve (default 30)")
    args = ap.parse_args()
    model = structure(args.quick)
    levels = ["fp32"]
    rows = [row(model, rate, goal, levels, args.time_limit, args.plain)
            for rate in (10.0, 70.0) for goal in ("worst-slack", "total-cost", "weighted-latency")]
    print(format_table(["model", "units", "levels", "req/s", "objective", "alone s", "joint s", "how", "MILP vars",
                        "busiest alone", "over", "busiest joint", "optimal", "value"], rows,
                       "Smart factory, six cameras planned one at a time and jointly (synthetic FLOPs times)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
