"""Placement arithmetic for the canvas: auto-layout by tier, align, distribute.

Pure functions over ids and numbers (no Qt), so they are easy to test and the
undo commands can store their result as plain ``{id: (x, y)}`` maps.

Example
-------
>>> from planner_app.core.topology.records import Topology
>>> tiers_layout(Topology())
{}
"""

from __future__ import annotations

__all__ = ["tiers_layout", "align", "distribute", "snap", "ALIGN_MODES"]

import math
from collections import defaultdict

from planner_app.core.topology.records import Topology

_TIERS = ("device", "edge", "cloud")
COLUMN_GAP_X = 320.0   # between tier blocks
SUBCOLUMN_GAP_X = 210.0  # between columns inside one tier block
ROW_GAP_Y = 130.0


def tiers_layout(topology: Topology, origin: tuple[float, float] = (0.0, 0.0)) -> dict[str, tuple[float, float]]:
    """Positions that put end devices left, edge in the middle, cloud right.

    Each tier is a block of columns, at most ``rows`` devices high, centred
    vertically. Inside a tier devices are ordered by the mean row of their
    neighbours in the tier before (a barycentre pass), which keeps a camera
    next to the edge box it talks to and cuts crossings.
    """
    by_tier: dict[str, list[str]] = defaultdict(list)
    for d in topology.devices:
        by_tier[str(d.tier)].append(d.id)
    n = len(topology.devices)
    if n == 0:
        return {}
    rows = max(6, math.ceil(math.sqrt(n) * 1.4))
    neighbours: dict[str, list[str]] = defaultdict(list)
    for link in topology.links:
        neighbours[link.a].append(link.b)
        neighbours[link.b].append(link.a)

    # order: edge first by id (the hub tier), then devices and cloud by barycentre of edge rows
    rank: dict[str, float] = {}
    order: dict[str, list[str]] = {}
    edge = sorted(by_tier.get("edge", []))
    order["edge"] = edge
    rank.update({d: float(i) for i, d in enumerate(edge)})
    for tier in ("device", "cloud"):
        ids = by_tier.get(tier, [])

        def key(dev_id: str, _ids: list[str] = ids) -> tuple[float, str]:
            ranked = [rank[o] for o in neighbours[dev_id] if o in rank]
            return (sum(ranked) / len(ranked) if ranked else math.inf, dev_id)

        order[tier] = sorted(ids, key=key)
    if not edge:  # no hub tier: order the cloud by the device order instead
        rank = {d: float(i) for i, d in enumerate(order["device"])}
    positions: dict[str, tuple[float, float]] = {}
    x = origin[0]
    for tier in _TIERS + tuple(t for t in by_tier if t not in _TIERS):
        ids = order.get(tier, by_tier.get(tier, []))
        if not ids:
            continue
        cols = math.ceil(len(ids) / rows)
        height = (min(len(ids), rows) - 1) * ROW_GAP_Y
        for i, dev_id in enumerate(ids):
            col, row = divmod(i, rows)
            positions[dev_id] = (x + col * SUBCOLUMN_GAP_X, origin[1] - height / 2 + row * ROW_GAP_Y)
        x += (cols - 1) * SUBCOLUMN_GAP_X + COLUMN_GAP_X
    return positions


ALIGN_MODES = ("left", "right", "top", "bottom", "hcenter", "vcenter")


def align(positions: dict[str, tuple[float, float]], mode: str) -> dict[str, tuple[float, float]]:
    """Align item centres: ``left``/``right``/``hcenter`` share x, ``top``/``bottom``/``vcenter`` share y."""
    if mode not in ALIGN_MODES:
        raise ValueError(f"unknown align mode {mode!r}; use one of {', '.join(ALIGN_MODES)}")
    if not positions:
        return {}
    xs = [p[0] for p in positions.values()]
    ys = [p[1] for p in positions.values()]
    target = {
        "left": min(xs), "right": max(xs), "hcenter": (min(xs) + max(xs)) / 2,
        "top": min(ys), "bottom": max(ys), "vcenter": (min(ys) + max(ys)) / 2,
    }[mode]
    if mode in ("left", "right", "hcenter"):
        return {k: (target, y) for k, (_, y) in positions.items()}
    return {k: (x, target) for k, (x, _) in positions.items()}


def distribute(positions: dict[str, tuple[float, float]], axis: str) -> dict[str, tuple[float, float]]:
    """Spread items evenly between the outermost two along ``axis`` ('x' or 'y')."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    k = 0 if axis == "x" else 1
    items = sorted(positions.items(), key=lambda kv: kv[1][k])
    if len(items) < 3:
        return dict(positions)
    lo, hi = items[0][1][k], items[-1][1][k]
    step = (hi - lo) / (len(items) - 1)
    out = {}
    for i, (item_id, (x, y)) in enumerate(items):
        v = lo + i * step
        out[item_id] = (v, y) if k == 0 else (x, v)
    return out


def snap(value: float, grid: float) -> float:
    """Round to the nearest multiple of ``grid`` (no-op when ``grid`` <= 0)."""
    return round(value / grid) * grid if grid > 0 else value
