"""Several workloads planned at once on the devices and links they share.

Planned one at a time, each workload sees the whole topology as its own: two
cameras may both move their model to the same edge server and, together,
load it past 100 %. :func:`solve_joint` places every workload in one MILP
(the per-workload blocks of :mod:`~planner_app.core.optimizer.milp`) with

- the **sum** of the utilizations on every device and link direction below 1
  (``rate × busy ms / 1000`` summed over the workloads that use it);
- the **memory** of a device holding every part placed on it (weights plus the
  peak activation of each workload's parts there, summed);
- one objective stated over all workloads (:data:`JOINT_OBJECTIVES`):
  ``worst-slack`` minimises the largest latency / SLO (the tightest workload
  first; ties go to the rate-weighted latency), ``total-cost`` the USD per hour
  of every workload at its rate, ``weighted-latency`` the sum of latencies
  weighted by rate (or by the weights given).

Each workload keeps its own constraints (SLO, cost, fidelity, privacy, pinned
units). :func:`joint_load` sums any set of placements per device and link
direction — the joint plan's, or the one-at-a-time plans' to show how far they
overcommit. When no joint placement exists, the MILP is solved again with an
elastic slack on every shared row; the devices and links that need one are the
ones that cannot fit everything (:attr:`JointSolution.blocking`).

Exactness: the placement and the levels are exact within the time limit for the
cut codecs chosen per workload; the codecs tried are each codec for every
workload and the codecs of the one-at-a-time plans (not every combination,
which grows as codecs ** workloads).

Shortcut (:func:`alone_optimum`): when the one-at-a-time plans are each proven optimal
for the joint objective's own per-workload measure and fit together, they *are* the
joint optimum (over every codec combination, not only those tried) and no MILP is
built. When they do not fit, their proven optima bound the joint MILP from below
(see :func:`_solve_codecs`), and the best joint plan found so far caps each later
codec combination.

Example
-------
>>> sol = solve_joint(problems, JointGoal("worst-slack"))        # doctest: +SKIP
>>> [pl.summary() for pl in sol.placements], sol.loads[0].utilization   # doctest: +SKIP
"""

from __future__ import annotations

__all__ = [
    "JOINT_OBJECTIVES",
    "JointObjectiveInfo",
    "JointGoal",
    "ResourceLoad",
    "JointSolution",
    "joint_objective_names",
    "joint_objective_value",
    "joint_load",
    "alone_measure",
    "alone_optimum",
    "solve_joint",
]

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from planner_app.core.errors import ProblemError
from planner_app.core.optimizer.cost_model import Prediction, evaluate, message_coefficients
from planner_app.core.optimizer.milp import (
    _STATUS,
    _add_problem,
    _Block,
    _decode,
    _Expr,
    _Model,
    _scaled,
)
from planner_app.core.optimizer.problem import Placement, PlanningProblem
from planner_app.core.optimizer.reduce import _allowed_levels
from planner_app.core.progress import CancelToken, ProgressCallback, report


@dataclass(frozen=True)
class JointObjectiveInfo:
    """One objective over several workloads: its name and what it minimises."""

    name: str
    description: str
    unit: str


#: the objectives a joint plan can state, by name (the CLI's ``--joint-objective`` choices)
JOINT_OBJECTIVES: dict[str, JointObjectiveInfo] = {
    o.name: o for o in (
        JointObjectiveInfo("worst-slack", "the largest latency / SLO over the workloads (1 = at the SLO); ties go "
                           "to the rate-weighted latency", "latency / SLO"),
        JointObjectiveInfo("total-cost", "USD per hour of every workload at its rate (devices' $/hour, links' "
                           "$/GB)", "USD/hour"),
        JointObjectiveInfo("weighted-latency", "the sum of latencies weighted by each workload's rate (or the "
                           "weights given)", "ms × weight"),
    )
}


def joint_objective_names() -> list[str]:
    """The names of :data:`JOINT_OBJECTIVES`, in order."""
    return list(JOINT_OBJECTIVES)


