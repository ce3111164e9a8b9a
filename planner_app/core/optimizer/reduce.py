"""Exact presolve: drop candidate devices that no optimal plan needs, before a solver runs.

The MILP's size grows with the square of the candidate devices (a message variable per
boundary and ordered pair), and HiGHS's time faster still. Many candidates cannot matter:

- **unusable**: no unit can run on the device at a level the fidelity floor allows, in its
  memory, without breaking a pin. No feasible plan uses it, so removing it changes nothing.
- **dominated**: device ``d`` is dominated by ``e`` when ``e`` is at least as good on every
  figure a plan of ``d`` pays: every unit's time at every level (``e`` runs whatever ``d``
  runs), price per hour, battery power, and, for every other station ``x`` (candidates, the
  source, the result device) and every cut codec, each coefficient of the messages
  ``e → x`` and ``x → e`` against ``d → x`` and ``x → d`` (fixed ms, ms per byte, $ per byte,
  wire bytes × hops, radio energy per byte; privacy: if ``d``'s route stays in the zone,
  ``e``'s does). Identical devices (same type, same links to the same places: the
  cameras of a factory line) dominate each other; one of them is kept.

Why dominance is exact. Map any placement ``P`` to ``φ(P)``: every unit on ``d`` moves to
``e`` at the same level, with the same codec. Each part's compute does not grow; parts
only merge (one part overhead less each), so the part count does not grow; a message
between ``d`` and ``e`` disappears; every other message keeps its boundary and bytes and
its coefficients do not grow. Latency (the sum of parts and messages: parts run one after
another, see the cost model), cost, link bytes and energy therefore do not grow, the
fidelity is the same, privacy and pins hold. Memory and utilization of ``e`` do grow, so
the rule only applies when neither can bind: ``e`` holds the whole model at its largest
levels, and utilization stays under 1 — either because every device's and link
direction's busy time per call is at most the plan's latency (compute and messages are
parts of it) and a known bound on the optimum's latency (``latency_bound_ms``: from a
known plan when latency is in the objective, or the SLO) keeps ``rate × bound`` under 1,
or because even the largest possible load (every message of every boundary over the same
link direction; ``e`` running every unit) stays under 1. Never with the throughput
objective or in pipeline mode. So for every plan there is one as good (on the objective and every
tie-breaker of :meth:`~planner_app.core.optimizer.problem.PlanningProblem.objective_key`)
that avoids ``d``; removing ``d`` keeps the optimum. Devices are removed one at a time,
each checked against the devices still there, so a chain of removals stays exact.

Should latency ever credit parallel branches on different devices with overlap, merging
two devices could serialize them: then the rule only stays exact for models whose units
are totally ordered (each unit reads the one before it), which :func:`reduce_problem`
checks unless ``LATENCY_ADDS_PARTS`` says latency is the plain sum.

Example
-------
>>> red = reduce_problem(problem)                           # doctest: +SKIP
>>> red.problem.devices, red.dropped                        # doctest: +SKIP
(['cam-a1', 'cam-b1', 'line-a-edge', ...], {'cam-a2': 'dominated by cam-a1', ...})
"""

from __future__ import annotations

__all__ = ["Reduction", "reduce_problem", "LATENCY_ADDS_PARTS"]

from dataclasses import dataclass, field

import numpy as np

from planner_app.core.optimizer.cost_model import MessageCoefficients, message_coefficients
from planner_app.core.optimizer.problem import PlanningProblem

#: the cost model's latency is the sum of every part and message (parts run one after another;
#: ``cost_model`` module docstring). Set False if latency becomes a critical path that lets
#: branches on different devices overlap: dominance then only applies to totally ordered models.
LATENCY_ADDS_PARTS = True

#: relative slack under which two figures count as equal when comparing devices
_RTOL = 1e-12


@dataclass(frozen=True)
class Reduction:
    """The problem with fewer candidate devices, and why each dropped one went."""

    problem: PlanningProblem
    #: device id -> reason ('runs no unit …' or 'dominated by X')
    dropped: dict[str, str] = field(default_factory=dict)


def _le(a: float, b: float) -> bool:
    return a <= b + _RTOL * max(abs(a), abs(b))


def _coef_le(a: MessageCoefficients, b: MessageCoefficients) -> bool:
    """Message ``a`` costs no more than ``b`` on every figure a plan pays."""
    return (_le(a.fixed_ms, b.fixed_ms) and _le(a.ms_per_byte, b.ms_per_byte)
            and _le(a.usd_per_1k_per_byte, b.usd_per_1k_per_byte)
            and _le(a.wire_ratio * a.hops, b.wire_ratio * b.hops)
            and _le(a.energy_mj_per_byte, b.energy_mj_per_byte) and (a.in_zone or not b.in_zone))


def _allowed_levels(problem: PlanningProblem) -> np.ndarray:
    """``ok[u, d, l]``: unit u may run on device d at level l in some feasible plan (a necessary test)."""
    c = problem.constraints
    ok: np.ndarray = np.isfinite(problem.ms)
    if c.min_fidelity is not None:
        # the codec can only lower fidelity: a level below the floor on its own is out
        fid = np.array([problem.level_fidelity(x) >= c.min_fidelity - 1e-12 for x in problem.levels])
        ok &= fid[None, None, :]
    if c.memory:
        need = problem.param_bytes + problem.activation_bytes[:, None]  # (n, L)
        limit = np.array([problem.memory_limit_bytes(d) for d in problem.devices])
        ok &= need[:, None, :] <= limit[None, :, None]
    for u, dev in c.pinned_units.items():
        for di, d in enumerate(problem.devices):
            if d != dev:
                ok[int(u), di, :] = False
    return ok


