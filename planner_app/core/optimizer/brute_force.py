"""Brute force: evaluate every placement of a small problem with the cost model.

Two spaces: ``'general'`` (any device and level per unit, any codec: what the
MILP searches) and ``'chain'`` (contiguous stages along the chain routes, one
level per stage: what the chain DP searches). The tests hold both solvers to
it. Sizes: general is ``(devices × levels)^units × codecs`` evaluations.

Example
-------
>>> res = brute_force(problem, space="chain")      # doctest: +SKIP
>>> res.best_prediction.latency_ms                 # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["BruteForceResult", "brute_force", "enumerate_placements", "chain_routes", "MAX_BRUTE_FORCE"]

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from planner_app.core.optimizer.cost_model import Prediction, evaluate
from planner_app.core.optimizer.pareto import criteria_vector, nondominated
from planner_app.core.optimizer.problem import Placement, PlanningProblem, ProblemError, lex_better
from planner_app.core.progress import CancelToken

#: refuse spaces larger than this many placements
MAX_BRUTE_FORCE = 2_000_000


def chain_routes(problem: PlanningProblem) -> list[list[str]]:
    """The station sequences the chain DP walks: candidate devices along each route from the source.

    One per target device, keeping only those not contained (as an ordered
    prefix) in another; the source's own list when it can compute.
    """
    seqs: list[list[str]] = []
    cand = set(problem.devices)
    for t in problem.devices:
        if t == problem.source:
            seq = [t]
        else:
            route = problem.route(problem.source, t)
            assert route is not None  # t is not the source
            seq = [d for d in route.devices if d in cand]
        if seq and seq not in seqs:
            seqs.append(seq)
    maximal = [s for s in seqs if not any(o != s and len(o) > len(s) and o[: len(s)] == s for o in seqs)]
    return maximal


def _chain_space(problem: PlanningProblem) -> Iterator[Placement]:
    n = problem.n_units
    seen: set[Placement] = set()
    for stations in chain_routes(problem):
        r = len(stations)
        # nondecreasing station index per unit == contiguous stages in route order
        for combo in itertools.combinations_with_replacement(range(r), n):
            used = sorted(set(combo))
            for lv in itertools.product(problem.levels, repeat=len(used)):
                lmap = dict(zip(used, lv, strict=True))
                for codec in problem.codecs:
                    p = Placement(tuple(stations[j] for j in combo), tuple(lmap[j] for j in combo), codec)
                    if p not in seen:
                        seen.add(p)
                        yield p


def _general_space(problem: PlanningProblem) -> Iterator[Placement]:
    n = problem.n_units
    options = [(d, lv) for d in problem.devices for lv in problem.levels]
    for combo in itertools.product(options, repeat=n):
        for codec in problem.codecs:
            yield Placement(tuple(c[0] for c in combo), tuple(c[1] for c in combo), codec)


def enumerate_placements(problem: PlanningProblem, space: str = "general") -> Iterator[Placement]:
    """Every placement of the space ('general' or 'chain')."""
    if space == "general":
        size = (len(problem.devices) * len(problem.levels)) ** problem.n_units * len(problem.codecs)
        if size > MAX_BRUTE_FORCE:
            raise ProblemError(f"brute force would evaluate {size:,} placements (limit {MAX_BRUTE_FORCE:,}); use 'dp' or 'milp'")
        return _general_space(problem)
    if space == "chain":
        return _chain_space(problem)
    raise ProblemError(f"unknown brute-force space {space!r}; use 'general' or 'chain'")


@dataclass
class BruteForceResult:
    """The best feasible placement (None if there is none), every evaluation, and the front."""

    best: Placement | None
    best_prediction: Prediction | None
    best_value: float
    evaluated: list[tuple[Placement, Prediction]] = field(default_factory=list)
    front: list[tuple[Placement, Prediction]] = field(default_factory=list)


def _canonical(p: Placement, pred: Prediction) -> bool:
    # a plan without messages is the same plan under every codec: keep only 'none'
    return pred.transfers != [] or p.codec == "none"


def brute_force(
    problem: PlanningProblem, space: str = "general", pareto: bool = False, cancel: CancelToken | None = None
) -> BruteForceResult:
    """Evaluate every placement; the best by :meth:`PlanningProblem.objective_key` (the objective,
    then latency, bytes on links and parts), remaining ties to the first."""
    best: tuple[tuple[float, ...], Placement, Prediction] | None = None
    evaluated: list[tuple[Placement, Prediction]] = []
    for i, p in enumerate(enumerate_placements(problem, space)):
        if cancel is not None and i % 512 == 0:
            cancel.raise_if_cancelled()
        pred = evaluate(p, problem)
        if not _canonical(p, pred):
            continue
        evaluated.append((p, pred))
        if not pred.feasible:
            continue
        key = problem.objective_key(pred)
        if best is None or lex_better(key, best[0]):
            best = (key, p, pred)
    front: list[tuple[Placement, Prediction]] = []
    if pareto:
        feas = [(p, pr) for p, pr in evaluated if pr.feasible]
        if feas:
            pts = np.array([criteria_vector(pr) for _, pr in feas])
            front = [feas[i] for i in nondominated(pts)]
    if best is None:
        return BruteForceResult(None, None, float("inf"), evaluated, front)
    return BruteForceResult(best[1], best[2], best[0][0], evaluated, front)
