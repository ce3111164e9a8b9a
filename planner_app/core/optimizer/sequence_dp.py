"""Exact shortcut for the general problem: a DP along the units over every device and level.

Under the cost model's execution model (parts run one after another in unit order; the
cut set of boundary ``k`` depends on ``k`` alone) every figure of the objective key —
latency, $ per 1k, link bytes, battery energy and the number of parts — is a sum of
terms of one unit (its time on its device at its level), of one part start (the part
overhead) and of one boundary (the message between the devices on either side). So the
best placement over *every* placement (any device and level per unit, devices revisited,
DAG branches on different devices) is a shortest path through layers ``(unit, device,
level)``: ``O(n · (D·L)²)`` per cut codec, milliseconds for the sample models, where the
MILP takes hundreds.

What the path cannot see are the limits that add up over a plan: memory (weights of
every unit on a device), utilization (device and link busy time at the rate), the SLO
and the $ cap when they are not the objective itself, and the throughput objective (a
maximum, not a sum). The DP solves the problem *without* them — a relaxation with the
same keys on every plan — then evaluates its plan with the full cost model. A plan that
is feasible is optimal for the full problem too (every feasible plan is a plan of the
relaxation, and none has a smaller key). When only the SLO or the $ cap breaks, a labelled
DP (:func:`_run_capped`: per state, the labels no other beats on the key and on the capped
sums; a label is dropped once its sums plus the least the rest of the plan adds pass a
limit) finds the best plan within them, exactly; its plan is again checked against every
other limit. Otherwise :func:`solve_sequence` says why and the MILP solves the problem. Privacy, pins, runnable units and the fidelity floor are
per unit or per boundary, so the DP keeps them.

Keys are compared lexicographically (objective, latency, link bytes, parts) as in
:meth:`~planner_app.core.optimizer.problem.PlanningProblem.objective_key`; every column
is additive, so the order survives addition and the DP is exact for it. The shortcut
needs latency to be that sum, which it is on *chains* (``dataflow.is_chain``: every unit
reads its predecessor's outputs and nothing else). On a model with branches latency is the
critical path (branches on different devices overlap, tensors go straight to their readers),
so the shortcut declines and the MILP solves it; a plan whose evaluated key differs from the
DP's own figure is never claimed optimal either.

**Totally ordered DAGs** (``dataflow.is_totally_ordered``: every unit reads an output of the
unit just before it — residual networks such as ResNet and MobileNetV2, whose skip tensors
jump over units that still run one after another). There the DP runs as a *lower bound*: it
charges at boundary ``k`` only the *edge* tensors (made by unit k-1 and read by unit k;
boundary 0: the raw inputs unit 0 reads; ``n``: the results unit n-1 makes), never the skip
tensors. For every placement ``P`` each key column of this sum is at most the cost model's:

- latency: part ``j`` (first unit ``k``) starts no earlier than part ``j-1`` ends — on the same
  device it runs after it; on another device it waits for the message from part ``j-1`` to its
  device, which leaves when part ``j-1`` ends and holds at least the edge tensors of ``k`` (unit
  k-1 is in part j-1 and unit k reads them), so it takes at least ``fixed + ms/byte × their
  bytes``. The first part starts no earlier than the raw inputs unit 0 reads arrive, and the
  request ends no earlier than the last part's results arrive (at least unit n-1's). Chaining
  these, latency ≥ Σ compute (with part overheads) + Σ edge messages at boundaries between
  devices — the DP's sum;
- $ per 1k, link bytes and battery energy: the compute terms are the same; every message term
  is linear in bytes with non-negative coefficients, and a tensor is paid once per device it
  goes to. The edge tensors of distinct boundaries are distinct tensors (distinct producers),
  each really sent from unit k-1's device to unit k's, so the DP pays a subset of what the
  plan pays;
- parts: the same count; fidelity, pins and runnable units: the same; privacy: the DP forbids a
  boundary whose edge tensors are private on a route out of the zone, which the plan really
  sends there (a subset of the plan's prohibitions).

A componentwise lower bound is a lexicographic one, so for every plan ``key(P) ≥ DP(P) ≥
DP(P*)`` with ``P*`` the DP's plan; when the cost model's ``key(P*)`` equals ``DP(P*)`` (it does
when no skip tensor crosses a boundary between devices, e.g. everything on one device or a
split between residual blocks) and ``P*`` is feasible, ``P*`` is optimal over every placement —
:func:`_checked` makes exactly that test. The labelled DP under the SLO or $ cap stays exact the
same way: a plan that really meets a cap has lower-bound sums within it, so it is among the
labels. When the bound is not attained the MILP answers, as before.

**DAGs whose branches can overlap** (transformer attention's Q/K/V, detector heads). Every
column but latency is bounded as above (edge tensors only; the results of earlier output
units are charged in $, bytes and energy, they go straight to the consumer). Latency is
bounded by an *attached chain* (:func:`_run_attached`): walking the units in index order, a
unit is attached when it runs on the device of the last attached unit ``j`` (a device runs
its units in index order, so it starts after ``j`` ends) or reads an output of ``j`` (its part
waits for ``j``'s part to end plus a message holding at least those tensors). Attached units
add their compute (with the part overhead where a part starts) and that message; the others
add nothing (they may overlap), and after ``_ATTACH_WINDOW`` unattached units the chain stops
adding. Each step is a valid "ends no earlier than" for a unit's *virtual end* (its part's
start + the part overhead + the compute of the part's units up to it; at most when its part
ends): consecutive units of one part are all attached, so a part's compute is summed once,
and a unit that joins a part started by unattached units adds only its own compute. So the
chain's length is at most the plan's latency; the rule is fixed by the state (units since ``j``, ``j``'s device, the last unit's
device and level), so the DP minimises the bound exactly over every placement. A plan with
everything on one device, or split where nothing runs alongside, attains it; a plan that
overlaps branches does not, and the MILP answers. No SLO/$-capped run here: only the plain
relaxation's plan is checked.

Example
-------
>>> res = solve_sequence(problem)                       # doctest: +SKIP
>>> res.proven, res.best.summary()                       # doctest: +SKIP
(True, 'cam-a1[0-4] int8 → plant-server[5-45] int8 | codec int8')
"""