def _totally_ordered(problem: PlanningProblem) -> bool:
    """Every unit reads an output of the unit before it: no two units can ever run at once."""
    s = problem.structure
    feeds = {(t.producer, c) for t in s.tensors if t.producer >= 0 for c in t.consumers}
    return all((i - 1, i) in feeds for i in range(1, s.n_units))


def _latency_caps_load(problem: PlanningProblem, latency_bound_ms: float | None) -> bool:
    """Every plan at most as slow as the bound keeps each device and link direction under utilization 1.

    A device's or a link direction's busy time per call is part of the latency (compute and
    overheads of its parts; wire time of its messages, at most each message's transfer time).
    """
    bounds = [b for b in (latency_bound_ms, problem.constraints.slo_ms) if b is not None]
    return bool(bounds) and problem.rate_rps * min(bounds) / 1000.0 < 1.0 - 1e-6


def _capacity_cannot_bind(problem: PlanningProblem) -> bool:
    """No link direction reaches utilization 1 even if every boundary's message crossed it."""
    worst_per_byte: dict[tuple[str, str, str], float] = {}
    for a, b in problem.routes:
        for codec in problem.codecs:
            for lid, u, v, per_byte in message_coefficients(problem, a, b, codec).link_dirs:
                k = (lid, u, v)
                worst_per_byte[k] = max(worst_per_byte.get(k, 0.0), per_byte)
    total = float(problem.structure.cut_bytes.sum())
    return all(problem.rate_rps * total * pb / 1000.0 < 1.0 - 1e-6 for pb in worst_per_byte.values())


def _can_absorb(problem: PlanningProblem, e: str, ms_e: np.ndarray, load_capped: bool) -> bool:
    """Device ``e`` can take on any set of units without its memory or utilization binding."""
    c = problem.constraints
    if c.memory:
        worst = float(np.max(problem.param_bytes, axis=1).sum() + problem.activation_bytes.max(initial=0.0))
        if worst > problem.memory_limit_bytes(e):
            return False
    if c.capacity and not load_capped:
        finite = np.where(np.isfinite(ms_e), ms_e, 0.0)
        busy = float(finite.max(axis=1).sum()) + problem.n_units * problem.overhead_ms
        if problem.rate_rps * busy / 1000.0 >= 1.0 - 1e-6:
            return False
    return True


def _dominates(problem: PlanningProblem, e: str, d: str, keep: list[str], ms: dict[str, np.ndarray]) -> bool:
    """Device ``e`` is at least as good as ``d`` on every figure (see the module docstring)."""
    a, b = ms[e], ms[d]
    # e runs whatever d runs, no slower (inf on d: d cannot run it, nothing to match)
    fin_b = np.isfinite(b)
    if not (np.isfinite(a[fin_b]).all() and (a[fin_b] <= b[fin_b] * (1 + _RTOL)).all()):
        return False
    rec = problem.device_records
    re, rd = rec[e], rec[d]
    if not _le(re.cost_usd_per_hour, rd.cost_usd_per_hour):
        return False
    if not _le(re.power_active_w if re.battery else 0.0, rd.power_active_w if rd.battery else 0.0):
        return False
    others = dict.fromkeys([problem.source, *keep, problem.result_device])
    for x in others:
        if x in (d, e):
            continue
        for u, v, u2, v2 in ((d, x, e, x), (x, d, x, e)):
            if (u, v) not in problem.routes:
                continue
            if (u2, v2) not in problem.routes:
                return False
            for codec in problem.codecs:
                if not _coef_le(message_coefficients(problem, u2, v2, codec),
                                message_coefficients(problem, u, v, codec)):
                    return False
    return True


def reduce_problem(problem: PlanningProblem, latency_bound_ms: float | None = None) -> Reduction:
    """Drop unusable and dominated candidate devices (see the module docstring); exact.

    ``latency_bound_ms``: no optimal plan is slower than this (e.g. the latency of a known
    feasible plan when the objective is latency alone; its objective over the latency weight
    for a weighted sum); None when unknown. It only decides whether utilization can bind.
    """
    devices = list(problem.devices)
    dropped: dict[str, str] = {}
    pinned = set(problem.constraints.pinned_units.values())
    ok = _allowed_levels(problem)
    for di, d in enumerate(devices):
        if d not in pinned and not ok[:, di, :].any():
            dropped[d] = "runs no unit (times, memory, fidelity floor or pins rule every one out)"
    keep = [d for d in devices if d not in dropped]
    c = problem.constraints
    capped = not c.capacity or _latency_caps_load(problem, latency_bound_ms)
    if (keep and "throughput" not in problem.weights and c.max_stages_per_device is None
            and (LATENCY_ADDS_PARTS or _totally_ordered(problem)) and (capped or _capacity_cannot_bind(problem))):
        index = {d: i for i, d in enumerate(devices)}
        ms = {d: problem.ms[:, index[d], :] for d in keep}
        absorbs = {d: _can_absorb(problem, d, ms[d], capped) for d in keep}
        fixed = {problem.source, problem.result_device, *pinned}
        for d in list(keep):
            if d in fixed:
                continue
            for e in keep:
                if e != d and absorbs[e] and _dominates(problem, e, d, keep, ms):
                    dropped[d] = f"dominated by {e}"
                    keep.remove(d)
                    break
    if not dropped or not keep:
        return Reduction(problem, {} if not keep else dropped)
    return Reduction(problem.restricted(devices=keep), dropped)
