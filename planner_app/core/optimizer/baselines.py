"""Baselines on the same cost model: what a plan is compared with.

- ``all-on-source``: every unit on the source device (best single level);
- ``all-in-cloud``: every unit on the cloud-tier device nearest the source;
- ``best-single-split`` (Neurosurgeon-style): units ``[0, k)`` on the source,
  the rest on one other device, one level, no cut codec — the best ``k``,
  device and level (found exactly by the chain DP over the two devices);
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


def _best_split(problem: PlanningProblem, cancel: CancelToken | None) -> tuple[Placement, Prediction, str] | None:
    from planner_app.core.optimizer.chain_dp import solve_chain

    src = problem.source
    if src not in problem.devices:
        return None
    best = None
    for d in problem.devices:
        if d == src:
            continue
        for lv in problem.levels:
            if cancel is not None:
                cancel.raise_if_cancelled()
            sub = problem.restricted(devices=[src, d], levels=[lv], codecs=["none"]) \
                if all(x in (src, d) for x in problem.constraints.pinned_units.values()) else None
            if sub is None:
                continue
            res = solve_chain(sub)
            if res.best is None:
                continue
            pred = evaluate(res.best, problem)
            if best is None or lex_better(_rank(problem, pred), _rank(problem, best[1])):
                best = (res.best, pred, d)
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
