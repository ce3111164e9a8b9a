"""``edgeplan agent``: run the edge agent on this device; ``edgeplan agent list``: find agents.

The agent needs the ``agent`` extra (``pip install 'planner_app[agent]'``), not Qt.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from planner_app.commands._table import format_table
from planner_app.core.errors import PlannerError


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
    p.add_argument("--max-model-mb", type=float, default=512, help="largest part upload, MB (default 512)")
    p.add_argument("--max-jobs", type=int, default=8, help="jobs queued or running at once; more are refused (429)")
    p.add_argument("--name", help="name of this device as planners see it (default: the host name)")
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="where parts and the token live (default $EDGEPLAN_AGENT_DIR or ~/.local/share/edgeplan-agent)")
    p.add_argument("--no-advertise", action="store_true", help="do not announce this agent with zeroconf")
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


def _serve(args: argparse.Namespace) -> int:
    import platform

    try:
        from planner_app.agent.serve import default_data_dir, resolve_token, serve
        from planner_app.agent.server import AgentConfig
    except ImportError as exc:
        raise PlannerError(f"the agent needs the 'agent' extra ({exc}): pip install 'planner_app[agent]'") from None
    if not 0 < args.port < 65536:
        raise PlannerError(f"--port {args.port} is not a TCP port (1..65535)")
    if not args.max_model_mb > 0 or args.max_jobs < 1:
        raise PlannerError("--max-model-mb must be above 0 and --max-jobs at least 1")
    data_dir = args.data_dir or default_data_dir()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PlannerError(f"--data-dir '{data_dir}' cannot be created ({exc.strerror}): give a writable folder") from None
    token, generated = resolve_token(data_dir, args.token, args.token_file)
    if generated:
        print(f"edgeplan agent: new token (stored in {data_dir / 'token'}, shown once):\n{token}", flush=True)
    config = AgentConfig(data_dir=data_dir, token=token, name=args.name or platform.node(),
                         max_model_bytes=int(args.max_model_mb * (1 << 20)), max_pending_jobs=args.max_jobs)
    serve(config, args.host, args.port, tls_cert=args.tls_cert, tls_key=args.tls_key,
          advertise=not args.no_advertise)
    return 0


def _list(args: argparse.Namespace) -> int:
    from planner_app.agent.client import AgentClient, AgentError, load_agent_map
    from planner_app.agent.discovery import DiscoveryUnavailable, browse

    rows: list[list[object]] = []
    configured = load_agent_map(args.agents) if args.agents else {}
    seen: set[str] = set()

    def probe(source: str, name: str, url: str, token: str) -> None:
        seen.add(url.rstrip("/"))
        with AgentClient(url, token, timeout_s=3.0, retries=0) as client:
            try:
                version = client.check().get("agent_version", "?")
                device = client.device() if token else None
                what = f"{device['cpu_model']}, {device['cores']} cores" if device else "(no token)"
                rows.append([source, name, url, f"up, v{version}", what])
            except AgentError as exc:
                rows.append([source, name, url, "DOWN" if "does not answer" in str(exc) else "error",
                             str(exc).split(": ", 1)[-1][:80]])

    for device, entry in configured.items():
        probe("configured", device, entry.url, entry.token)
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