from __future__ import annotations

__all__ = ["SequenceResult", "solve_sequence"]

import math
from dataclasses import dataclass

import numpy as np

from planner_app.core.optimizer.cost_model import Prediction, evaluate, message_coefficients
from planner_app.core.optimizer.dataflow import is_chain, is_totally_ordered
from planner_app.core.optimizer.problem import TIE_RTOL, Placement, PlanningProblem, lex_better
from planner_app.core.progress import CancelToken

#: relative tolerance of tie-breaking inside the DP's steps (the final pick uses ``lex_better``'s)
_STEP_RTOL = 1e-12
#: metric columns: latency ms, $ per 1k, link bytes, battery mJ, parts
_LAT, _USD, _BYTES, _MJ, _PARTS = range(5)
_OBJECTIVE_COLUMN = {"latency": _LAT, "cost": _USD, "bandwidth": _BYTES, "energy": _MJ}


@dataclass
class SequenceResult:
    """The relaxation's best plan and whether it is proven optimal for the full problem.

    ``proven``: the plan meets every constraint, so it is the exact best over every
    placement. Else ``best`` (when not None) is the best plan ignoring memory,
    utilization, the SLO and the $ cap, and ``lower_bound`` bounds the full problem's
    objective from below. ``reason`` says why the shortcut did not apply.
    """

    best: Placement | None
    prediction: Prediction | None
    proven: bool
    lower_bound: float = -math.inf
    reason: str = ""


def applies(problem: PlanningProblem) -> str:
    """Why the shortcut cannot solve ``problem`` ('' when it can)."""
    if "throughput" in problem.weights:
        return "the throughput objective is a maximum over devices and links, not a sum"
    if problem.constraints.max_stages_per_device is not None:
        return "pipeline mode limits stages per device"
    return ""


def _lexargmin(a: np.ndarray, axis: int = 0, rtol: float = _STEP_RTOL) -> np.ndarray:
    """Index along ``axis`` of the lexicographically smallest vector (vectors on the last axis)."""
    mask = np.ones(a.shape[:-1], dtype=bool)
    with np.errstate(invalid="ignore"):
        for c in range(a.shape[-1]):
            col = a[..., c] if c == 0 else np.where(mask, a[..., c], np.inf)
            m = col.min(axis=axis, keepdims=True)
            mask &= col <= m + rtol * np.abs(m)  # inf minima: every inf entry ties
            if not (mask.sum(axis=axis) > 1).any():
                break
    out: np.ndarray = mask.argmax(axis=axis)
    return out


