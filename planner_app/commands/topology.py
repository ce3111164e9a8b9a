"""``edgeplan topology validate|show|rename-device``: check, print and edit topology files."""

from __future__ import annotations

import argparse
import sys

from planner_app.commands._table import fmt_num, format_table
from planner_app.core.errors import PlannerError
from planner_app.core.topology.io import load_topology, save_topology
from planner_app.core.topology.records import Topology


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "topology",
        help="validate or show a topology file",
        description="Work with topology files (devices, links, workloads).",
    )
    tsub = p.add_subparsers(dest="topology_command", metavar="ACTION", required=True)

    v = tsub.add_parser(
        "validate",
        help="check files; exit 0 when all are valid, 2 otherwise",
        description="Check topology files: JSON syntax, schema version, every field, and references "
        "between records. Prints one line per problem. Exit 0 when all are valid, 2 otherwise.",
    )
    v.add_argument("files", nargs="+", metavar="FILE", help="topology .json files")
    v.set_defaults(func=_validate)

    s = tsub.add_parser(
        "show",
        help="print devices, links and routes as tables",
        description="Print the devices, the links, and the best routes from each workload source "
        "(for a payload of --payload-kb kilobytes).",
    )
    s.add_argument("file", metavar="FILE", help="topology .json file")
    s.add_argument("--payload-kb", type=_non_negative_kb, default=150.0,
                   help="payload used to rank routes, in kB (default 150, a 224x224 RGB image)")
    s.set_defaults(func=_show)

    r = tsub.add_parser(
        "rename-device",
        help="give a device a new id; its links and workloads follow",
        description="Rename a device (the same edit as renaming it in the window): the links that touch "
        "it and the workloads that name it as source or consumer follow. The file is rewritten "
        "atomically, or --out writes a copy.",
    )
    r.add_argument("file", metavar="FILE", help="topology .json file")
    r.add_argument("old_id", metavar="OLD", help="the device's current id")
    r.add_argument("new_id", metavar="NEW", help="the new id (letters, digits, '_', '.', '-')")
    r.add_argument("--out", metavar="OUT.json", help="write the result here instead of over FILE")
    r.set_defaults(func=_rename_device)


def _non_negative_kb(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of kilobytes") from None
    if not (value >= 0 and value != float("inf")):  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r}: give a payload of 0 kB or more, e.g. 150")
    return value


def _validate(args: argparse.Namespace) -> int:
    worst = 0
    for path in args.files:
        try:
            topo = load_topology(path)
        except PlannerError as exc:
            print(f"{path}: INVALID\n{exc}", file=sys.stderr)
            worst = max(worst, exc.exit_code)
            continue
        print(
            f"{path}: valid ({len(topo.devices)} devices, {len(topo.links)} links, "
            f"{len(topo.workloads)} workloads)"
        )
    return worst


def device_rows(topo: Topology) -> list[list[object]]:
    return [
        [d.id, d.label, d.kind.value, d.tier.value, d.peak_gflops_fp32, d.memory_mb,
         d.cost_usd_per_hour, d.privacy_zone or "-", "yes" if d.battery else "no"]
        for d in topo.devices
    ]  # fmt: skip


def _show(args: argparse.Namespace) -> int:
    topo = load_topology(args.file)
    out = [f"{topo.name}: {topo.description}".rstrip(": "), ""]
    out.append(format_table(
        ["id", "name", "kind", "tier", "GFLOPS fp32", "memory MB", "USD/h", "zone", "battery"],
        device_rows(topo), title=f"Devices ({len(topo.devices)})"))  # fmt: skip
    out.append("")
    out.append(format_table(
        ["id", "a", "b", "medium", "a→b Mbps", "b→a Mbps", "latency ms", "loss %", "USD/GB"],
        [[link.id, link.a, link.b, link.medium, link.bandwidth_ab_mbps, link.bandwidth_ba_mbps,
          link.latency_ms, link.loss_pct, link.cost_usd_per_gb] for link in topo.links],
        title=f"Links ({len(topo.links)})"))  # fmt: skip
    payload = args.payload_kb * 1000.0
    router = topo.router()
    for w in topo.workloads:
        routes = router.routes_from(w.source, payload)
        rows: list[list[object]] = []
        for d in topo.devices:
            r = routes.get(d.id)
            if r is None:
                rows.append([d.id, "unreachable", None, None, None, None])
            else:
                rows.append([d.id, " → ".join(r.devices), r.hops, r.latency_ms,
                             r.bottleneck_mbps if r.links else None, r.transfer_ms(payload)])  # fmt: skip
        out.append("")
        out.append(format_table(
            ["to", "route", "hops", "latency ms", "bottleneck Mbps", f"{fmt_num(args.payload_kb)} kB in ms"],
            rows,
            title=f"Routes from {w.source} (workload {w.name}: {fmt_num(w.rate_rps)} req/s"
            + (f", SLO {fmt_num(w.slo_ms)} ms" if w.slo_ms else "") + ")"))  # fmt: skip
        unreachable = [d.id for d in topo.devices if d.id not in routes]
        if unreachable:
            out.append(f"  unreachable from {w.source}: {', '.join(unreachable)}")
    if not topo.workloads:
        out.append("\n(no workloads: add one to see routes)")
    print("\n".join(out))
    return 0


def _rename_device(args: argparse.Namespace) -> int:
    topo = load_topology(args.file)
    changed = topo.rename_device(args.old_id, args.new_id)
    target = args.out or args.file
    save_topology(topo, target)
    links = len(topo.links_of(args.new_id))
    follows = f"; workloads {', '.join(changed)} follow" if changed else ""
    print(f"renamed {args.old_id} to {args.new_id} ({links} link{'s' if links != 1 else ''}{follows}); wrote {target}")
    return 0
