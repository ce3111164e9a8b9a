"""``edgeplan agent``: run the edge agent on this device; ``edgeplan agent list``: find agents.

The agent needs the ``agent`` extra (``pip install 'planner_app[agent]'``), not Qt.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner_app.commands._table import format_table
from planner_app.core.errors import PlannerError

if TYPE_CHECKING:
    from planner_app.core.models import ModelGraph
    from planner_app.core.profiling import ModelProfile, ProfileSettings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "agent", help="run the edge agent here (profiles and runs model parts for the planner)",
        description=(
            "Serve this device to planners: device facts, model part uploads (sha256-addressed, size-capped), "
            "profiling jobs with streamed progress, inference (and forwarding to the next stage), link probes. "
            "HTTP on loopback by default; every /v1 call needs the bearer token (generated and printed at the "
            "first start, stored as 'token' in the data folder). Ctrl-C stops it; stored parts are kept."
        ),
        epilog="Example: edgeplan agent --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --name jetson  |  "
               "edgeplan agent list --agents agents.json",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    tok = p.add_mutually_exclusive_group()
    tok.add_argument("--token", help="the bearer token (at least 16 characters; prefer --token-file)")
    tok.add_argument("--token-file", type=Path, metavar="F", help="file whose first line is the token")
    p.add_argument("--tls-cert", type=Path, metavar="C", help="PEM certificate: serve https")
    p.add_argument("--tls-key", type=Path, metavar="K", help="PEM private key of --tls-cert")
    p.add_argument("--tls-ca", type=Path, metavar="BUNDLE",
                   help="PEM CA bundle trusted (besides the system's CAs) when forwarding to https agents: the "
                        "certificate that signed the next stages' agents (their own, if self-signed)")
    p.add_argument("--max-model-mb", type=float, default=512, help="largest part upload, MB (default 512)")
    p.add_argument("--max-jobs", type=int, default=8, help="jobs queued or running at once; more are refused (429)")
    p.add_argument("--name", help="name of this device as planners see it (default: the host name)")
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="where parts and the token live (default $EDGEPLAN_AGENT_DIR or ~/.local/share/edgeplan-agent)")
    p.add_argument("--body-timeout-s", type=float, default=30.0, metavar="S",
                   help="drop a request whose client sends nothing for S seconds mid-body (408; default 30)")
    p.add_argument("--no-advertise", action="store_true", help="do not announce this agent with zeroconf")
    p.add_argument("--parent-pid", type=int, metavar="PID",
                   help="stop when process PID (the one that started this agent) ends: what `run --local` passes")
    p.set_defaults(func=_serve)
    actions = p.add_subparsers(dest="agent_action", metavar="ACTION")
    ls = actions.add_parser("list", help="show configured agents (--agents) and agents found on the network",
                            description="Agents from a map file and those answering zeroconf (_edgeplan._tcp), "
                                        "each with whether it answers, its version and its device.")
    ls.add_argument("--agents", type=Path, metavar="MAP.json",
                    help='configured agents: {"DEVICE": {"url": "http://host:8765", "token_file": "F"}}')
    ls.add_argument("--browse-seconds", type=float, default=2.0,
                    help="how long to listen for agents on the network (0: do not browse; default 2)")
    ls.set_defaults(func=_list)
    cal = actions.add_parser(
        "calibrate", help="measure what one message costs on `edgeplan run --local` (and store it in a topology)",
        description="Time tensor frames delivered to a local agent through the link relay, one way, as "
                    "`run --local` times a hop: the deployment mechanism's per-message overhead beyond a link's "
                    "latency and bandwidth, each message after some quiet (a plan's latency is one request on an "
                    "idle system, and waking an idle receiver costs more). With --topology, write a copy whose "
                    "message_overhead_ms (its own and every link's) is that figure, so plans made with it predict "
                    "`run --local` before it runs.",
        epilog="Example: edgeplan agent calibrate --topology home.json --out home.local.json")
    cal.add_argument("--topology", type=Path, metavar="T.json", help="a topology to calibrate (needs --out)")
    cal.add_argument("--out", type=Path, metavar="OUT.json", help="where to write the calibrated topology")
    cal.add_argument("--messages", type=int, default=60, help="timed messages (default 60)")
    cal.add_argument("--payload-kb", type=float, default=16.0, help="message size in kB (default 16)")
    cal.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    cal.set_defaults(func=_calibrate)


def _serve(args: argparse.Namespace) -> int:
    import platform

    try:
        from planner_app.agent.serve import default_data_dir, resolve_token, serve
        from planner_app.agent.server import AgentConfig
    except ImportError as exc:
        raise PlannerError(f"the agent needs the 'agent' extra ({exc}): pip install 'planner_app[agent]'") from None
    if not 0 < args.port < 65536:
        raise PlannerError(f"--port {args.port} is not a TCP port (1..65535)")
    if not args.max_model_mb > 0 or args.max_jobs < 1 or not args.body_timeout_s > 0:
        raise PlannerError("--max-model-mb and --body-timeout-s must be above 0, --max-jobs at least 1")
    data_dir = args.data_dir or default_data_dir()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PlannerError(f"--data-dir '{data_dir}' cannot be created ({exc.strerror}): give a writable folder") from None
    if args.tls_ca is not None:
        from planner_app.agent.wire import tls_context

        tls_context(str(args.tls_ca))  # a bundle that does not load stops the start, naming it
    token, generated = resolve_token(data_dir, args.token, args.token_file)
    if generated:
        print(f"edgeplan agent: new token (stored in {data_dir / 'token'}, shown once):\n{token}", flush=True)
    config = AgentConfig(data_dir=data_dir, token=token, name=args.name or platform.node(),
                         max_model_bytes=int(args.max_model_mb * (1 << 20)), max_pending_jobs=args.max_jobs,
                         body_timeout_s=args.body_timeout_s,
                         forward_ca_file=str(args.tls_ca) if args.tls_ca is not None else None)
    serve(config, args.host, args.port, tls_cert=args.tls_cert, tls_key=args.tls_key,
          advertise=not args.no_advertise, parent_pid=args.parent_pid)
    return 0


def _list(args: argparse.Namespace) -> int:
    from planner_app.agent.client import AgentClient, AgentError, load_agent_map
    from planner_app.agent.discovery import DiscoveryUnavailable, browse

    rows: list[list[object]] = []
    configured = load_agent_map(args.agents) if args.agents else {}
    seen: set[str] = set()

    def probe(source: str, name: str, url: str, token: str, verify: bool | str = True) -> None:
        seen.add(url.rstrip("/"))
        with AgentClient(url, token, timeout_s=3.0, retries=0, verify=verify) as client:
            try:
                version = client.check().get("agent_version", "?")
                device = client.device() if token else None
                what = f"{device['cpu_model']}, {device['cores']} cores" if device else "(no token)"
                rows.append([source, name, url, f"up, v{version}", what])
            except AgentError as exc:
                rows.append([source, name, url, "DOWN" if "does not answer" in str(exc) else "error",
                             str(exc).split(": ", 1)[-1][:80]])

    for device, entry in configured.items():
        probe("configured", device, entry.url, entry.token, entry.ca_file or True)
    note = ""
    if args.browse_seconds > 0:
        try:
            for found in browse(args.browse_seconds):
                if found.url.rstrip("/") not in seen:
                    probe("found", found.name, found.url, "")
        except DiscoveryUnavailable as exc:
            note = f"\n(network discovery off: {exc})"
    if not rows:
        print("no agents configured or found" + (f" within {args.browse_seconds:g} s" if args.browse_seconds else "")
              + note)
        return 0
    print(format_table(["source", "name", "url", "state", "device"], rows) + note)
    return 0 if all(r[3] != "DOWN" for r in rows) else 2


def _calibrate(args: argparse.Namespace) -> int:
    from planner_app.agent.plan_runner import calibrate_topology, measure_message_overhead

    if (args.topology is None) != (args.out is None):
        raise PlannerError("give --topology and --out together (or neither, to print the figure only)")
    if args.messages < 5 or not 0 < args.payload_kb <= 64 * 1024:
        raise PlannerError("--messages must be at least 5 and --payload-kb within 0..65536")
    payload = int(args.payload_kb * 1000)
    if args.topology is None:
        m = measure_message_overhead(payload_bytes=payload, messages=args.messages)
        lo, hi = m["ci95_ms"]
        print(f"one message through the link relay: {m['message_overhead_ms']:.3f} ms (95 % interval {lo:.3f}-"
              f"{hi:.3f}; {m['messages']} messages of {m['payload_bytes']} bytes, each after {m['idle_ms']:g} ms "
              f"of quiet; without the relay {m['direct_ms']:.3f} ms)")
        return 0
    from planner_app.core.topology.io import load_topology, save_topology

    topo = load_topology(args.topology)  # a bad topology fails before anything starts
    out, m = calibrate_topology(topo, payload_bytes=payload, messages=args.messages,
                                progress=None if args.quiet else progress_lines())
    lo, hi = m["ci95_ms"]
    print(f"one message through the link relay: {m['message_overhead_ms']:.3f} ms (95 % interval {lo:.3f}-{hi:.3f}; "
          f"{m['messages']} messages of {m['payload_bytes']} bytes, each after {m['idle_ms']:g} ms of quiet; "
          f"without the relay {m['direct_ms']:.3f} ms)")
    save_topology(out, args.out)
    print(f"calibrated topology written to {args.out}: message_overhead_ms {out.message_overhead_ms} (the "
          f"topology's and each of its {len(out.links)} links')")
    return 0


def agent_token(token: str | None, token_file: Path | None, what: str = "--token-file") -> str:
    """The token from ``--token`` or ``--token-file``; an error naming the option when neither is given."""
    from planner_app.agent.serve import read_token_file

    if token:
        return token
    if token_file is not None:
        return read_token_file(token_file)
    raise PlannerError(f"the agent needs its token: give {what} F (the agent stores it as 'token' in its data "
                       "folder and prints it at its first start)")


def progress_lines(prefix: str = "") -> Callable[[float, str], None]:
    """Progress as it arrives, one line per new message on stderr."""
    last = {"msg": ""}

    def show(fraction: float, message: str) -> None:
        if message and message != last["msg"]:
            print(f"[{100 * fraction:3.0f}%] {prefix}{message}", file=sys.stderr, flush=True)
            last["msg"] = message

    return show


def profile_with_agent(args: argparse.Namespace, mg: ModelGraph, levels: list[str], settings: ProfileSettings,
                       format_profile: Callable[..., str], save: Callable[[ModelProfile, Path], None]) -> int:
    """``edgeplan model profile MODEL --agent URL``: profile on the agent, print and save like a local profile."""
    from planner_app.agent.client import AgentClient
    from planner_app.agent.measure import profile_on_agent

    if args.variant or args.samples:
        raise PlannerError("--variant and --samples are not sent to an agent: profile variants as models of "
                           "their own; the agent measures fidelity on synthetic inputs")
    token = agent_token(args.token, args.token_file)
    with AgentClient(args.agent, token) as client:
        profile = profile_on_agent(client, mg, levels, settings, progress_lines(f"{args.agent}: "),
                                   use_cache=not args.no_cache)
    print(format_profile(profile, args.top))
    if args.out:
        save(profile, args.out)
        print(f"\nprofile measured by the agent at {args.agent} written to {args.out}")
    return 0


def measure_on_agents(args: argparse.Namespace, levels: list[str] | None) -> tuple[Any, dict[str, Path], Any]:
    """``edgeplan optimize --agents MAP.json``: load the workload's model, profile it on every agent of the
    map (in parallel: they are different machines) and save each profile.

    Returns the loaded model source (to plan with), device id → saved profile (for
    ``MeasureOptions.agent_profiles``) and the temporary folder holding them (keep it
    alive until planning is done). An agent that fails stops the command with its error.
    """
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    from planner_app.agent.client import AgentError, load_agent_map
    from planner_app.agent.measure import profile_on_agent
    from planner_app.commands._agent_args import TOPOLOGY_AGENTS
    from planner_app.core.models.graph import parse_shape_args
    from planner_app.core.planning import QUICK_PROFILE, LoadOptions, PlanningSession
    from planner_app.core.planning.source import DEFAULT_LEVELS

    session = PlanningSession.open(args.topology, args.workload)
    if args.agents == TOPOLOGY_AGENTS:
        from planner_app.agent.client import topology_agents

        agents = topology_agents(session.topology, Path(args.topology).parent)
        if not agents:
            raise AgentError(f"--agents without a map: topology '{args.topology}' names no agent (set agent_url "
                             "and agent_token_file or agent_token_keyring on its devices), or give --agents MAP.json")
    else:
        agents = load_agent_map(args.agents)
    unknown = [d for d in agents if not session.topology.has_device(d)]
    if unknown:
        raise AgentError(f"agent map '{args.agents}' names device(s) {unknown} that topology "
                         f"{session.topology.name!r} lacks: the devices are "
                         f"{', '.join(d.id for d in session.topology.devices)}")
    source = session.load_model(LoadOptions(model=args.model, shapes={
        k: tuple(v) for k, v in parse_shape_args(args.shape).items()}))
    mg = source.graph  # type: ignore[attr-defined]  # an ONNX source: the agents run ONNX
    wanted = list(levels or DEFAULT_LEVELS)
    folder = tempfile.TemporaryDirectory(prefix="edgeplan-agent-profiles-")

    def one(device: str) -> tuple[str, Path]:
        with agents[device].client() as client:
            prof = profile_on_agent(client, mg, wanted, QUICK_PROFILE,
                                    None if args.quiet else progress_lines(f"agent of {device}: "))
        path = Path(folder.name) / f"agent-{len(device)}-{abs(hash(device))}.profile.json"
        prof.save(path)
        return device, path

    with ThreadPoolExecutor(max_workers=min(8, len(agents))) as pool:
        saved = dict(pool.map(one, agents))
    return source, saved, folder
