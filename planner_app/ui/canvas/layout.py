"""Placement arithmetic for the canvas: layered auto-layout, align, distribute.

Pure functions over ids and numbers (no Qt), so they are easy to test and the
undo commands can store their result as plain ``{id: (x, y)}`` maps.

:func:`layered_layout` is a Sugiyama layered drawing (grandalf's
``SugiyamaLayout``: layering, crossing reduction by median ordering,
Brandes–Köpf coordinates), flowing left to right from end devices through
edge to cloud. End devices hanging off one parent (the cameras of a gateway)
are laid as one block beside it, so children stay grouped with their parent
and a tier of hundreds of cameras does not become one column 30,000 px tall.

Example
-------
>>> from planner_app.core.topology import Topology
>>> layered_layout(Topology())
{}
"""

from __future__ import annotations

__all__ = ["auto_layout_positions", "layered_layout", "tiers_layout", "align", "distribute", "snap", "ALIGN_MODES"]

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


_TIER_RANK = {"device": 0, "edge": 1, "cloud": 2}
CELL_W, CELL_H = 210.0, 130.0  # one device with its name and figures, and the space around it
LAYER_GAP = 110.0              # between layers, beyond the cells' own margins
BLOCK_ROWS = 6                 # up to this many end devices of one parent make one column
COMPONENT_GAP = 90.0           # between unconnected groups
DUMMY_SLOT = 16.0              # room across a layer for a long link passing through it
WRAP_MIN_ROWS = 12             # a layer wraps into more columns only beyond this many rows (and the area's root)
WRAP_GAP = 20.0                # between the columns of one wrapped layer


def auto_layout_positions(topology: Topology, ids: list[str] | None = None) -> dict[str, tuple[float, float]]:
    """:func:`layered_layout`, or :func:`tiers_layout` of all devices where grandalf is not installed."""
    try:
        return layered_layout(topology, ids)
    except ImportError:  # the gui extra brings grandalf; a bare install still gets a layout
        positions = tiers_layout(topology)
        return positions if ids is None else {k: v for k, v in positions.items() if k in set(ids)}


