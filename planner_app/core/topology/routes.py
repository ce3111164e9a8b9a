"""Routes between devices: the best multi-hop path for a payload size.

A :class:`Route` sums latency and cost over its links and sends at the
bottleneck bandwidth; :class:`Router` finds, from one source, the route to
every device that minimises ``Σ latency + size / bottleneck`` exactly.

Example
-------
>>> from planner_app.core.topology.records import Device, Link, Topology
>>> topo = Topology(devices=[
...     Device(id="a", kind="camera", tier="device", peak_gflops_fp32=1, memory_mb=1),
...     Device(id="b", kind="cloud", tier="cloud", peak_gflops_fp32=1, memory_mb=1)],
...     links=[Link(id="l", a="a", b="b", bandwidth_ab_mbps=8, bandwidth_ba_mbps=8, latency_ms=5)])
>>> Router(topo).route("a", "b", 1000).transfer_ms(1000)
6.0
"""

from __future__ import annotations

__all__ = ["Route", "Router"]

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from planner_app.core.errors import TopologyError

if TYPE_CHECKING:
    import numpy as np


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


class _LinkLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def a(self) -> str: ...
    @property
    def b(self) -> str: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def cost_usd_per_gb(self) -> float: ...
    @property
    def bandwidth_ab_mbps(self) -> float: ...
    @property
    def bandwidth_ba_mbps(self) -> float: ...
    def bandwidth_from(self, device_id: str) -> float: ...


class Graph(Protocol):
    """What routing reads of a topology (records.Topology satisfies it; routes never import it)."""

    @property
    def devices(self) -> Sequence[_HasId]: ...
    @property
    def links(self) -> Sequence[_LinkLike]: ...


class Route:
    """A path between two devices with its summed latency and bottleneck bandwidth."""

    __slots__ = ("source", "target", "devices", "links", "latency_ms", "bottleneck_mbps", "cost_usd_per_gb")

    def __init__(
        self,
        source: str,
        target: str,
        devices: list[str],
        links: list[str],
        latency_ms: float,
        bottleneck_mbps: float,
        cost_usd_per_gb: float,
    ) -> None:
        self.source = source
        self.target = target
        self.devices = devices
        self.links = links
        self.latency_ms = latency_ms
        self.bottleneck_mbps = bottleneck_mbps
        self.cost_usd_per_gb = cost_usd_per_gb

    @property
    def hops(self) -> int:
        return len(self.links)

    def transfer_ms(self, payload_bytes: float) -> float:
        """Σ latency + size / bottleneck bandwidth, in ms (0 on the same device)."""
        if not self.links:
            return 0.0
        return self.latency_ms + payload_bytes * 8.0 / (self.bottleneck_mbps * 1e3)

    def __repr__(self) -> str:
        return (
            f"Route({' -> '.join(self.devices)}, latency_ms={self.latency_ms:g}, "
            f"bottleneck_mbps={self.bottleneck_mbps:g})"
        )


