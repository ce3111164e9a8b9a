"""Baselines on the same cost model: what a plan is compared with.

- ``all-on-source``: every unit on the source device (best single level);
- ``all-in-cloud``: every unit on the cloud-tier device nearest the source;
- ``best-single-split`` (Neurosurgeon-style): units ``[0, k)`` on the source,
  the rest on one other device, one level, no cut codec — the best feasible ``k``,
  device and level (every split's figures summed at once, then checked by the cost
  model in that order until the first feasible one);
- ``dads-min-cut`` (DADS-style): a minimum s-t cut of the unit DAG between the
  source and the best single split's device, with compute times as terminal
  capacities and transfer times on the edges (``networkx.minimum_cut``).

Each baseline is the best of its family by the problem's objective, feasible
ones first; an infeasible baseline is still reported, with its violations.

Example
-------
>>> [b.name for b in compute_baselines(problem)]   # doctest: +SKIP
['all-on-source', 'all-in-cloud', 'best-single-split', 'dads-min-cut']
"""

from __future__ import annotations

__all__ = ["BaselineResult", "compute_baselines"]

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

from planner_app.core.optimizer.cost_model import Prediction, evaluate, message_coefficients
from planner_app.core.optimizer.problem import Placement, PlanningProblem, lex_better
from planner_app.core.progress import CancelToken


@dataclass
class BaselineResult:
    """A baseline's placement and prediction."""

    name: str
    description: str
    placement: Placement
    prediction: Prediction


def _rank(problem: PlanningProblem, pred: Prediction) -> tuple[float, ...]:
    """Feasible first, then the least violation, then :meth:`PlanningProblem.objective_key`."""
    return (0 if pred.feasible else 1, pred.total_violation if not pred.feasible else 0.0,
            *problem.objective_key(pred))


def _best_uniform(problem: PlanningProblem, device: str) -> tuple[Placement, Prediction] | None:
    best = None
    for lv in problem.levels:
        p = Placement.uniform(problem.n_units, device, lv)
        pred = evaluate(p, problem)
        if best is None or lex_better(_rank(problem, pred), _rank(problem, best[1])):
            best = (p, pred)
    return best


def _nearest_cloud(problem: PlanningProblem) -> str | None:
    clouds = [d for d in problem.devices if str(problem.topology.device(d).tier) == "cloud"]
    if not clouds:
        return None
    return min(clouds, key=lambda d: 0.0 if d == problem.source else problem.routes[(problem.source, d)].latency_ms)


def _split_metrics(problem: PlanningProblem, a: str, b: str, li: int) -> np.ndarray:
    """Metrics (latency, $ per 1k, link bytes, battery mJ, parts) of every split ``k`` = 0..n:
    units ``[0, k)`` on ``a``, the rest on ``b``, level ``li``, no cut codec (the cost model's sums)."""
    s = problem.structure
    n = s.n_units
    dindex = {d: i for i, d in enumerate(problem.devices)}
    recs = problem.device_records
    oh = problem.overhead_ms
    src, res = problem.source, problem.result_device
    out = np.zeros((n + 1, 5))

    def part(dev: str, ms: np.ndarray) -> np.ndarray:
        """Metrics (len, 5) of parts on ``dev`` whose compute sums are ``ms`` (overhead included)."""
        r = recs[dev]
        t = ms + oh
        with np.errstate(invalid="ignore"):  # inf ms x 0 $/h: nan, made inf below
            return np.stack([t, t * r.cost_usd_per_hour / 3.6e6 * 1000.0, np.zeros_like(t),
                             t * (r.power_active_w if r.battery else 0.0), np.ones_like(t)], axis=1)

    def message(x: str, y: str, k: np.ndarray) -> np.ndarray:
        """Metrics (len(k), 5) of boundary ``k``'s message x -> y (none when x == y or the cut is empty)."""
        m = np.zeros((len(k), 5))
        if x == y:
            return m
        c = message_coefficients(problem, x, y, "none")
        raw = s.cut_bytes[k].astype(float)
        has = np.array([bool(s.cut_tensors[i]) for i in k])
        m[:, 0] = np.where(has, c.fixed_ms + c.ms_per_byte * raw, 0.0)
        m[:, 1] = c.usd_per_1k_per_byte * raw
        m[:, 2] = c.wire_ratio * c.hops * raw
        m[:, 3] = c.energy_mj_per_byte * raw
        m[~has] = 0.0
        return m

    with np.errstate(invalid="ignore"):
        ca = np.r_[0.0, np.cumsum(problem.ms[:, dindex[a], li])]  # compute of units < k on a
        cb = np.r_[np.cumsum(problem.ms[::-1, dindex[b], li])[::-1], 0.0]  # compute of units >= k on b
    k = np.arange(n + 1)
    has_a, has_b = k > 0, k < n
    out[has_a] += part(a, ca[has_a])
    out[has_b] += part(b, cb[has_b])
    # the raw input goes to the first part's device, the results leave the last part's device
    out[has_a] += message(src, a, np.zeros(int(has_a.sum()), dtype=np.int64))
    out[~has_a] += message(src, b, np.zeros(1, dtype=np.int64))
    mid = np.arange(1, n)
    out[mid] += message(a, b, mid)
    if not problem.results_stay:
        out[has_b] += message(b, res, np.full(int(has_b.sum()), n))
        out[~has_b] += message(a, res, np.full(1, n))
    out[~np.isfinite(out).all(axis=1)] = np.inf  # a unit that cannot run (inf ms, maybe x 0 $/h = nan)
    return out


