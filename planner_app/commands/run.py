"""``edgeplan run``: run an exported plan for real and compare it with its prediction."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from planner_app.commands._table import format_table
from planner_app.core.errors import PlannerError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "run", help="run a plan on agents (or locally, links emulated) and compare it with the prediction",
        description=(
            "Upload each stage's part to its device's agent and send requests through the stages; print the "
            "measured end-to-end latency (median, p90), throughput, per-stage compute and per-hop time next to "
            "the plan's prediction, with the error in percent. --local starts one agent per planned device on "
            "127.0.0.1 and a relay in front of each that imposes the route's latency and bandwidth. Exit 0; "
            "2 on bad input (a plan without parts, a device without an agent)."
        ),
        epilog="Example: edgeplan run out/plan.json --local --requests 50 --out out/run.json",
    )
    p.add_argument("plan", metavar="PLAN.json", help="a plan written by `edgeplan optimize` (parts/ beside it)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="one agent process per device here, links emulated")
    where.add_argument("--agents", type=Path, metavar="MAP.json",
                       help='real agents: {"DEVICE": {"url": "http://host:8765", "token_file": "F"}}')
    where.add_argument("--topology", type=Path, metavar="T.json",
                       help="real agents named by the topology's devices (agent_url; token from agent_token_file "
                            "or the OS keyring)")
    p.add_argument("--tls-ca", type=Path, metavar="BUNDLE",
                   help="PEM CA bundle trusted (besides the system's CAs) for https agents; the agents forward "
                        "with their own --tls-ca")
    p.add_argument("--requests", type=int, default=30, help="measured requests (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="unmeasured requests first (default 3)")
    p.add_argument("--rate", type=float, metavar="R",
                   help="send at R requests/s, open loop (default: one after another)")
    p.add_argument("--out", type=Path, metavar="REPORT.json", help="write the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_run)


def _fmt(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def _interval(pair: Any) -> str | None:
    if not pair or pair[0] is None or pair[1] is None:
        return None
    return f"{pair[0]:.3g}-{pair[1]:.3g}"


def report_text(rep: dict[str, Any]) -> str:
    """The tables ``edgeplan run`` prints."""
    pred, meas, err = rep["predicted"], rep["measured"], rep["error_pct"]
    pace = f", {rep['rate_rps']:g} req/s" if rep["rate_rps"] else ", one after another"
    out = [format_table(
        ["figure", "predicted", "measured", "error %"],
        [["latency ms (median, wall)", _fmt(pred["latency_ms"]), _fmt(meas["latency_ms_median"]),
          _fmt(err["latency_median"])],
         ["  95 % interval ms", _interval(pred.get("latency_interval_ms")), _interval(meas.get("latency_ms_ci95")),
          None],
         ["latency ms (median, compute as CPU time)", _fmt(pred["latency_ms"]),
          _fmt(meas.get("latency_cpu_compute_ms_median")), _fmt(err.get("latency_median_cpu_compute"))],
         ["latency ms (p90)", None, _fmt(meas["latency_ms_p90"]), None],
         ["as the client saw it ms", None, _fmt(meas["client_latency_ms_median"]), None],
         ["latency at rate ms", _fmt(pred["latency_at_rate_ms"]), None, None],
         ["throughput req/s", _fmt(pred["throughput_rps"]), _fmt(meas["throughput_rps"]), None]],
        title=f"{rep['plan']}: {rep['requests']} requests ({rep['mode']}{pace})",
    )]
    out.append(format_table(
        ["stage", "device", "level", "predicted ms", "wall ms", "p90 ms", "error %", "CPU ms", "error % (CPU)",
         "predicted from"],
        [[s["index"], s["device"], s["level"], s["predicted_compute_ms"], _fmt(s["measured_compute_ms_median"]),
          _fmt(s["measured_compute_ms_p90"]), _fmt(s["error_pct"]), _fmt(s["measured_compute_cpu_ms_median"]),
          _fmt(s["error_cpu_pct"]), s["predicted_provenance"]] for s in rep["stages"]],
        title="\ncompute per stage (measured as wall time and as the computing thread's CPU time)",
    ))
    if rep["hops"]:
        out.append(format_table(
            ["from", "to", "latency ms", "Mbps there/back", "predicted one way ms", "measured one way ms", "error %",
             "measured there+back ms"],
            [[h["from"] + (" (results)" if h.get("results") else ""), h["to"], h["latency_ms"],
              f"{h['forward_mbps']:g}/{h['backward_mbps']:g}", h["predicted_one_way_ms"],
              _fmt(h.get("measured_one_way_ms_median")), _fmt(h.get("error_pct")),
              _fmt(h.get("measured_round_trip_ms_median"))] for h in rep["hops"]],
            title="\nhops (route latency and bottleneck bandwidth from the plan's topology; one way: the sender "
                  "encoding to the receiver having decoded)",
        ))
    diff, rel = rep["output_max_abs_diff_vs_local_chain"], rep["output_max_rel_diff_vs_local_chain"]
    out.append("\noutputs vs the parts chained in this process: " + (
        f"max abs diff {diff:.3g} ({100 * rel:.3g} % of the largest output)" if diff is not None else "not compared"))
    clock = rep.get("clock", {})
    if clock:
        out.append(f"clock: predicted in {clock.get('predicted')}; measured in {clock.get('measured')}")
    out += [f"note: {n}" for n in rep["notes"]]
    return "\n".join(out)


def _run(args: argparse.Namespace) -> int:
    from planner_app.core.execute import execution_spec
    from planner_app.core.plans import check_out_path

    if args.requests < 1 or args.warmup < 0 or (args.rate is not None and not args.rate > 0):
        raise PlannerError("--requests must be at least 1, --warmup at least 0, --rate above 0")
    if args.out:
        check_out_path(args.out)
    try:
        from planner_app.agent.plan_runner import QUIET_MS, Endpoint, run_local, run_plan
    except ImportError as exc:
        raise PlannerError(f"running a plan needs the 'agent' extra ({exc}): pip install 'planner_app[agent]'") from None
    from planner_app.commands.agent import progress_lines

    spec = execution_spec(args.plan)
    progress = None if args.quiet else progress_lines()
    if args.local:
        rep = run_local(spec, requests=args.requests, rate_rps=args.rate, warmup=args.warmup, progress=progress)
    else:
        from planner_app.agent.client import load_agent_map, topology_agents
        from planner_app.core.execute import run_report

        if args.topology is not None:
            from planner_app.core.topology.io import load_topology

            agents = topology_agents(load_topology(args.topology), args.topology.parent)
            if not agents:
                raise PlannerError(f"topology '{args.topology}' names no agent: set agent_url (and agent_token_file "
                                   "or agent_token_keyring) on its devices, or give --agents MAP.json")
        else:
            agents = load_agent_map(args.agents)
        if args.tls_ca is not None:
            from planner_app.agent.wire import tls_context

            tls_context(str(args.tls_ca))  # a bundle that does not load stops here, naming it
        endpoints = {d: Endpoint(e.url, e.token, e.ca_file or (str(args.tls_ca) if args.tls_ca else ""))
                     for d, e in agents.items()}
        timings, wall, diff, http_ms = run_plan(spec, endpoints, requests=args.requests, rate_rps=args.rate,
                                                warmup=args.warmup, progress=progress, quiet_ms=QUIET_MS)
        rep = run_report(spec, timings, wall_s=wall, rate_rps=args.rate, mode="agents", output_diff=diff,
                         notes=["real agents over the real network: no link emulation",
                                f"one bare HTTP call from here to an agent: {http_ms:.2f} ms (median echo)"])
    print(report_text(rep))
    if args.out:
        from planner_app.core.fileio import atomic_write_json

        atomic_write_json(args.out, json.loads(json.dumps(rep, default=str).replace("NaN", "null")))
        print(f"\nreport written to {args.out}")
    return 0
