"""``edgeplan optimize``: plan where each part of a model runs, and export the plan."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from planner_app.commands._agent_args import TOPOLOGY_AGENTS
from planner_app.commands._plan_view import closest_text, plan_text
from planner_app.core.compression.registry import levels_help
from planner_app.core.errors import PlannerError
from planner_app.core.optimizer.joint import JOINT_OBJECTIVES, joint_objective_names
from planner_app.core.optimizer.registry import AUTO, solver_choices, solvers_help
from planner_app.core.planning.source import DEFAULT_LEVELS
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
    p.add_argument("--layers", metavar="L.csv",
                   help="plan a model described by a layer table (CSV or JSON, docs/layer_tables.md) instead of "
                        "an ONNX file: its times per device type are the measurements; the plan has no part files")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                   help="input shape, e.g. input=1x3x224x224 (repeatable; default: the workload's)")
    p.add_argument("--workload", metavar="NAME",
                   help="workload to plan (default: the topology's first); 'all' plans every workload together on "
                        "the devices and links they share (see --joint-objective)")
    p.add_argument("--joint-objective", choices=joint_objective_names(), default=None,
                   help="with --workload all, what to minimise over the workloads (default worst-slack): "
                        + "; ".join(f"{o.name}: {o.description}" for o in JOINT_OBJECTIVES.values()).replace("%", "%%"))
    p.add_argument("--joint-weight", action="append", default=[], metavar="WORKLOAD=W",
                   help="with --workload all --joint-objective weighted-latency: the weight of a workload's latency "
                        "(default: its rate; repeatable)")
    p.add_argument("--profile", metavar="PROFILE.json",
                   help="measurements from `edgeplan model profile` (default: profile now)")
    p.add_argument("--imported", metavar="TIMES.csv", action="append", default=[],
                   help="per-unit times measured elsewhere (CSV or JSON: device, level, unit, ms); they "
                        "replace the estimates for the devices and levels they cover (repeatable)")
    p.add_argument("--agent-profile", action="append", default=[], metavar="DEVICE=PROFILE.json",
                   help="a profile measured on a topology device (by its agent, or `edgeplan model profile` "
                        "run there); its times replace the estimates for that device (repeatable)")
    p.add_argument("--agents", type=Path, metavar="MAP.json", nargs="?", const=TOPOLOGY_AGENTS,
                   help='profile the model on edge agents before solving: {"DEVICE": {"url": "http://host:8765", '
                        '"token_file": "F"}}; their times replace the estimates for those devices. Without MAP.json: '
                        "the agents the topology's devices name (agent_url, agent_token_file or the keyring)")
    p.add_argument("--no-local-profile", action="store_true",
                   help="do not profile on this host: plan from --imported and --agent-profile times only "
                        "(devices and levels they do not cover cannot run)")
    p.add_argument("--host-device", metavar="ID",
                   help="the topology device that is this machine: its times are the local measurements")
    p.add_argument("--objective", choices=OBJECTIVES, default=None,
                   help="what to optimise (default latency); with --workload all see --joint-objective")
    p.add_argument("--slo-ms", type=float, metavar="X", help="latency limit in ms (default: the workload's)")
    p.add_argument("--max-cost-usd-per-1k", type=float, metavar="X", help="cost limit in USD per 1,000 requests")
    p.add_argument("--min-fidelity", type=float, metavar="X",
                   help="fidelity floor in [0, 1] vs fp32 (default: from the workload's accuracy budget)")
    p.add_argument("--levels", nargs="+", metavar="LEVEL",
                   help="compression levels to consider, comma- or space-separated (default: the profile's, "
                        f"or {','.join(DEFAULT_LEVELS)} when profiling now). Levels: {levels_help().replace('%', '%%')}")
    p.add_argument("--pareto", action="store_true", help="also compute and print the trade-off front")
    p.add_argument("--solver", choices=solver_choices(), default=AUTO, help=solvers_help().replace("%", "%%"))
    p.add_argument("--pipeline", action="store_true",
                   help="pipeline mode: each device hosts one contiguous stage (see --max-stages-per-device); "
                        "the planner picks the devices and their order (the pipeline DP; pair with "
                        "--objective throughput for the bottleneck)")
    p.add_argument("--max-stages-per-device", type=int, metavar="K",
                   help="with --pipeline: at most K contiguous stages per device (default 1)")
    p.add_argument("--time-limit", type=float, metavar="S",
                   help="seconds the solver may take; a MILP stopped there states its proven gap")
    p.add_argument("--out", required=True, metavar="PLAN.json", help="where to write the plan")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_optimize)


def _levels(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    if not out:
        raise PlannerError("--levels is empty: name at least one level (e.g. --levels fp32,int8-dynamic), or leave "
                           "the option out to use the default levels")
    return list(dict.fromkeys(out))


def _agent_profiles(values: list[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for text in values:
        device, sep, path = text.partition("=")
        if not sep or not device.strip() or not path.strip():
            raise PlannerError(f"--agent-profile {text!r}: expected DEVICE=PROFILE.json, e.g. jetson=jetson.json")
        out[device.strip()] = Path(path.strip())
    return out


def _check_numbers(args: argparse.Namespace) -> None:
    # comparisons written so that NaN fails them; infinity is no limit: leave the option out instead
    if args.slo_ms is not None and not 0 < args.slo_ms < float("inf"):
        raise PlannerError(f"--slo-ms must be a positive number of milliseconds, got {args.slo_ms:g}")
    if args.max_cost_usd_per_1k is not None and not 0 <= args.max_cost_usd_per_1k < float("inf"):
        raise PlannerError(f"--max-cost-usd-per-1k must be >= 0, got {args.max_cost_usd_per_1k:g}")
    if args.min_fidelity is not None and not 0 <= args.min_fidelity <= 1:
        raise PlannerError(f"--min-fidelity must be between 0 and 1 (1 = equal to fp32), got {args.min_fidelity:g}")
    if args.max_stages_per_device is not None and not args.pipeline:
        raise PlannerError("--max-stages-per-device applies to pipeline mode: add --pipeline")
    if args.max_stages_per_device is not None and args.max_stages_per_device < 1:
        raise PlannerError(f"--max-stages-per-device must be a whole number >= 1, got {args.max_stages_per_device}")
    if args.time_limit is not None and not (0 < args.time_limit <= 86400):
        raise PlannerError(f"--time-limit must be a number of seconds in (0, 86400], got {args.time_limit:g}")


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


def _layer_table_source(args: argparse.Namespace):  # noqa: ANN202 - LayerTableSource, imported lazily
    """The --layers table as a model source, at the batch size of the workload planned."""
    from planner_app.core.models.layer_table import load_layer_table
    from planner_app.core.planning import LayerTableSource
    from planner_app.core.topology import load_topology

    given = [f"--{k}" for k, v in (("model", args.model), ("profile", args.profile), ("imported", args.imported),
                                   ("agent-profile", args.agent_profile), ("shape", args.shape)) if v]
    if given:
        raise PlannerError(f"--layers {args.layers}: the layer table is the model and holds its times; drop "
                           f"{', '.join(given)}.")
    workload = load_topology(args.topology).workload(args.workload)
    return LayerTableSource(load_layer_table(args.layers), batch_size=workload.batch_size, given_as=args.layers)


def _optimize(args: argparse.Namespace) -> int:
    from planner_app.core.models.graph import parse_shape_args
    from planner_app.core.planning import (
        InfeasiblePlanError,
        LoadOptions,
        MeasureOptions,
        PoseOptions,
        SolveOptions,
        plan_deployment,
    )

    _check_numbers(args)
    if args.workload == "all":
        from planner_app.commands._optimize_joint import optimize_joint

        return optimize_joint(args, _levels(args.levels), _agent_profiles(args.agent_profile),
                              _progress_printer(args.quiet))
    if args.joint_weight:
        raise PlannerError("--joint-weight weighs workloads planned together: add --workload all "
                           "--joint-objective weighted-latency, or drop it")
    if args.joint_objective is not None:
        raise PlannerError(f"--joint-objective {args.joint_objective} applies to several workloads planned together: "
                           "add --workload all, or drop it and use --objective for one workload")
    levels = _levels(args.levels)
    model = _layer_table_source(args) if args.layers else None
    agent_profiles = _agent_profiles(args.agent_profile)
    if getattr(args, "agents", None):  # measured on the agents first: planner_app/commands/agent.py
        if args.layers:
            raise PlannerError("--agents profiles an ONNX model on the agents; a layer table (--layers) holds its "
                               "times already: drop one of them.")
        from planner_app.commands.agent import measure_on_agents

        model, measured, _keep = measure_on_agents(args, levels)
        agent_profiles = {**agent_profiles, **measured}
    session = plan_deployment(
        args.topology, args.workload, model=model,
        load=LoadOptions(model=args.model, shapes={k: tuple(v) for k, v in parse_shape_args(args.shape).items()}),
        measure=MeasureOptions(levels=tuple(levels) if levels else None,
                               profile=Path(args.profile) if args.profile else None,
                               imported=tuple(Path(p) for p in args.imported), host_device=args.host_device,
                               agent_profiles=agent_profiles,
                               profile_now=not args.no_local_profile),
        pose=PoseOptions(objective=args.objective or "latency", slo_ms="workload" if args.slo_ms is None else args.slo_ms,
                         max_cost_usd_per_1k=args.max_cost_usd_per_1k,
                         min_fidelity="workload" if args.min_fidelity is None else args.min_fidelity, levels=tuple(levels) if levels else None,
                         max_stages_per_device=(args.max_stages_per_device or 1) if args.pipeline else None),
        solve=SolveOptions(solver=args.solver, pareto=args.pareto, time_limit_s=args.time_limit),
        out=args.out, progress=_progress_printer(args.quiet),
    )
    if not session.feasible:
        print(closest_text(session))
        assert session.result is not None
        raise InfeasiblePlanError(f"{session.result.message}. Nothing was written to {args.out}.", session)
    assert session.plan is not None and session.plan_path is not None
    print(plan_text(session.plan, pareto=args.pareto))
    if args.layers:
        print(f"\nwrote {session.plan_path} (no part files: the model is the layer table {args.layers})")
    else:
        print(f"\nwrote {session.plan_path} and {len(session.plan.stages)} part(s) in {session.plan_path.parent / 'parts'}")
    return 0