class Router:
    """Best routes for a payload size over a topology.

    A link marked ``direct_only`` is the only path between its two ends: the
    route between them is that link even when a relay would be faster (routes to
    other devices may still pass over it).

    The metric ``Σ latency + bytes / bottleneck`` is not additive, so plain
    Dijkstra is not exact. For each distinct link bandwidth ``b`` we run
    Dijkstra on latency over the links with bandwidth ≥ ``b`` (scipy's C
    implementation); the best route is the best of these candidates. It is
    exact: the optimal route's bottleneck is one of the thresholds, and at that
    threshold the latency-shortest path is no slower. With payload 0 a single
    Dijkstra suffices.
    """

    #: added to every latency so that 0 ms links stay edges in the sparse graph
    _EPS_MS = 1e-9

    def __init__(self, topology: Graph) -> None:
        import numpy as np

        self._ids = [d.id for d in topology.devices]
        self._index = {d: i for i, d in enumerate(self._ids)}
        self._link_ids = [lk.id for lk in topology.links]
        self._link_cost = [lk.cost_usd_per_gb for lk in topology.links]
        src, dst, lat, bw, kk = [], [], [], [], []
        idx = self._index
        for k, lk in enumerate(topology.links):
            a, b = idx.get(lk.a), idx.get(lk.b)
            if a is None or b is None:
                continue
            src += [a, b]
            dst += [b, a]
            lat += [lk.latency_ms, lk.latency_ms]
            bw += [lk.bandwidth_ab_mbps, lk.bandwidth_ba_mbps]
            kk += [k, k]
        # arcs sorted by latency (then widest first) so the first arc of a pair is its best
        order = np.lexsort((-np.asarray(bw, float), np.asarray(lat, float))) if src else np.array([], int)
        self._src = np.asarray(src, dtype=np.int64)[order]
        self._dst = np.asarray(dst, dtype=np.int64)[order]
        self._lat = np.asarray(lat, dtype=float)[order]
        self._bw = np.asarray(bw, dtype=float)[order]
        self._link = np.asarray(kk, dtype=np.int64)[order]
        self._bandwidths = sorted(set(self._bw.tolist()), reverse=True)
        # links marked direct_only: between their ends, messages take them and nothing else
        self._direct: dict[int, list[tuple[int, int, float, float]]] = {}
        for k, lk in enumerate(topology.links):
            a, b = idx.get(lk.a), idx.get(lk.b)
            if a is None or b is None or not getattr(lk, "direct_only", False):
                continue
            self._direct.setdefault(a, []).append((b, k, lk.latency_ms, lk.bandwidth_ab_mbps))
            self._direct.setdefault(b, []).append((a, k, lk.latency_ms, lk.bandwidth_ba_mbps))
        # plain lists: element access on them is much faster than on numpy arrays
        self._bw_l = self._bw.tolist()
        self._lat_l = self._lat.tolist()
        self._link_l = self._link.tolist()
        #: bandwidth threshold -> (graph, pair keys, arcs), built on first use
        self._graphs: dict[float, tuple[Any, np.ndarray, np.ndarray]] = {}

    def _graph(self, min_mbps: float) -> tuple[Any, np.ndarray, np.ndarray]:
        """The sparse latency graph over arcs of at least ``min_mbps`` (cached per threshold).

        Returns (graph, sorted pair keys ``a * n + b``, arc index of each pair's lowest-latency arc).
        """
        hit = self._graphs.get(min_mbps)
        if hit is not None:
            return hit
        import numpy as np
        from scipy.sparse import csr_matrix

        n = len(self._ids)
        mask = self._bw >= min_mbps
        s, d = self._src[mask], self._dst[mask]
        arcs = np.nonzero(mask)[0]
        keys = s * n + d
        keys_u, first = np.unique(keys, return_index=True)  # first = lowest-latency arc per pair
        chosen = arcs[first]
        graph = csr_matrix((self._lat[chosen] + self._EPS_MS, (s[first], d[first])), shape=(n, n))
        self._graphs[min_mbps] = out = (graph, keys_u, chosen)
        return out

    def _trees(self, sources: list[int], min_mbps: float) -> list[tuple[np.ndarray, list[int], list[int], np.ndarray]]:
        """Latency-shortest-path trees over arcs of at least ``min_mbps``, one per source (one Dijkstra call).

        Returns per source (dist, predecessor, arc of the predecessor edge, bottleneck) per device.
        """
        import numpy as np
        from scipy.sparse.csgraph import dijkstra

        n = len(self._ids)
        graph, keys_u, chosen = self._graph(min_mbps)
        dists, preds = dijkstra(graph, directed=True, indices=sources, return_predecessors=True)
        out = []
        bw = self._bw_l
        for dist, pred in zip(np.atleast_2d(dists), np.atleast_2d(preds), strict=True):
            arc_of = np.full(n, -1, dtype=np.int64)
            has = pred >= 0
            if has.any():
                pos = np.searchsorted(keys_u, pred[has].astype(np.int64) * n + np.nonzero(has)[0])
                arc_of[has] = chosen[pos]
            bott_l = [math.inf] * n
            pred_l = pred.tolist()
            arc_l = arc_of.tolist()
            for v in np.argsort(dist, kind="stable").tolist():
                p = pred_l[v]
                if p < 0:
                    continue
                b = bw[arc_l[v]]
                bp = bott_l[p]
                bott_l[v] = b if b < bp else bp
            out.append((dist, pred_l, arc_l, np.asarray(bott_l)))
        return out

    def _tree(self, source: int, min_mbps: float) -> tuple[np.ndarray, list[int], list[int], np.ndarray]:
        """Latency-shortest-path tree over arcs of at least ``min_mbps`` (see :meth:`_trees`)."""
        return self._trees([source], min_mbps)[0]

    def routes_from(self, source: str, payload_bytes: float = 0.0) -> dict[str, Route]:
        """Best routes from ``source`` to every reachable device."""
        return self.routes_from_many([source], payload_bytes)[source]

    def routes_from_many(self, sources: Sequence[str], payload_bytes: float = 0.0) -> dict[str, dict[str, Route]]:
        """Best routes from each of ``sources`` to every device it reaches (one Dijkstra call per
        bandwidth threshold for all of them: what planning needs between every pair of stations)."""
        import numpy as np

        uniq = list(dict.fromkeys(sources))
        idx = []
        for source in uniq:
            src = self._index.get(source)
            if src is None:
                raise TopologyError(f"no device {source!r}: cannot route from it")
            idx.append(src)
        n = len(self._ids)
        thresholds = [0.0] if payload_bytes <= 0 else self._bandwidths or [0.0]
        bits_k = payload_bytes * 8.0 / 1e3  # ms × Mbps
        per_threshold = [self._trees(idx, thr) for thr in thresholds]
        result: dict[str, dict[str, Route]] = {}
        for si, (source, src) in enumerate(zip(uniq, idx, strict=True)):
            best = np.full(n, np.inf)
            best_tree = np.full(n, -1, dtype=np.int64)
            trees = []
            for i, per_source in enumerate(per_threshold):
                dist, pred, arc_of, bott = per_source[si]
                trees.append((pred, arc_of))
                with np.errstate(divide="ignore", invalid="ignore"):
                    score = dist + (bits_k / bott if bits_k > 0 else 0.0)
                better = score < best - 1e-12
                best = np.where(better, score, best)
                best_tree = np.where(better, i, best_tree)
            result[source] = self._assemble(source, src, best_tree, trees, payload_bytes)
        return result

    def _assemble(self, source: str, src: int, best_tree: np.ndarray, trees: list[tuple[list[int], list[int]]],
                  payload_bytes: float) -> dict[str, Route]:
        """Routes from the chosen tree of each target."""
        import numpy as np

        routes: dict[str, Route] = {}
        for t in np.nonzero(best_tree >= 0)[0].tolist():
            if t == src:
                routes[source] = Route(source, source, [source], [], 0.0, math.inf, 0.0)
                continue
            pred, arc_of = trees[best_tree[t]]
            devices = [t]
            arcs: list[int] = []
            node = t
            while node != src:
                arcs.append(arc_of[node])
                node = pred[node]
                devices.append(node)
            devices.reverse()
            arcs.reverse()
            links = [self._link_l[a] for a in arcs]
            ids, lat, bw, cost = self._ids, self._lat_l, self._bw_l, self._link_cost
            routes[ids[t]] = Route(
                source, ids[t], [ids[i] for i in devices], [self._link_ids[k] for k in links],
                sum(lat[a] for a in arcs), min(bw[a] for a in arcs), sum(cost[k] for k in links),
            )
        if self._direct:
            self._direct_routes(src, payload_bytes, routes)
        return routes

    def _direct_routes(self, src: int, payload_bytes: float, routes: dict[str, Route]) -> None:
        """Replace the routes to the far ends of ``direct_only`` links by those links (the best one
        when several join the same pair)."""
        best: dict[int, tuple[float, int, float, float]] = {}
        for t, k, lat, bw in self._direct.get(src, []):
            score = lat + payload_bytes * 8.0 / (bw * 1e3)
            if t not in best or score < best[t][0]:
                best[t] = (score, k, lat, bw)
        ids = self._ids
        for t, (_, k, lat, bw) in best.items():
            routes[ids[t]] = Route(ids[src], ids[t], [ids[src], ids[t]], [self._link_ids[k]], lat, bw,
                                   self._link_cost[k])

    def route(self, source: str, target: str, payload_bytes: float = 0.0) -> Route | None:
        """Best route from ``source`` to ``target``; None when unreachable."""
        if target not in self._index:
            raise TopologyError(f"no device {target!r}: cannot route to it")
        return self.routes_from(source, payload_bytes).get(target)