@dataclass(frozen=True)
class JointGoal:
    """What a joint plan minimises: an objective of :data:`JOINT_OBJECTIVES` and, for
    ``weighted-latency``, the weight of each workload by name (default: its rate)."""

    name: str = "worst-slack"
    weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in JOINT_OBJECTIVES:
            raise ProblemError(f"unknown joint objective {self.name!r}: choose from {', '.join(JOINT_OBJECTIVES)}")
        bad = {k: w for k, w in self.weights.items() if not (math.isfinite(w) and w >= 0)}
        if bad:
            raise ProblemError(f"joint objective weights must be finite and >= 0, got {bad}")

    def weight(self, problem: PlanningProblem) -> float:
        """The weight of ``problem``'s workload in ``weighted-latency`` (and in the tie-break)."""
        w = self.weights.get(problem.workload.name)
        return float(w) if w is not None else float(problem.workload.rate_rps)


@dataclass
class ResourceLoad:
    """The load of one device or link direction, summed over the workloads that use it."""

    #: ``device ID`` or ``link ID A→B``
    resource: str
    kind: str  # "device" or "link"
    #: workload name -> utilization it adds (rate × busy ms / 1000)
    per_workload: dict[str, float]
    #: devices only: workload name -> bytes it holds (weights + peak activation)
    memory_per_workload: dict[str, float] = field(default_factory=dict)
    memory_limit_bytes: float | None = None

    @property
    def utilization(self) -> float:
        return float(sum(self.per_workload.values()))

    @property
    def memory_bytes(self) -> float:
        return float(sum(self.memory_per_workload.values()))

    @property
    def overloaded(self) -> bool:
        """Full or past it: utilization >= 1, or more memory than the device has."""
        over_mem = self.memory_limit_bytes is not None and self.memory_bytes > self.memory_limit_bytes
        return self.utilization >= 1.0 or over_mem


def joint_load(problems: Sequence[PlanningProblem], predictions: Sequence[Prediction]) -> list[ResourceLoad]:
    """Per device and link direction, what every workload's placement puts on it (sorted: devices
    first, then links, each by id). Utilization counts only workloads whose rate is stated
    (capacity applies to them); memory counts every workload."""
    loads: dict[str, ResourceLoad] = {}
    for p, pr in zip(problems, predictions, strict=True):
        name = p.workload.name
        counts = p.constraints.capacity
        for d, busy in pr.device_busy_ms.items():
            row = loads.setdefault(f"device {d}", ResourceLoad(f"device {d}", "device", {},
                                                               memory_limit_bytes=p.memory_limit_bytes(d)))
            if counts:
                row.per_workload[name] = row.per_workload.get(name, 0.0) + p.rate_rps * busy / 1000.0
            row.memory_per_workload[name] = row.memory_per_workload.get(name, 0.0) + pr.memory_bytes.get(d, 0.0)
        if not counts:
            continue
        for tr in pr.transfers:
            coef = message_coefficients(p, tr.from_device, tr.to_device, tr.codec)
            for lid, u, v, per_byte in coef.link_dirs:
                key = f"link {lid} {u}→{v}"
                row = loads.setdefault(key, ResourceLoad(key, "link", {}))
                row.per_workload[name] = row.per_workload.get(name, 0.0) + p.rate_rps * per_byte * tr.bytes / 1000.0
    return sorted(loads.values(), key=lambda r: (r.kind != "device", r.resource))


def joint_objective_value(goal: JointGoal, problems: Sequence[PlanningProblem],
                          predictions: Sequence[Prediction]) -> float:
    """The joint objective of placements already evaluated (the MILP minimises exactly this)."""
    if goal.name == "worst-slack":
        ratios = [pr.latency_ms / p.constraints.slo_ms for p, pr in zip(problems, predictions, strict=True)
                  if p.constraints.slo_ms]
        return max(ratios, default=math.inf)
    if goal.name == "total-cost":
        return float(sum(p.rate_rps * 3.6 * pr.cost_usd_per_1k for p, pr in zip(problems, predictions, strict=True)))
    return float(sum(goal.weight(p) * pr.latency_ms for p, pr in zip(problems, predictions, strict=True)))


