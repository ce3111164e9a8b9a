"""``edgeplan optimize``: plan where each part of a model runs, and export the plan."""

from __future__ import annotations

import argparse
import sys
import time

from planner_app.commands._plan_view import closest_text, plan_text
from planner_app.core.errors import PlannerError
from planner_app.core.optimizer.registry import AUTO, solver_choices, solvers_help
from planner_app.core.plans.records import OBJECTIVES


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "optimize",
        help="find the best placement and compression of a model on a topology; export the plan",
        description=(
            "Find where each part of the model runs (device, edge, cloud) and at which compression "
            "level, for one workload of the topology; print the plan next to the baselines it beat and "
            "write it (PLAN.json plus one ONNX part per stage in parts/ next to it). Without --profile "
            "the model is profiled on this host now (a few runs per level); devices nobody measured are "
            "estimated by the device model. Exit 0 with a plan, 2 on bad input, 3 when no plan meets "
            "the constraints (the closest plan is printed, nothing is written)."
        ),
    )
    p.add_argument("--topology", required=True, metavar="T.json", help="topology file")
    p.add_argument("--model", metavar="M.onnx",
                   help="ONNX file or sample:NAME (default: the workload's model field)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                   help="input shape, e.g. input=1x3x224x224 (repeatable; default: the workload's)")
    p.add_argument("--workload", metavar="NAME", help="workload to plan (default: the topology's first)")
    p.add_argument("--profile", metavar="PROFILE.json",
                   help="measurements from `edgeplan model profile` (default: profile now)")
    p.add_argument("--imported", metavar="TIMES.csv",
                   help="per-unit times measured elsewhere (CSV or JSON: device, level, unit, ms); they "
                        "replace the estimates for the devices and levels they cover")
    p.add_argument("--host-device", metavar="ID",
                   help="the topology device that is this machine: its times are the local measurements")
    p.add_argument("--objective", choices=OBJECTIVES, default="latency", help="what to optimise (default latency)")
    p.add_argument("--slo-ms", type=float, metavar="X", help="latency limit in ms (default: the workload's)")
    p.add_argument("--max-cost-usd-per-1k", type=float, metavar="X", help="cost limit in USD per 1,000 requests")
    p.add_argument("--min-fidelity", type=float, metavar="X",
                   help="fidelity floor in [0, 1] vs fp32 (default: from the workload's accuracy budget)")
    p.add_argument("--levels", nargs="+", metavar="LEVEL",
                   help="compression levels to consider, e.g. fp32,fp16,int8-dynamic (default: the profile's, "
                        "or fp32,fp16,int8-dynamic when profiling now)")
    p.add_argument("--pareto", action="store_true", help="also compute and print the trade-off front")
    p.add_argument("--solver", choices=solver_choices(), default=AUTO, help=solvers_help().replace("%", "%%"))
    p.add_argument("--out", required=True, metavar="PLAN.json", help="where to write the plan")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_optimize)


def _levels(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return list(dict.fromkeys(out)) or None


def _check_numbers(args: argparse.Namespace) -> None:
    if args.slo_ms is not None and not args.slo_ms > 0:
        raise PlannerError(f"--slo-ms must be a positive number of milliseconds, got {args.slo_ms:g}")
    if args.max_cost_usd_per_1k is not None and not args.max_cost_usd_per_1k >= 0:
        raise PlannerError(f"--max-cost-usd-per-1k must be >= 0, got {args.max_cost_usd_per_1k:g}")
    if args.min_fidelity is not None and not 0 <= args.min_fidelity <= 1:
        raise PlannerError(f"--min-fidelity must be between 0 and 1 (1 = equal to fp32), got {args.min_fidelity:g}")


def _progress_printer(quiet: bool):
    if quiet:
        return None
    last = {"msg": "", "t": 0.0}

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        # the same message repeated (a loop reporting fractions) prints once
        if message and message != last["msg"]:
            print(f"[{fraction * 100:3.0f}%] {message}", file=sys.stderr, flush=True)
            last["msg"], last["t"] = message, now

    return progress


def _optimize(args: argparse.Namespace) -> int:
    from planner_app.core.models.graph import parse_shape_args
    from planner_app.core.planning.pipeline import InfeasiblePlanError, plan_deployment

    _check_numbers(args)
    constraints = {}
    if args.slo_ms is not None:
        constraints["slo_ms"] = args.slo_ms
    if args.max_cost_usd_per_1k is not None:
        constraints["max_cost_usd_per_1k"] = args.max_cost_usd_per_1k
    if args.min_fidelity is not None:
        constraints["min_fidelity"] = args.min_fidelity
    run = plan_deployment(
        args.topology, args.workload, args.model, parse_shape_args(args.shape), args.profile,
        objective=args.objective, constraints=constraints, levels=_levels(args.levels), pareto=args.pareto,
        out=args.out, solver=args.solver, imported=args.imported, host_device=args.host_device,
        progress=_progress_printer(args.quiet),
    )
    if not run.feasible:
        print(closest_text(run))
        raise InfeasiblePlanError(f"{run.result.message}. Nothing was written to {args.out}.", run)
    print(plan_text(run.plan, pareto=args.pareto))
    print(f"\nwrote {run.plan_path} and {len(run.plan.stages)} part(s) in {run.plan_path.parent / 'parts'}")
    return 0