def _keys(metrics: np.ndarray, weights: dict[str, float]) -> np.ndarray:
    """Metric columns (..., 5) -> key columns (..., 4): objective, latency, bytes, parts."""
    obj = np.zeros(metrics.shape[:-1])
    for k, w in weights.items():
        obj = obj + w * metrics[..., _OBJECTIVE_COLUMN[k]]
    out = np.stack([obj, metrics[..., _LAT], metrics[..., _BYTES], metrics[..., _PARTS]], axis=-1)
    out[~np.isfinite(out).all(axis=-1)] = np.inf
    return out


def _message_metrics(problem: PlanningProblem, a: str, b: str, codec: str, k: np.ndarray,
                     bd: _Boundaries) -> np.ndarray:
    """Metric columns (len(k), 5) of a message a -> b at boundaries ``k`` (inf where forbidden)."""
    out = np.zeros((len(k), 5))
    if a == b:
        return out
    if (a, b) not in problem.routes:
        out[:] = np.inf
        return out
    coef = message_coefficients(problem, a, b, codec)
    raw = bd.nbytes[k]
    has = bd.has[k]
    out[:, _LAT] = coef.fixed_ms + coef.ms_per_byte * raw
    out[:, _USD] = coef.usd_per_1k_per_byte * raw
    out[:, _BYTES] = coef.wire_ratio * coef.hops * raw
    out[:, _MJ] = coef.energy_mj_per_byte * raw
    out[~has] = 0.0
    if not coef.in_zone:
        out[has & bd.private[k]] = np.inf
    return out


@dataclass(frozen=True)
class _Boundaries:
    """What the DP charges at each boundary ``k`` (0: the raw input; ``n``: the results) when the
    units on either side run on different devices: bytes, whether a message is sent at all, and
    whether it holds a private tensor. ``exact``: these are the plan's messages (a chain); else
    they are a lower bound on them (a totally ordered DAG, see :func:`_boundaries`)."""

    nbytes: np.ndarray  # (n+1,) float
    has: np.ndarray  # (n+1,) bool
    private: np.ndarray  # (n+1,) bool
    exact: bool


def _boundaries(problem: PlanningProblem) -> _Boundaries:
    """The cut sets on a chain; on a totally ordered DAG the *edge* tensors (unit k-1 -> unit k).

    On a chain every tensor crossing boundary ``k`` goes from unit k-1 to unit k, so the two
    agree. On a totally ordered DAG (``dataflow.is_totally_ordered``) the edge tensors of
    boundary ``k`` are those unit k-1 makes and unit k reads (boundary 0: the raw inputs unit 0
    reads; ``n``: the results unit n-1 makes) — see the module docstring for why charging only
    these bounds every figure of the plan from below.
    """
    cached: _Boundaries | None = problem.__dict__.get("_seq_boundaries")
    if cached is not None:
        return cached
    s = problem.structure
    n = s.n_units
    if is_chain(s):
        out = _Boundaries(s.cut_bytes.astype(float), np.array([bool(x) for x in s.cut_tensors]),
                          problem.private_cut_mask(), True)
    else:
        c = problem.constraints
        zone = problem.privacy_zone_devices() is not None
        marked = set(c.private_tensors)
        nbytes = np.zeros(n + 1)
        has = np.zeros(n + 1, dtype=bool)
        private = np.zeros(n + 1, dtype=bool)
        for t in s.tensors:
            ks = []
            if t.producer < 0:
                if 0 in t.consumers:
                    ks.append(0)
            else:
                if t.producer + 1 in t.consumers:
                    ks.append(t.producer + 1)
                if t.is_output and t.producer == n - 1:
                    ks.append(n)
            for k in ks:
                nbytes[k] += float(t.size_bytes)
                has[k] = True
                if zone and (t.name in marked or (c.privacy == "raw_input_in_zone" and t.producer < 0)):
                    private[k] = True
        out = _Boundaries(nbytes, has, private, False)
    problem.__dict__["_seq_boundaries"] = out
    return out


#: above this many numbers the step keys are made one boundary at a time, not all at once
_PRECOMPUTE_LIMIT = 2_000_000


@dataclass
class _Tables:
    """Metric columns (5) of every unit, part start and message, per codec."""

    U: np.ndarray  # (C, n, S, 5): unit i on state s (device, level), inf where not allowed
    OHs: np.ndarray  # (S, 5): a part starting on the state's device
    M: np.ndarray  # (C, n+1, D, D, 5): boundary k's message from device a to device b
    init: np.ndarray  # (C, S, 5): the raw input's message to the first state, plus its part start
    final: np.ndarray  # (C, S, 5): the results' message from the last state

    def steps(self, ci: slice | int, k0: int, k1: int, L: int) -> np.ndarray:
        """Metrics (…, k1-k0, S, S, 5) of going from state s' (unit k-1) to s (unit k), unit k excluded."""
        m = self.M[ci, k0:k1]
        t: np.ndarray = np.repeat(np.repeat(m, L, axis=-3), L, axis=-2) + self.OHs
        same = np.arange(t.shape[-2])
        t[..., same, same, :] = 0.0  # same device and level: the part goes on
        return t