@dataclass
class JointSolution:
    """What :func:`solve_joint` found: one placement per problem (None when infeasible)."""

    goal: JointGoal
    placements: list[Placement] | None
    predictions: list[Prediction] | None
    objective_value: float
    exact: bool
    status: str
    solve_ms: float
    #: per device and link direction, the joint placements' summed load (empty when infeasible)
    loads: list[ResourceLoad] = field(default_factory=list)
    #: the proven relative gap of the objective (0: optimal; None: no plan)
    gap: float | None = None
    #: infeasible: the shared devices or link directions that cannot fit every workload, with how far
    #: over they would be (utilization or memory share above 1) in the least-overloaded placement found
    #: (the total overload minimised for a few seconds, not proven least)
    blocking: dict[str, float] = field(default_factory=dict)
    #: infeasible: workloads that have no plan even alone (their own constraints), with why
    alone_infeasible: dict[str, str] = field(default_factory=dict)
    codecs_tried: list[tuple[str, ...]] = field(default_factory=list)
    n_variables: int = 0
    n_constraints: int = 0
    notes: list[str] = field(default_factory=list)
    #: how the plan was found: "milp" (the joint MILP), "alone-optimal" (the one-at-a-time
    #: plans, proven optimal each and fitting together: see :func:`alone_optimum`) or
    #: "alone-at-bound" (the one-at-a-time plans fit together and cost 0 USD/hour, the least
    #: any plan can: total-cost only, its tie-break not proven)
    method: str = "milp"

    @property
    def feasible(self) -> bool:
        return self.placements is not None

    @property
    def message(self) -> str:
        """Why there is no joint plan, naming the devices and links (empty when feasible)."""
        if self.feasible:
            return ""
        if self.alone_infeasible:
            return "; ".join(f"workload {w!r} has no plan even alone: {why}" for w, why in self.alone_infeasible.items())
        if self.blocking:
            over = ", ".join(f"{r} (needs {100 * (1 + x):.0f} % of its capacity)" for r, x in self.blocking.items())
            return f"the workloads do not fit together: {over}"
        if not self.exact:
            return (f"the MILP found no joint plan before its time limit ({self.status}; not proven infeasible): "
                    "give it more time with --time-limit S")
        return f"no joint plan found ({self.status})"


def _worst_bytes(p: PlanningProblem) -> float:
    """The most memory one workload can take on a device: every unit's largest weights + the largest activation."""
    return float(np.max(p.param_bytes, axis=1).sum() + p.activation_bytes.max())


def _memory_expr(m: _Model, b: _Block, device: str) -> _Expr:
    """Bytes a block holds on ``device``: weights of its units there + its largest activation there.

    The block builder adds this only where one workload alone could overflow the device; shared,
    several small workloads can, so the joint rows build it for the other devices (the same rows).
    """
    p = b.problem
    d = p.devices.index(device)
    n, L = p.n_units, len(p.levels)
    e = _Expr()
    e.add(b.x[:, d, :], p.param_bytes)
    z = int(m.add_vars(1, 0.0, math.inf, integer=False)[0])
    m.add_rows(np.c_[b.x[:, d, :], np.full(n, z)],
               np.c_[np.repeat(p.activation_bytes[:, None], L, axis=1), -np.ones(n)], -math.inf, 0.0)
    e.add(np.array([z]), 1.0)
    return e


def _shared_rows(m: _Model, blocks: Sequence[_Block], elastic: bool) -> dict[str, int]:
    """Capacity rows (devices, link directions) and memory rows summed over the blocks.

    With ``elastic`` each row gets a slack variable (utilization, or memory as a share of the
    device's) and the returned map names the slack of each resource; else the map is empty.
    """
    dev: dict[str, _Expr] = {}
    link: dict[str, _Expr] = {}
    mem: dict[str, tuple[_Expr, float]] = {}
    for b in blocks:
        p = b.problem
        if p.constraints.capacity:
            r = p.rate_rps / 1000.0
            for d, e in b.busy.items():
                i_, c_ = e.parts()
                dev.setdefault(f"device {d}", _Expr()).add(i_, c_ * r)
            for (lid, u, v), e in b.link_busy.items():
                i_, c_ = e.parts()
                link.setdefault(f"link {lid} {u}→{v}", _Expr()).add(i_, c_ * r)
        if not p.constraints.memory:
            continue
        for d in p.devices:
            if d not in b.mem and _worst_bytes(p) * len(blocks) <= p.memory_limit_bytes(d):
                continue  # even every workload's whole model at once fits
            e = b.mem[d] if d in b.mem else _memory_expr(m, b, d)
            i_, c_ = e.parts()
            limit = p.memory_limit_bytes(d)
            row = mem.setdefault(f"device {d}", (_Expr(), limit))
            row[0].add(i_, c_ / limit)  # as a share of the device's memory: rows of one scale
    slacks: dict[str, int] = {}
    for kind, rows in (("", {**dev, **link}), ("memory of ", {k: e for k, (e, _) in mem.items()})):
        for name, e in rows.items():
            i_, c_ = e.parts()
            if not len(i_) or (not kind and c_.sum() < 1.0 - 1e-6):
                continue  # a capacity row that cannot bind
            hi = 1.0 - 1e-6 if not kind else 1.0
            if elastic:
                s = int(m.add_vars(1, 0.0, math.inf, integer=False)[0])
                slacks[kind + name] = s
                m.add_row(np.r_[i_, [s]], np.r_[c_, [-1.0]], -math.inf, hi)
            else:
                m.add_row(i_, c_, -math.inf, hi)
    return slacks


