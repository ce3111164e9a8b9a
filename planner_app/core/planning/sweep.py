"""Bandwidth sweep: the best plan's latency as one link's bandwidth changes, and where the split moves.

For each bandwidth (the link's own times a factor, both directions scaled
alike) the session's problem is posed again on a copy of the topology — same
model, same time table, same options — and solved; a point records the best
plan's latency, its placement and whether it is feasible. :func:`split_changes`
names the bandwidths where the best placement differs from the one before.
The chain DP is the default solver: exact over contiguous splits along routes
from the source (the classic "where to cut" question) and fast enough to run a
dozen solves interactively.

Example
-------
>>> points = bandwidth_sweep(session, "uplink", PoseOptions(slo_ms=None))  # doctest: +SKIP
>>> [p.bandwidth_mbps for p in split_changes(points)]                       # doctest: +SKIP
[12.5, 200.0]
"""

from __future__ import annotations

__all__ = ["SweepPoint", "bandwidth_sweep", "split_changes", "DEFAULT_FACTORS"]

from collections.abc import Sequence
from dataclasses import dataclass

from planner_app.core.errors import PlannerError
from planner_app.core.optimizer.problem import Placement
from planner_app.core.planning.options import PoseOptions, SolveOptions
from planner_app.core.planning.session import PlanningSession
from planner_app.core.progress import CancelToken, ProgressCallback, report

#: bandwidth multipliers of a sweep: 1/32x .. 32x of the link's own, log-spaced
DEFAULT_FACTORS: tuple[float, ...] = tuple(2.0 ** k for k in range(-5, 6))


@dataclass(frozen=True)
class SweepPoint:
    """The best plan when the swept link offers ``bandwidth_mbps`` (its slower direction)."""

    bandwidth_mbps: float
    latency_ms: float
    feasible: bool
    placement: Placement
    summary: str


def bandwidth_sweep(session: PlanningSession, link_id: str, pose: PoseOptions,
                    factors: Sequence[float] = DEFAULT_FACTORS, solver: str = "dp", *,
                    progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> list[SweepPoint]:
    """Solve ``session``'s problem again with link ``link_id`` at each bandwidth factor."""
    if session.source is None or session.measured is None:
        raise PlannerError("load and profile the model before a bandwidth sweep: it reuses the time table.")
    topo = session.topology
    if link_id not in {lk.id for lk in topo.links}:
        raise PlannerError(f"link {link_id!r} is not in topology {topo.name!r}: the links are "
                           f"{', '.join(lk.id for lk in topo.links) or '(none)'}.")
    if not factors or any(not f > 0 for f in factors):
        raise PlannerError("bandwidth sweep factors must be positive numbers.")
    link = topo.link(link_id)
    points: list[SweepPoint] = []
    for i, factor in enumerate(sorted(factors)):
        if cancel is not None:
            cancel.raise_if_cancelled()
        ab, ba = link.bandwidth_ab_mbps * factor, link.bandwidth_ba_mbps * factor
        report(progress, i / len(factors), f"solving with {link_id} at {min(ab, ba):.3g} Mbps")
        scaled = topo.model_copy(deep=True)
        scaled.links[[lk.id for lk in scaled.links].index(link_id)] = link.model_copy(
            update={"bandwidth_ab_mbps": ab, "bandwidth_ba_mbps": ba})
        one = PlanningSession(scaled, session.workload.name, topology_path=session.topology_path)
        one.workload = session.workload
        one.use_model(session.source)
        one.use_time_table(session.measured)
        one.pose(pose)
        result = one.solve(SolveOptions(solver=solver, pareto=False, baselines=False), cancel=cancel)
        points.append(SweepPoint(min(ab, ba), result.prediction.latency_ms, result.feasible, result.placement,
                                 result.placement.summary()))
    report(progress, 1.0, "sweep done")
    return points


def split_changes(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    """The points whose placement differs from the point before (the bandwidths where the split moves)."""
    return [b for a, b in zip(points, points[1:], strict=False) if a.placement != b.placement]