def _best_split_pair(problem: PlanningProblem, a: str, b: str, level: str) -> tuple[Placement, Prediction] | None:
    """The best feasible split of ``a`` then ``b`` at ``level`` (codec 'none'): splits in the order of
    their objective key, each checked by the cost model until the first feasible one (and its ties)."""
    n = problem.n_units
    metrics = _split_metrics(problem, a, b, problem.levels.index(level))
    w = problem.weights
    cols = {"latency": 0, "cost": 1, "bandwidth": 2, "energy": 3}
    obj = np.zeros(n + 1)
    if "throughput" in w:
        obj = np.full(n + 1, np.nan)  # a maximum, not a sum: every split is evaluated
    else:
        for name, weight in w.items():
            obj = obj + weight * metrics[:, cols[name]]
    obj = np.where(np.isnan(obj), -np.inf, obj)  # unknown: evaluate it early
    order = np.lexsort((metrics[:, 4], metrics[:, 2], metrics[:, 0], obj))
    best: tuple[tuple[float, ...], Placement, Prediction] | None = None
    for k in order.tolist():
        if best is not None and obj[k] > best[0][0] * (1 + 1e-9) + 1e-12:
            break  # every later split has a larger objective than the best feasible one
        pl = Placement((a,) * k + (b,) * (n - k), (level,) * n, "none")
        pred = evaluate(pl, problem)
        if not pred.feasible:
            continue
        key = problem.objective_key(pred)
        if best is None or lex_better(key, best[0]):
            best = (key, pl, pred)
    return None if best is None else (best[1], best[2])


def _best_split(problem: PlanningProblem, cancel: CancelToken | None) -> tuple[Placement, Prediction, str] | None:
    src = problem.source
    if src not in problem.devices:
        return None
    pins = set(problem.constraints.pinned_units.values())
    best = None
    for d in problem.devices:
        if d == src or not pins <= {src, d}:
            continue
        for lv in problem.levels:
            if cancel is not None:
                cancel.raise_if_cancelled()
            found = _best_split_pair(problem, src, d, lv)
            if found is None:
                continue
            if best is None or lex_better(_rank(problem, found[1]), _rank(problem, best[1])):
                best = (found[0], found[1], d)
    return best


def _dads(problem: PlanningProblem, other: str, level: str) -> Placement:
    """Min s-t cut: source side = the source device, sink side = ``other``."""
    s = problem.structure
    src = problem.source
    li = problem.levels.index(level)
    dindex = {d: i for i, d in enumerate(problem.devices)}
    big = 1e12

    def cap(x: float) -> float:
        return big if not math.isfinite(x) else float(x)

    up = message_coefficients(problem, src, other, "none")
    down = message_coefficients(problem, other, src, "none")
    g = nx.DiGraph()
    t_src = problem.ms[:, dindex[src], li]
    t_oth = problem.ms[:, dindex[other], li]
    for v in range(s.n_units):
        g.add_edge("S", v, capacity=cap(t_oth[v]))  # cut when v runs on `other`
        g.add_edge(v, "T", capacity=cap(t_src[v]))  # cut when v runs on the source
    for t in s.tensors:
        if t.producer < 0:
            for v in set(t.consumers):  # the raw input sits on the source
                g["S"][v]["capacity"] += up.fixed_ms + up.ms_per_byte * t.size_bytes
        if t.is_output and t.producer >= 0 and not problem.results_stay:
            res_on_source = problem.result_device != other
            if res_on_source:
                g["S"][t.producer]["capacity"] += down.fixed_ms + down.ms_per_byte * t.size_bytes
            else:
                g[t.producer]["T"]["capacity"] += up.fixed_ms + up.ms_per_byte * t.size_bytes
    for u, v, nbytes in s.edges():
        g.add_edge(u, v, capacity=up.fixed_ms + up.ms_per_byte * nbytes)
        g.add_edge(v, u, capacity=down.fixed_ms + down.ms_per_byte * nbytes)
    pins = {int(u): d for u, d in problem.constraints.pinned_units.items()}
    for u, d in pins.items():
        if d == src:
            g.add_edge("S", u, capacity=big * 10)
        elif d == other:
            g.add_edge(u, "T", capacity=big * 10)
    _, (s_side, _t_side) = nx.minimum_cut(g, "S", "T")
    devices = tuple(src if v in s_side else other for v in range(s.n_units))
    return Placement(devices, (level,) * s.n_units, "none")


def compute_baselines(problem: PlanningProblem, cancel: CancelToken | None = None) -> list[BaselineResult]:
    """Every baseline that applies to the problem (see the module docstring)."""
    out: list[BaselineResult] = []
    src = problem.source
    if src in problem.devices:
        b = _best_uniform(problem, src)
        if b:
            out.append(BaselineResult("all-on-source", f"every unit on {src}", *b))
    cloud = _nearest_cloud(problem)
    if cloud is not None and cloud != src:
        b = _best_uniform(problem, cloud)
        if b:
            out.append(BaselineResult("all-in-cloud", f"every unit on {cloud} (nearest cloud)", *b))
    split = _best_split(problem, cancel)
    if split is not None:
        p, pred, other = split
        out.append(BaselineResult("best-single-split", f"Neurosurgeon-style: {src} then {other}", p, pred))
        try:
            best_dads = None
            for lv in problem.levels:
                if not np.isfinite(problem.ms[:, problem.devices.index(other), problem.levels.index(lv)]).any():
                    continue
                q = _dads(problem, other, lv)
                qp = evaluate(q, problem)
                if best_dads is None or lex_better(_rank(problem, qp), _rank(problem, best_dads[1])):
                    best_dads = (q, qp)
            if best_dads is not None:
                out.append(BaselineResult("dads-min-cut", f"DADS-style min-cut between {src} and {other}", *best_dads))
        except nx.NetworkXError:  # pragma: no cover - a disconnected flow graph cannot happen here
            pass
    return out