def _goal_vectors(m: _Model, blocks: Sequence[_Block], goal: JointGoal) -> list[np.ndarray]:
    """The objective, then its tie-breaker(s), as cost vectors over the model's variables."""
    main = np.zeros(m.n + (1 if goal.name == "worst-slack" else 0))
    ties = np.zeros_like(main)
    for b in blocks:
        i_, c_ = b.metric["latency"].parts()
        np.add.at(ties, i_, goal.weight(b.problem) * c_)
    if goal.name == "worst-slack":
        u = int(m.add_vars(1, 0.0, math.inf, integer=False)[0])
        main[u] = 1.0
        for b in blocks:
            slo = b.problem.constraints.slo_ms
            if slo:
                i_, c_ = b.metric["latency"].parts()
                m.add_row(np.r_[i_, [u]], np.r_[c_ / slo, [-1.0]], -math.inf, 0.0)
        return [main, ties]
    if goal.name == "total-cost":
        for b in blocks:
            i_, c_ = b.metric["cost"].parts()
            np.add.at(main, i_, b.problem.rate_rps * 3.6 * c_)
        return [main, ties]
    return [ties]


def _pad(c: np.ndarray, n: int) -> np.ndarray:
    return np.r_[c, np.zeros(n - len(c))] if len(c) < n else c


def _solve_codecs(problems: Sequence[PlanningProblem], codecs: Sequence[str], goal: JointGoal,
                  time_limit_s: float, elastic: bool = False, floors: Sequence[float] | None = None,
                  cutoff: float | None = None,
                  ) -> tuple[list[_Block], Any, dict[str, int], _Model] | None:  # Any: scipy's OptimizeResult
    """One joint MILP for one cut codec per workload.

    ``floors``: per workload, a proven least value of the goal's own measure
    (:func:`alone_measure`) over its plans alone; every joint plan's part is a plan alone
    (see :func:`alone_optimum`), so ``measure_i >= floor_i`` cuts off no joint plan and
    lifts the LP bound (for ``worst-slack`` through ``u >= latency_i / slo_i``).
    ``cutoff``: the objective of a joint plan already found; plans worse than it are cut
    off (the MILP is then infeasible when this codec combination cannot beat it).
    """
    m = _Model()
    blocks = []
    for p, c in zip(problems, codecs, strict=True):
        b = _add_problem(m, p, c, True)
        if b is None:
            return None
        blocks.append(b)
    slacks = _shared_rows(m, blocks, elastic)
    if elastic:
        c = np.zeros(m.n)
        c[list(slacks.values())] = 1.0
        stages = [c]  # how far over, nothing else: a diagnosis, not a plan
    else:
        stages = _goal_vectors(m, blocks, goal)
        measure = alone_measure(goal)
        for b, lo in zip(blocks, floors or [], strict=False):
            if lo > 0 and math.isfinite(lo):
                i_, c_ = b.metric[measure].parts()
                # relative slack: the floor is proven up to the solvers' tolerance, not exactly
                m.add_row(i_, c_ / lo, 1.0 - 1e-6, math.inf)
    stages = [_pad(s, m.n) for s in stages]
    if cutoff is not None and math.isfinite(cutoff) and not elastic:
        nz = np.nonzero(stages[0])[0]
        f = 1.0 / max(abs(cutoff), float(np.abs(stages[0][nz]).max(initial=0.0)), 1e-12)
        m.add_row(nz, stages[0][nz] * f, -math.inf, f * cutoff + 1e-7)
    t0 = time.perf_counter()
    res = m.solve(_scaled(stages[0]), time_limit_s)
    bound = getattr(res, "mip_dual_bound", None)
    scale = float(np.abs(stages[0]).max()) or 1.0
    m.dual_bound = float(bound) * scale / 1e4 if bound is not None and math.isfinite(bound) else -math.inf
    status = res.status
    if res.x is not None and len(stages) > 1 and np.abs(stages[1]).max() > 0:
        # hold the objective at its optimum and minimise the tie-breaker (rate-weighted latency)
        v = float(stages[0] @ res.x)
        nz = np.nonzero(stages[0])[0]
        f = 1e4 / max(abs(v), float(np.abs(stages[0]).max()))
        m.add_row(nz, stages[0][nz] * f, -math.inf, f * v + max(1e-9 * abs(f * v), 1e-6))
        # the tie-break gets at most as long as the main solve took (at least 1 s), as in solve_milp
        r2 = m.solve(_scaled(_pad(stages[1], m.n)), min(time_limit_s, max(1.0, time.perf_counter() - t0)))
        if r2.x is not None and float(stages[1] @ r2.x) <= float(stages[1] @ res.x):
            res = r2
        res.status = status
    return blocks, res, slacks, m