def layered_layout(topology: Topology, ids: list[str] | None = None,
                   origin: tuple[float, float] = (0.0, 0.0)) -> dict[str, tuple[float, float]]:
    """Positions for a layered drawing of the devices ``ids`` (default: all), left to right.

    Links are directed from the lower tier to the higher (device → edge → cloud;
    inside a tier from the less to the more connected device), which makes the
    graph acyclic without reversing edges. Each device's layer is its longest
    path from an end device; grandalf orders each layer to reduce crossings and
    places the layers. Devices with one link, to a device further right, form a
    block beside that parent. Unconnected groups are stacked top to bottom,
    biggest first. The drawing's top-left is at ``origin``.

    Examples
    --------
    >>> from planner_app.core.topology import Device, Link, Topology
    >>> topo = Topology(devices=[Device(id="cam", kind="camera", tier="device", peak_gflops_fp32=1, memory_mb=1),
    ...                          Device(id="gw", kind="gateway", tier="edge", peak_gflops_fp32=1, memory_mb=1)],
    ...                 links=[Link(id="l", a="cam", b="gw", bandwidth_ab_mbps=1, bandwidth_ba_mbps=1)])
    >>> pos = layered_layout(topo)
    >>> pos["cam"][0] < pos["gw"][0]
    True
    """
    from grandalf.graphs import (  # optional (the gui extra): only layout needs it
        Edge,
        Vertex,
        graph_core,
    )

    devices = [d for d in topology.devices if ids is None or d.id in set(ids)]
    if not devices:
        return {}
    wanted = {d.id for d in devices}
    neighbours: dict[str, set[str]] = defaultdict(set)
    for link in topology.links:
        if link.a in wanted and link.b in wanted and link.a != link.b:
            neighbours[link.a].add(link.b)
            neighbours[link.b].add(link.a)
    tier = {d.id: _TIER_RANK.get(str(d.tier), 1) for d in devices}
    order = {d.id: i for i, d in enumerate(devices)}
    # hops to the highest tier present: inside a tier, the device nearer the cloud goes right
    top = max(tier.values())
    hops = {d: 0 for d in tier if tier[d] == top}
    frontier = list(hops)
    while frontier:
        nxt = []
        for d in frontier:
            for n in neighbours[d]:
                if n not in hops:
                    hops[n] = hops[d] + 1
                    nxt.append(n)
        frontier = nxt
    far = len(devices) + 1

    def key(dev_id: str) -> tuple[int, int, int]:
        return (tier[dev_id], -hops.get(dev_id, far), order[dev_id])

    # end devices with one link to a device further right: grouped into a block per parent
    children: dict[tuple[str, int], list[str]] = defaultdict(list)  # (parent, tier) → its end devices
    for d in devices:
        nb = neighbours[d.id]
        if len(nb) == 1:
            (parent,) = nb
            if key(parent) > key(d.id) and len(neighbours[parent]) > 1:
                children[(parent, tier[d.id])].append(d.id)
    in_block = {c for kids in children.values() for c in kids}

    class _View:  # grandalf's vertex geometry; w across layers is our height (the flow is rotated)
        def __init__(self, w: float, h: float) -> None:
            self.w, self.h, self.xy = w, h, (0.0, 0.0)

    vertices: dict[str, Vertex] = {}
    vertex_tier: dict[Vertex, int] = {}
    for d in devices:
        if d.id in in_block:
            continue
        v = Vertex(d.id)
        v.view = _View(CELL_H, CELL_W)
        vertices[d.id] = v
        vertex_tier[v] = tier[d.id]
    blocks: dict[tuple[str, int], Vertex] = {}
    for (parent, kid_tier), kids in children.items():
        rows, cols = _block_shape(len(kids))
        v = Vertex(("block", parent, kid_tier))
        v.view = _View(rows * CELL_H, cols * CELL_W)
        blocks[(parent, kid_tier)] = v
        vertex_tier[v] = kid_tier
    edges = [Edge(b, vertices[parent]) for (parent, _), b in blocks.items()]
    seen: set[tuple[str, str]] = set()
    for a in vertices:
        for b in neighbours[a]:
            if b in vertices and key(a) < key(b) and (a, b) not in seen:
                seen.add((a, b))
                edges.append(Edge(vertices[a], vertices[b]))
    placed: list[tuple[float, list[tuple[Vertex, float, float]]]] = []
    singles: list[Vertex] = []
    for comp_vertices, comp_edges in _components(list(vertices.values()) + list(blocks.values()), edges):
        if not comp_edges:
            singles.append(comp_vertices[0])
            continue
        # grandalf's Graph() finds components with list scans (1.8 s on 1,000 devices): ours are found
        placed.append(_sugiyama(graph_core(comp_vertices, comp_edges), vertex_tier))

    # one column band per tier shared by every group, so tiers never mix across groups:
    # the band is as wide as the widest group's part of that tier
    spans: list[dict[int, tuple[float, float]]] = []
    for _height, verts in placed:
        span: dict[int, tuple[float, float]] = {}
        for v, _gx, gy in verts:  # grandalf's y runs along the flow: it is our x; view.h is our width
            t = vertex_tier[v]
            lo, hi = span.get(t, (math.inf, -math.inf))
            span[t] = (min(lo, gy - v.view.h / 2), max(hi, gy + v.view.h / 2))
        spans.append(span)
    lone: dict[int, list[Vertex]] = defaultdict(list)
    for v in sorted(singles, key=lambda v: order[v.data]):
        lone[vertex_tier[v]].append(v)
    tiers = sorted(set(vertex_tier.values()))
    width = {t: max([hi - lo for span in spans if t in span for lo, hi in [span[t]]]
                    + [CELL_W * math.ceil(math.sqrt(len(lone[t]))) if lone[t] else 0.0]) for t in tiers}
    band_x: dict[int, float] = {}
    x = origin[0]
    for t in tiers:
        band_x[t] = x
        x += width[t] + LAYER_GAP

    positions: dict[str, tuple[float, float]] = {}
    y = origin[1]
    for (height, verts), span in zip(placed, spans, strict=True):
        for v, gx, gy in verts:
            t = vertex_tier[v]
            cx, cy = band_x[t] + (gy - span[t][0]), y + gx
            if isinstance(v.data, tuple):
                _place_block(children[(v.data[1], v.data[2])], cx, cy, v.view, positions)
            else:
                positions[v.data] = (cx, cy)
        y += height + COMPONENT_GAP
    # lone devices: a grid under the groups, in their tier's band, in document order
    for t, vs in lone.items():
        per_row = max(1, int(width[t] // CELL_W))
        for i, v in enumerate(vs):
            row, col = divmod(i, per_row)
            positions[v.data] = (band_x[t] + CELL_W / 2 + col * CELL_W, y + CELL_H / 2 + row * CELL_H)
    return positions


def _components(vertices: list, edges: list) -> list[tuple[list, list]]:
    """Connected components (vertices, edges) by union-find, biggest first."""
    parent = {id(v): id(v) for v in vertices}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e in edges:
        a, b = find(id(e.v[0])), find(id(e.v[1]))
        if a != b:
            parent[a] = b
    groups: dict[int, tuple[list, list]] = {}
    for v in vertices:
        groups.setdefault(find(id(v)), ([], []))[0].append(v)
    for e in edges:
        groups[find(id(e.v[0]))][1].append(e)
    return sorted(groups.values(), key=lambda g: -len(g[0]))


def _tier_ranks(vertices: list, edges: list, vertex_tier: dict) -> dict:
    """Layer of each vertex: tiers in order (device, edge, cloud), and inside a tier the
    longest path along links within that tier (a gateway left of the server it feeds).

    grandalf's own ranking is the longest path over all links, which puts an end
    device that talks to another end device right of an edge box; tiers must not mix.
    """
    same_tier_in: dict = {v: 0 for v in vertices}
    out: dict = {v: [] for v in vertices}
    for e in edges:
        a, b = e.v
        if vertex_tier[a] == vertex_tier[b]:
            out[a].append(b)
            same_tier_in[b] += 1
    sub = {v: 0 for v in vertices}
    ready = [v for v in vertices if same_tier_in[v] == 0]
    while ready:  # Kahn's order; links inside a tier point from the less to the more central end
        v = ready.pop()
        for w in out[v]:
            sub[w] = max(sub[w], sub[v] + 1)
            same_tier_in[w] -= 1
            if same_tier_in[w] == 0:
                ready.append(w)
    base, ranks = 0, {}
    for t in sorted({vertex_tier[v] for v in vertices}):
        members = [v for v in vertices if vertex_tier[v] == t]
        for v in members:
            ranks[v] = base + sub[v]
        base += max(sub[v] for v in members) + 1
    return ranks


def _sugiyama(comp, vertex_tier: dict) -> tuple[float, list]:  # noqa: ANN001 - grandalf graph_core
    """Lay one connected component out top-down; returns its width across the layers (our
    height) and (vertex, x, y) in grandalf's frame, shifted to start at (0, 0)."""
    from grandalf.layouts import Layer, SugiyamaLayout

    vertices = list(comp.sV)
    ranks = _tier_ranks(vertices, list(comp.sE), vertex_tier)

    class _Sugiyama(SugiyamaLayout):
        def rank_all(self, roots: list, optimize: bool = False) -> None:
            # layers from the tiers (see _tier_ranks), not grandalf's longest path
            layers: list[list] = [[] for _ in range(max(ranks.values()) + 1)]
            for v in vertices:
                self.grx[v].rank = ranks[v]
                layers[ranks[v]].append(v)
            self.layers = [Layer(vs) for vs in layers if vs]
            assert len(self.layers) == len(layers), "tier ranks must leave no layer empty"

        # grandalf 0.8 keeps alignment conflicts in a list and tests membership once per
        # median neighbour: 6 of 9 s on 1,000 devices. A set gives the same answer.
        def _detect_alignment_conflicts(self) -> None:
            super()._detect_alignment_conflicts()
            self.conflicts = set(self.conflicts)  # type: ignore[has-type]  # grandalf is untyped

    sug = _Sugiyama(comp)
    sug.xspace, sug.yspace = 0.0, LAYER_GAP
    # bends of long links (grandalf's dummy vertices) take a thin slot, not a device's height
    sug.dw, sug.dh = DUMMY_SLOT, CELL_W
    roots = [v for v in comp.sV if not v.e_in()]
    sug.init_all(roots=roots, inverted_edges=[])
    # SugiyamaLayout.draw() without its edge routing (unused here), so a mesh can stop
    # after the crossing reduction: each round is a sweep over every layer
    rounds = 3 if comp.order() <= 300 else 1.5
    while rounds > 0.5:
        for _ in sug.ordering_step():
            pass
        rounds -= 1
    if rounds > 0:
        for _ in sug.ordering_step(oneway=True):
            pass
    real = set(vertices)
    area = sum(v.view.w * v.view.h for v in vertices)
    limit = max(WRAP_MIN_ROWS * CELL_H, 1.2 * math.sqrt(area))
    mesh = len(comp.sE) > 1.5 * len(vertices)
    if mesh and max(sum(v.view.w for v in layer if v in real) for layer in sug.layers) > limit / 2:
        # its coordinates would spread the layers over tens of thousands of px: pack them in
        # their crossing-reduced order instead (and skip the placement, 40 % of the time)
        packed = [[v for v in layer if v in real] for layer in sug.layers]
        return limit, _wrapped([layer for layer in packed if layer], limit)
    sug.setxy()
    layers = [sorted((v for v in layer if v in real), key=lambda v: v.view.xy[0]) for layer in sug.layers]
    verts = [(v, v.view.xy[0], v.view.xy[1]) for v in vertices]
    left = min(x - v.view.w / 2 for v, x, _ in verts)
    right = max(x + v.view.w / 2 for v, x, _ in verts)
    top_y = min(y - v.view.h / 2 for v, _, y in verts)
    verts = [(v, x - left, y - top_y) for v, x, y in verts]
    # a tree stays as grandalf drew it (tall when a parent has many children: cutting it
    # would part children from parents); a mesh spreads its layers over tens of thousands
    # of px: pack them in their order instead
    if right - left <= limit or not mesh:
        return right - left, verts
    return limit, _wrapped([layer for layer in layers if layer], limit)


def _wrapped(layers: list[list], limit: float) -> list[tuple]:
    """Layers packed in their crossing-reduced order into columns at most ``limit`` high.

    A mesh of hundreds of devices puts a hundred or more in one layer, and
    grandalf's coordinates then made a drawing 80,000 px tall and 6,000 wide;
    wrapping keeps each layer's order and the left-to-right flow.
    """
    out = []
    flow = 0.0
    for layer in layers:
        layer_w = max(v.view.h for v in layer)
        col, across = 0, 0.0
        for v in layer:
            if across and across + v.view.w > limit:
                col, across = col + 1, 0.0
            out.append((v, across + v.view.w / 2, flow + col * (layer_w + WRAP_GAP) + layer_w / 2))
            across += v.view.w
        flow += (col + 1) * layer_w + col * WRAP_GAP + LAYER_GAP
    return out


def _block_shape(n: int) -> tuple[int, int]:
    """Rows and columns of a block of ``n`` end devices: one column up to BLOCK_ROWS, then about
    square on screen, so a gateway with 40 cameras is not a column 5,000 px tall."""
    if n <= BLOCK_ROWS:
        return n, 1
    cols = max(2, round(math.sqrt(n * CELL_H / CELL_W)))
    return math.ceil(n / cols), cols


def _place_block(kids: list[str], cx: float, cy: float, view, positions: dict) -> None:  # noqa: ANN001
    """Spread a parent's end devices over their block (columns of up to BLOCK_ROWS) centred on (cx, cy)."""
    rows, cols = _block_shape(len(kids))
    left = cx - cols * CELL_W / 2 + CELL_W / 2
    top = cy - rows * CELL_H / 2 + CELL_H / 2
    for i, kid in enumerate(kids):
        col, row = divmod(i, rows)
        positions[kid] = (left + col * CELL_W, top + row * CELL_H)


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