def _tables(problem: PlanningProblem, codecs: list[str], levels_ok: np.ndarray) -> _Tables:
    n, D, L, C = problem.n_units, len(problem.devices), len(problem.levels), len(codecs)
    S = D * L
    recs = problem.device_records
    bd = _boundaries(problem)
    usd = np.array([recs[d].cost_usd_per_hour / 3.6e6 * 1000.0 for d in problem.devices])
    watt = np.array([recs[d].power_active_w if recs[d].battery else 0.0 for d in problem.devices])
    ms = problem.ms
    U = np.zeros((n, D, L, 5))
    fin = np.where(np.isfinite(ms), ms, 0.0)
    U[..., _LAT] = fin
    U[..., _USD] = fin * usd[None, :, None]
    U[..., _MJ] = fin * watt[None, :, None]
    U[~np.isfinite(ms)] = np.inf
    for u, dev in problem.constraints.pinned_units.items():
        U[int(u), [i for i, d in enumerate(problem.devices) if d != dev]] = np.inf
    Uc = np.repeat(U[None], C, axis=0)  # (C, n, D, L, 5)
    for ci in range(C):
        Uc[ci][:, :, ~levels_ok[ci]] = np.inf
    oh = problem.overhead_ms
    OH = np.zeros((D, 5))
    OH[:, _LAT] = oh
    OH[:, _USD] = oh * usd
    OH[:, _MJ] = oh * watt
    OH[:, _PARTS] = 1.0
    OHs = np.repeat(OH, L, axis=0)
    bounds = np.arange(n + 1)
    M = np.zeros((C, n + 1, D, D, 5))
    for ci, codec in enumerate(codecs):
        for a, av in enumerate(problem.devices):
            for b, bv in enumerate(problem.devices):
                if a != b:
                    M[ci, :, a, b] = _message_metrics(problem, av, bv, codec, bounds, bd)
    dev_of = np.repeat(np.arange(D), L)
    src, res = problem.source, problem.result_device
    init = np.stack([np.stack([_message_metrics(problem, src, problem.devices[d], codec, bounds[:1], bd)[0]
                               for d in dev_of]) + OHs for codec in codecs])
    if problem.results_stay:
        final = np.zeros((C, S, 5))
    else:
        final = np.stack([np.stack([_message_metrics(problem, problem.devices[d], res, codec, bounds[n:],
                                                     bd)[0] for d in dev_of]) for codec in codecs])
    return _Tables(Uc.reshape(C, n, S, 5), OHs, M, init, final)


def _run(problem: PlanningProblem, codecs: list[str], levels_ok: np.ndarray,
         cancel: CancelToken | None) -> list[tuple[Placement, np.ndarray] | None]:
    """The lexicographically best placement for each codec (``levels_ok[c, l]``), and its key.

    The codecs run side by side (a leading axis): one pass of numpy calls for all of them.
    """
    n, L, C = problem.n_units, len(problem.levels), len(codecs)
    w = problem.weights
    tb = _tables(problem, codecs, levels_ok)
    S = tb.U.shape[2]
    Uk = _keys(tb.U, w)  # (C, n, S, 4)
    same = np.arange(S)
    T = (_keys(tb.steps(slice(None), 0, n + 1, L), w) if C * (n + 1) * S * S * 5 <= _PRECOMPUTE_LIMIT
         else None)
    V = _keys(tb.init, w) + Uk[:, 0]  # (C, S, 4)
    back = np.zeros((C, n, S), dtype=np.int64)
    cs = np.arange(C)[:, None]
    for i in range(1, n):
        if cancel is not None and i % 64 == 0:
            cancel.raise_if_cancelled()
        step = T[:, i] if T is not None else _keys(tb.steps(slice(None), i, i + 1, L)[:, 0], w)
        cand = V[:, :, None, :] + step  # (C, s', s, 4)
        arg = _lexargmin(cand, axis=1)  # (C, S)
        back[:, i] = arg
        V = cand[cs, arg, same[None, :]] + Uk[:, i]
    F = V + _keys(tb.final, w)
    out: list[tuple[Placement, np.ndarray] | None] = []
    for ci, codec in enumerate(codecs):
        if not np.isfinite(F[ci, :, 0]).any():
            out.append(None)
            continue
        s_best = int(_lexargmin(F[ci], axis=0, rtol=TIE_RTOL))
        states = [s_best]
        for i in range(n - 1, 0, -1):
            states.append(int(back[ci, i, states[-1]]))
        states.reverse()
        out.append((_placement(problem, states, codec), F[ci, s_best]))
    return out