def _codec_combos(problems: Sequence[PlanningProblem], alone: Sequence[Placement] | None) -> list[tuple[str, ...]]:
    combos: list[tuple[str, ...]] = []
    if alone is not None:
        combos.append(tuple(pl.codec for pl in alone))
    for c in dict.fromkeys(c for p in problems for c in p.codecs):
        if all(c in p.codecs for p in problems):
            combos.append(tuple(c for _ in problems))
    return list(dict.fromkeys(combos)) or [tuple(next(iter(p.codecs)) for p in problems)]


#: below this summed utilization a shared row holds (the joint MILP's own row bound)
_FULL = 1.0 - 1e-6


def alone_measure(goal: JointGoal) -> str:
    """The per-workload measure of ``goal`` (the objective the one-at-a-time plans minimise):
    ``cost`` for ``total-cost``, ``latency`` for ``worst-slack`` and ``weighted-latency``."""
    return "cost" if goal.name == "total-cost" else "latency"


def _fit_together(loads: Sequence[ResourceLoad]) -> bool:
    """Every device and link direction below full load (as the joint MILP's rows), memory within."""
    return all(r.utilization < _FULL and (r.memory_limit_bytes is None or r.memory_bytes <= r.memory_limit_bytes)
               for r in loads)


def alone_optimum(problems: Sequence[PlanningProblem], goal: JointGoal, alone: Sequence[Placement] | None,
                  alone_proven: Sequence[bool] | None) -> JointSolution | None:
    """The one-at-a-time plans as the proven joint optimum, when they are one; else None.

    They are when (a) each problem's objective is ``goal``'s own measure
    (:func:`alone_measure`, any positive weight), (b) each plan is proven optimal for its
    problem (``alone_proven``: the sequence DP, or the MILP at gap 0) and feasible under the
    cost model, and (c) together they fit: summed utilization below 1 on every device and
    link direction, summed memory within every device's.

    Proof. Write ``F`` for the joint feasible set and ``F_i`` for workload ``i``'s alone.
    Projection: a joint plan's part for ``i`` is in ``F_i`` — ``i``'s own constraints are
    the same rows, every summed row's terms are >= 0 so each term is at most the sum (a sum
    below 1 has each utilization below 1; summed memory within the limit has each
    workload's within it). Hence ``m_i(P) >= m_i*`` for every ``P`` in ``F``, where ``m_i``
    is the measure and ``m_i*`` its proven minimum over ``F_i``. The combination ``A`` of
    the one-at-a-time plans is in ``F`` by (c) and has ``m_i(A) = m_i*`` for every ``i``.

    - ``weighted-latency`` minimises ``Σ w_i·lat_i`` (``w_i >= 0``): each term is at its
      least, so the sum is. No tie-break.
    - ``worst-slack`` minimises ``max lat_i / slo_i`` over the workloads with an SLO; each
      ratio is at its least, so the maximum is. Its tie-break ``Σ w_i·lat_i`` (every
      workload) is at its least for the same reason, so ``A`` is lexicographically optimal.
    - ``total-cost`` minimises ``Σ 3.6·rate_i·cost_i`` (rates > 0): at its least again. Its
      tie-break ``Σ w_i·lat_i``: a joint plan with the least total cost has every
      ``cost_i = cost_i*`` (a term above its least cannot be made up by another, none is
      below its least), so its ``lat_i`` is at least the least latency among ``i``'s
      cost-optimal plans in ``F_i`` — which is ``lat_i(A)`` because every solver breaks ties
      on the objective by the lower latency (``objective_key``; exact in the sequence DP,
      within the MILP's own tie-break solve otherwise). So ``A`` is optimal for the objective
      and, as far as the one-at-a-time tie-breaks are, for the tie-break.

    Each one-at-a-time plan is optimal over every cut codec, so ``A`` is optimal over every
    codec combination (the joint MILP tries only some). Optimal "within tolerance" means
    what it means for the one-at-a-time solvers (the sequence DP: exact key comparison up to
    ``TIE_RTOL``; the MILP: HiGHS's gap 1e-9).
    """
    if alone is None or alone_proven is None or len(alone) != len(problems) or len(alone_proven) != len(problems):
        return None
    measure = alone_measure(goal)
    if not all(proven for proven in alone_proven):
        return None
    if not all(set(p.weights) == {measure} and p.weights[measure] > 0 for p in problems):
        return None
    t0 = time.perf_counter()
    preds = [evaluate(pl, p) for pl, p in zip(alone, problems, strict=True)]
    if not all(pr.feasible for pr in preds):
        return None
    loads = joint_load(problems, preds)
    if not _fit_together(loads):
        return None
    value = joint_objective_value(goal, problems, preds)
    ms = (time.perf_counter() - t0) * 1000.0
    return JointSolution(goal, list(alone), preds, value, True, "optimal", ms, loads, 0.0,
                         codecs_tried=[tuple(pl.codec for pl in alone)], method="alone-optimal",
                         notes=["the one-at-a-time plans, each proven optimal for this objective's own measure "
                                f"({measure}), fit together on every shared device and link: together they are "
                                "the joint optimum (no joint MILP was needed)"])


