"""``edgeplan catalog``: list device and link presets."""

from __future__ import annotations

import argparse

from planner_app.commands._table import format_table
from planner_app.core.topology.catalog import load_catalog


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "catalog",
        help="list device and link presets",
        description="List the device and link presets (figures from the datasheets named in 'source').",
    )
    p.add_argument("--sources", action="store_true", help="also print where each preset's figures come from")
    p.add_argument("what", nargs="?", choices=["devices", "links", "all"], default="all",
                   help="which presets to list (default all)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    cat = load_catalog()
    parts = []
    if args.what in ("devices", "all"):
        parts.append(format_table(
            ["preset", "name", "tier", "cores", "GFLOPS fp32", "fp16 x", "int8 x", "memory MB", "GB/s", "W active", "USD/h"],
            [[p.id, p.name, p.tier.value, p.cpu_cores, p.peak_gflops_fp32, p.fp16_speedup, p.int8_speedup,
              p.memory_mb, p.memory_bandwidth_gb_per_s, p.power_active_w, p.cost_usd_per_hour] for p in cat.devices],
            title=f"Device presets ({len(cat.devices)})"))  # fmt: skip
        if args.sources:
            parts.append("\n".join(f"  {p.id}: {p.source}" for p in cat.devices))
    if args.what in ("links", "all"):
        parts.append(format_table(
            ["preset", "name", "medium", "up Mbps", "down Mbps", "latency ms", "jitter ms", "loss %", "USD/GB"],
            [[p.id, p.name, p.medium, p.bandwidth_ab_mbps, p.bandwidth_ba_mbps, p.latency_ms, p.jitter_ms,
              p.loss_pct, p.cost_usd_per_gb] for p in cat.links],
            title=f"Link presets ({len(cat.links)})"))  # fmt: skip
        if args.sources:
            parts.append("\n".join(f"  {p.id}: {p.source}" for p in cat.links))
    print("\n\n".join(parts))
    return 0