def _placement(problem: PlanningProblem, states: list[int], codec: str) -> Placement:
    L = len(problem.levels)
    return Placement(tuple(problem.devices[x // L] for x in states), tuple(problem.levels[x % L] for x in states),
                     codec)


#: the capped DP gives up (the MILP decides) above this many labels at one unit
MAX_LABELS = 20_000
#: ... above this many candidate labels of one state when two sums are capped (the pairwise check)
MAX_PAIRWISE = 3_000
#: ... and is not tried above this many (units x states²)
MAX_CAPPED_SIZE = 500_000


def _pareto(keys: np.ndarray, res: np.ndarray) -> np.ndarray:
    """Indices of labels no other label beats: a lexicographically smaller-or-equal key and no more
    of every capped resource (``res`` (m, R)). Labels are sorted by key; a label survives when
    no earlier one uses at most its resources."""
    # figures within a relative 1e-11 count as equal (sums of the same terms in another order),
    # so the next key column decides, as in the tie-breaking of every solver
    q = keys.copy()
    for c in range(q.shape[1]):
        big = float(np.abs(q[:, c]).max(initial=0.0))
        if big > 0:
            q[:, c] = np.round(q[:, c] / (big * 1e-11))
    order = np.lexsort(q.T[::-1])
    r = res[order]
    if r.shape[1] == 1:
        prev = np.minimum.accumulate(np.r_[np.inf, r[:-1, 0]])
        keep = r[:, 0] < prev
    else:
        keep = np.ones(len(order), dtype=bool)
        for j in range(1, len(order)):
            keep[j] = not (r[:j][keep[:j]] <= r[j]).all(axis=1).any()
    out: np.ndarray = order[keep]
    return out


def _run_capped(problem: PlanningProblem, codec: str, levels_ok: np.ndarray, caps: list[tuple[int, float]],
                cancel: CancelToken | None) -> tuple[Placement, np.ndarray] | None | str:
    """The lexicographically best placement whose capped sums (``caps``: metric column, limit) stay
    within their limits: labels per state, Pareto over key and resources, pruned by a lower bound
    on what the rest of the plan adds. None: no plan meets the caps; 'overflow': too many labels."""
    n, L = problem.n_units, len(problem.levels)
    w = problem.weights
    tb = _tables(problem, [codec], levels_ok[None, :])
    U, init, final = tb.U[0], tb.init[0], tb.final[0]
    S = U.shape[1]
    cols = [c for c, _ in caps]
    limit = np.array([lim for _, lim in caps])
    # least of each capped sum that units i+1.. and the results message still add, from state s at unit i
    rest = np.zeros((n, S, len(cols)))
    rest[n - 1] = final[:, cols]
    for i in range(n - 2, -1, -1):
        t = tb.steps(0, i + 1, i + 2, L)[0]  # (S, S, 5)
        rest[i] = (t[:, :, cols] + U[i + 1][None, :, cols] + rest[i + 1][None, :, :]).min(axis=1)
    lab = init + U[0]  # (S, 5)
    ok = np.isfinite(lab).all(axis=1) & (lab[:, cols] + rest[0] <= limit).all(axis=1)
    labels = lab[ok]
    state = np.nonzero(ok)[0]
    history: list[tuple[np.ndarray, np.ndarray]] = [(state, np.full(len(state), -1))]
    for i in range(1, n):
        if cancel is not None:
            cancel.raise_if_cancelled()
        t = tb.steps(0, i, i + 1, L)[0]  # (S, S, 5)
        new_l, new_s, new_b = [], [], []
        for s in range(S):
            cand = labels + t[state, s] + U[i, s]
            good = np.isfinite(cand).all(axis=1) & (cand[:, cols] + rest[i, s] <= limit).all(axis=1)
            if not good.any():
                continue
            idx = np.nonzero(good)[0]
            if len(cols) > 1 and len(idx) > MAX_PAIRWISE:
                return "overflow"
            keep = idx[_pareto(_keys(cand[idx], w), cand[idx][:, cols])]
            new_l.append(cand[keep])
            new_s.append(np.full(len(keep), s))
            new_b.append(keep)
        if not new_l:
            return None
        labels, state = np.concatenate(new_l), np.concatenate(new_s)
        history.append((state, np.concatenate(new_b)))
        if len(labels) > MAX_LABELS:
            return "overflow"
    full = labels + final[state]
    good = np.isfinite(full).all(axis=1) & (full[:, cols] <= limit).all(axis=1)
    if not good.any():
        return None
    idx = np.nonzero(good)[0]
    chosen = int(idx[int(_lexargmin(_keys(full[idx], w), axis=0, rtol=TIE_RTOL))])
    key = _keys(full[chosen], w)
    states = []
    k = chosen
    for i in range(n - 1, -1, -1):
        st, bk = history[i]
        states.append(int(st[k]))
        k = int(bk[k])
    states.reverse()
    return _placement(problem, states, codec), key


#: the attached-chain DP is not tried above this many (units x (window+1) x devices x states²)
MAX_ATTACHED_SIZE = 2_000_000
#: how many units a branch may skip before the attached-chain bound stops adding latency (see _run_attached)
_ATTACH_WINDOW = 3


def _run_attached(problem: PlanningProblem, codec: str, levels_ok: np.ndarray,
                  cancel: CancelToken | None) -> tuple[Placement, np.ndarray] | None:
    """The lexicographically best placement under the *attached-chain* lower bound (any DAG).

    Every column but latency is the DP's usual sum over edge tensors (a lower bound, see the
    module docstring). Latency follows a chain of units, in index order, that must run one after
    another: unit 0 is attached; unit ``i`` is attached when it runs on the device of the last
    attached unit ``j`` (a device runs its units in index order) or reads an output of ``j`` (it
    waits for ``j``'s part to end plus a message holding at least those tensors). An attached unit
    adds its compute (with the part overhead when it starts a part) and that message; other units
    add nothing; after ``_ATTACH_WINDOW`` units without one the chain stops. The result message is
    added when the last unit is attached. Each step of the chain is a valid "starts no earlier
    than", so the sum is at most the plan's latency; the state (units since ``j``, ``j``'s and the
    previous unit's device and level) fixes the rule, so the DP minimises the bound exactly.
    """
    s = problem.structure
    n, D, L = problem.n_units, len(problem.devices), len(problem.levels)
    W = _ATTACH_WINDOW
    w = problem.weights
    tb = _tables(problem, [codec], levels_ok[None, :])
    U, init, final = tb.U[0].copy(), tb.init[0], tb.final[0]
    S = U.shape[1]
    dev_of = np.arange(S) // L
    if not problem.results_stay:
        # the results of units before the last go straight to the consumer: every column but latency
        out_bytes = np.zeros(n)
        for t in s.tensors:
            # (one also read by the next unit may go to the consumer's device anyway: left out)
            if t.is_output and 0 <= t.producer < n - 1 and t.producer + 1 not in t.consumers:
                out_bytes[t.producer] += float(t.size_bytes)
        for u in np.nonzero(out_bytes)[0]:
            bd = _Boundaries(np.array([out_bytes[u]]), np.array([True]), np.array([False]), False)
            for d, dv in enumerate(problem.devices):
                r = _message_metrics(problem, dv, problem.result_device, codec, np.array([0]), bd)[0]
                r[_LAT] = 0.0
                U[u, dev_of == d] += r
    pair_bytes: dict[tuple[int, int], float] = {}
    for t in s.tensors:
        if t.producer >= 0:
            for c in t.consumers:
                pair_bytes[(t.producer, c)] = pair_bytes.get((t.producer, c), 0.0) + float(t.size_bytes)
    fix = np.zeros((D, D))
    per_byte = np.zeros((D, D))
    for a, av in enumerate(problem.devices):
        for b, bv in enumerate(problem.devices):
            if a != b and (av, bv) in problem.routes:
                coef = message_coefficients(problem, av, bv, codec)
                fix[a, b], per_byte[a, b] = coef.fixed_ms, coef.ms_per_byte
    inf = np.inf
    G = W + 1
    # state ids: V[g, d, sk] (the last attached unit is g units back, on device d; the last unit on
    # state sk) | frozen[sk]; g = 0: the last unit is attached (d is its device)
    nS = G * D * S + S
    ids = np.arange(G * D * S).reshape(G, D, S)
    ids_f = G * D * S + np.arange(S)
    # the DP runs on key columns (linear in the metric columns): latency adds ``lat * kl``
    kl = np.array([w.get("latency", 0.0), 1.0, 0.0, 0.0])
    V = np.full((G, D, S, 4), inf)
    V[0, dev_of, np.arange(S)] = _keys(init + U[0], w)
    VF = np.full((S, 4), inf)
    back = np.zeros((n, nS), dtype=np.int64)
    differs = np.arange(S)[:, None] != np.arange(S)[None, :]
    for i in range(1, n):
        if cancel is not None and i % 16 == 0:
            cancel.raise_if_cancelled()
        k = i - 1
        T = tb.steps(0, i, i + 1, L)[0]  # (sk, s, 5): the edge message k -> i and the part start
        nonlat_m = T + U[i][None, :, :]
        nonlat_m[..., _LAT] = 0.0
        nonlat = _keys(nonlat_m, w)  # (sk, s, 4)
        lat_nomsg = np.where(np.isfinite(U[i][:, _LAT]), U[i][:, _LAT], 0.0)[None, :] + tb.OHs[None, :, _LAT] * differs
        base = V[:, :, :, None, :] + nonlat[None, None, :, :, :]  # (g, d, sk, s, 4): not attached
        lat = np.zeros((G, D, S, S))
        att = np.zeros((G, D, S), dtype=bool)  # (g, d, s): unit i is attached
        for g in range(G):
            j = k - g
            reads = j >= 0 and (j, i) in pair_bytes
            att[g] = (np.arange(D)[:, None] == dev_of[None, :]) | reads
            msg = np.zeros((D, S))
            if reads:
                msg = (fix + per_byte * pair_bytes[(j, i)])[:, dev_of]
                msg[np.arange(D)[:, None] == dev_of[None, :]] = 0.0
            lat[g] = lat_nomsg[None, :, :] + msg[:, None, :]
        mask = att[:, :, None, :, None]
        attached = np.where(mask, base + lat[..., None] * kl, inf).reshape(G * D * S, S, 4)
        arg = _lexargmin(attached, axis=0)
        new = np.full((G, D, S, 4), inf)
        new[0, dev_of, np.arange(S)] = attached[arg, np.arange(S)]
        back[i, ids[0, dev_of, np.arange(S)]] = arg
        # not attached: the chain's last unit stays, one unit further back
        loose = np.where(mask, inf, base)
        for g in range(W):
            a = _lexargmin(loose[g], axis=1)  # (d, s): the best sk
            new[g + 1] = np.take_along_axis(loose[g], a[:, None, :, None], axis=1)[:, 0]
            back[i, ids[g + 1]] = ids[g][np.arange(D)[:, None], a]
        cf = np.concatenate([VF[:, None, :] + nonlat, loose[W].reshape(D * S, S, 4)], axis=0)
        aF = _lexargmin(cf, axis=0)
        VF = cf[aF, np.arange(S)]
        back[i, ids_f] = np.r_[ids_f, ids[W].ravel()][aF]
        V = new
    fin_nolat = final.copy()
    fin_nolat[:, _LAT] = 0.0
    fk, fk0 = _keys(final, w), _keys(fin_nolat, w)
    keys = np.concatenate([(V[0] + fk[None]).reshape(D * S, 4), (V[1:] + fk0[None, None]).reshape(W * D * S, 4),
                           VF + fk0])
    if not np.isfinite(keys[:, 0]).any():
        return None
    best = int(_lexargmin(keys, axis=0, rtol=TIE_RTOL))

    def sk_of(sid: int) -> int:
        return int(sid - G * D * S if sid >= G * D * S else sid % S)

    states = [sk_of(best)]
    sid = best
    for i in range(n - 1, 0, -1):
        sid = int(back[i, sid])
        states.append(sk_of(sid))
    states.reverse()
    return _placement(problem, states, codec), keys[best]


def _canonical_codec(problem: PlanningProblem, p: Placement) -> Placement:
    """A plan that sends nothing is reported with codec 'none'."""
    stations = [problem.source] + [d for _, _, d, _ in p.parts()]
    stations.append(problem.result_station(stations[-1]))
    sends = any(a != b for a, b in zip(stations, stations[1:], strict=False))
    return p if sends or p.codec == "none" else Placement(p.devices, p.levels, "none")


def solve_sequence(problem: PlanningProblem, cancel: CancelToken | None = None) -> SequenceResult:
    """The best plan over every placement when memory, utilization and caps do not bind (see the module)."""
    why = applies(problem)
    if why:
        return SequenceResult(None, None, False, reason=why)
    floor = problem.constraints.min_fidelity
    level_f = np.array([problem.level_fidelity(x) for x in problem.levels])
    codecs: list[str] = []
    oks: list[np.ndarray] = []
    for codec, rec in problem.codecs.items():
        cf = rec.fidelity if codec != "none" else 1.0
        ok = level_f * cf >= floor - 1e-12 if floor is not None else np.ones(len(level_f), dtype=bool)
        if ok.any():
            codecs.append(codec)
            oks.append(ok)
    best: tuple[tuple[float, ...], Placement] | None = None
    parallel = not is_totally_ordered(problem.structure)
    if parallel:
        D, S = len(problem.devices), len(problem.devices) * len(problem.levels)
        if problem.n_units * (_ATTACH_WINDOW + 1) * D * S * S > MAX_ATTACHED_SIZE:
            return SequenceResult(None, None, False, reason="the model has branches that can run at the same "
                                  "time and the problem is too large for the attached-chain bound")
        runs = [_run_attached(problem, codec, ok, cancel) for codec, ok in zip(codecs, oks, strict=True)]
    else:
        runs = _run(problem, codecs, np.array(oks), cancel) if codecs else []
    for found in runs:
        if found is None:
            continue
        key = tuple(float(x) for x in found[1])
        if best is None or lex_better(key, best[0]):
            best = (key, found[0])
    if best is None:
        return SequenceResult(None, None, False, reason="no placement runs every unit within pins, privacy and "
                              "the fidelity floor")
    res = _checked(problem, *best)
    kinds = {v.split(":")[0] for v in res.prediction.violations} if res.prediction is not None else set()
    if res.proven or not kinds or not kinds <= {"slo", "cost"} or parallel:
        return res
    states = len(problem.devices) * len(problem.levels)
    if problem.n_units * states * states > MAX_CAPPED_SIZE:
        return SequenceResult(res.best, res.prediction, False, res.lower_bound,
                              f"{res.reason}; too large for the capped DP")
    # only the SLO or the $ cap broke: the labelled DP keeps those sums within their limits
    c = problem.constraints
    caps = [(col, lim * (1 + 1e-9) * (1 + 1e-12)) for col, lim in
            ((_LAT, c.slo_ms), (_USD, c.max_cost_usd_per_1k)) if lim is not None]
    best = None
    for codec, ok in zip(codecs, oks, strict=True):
        found = _run_capped(problem, codec, ok, caps, cancel)
        if isinstance(found, str):
            return SequenceResult(res.best, res.prediction, False, res.lower_bound,
                                  f"{res.reason}; the capped DP kept too many labels")
        if found is None:
            continue
        key = tuple(float(x) for x in found[1])
        if best is None or lex_better(key, best[0]):
            best = (key, found[0])
    if best is None:  # nothing meets the caps: the MILP says so with its diagnosis
        return SequenceResult(res.best, res.prediction, False, res.lower_bound, f"{res.reason}; nothing meets it")
    capped = _checked(problem, *best)
    if capped.proven:
        capped.reason = "the best plan within the SLO and $ cap (labelled DP) meets every other limit"
    return capped


def _checked(problem: PlanningProblem, key: tuple[float, ...], plan: Placement) -> SequenceResult:
    """The DP's plan evaluated by the cost model: proven when it is feasible and adds up to the same key."""
    plan = _canonical_codec(problem, plan)
    pred = evaluate(plan, problem)
    real = problem.objective_key(pred)
    if lex_better(real, key) or lex_better(key, real):
        if not _boundaries(problem).exact:
            # a DAG: the DP's sum is a lower bound that this plan does not attain
            return SequenceResult(plan, pred, False, key[0], "the best plan under the lower bound (edge tensors "
                                  "only; branches not overlapped) does not attain it: skip tensors or "
                                  "branches cross devices")
        # the cost model adds the plan up differently: the relaxation is not this problem's
        return SequenceResult(plan, pred, False, reason=f"the cost model's key {real} differs from the DP's {key}")
    if not pred.feasible:
        return SequenceResult(plan, pred, False, key[0], "the best plan ignoring memory, utilization and caps "
                              f"breaks {pred.violations[0].split(':')[0]}")
    return SequenceResult(plan, pred, True, key[0], "the best plan without the limits that add up over a plan "
                          "(memory, utilization, SLO and $ caps) meets them all")