def _tie_value(goal: JointGoal, problems: Sequence[PlanningProblem], predictions: Sequence[Prediction]) -> float:
    """The tie-break of ``goal`` (the weighted latency; none for ``weighted-latency`` itself)."""
    if goal.name == "weighted-latency":
        return 0.0
    return float(sum(goal.weight(p) * pr.latency_ms for p, pr in zip(problems, predictions, strict=True)))


def _better(a: tuple[float, float], b: tuple[float, float] | None) -> bool:
    """``a`` beats ``b`` lexicographically (objective, then tie-break; ties within 1e-9 relative)."""
    if b is None:
        return True
    if a[0] < b[0] - 1e-9 * max(abs(b[0]), 1e-12):
        return True
    return a[0] <= b[0] + 1e-9 * max(abs(b[0]), 1e-12) and a[1] < b[1] - 1e-9 * max(abs(b[1]), 1e-12)


def _usable_only(p: PlanningProblem) -> PlanningProblem:
    """``p`` without the candidate devices it cannot use (:mod:`~planner_app.core.optimizer.reduce`'s
    *unusable* rule: no unit runs there at an allowed level, in its memory, without breaking a pin).

    Exact across workloads: the rule looks at one unit of one workload at a time, so no joint
    plan places that workload there either. Dominance is not applied: it moves load onto the
    dominating device, whose capacity and memory the other workloads share.
    """
    ok = _allowed_levels(p)
    pinned = set(p.constraints.pinned_units.values())
    keep = [d for di, d in enumerate(p.devices) if d in pinned or ok[:, di, :].any()]
    return p.restricted(devices=keep) if keep and len(keep) < len(p.devices) else p


def solve_joint(
    problems: Sequence[PlanningProblem],
    goal: JointGoal | None = None,
    *,
    alone: Sequence[Placement] | None = None,
    alone_proven: Sequence[bool] | None = None,
    time_limit_s: float = 60.0,
    bounds: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> JointSolution:
    """Place every problem's workload at once (see the module docstring).

    ``problems`` come from one topology, one per workload (names distinct).
    ``alone``: the one-at-a-time placements, whose cut codecs are tried too; ``alone_proven``:
    whether each is proven optimal for its problem. When every one is, and each problem
    minimises ``goal``'s own measure (:func:`alone_measure`), they decide a lot:
    :func:`alone_optimum` returns them as the joint optimum when they fit together, and
    otherwise their values bound each workload's measure in the MILP from below (a joint
    plan that reaches every bound is optimal, and the search stops there).
    ``bounds``: False builds the plain joint MILP (no shortcut, bound rows or cutoffs), as a
    reference.
    """
    goal = goal or JointGoal()
    if not problems:
        raise ProblemError("a joint plan needs at least one workload")
    names = [p.workload.name for p in problems]
    if len(set(names)) != len(names):
        raise ProblemError(f"a joint plan places each workload once; got {names}")
    if goal.name == "worst-slack" and not any(p.constraints.slo_ms for p in problems):
        raise ProblemError("the joint objective worst-slack needs a latency SLO on at least one workload (slo_ms); "
                           "set one, or choose total-cost or weighted-latency")
    t0 = time.perf_counter()
    if bounds:
        quick = alone_optimum(problems, goal, alone, alone_proven)
        if quick is not None:
            report(progress, 1.0, "the one-at-a-time plans are the joint optimum")
            return quick
    combos = _codec_combos(problems, alone)
    work = [_usable_only(p) for p in problems] if bounds else list(problems)
    best: tuple[tuple[float, float], list[Placement], list[Prediction]] | None = None
    notes: list[str] = []
    floors: list[float] | None = None
    floor_key: tuple[float, float] | None = None
    alone_key: tuple[float, float] | None = None
    if alone is not None:
        alone_preds = [evaluate(pl, p) for pl, p in zip(alone, problems, strict=True)]
        measure = alone_measure(goal)
        if (bounds and alone_proven is not None and len(alone_proven) == len(problems) and all(alone_proven)
                and all(pr.feasible for pr in alone_preds)
                and all(set(p.weights) == {measure} and p.weights[measure] > 0 for p in problems)):
            # each workload's proven least measure: no joint plan goes below any of them
            floors = [float(pr.latency_ms if measure == "latency" else pr.cost_usd_per_1k) for pr in alone_preds]
            floor_key = (joint_objective_value(goal, problems, alone_preds), _tie_value(goal, problems, alone_preds))
        if all(pr.feasible for pr in alone_preds) and _fit_together(joint_load(problems, alone_preds)):
            # the one-at-a-time plans fit together (not all proven): a joint plan, and the cutoff
            alone_key = (joint_objective_value(goal, problems, alone_preds), _tie_value(goal, problems, alone_preds))
            if bounds:
                best = (alone_key, list(alone), alone_preds)
    # a proven least of the objective: the one-at-a-time optima's, else 0 for total-cost (prices are >= 0)
    main_floor = floor_key[0] if floor_key is not None else 0.0 if bounds and goal.name == "total-cost" else None

    def at_floor() -> bool:
        if best is None or main_floor is None:
            return False
        if floor_key is not None:  # objective and tie-break both at their least
            return not _better(floor_key, best[0])
        return best[0][0] <= main_floor + 1e-12

    exact, status, dual = True, "infeasible", []
    nv = nc = 0
    tried: list[tuple[str, ...]] = []
    for ci, combo in enumerate(combos):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if at_floor():
            if not tried:
                notes.append("the one-at-a-time plans fit together and reach a proven lower bound of the objective "
                             "(0 USD/hour: prices are never negative): no joint MILP was needed; the tie-break is "
                             "the one-at-a-time solvers'")
            break  # the best plan found reaches a proven least: nothing can beat it
        report(progress, ci / (len(combos) + 1), f"joint MILP, cut codecs {', '.join(dict.fromkeys(combo))}")
        tried.append(combo)
        out = _solve_codecs(work, combo, goal, time_limit_s, floors=floors,
                            cutoff=best[0][0] if bounds and best is not None else None)
        if out is None:
            continue
        blocks, res, _, m = out
        nv, nc = max(nv, m.n), max(nc, len(m.row_lo))
        if res.status != 2:
            dual.append(m.dual_bound)
        if res.x is None:
            if res.status != 2:  # 2: infeasible, or (with a cutoff) nothing better than the best so far
                exact, status = False, _STATUS.get(res.status, str(res.status))
            continue
        if res.status != 0:
            exact, status = False, _STATUS.get(res.status, str(res.status))
        pls = [_decode(b, res.x) for b in blocks]
        preds = [evaluate(pl, p) for pl, p in zip(pls, problems, strict=True)]
        if not all(pr.feasible for pr in preds):
            continue  # numerical edge of a row: the cost model has the last word
        key = (joint_objective_value(goal, problems, preds), _tie_value(goal, problems, preds))
        if _better(key, best[0] if best is not None else None):
            best = (key, pls, preds)
    report(progress, len(combos) / (len(combos) + 1), "joint MILP done")
    if best is not None and exact and status == "infeasible":
        status = "optimal"  # every MILP proven: none beats the plan found (or the one-at-a-time plans' cutoff)
    if (not exact and main_floor is not None and best is not None
            and best[0][0] <= main_floor + 1e-9 * max(abs(main_floor), 1e-12)):
        # the plan found reaches a proven lower bound: the sum (max) of the proven one-at-a-time
        # optima, or 0 USD/hour
        exact, status = True, "optimal"
        notes.append("the joint MILP stopped at its time limit, but its plan reaches a proven lower bound "
                     "(the one-at-a-time optima, or 0 USD/hour): it is optimal")
    if not exact and alone is not None and alone_key is not None:
        # a MILP stopped at its time limit may hold no plan, or a worse one than the one-at-a-time
        # plans when those happen to fit together: they are a joint plan too
        if best is None or _better(alone_key, best[0]):
            best = (alone_key, list(alone), [evaluate(pl, p) for pl, p in zip(alone, problems, strict=True)])
        if best[1] == list(alone):
            notes.append("the MILP stopped at its time limit; the one-at-a-time plans fit together and are "
                         "the best joint plan found")
    ms = (time.perf_counter() - t0) * 1000.0
    if best is not None:
        value = best[0][0]
        low = min(dual, default=-math.inf)
        if main_floor is not None:
            low = max(low, main_floor) if math.isfinite(low) else main_floor
        gap = 0.0 if exact else (max(0.0, (value - low) / max(abs(value), 1e-12)) if math.isfinite(low) else math.inf)
        no_milp = not tried and alone is not None and best[1] == list(alone)
        return JointSolution(goal, best[1], best[2], value, exact, status, ms, joint_load(problems, best[2]), gap,
                             codecs_tried=tried or [tuple(pl.codec for pl in best[1])], n_variables=nv,
                             n_constraints=nc, notes=notes, method="alone-at-bound" if no_milp else "milp")
    sol = JointSolution(goal, None, None, math.inf, exact, status, ms, codecs_tried=tried,
                        n_variables=nv, n_constraints=nc)
    if exact:  # every codec combination proven infeasible: say what cannot fit
        _diagnose(sol, problems, combos, goal, time_limit_s)
    report(progress, 1.0, "no joint plan")
    return sol


def _diagnose(sol: JointSolution, problems: Sequence[PlanningProblem], combos: Sequence[tuple[str, ...]],
              goal: JointGoal, time_limit_s: float) -> None:
    """Fill ``blocking`` (shared rows that need slack) or ``alone_infeasible`` (a workload alone)."""
    least: tuple[float, dict[str, float]] | None = None
    # the codecs with the fewest bytes on the wire load the links least: one elastic solve says enough
    for combo in combos[:1]:
        # a few seconds: the rows named matter, not a proof that the overload found is the least
        out = _solve_codecs(problems, combo, goal, min(time_limit_s, 5.0), elastic=True)
        if out is None or out[1].x is None:
            continue
        _, res, slacks, _ = out
        over = {r: float(res.x[i]) for r, i in slacks.items() if res.x[i] > 1e-6}
        total = sum(over.values())
        if least is None or total < least[0]:
            least = (total, over)
    if least is not None and least[1]:
        sol.blocking = dict(sorted(least[1].items(), key=lambda kv: -kv[1]))
        return
    from planner_app.core.optimizer.milp import solve_milp

    for p in problems:
        alone = solve_milp(p, time_limit_s=time_limit_s)
        if alone.best is None:
            sol.alone_infeasible[p.workload.name] = (
                "no placement meets its own constraints (SLO, cost, fidelity, privacy, memory or capacity)")
