"""Exact chain DP: contiguous stages along a route, with multi-criteria labels.

The space: for each chain route from the source (the candidate devices along
the best route to each device, see :func:`~planner_app.core.optimizer.brute_force.chain_routes`),
units in topological order are split into contiguous stages on the route's
devices in order (a stage may be empty), one level per stage, one cut codec
for the plan. The DP walks units one at a time; a state is (station, level)
of the current unit; a label is a vector of figures that the cost model adds
up (latency, cost, link bytes, energy), combines by max (the bottleneck busy
time for throughput, the lowest fidelity) or tracks per stage (busy time,
weights and peak activation of the open stage, for capacity and memory
limits). A label is kept unless another label of the same state is no worse in
every component, so the final labels hold the exact optimum of any objective
that is monotone in them, and the exact Pareto front.

Every stage is one part: opening it adds the per-part overhead
(``PlanningProblem.overhead_ms``) to latency, busy time, cost and energy, as
:func:`evaluate` counts it. Ties of the objective are broken as
:meth:`~planner_app.core.optimizer.problem.PlanningProblem.objective_key` does (latency,
then link bytes, then parts): the one-objective DPs compare keys
lexicographically (all additive, so the order survives adding and the DP stays
exact), the label DP carries the tie columns as label components.

Exactness needs a chain model (:func:`~planner_app.core.optimizer.dataflow.is_chain`: each unit
reads only its predecessor's outputs). On a model with branches the cost model sends each tensor
straight to the devices that read it and takes the critical path (branches on different devices
overlap), while the DP adds the cut sets relayed from stage to stage and the times one after
another; its plan is then evaluated, not proven best (the registry marks it so, and ``optimize``
prefers the MILP there). It also needs the messages of a plan to use distinct link directions (true
on a path topology, checked by :func:`route_is_exact`); elsewhere the DP's
link-capacity and bottleneck figures can miss sharing, and ``optimize`` uses
the MILP. Every plan it returns is re-evaluated with :func:`evaluate`.

Example
-------
>>> out = solve_chain(problem)                          # doctest: +SKIP
>>> out.best.summary(), out.best_prediction.latency_ms  # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["ChainResult", "solve_chain", "route_is_exact"]

import math
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from planner_app.core.optimizer.brute_force import chain_routes
from planner_app.core.optimizer.cost_model import Prediction, evaluate, message_coefficients
from planner_app.core.optimizer.pareto import criteria_vector, nondominated
from planner_app.core.optimizer.problem import TIE_RTOL, Placement, PlanningProblem, lex_better
from planner_app.core.progress import CancelToken, ProgressCallback, report

_ADDITIVE = ("latency", "cost", "bytes", "energy", "parts")
_TOL = 1 + 1e-9
#: relative tolerance of tie-breaking inside the DP's steps (the final pick uses ``lex_better``'s)
_STEP_RTOL = 1e-12

#: a message's deltas ``(n+1, C)``, max link busy ms and feasibility per boundary (see ``_message``)
_Message = tuple[np.ndarray, np.ndarray, np.ndarray]
#: per unit, the labels' back-pointers (state, index) per (station, level)
_LabelHistory = list[dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]]


def _lexargmin(A: np.ndarray, axis: int, rtol: float = _STEP_RTOL) -> np.ndarray:
    """Index of the lexicographically smallest vector along ``axis`` (vectors on the last axis).

    Components within ``rtol`` of the smallest count as equal and the next component decides.
    """
    mask = np.ones(A.shape[:-1], dtype=bool)
    with np.errstate(invalid="ignore"):
        for c in range(A.shape[-1]):
            col = A[..., c] if c == 0 else np.where(mask, A[..., c], np.inf)
            m = col.min(axis=axis, keepdims=True)
            mask &= col <= m + rtol * np.abs(m)  # inf minima: every inf entry ties
            if c + 1 < A.shape[-1] and not ((mask & np.isfinite(col)).sum(axis=axis) > 1).any():
                break  # no finite tie left: later components cannot change the answer
    return cast(np.ndarray, mask.argmax(axis=axis))


def _lexle(a: np.ndarray, b: np.ndarray, rtol: float = _STEP_RTOL) -> np.ndarray:
    """``a <= b`` lexicographically (vectors on the last axis; equal within ``rtol``)."""
    out = np.zeros(a.shape[:-1], dtype=bool)
    open_ = np.ones(a.shape[:-1], dtype=bool)
    with np.errstate(invalid="ignore"):
        for c in range(a.shape[-1]):
            x, y = a[..., c], b[..., c]
            big = np.maximum(np.abs(x), np.abs(y))
            tol = np.where(np.isfinite(big), rtol * big, 0.0)
            lt, gt = x < y - tol, x > y + tol
            out |= open_ & lt
            open_ &= ~(lt | gt)
            if c == 0:  # inf == inf (both unusable): equal on every component
                fin = np.isfinite(x)
                out |= open_ & ~fin
                open_ &= fin
            if not open_.any():
                return out
    return out | open_


def _lexlt(a: np.ndarray, b: np.ndarray, rtol: float = _STEP_RTOL) -> np.ndarray:
    """``a < b`` lexicographically (see :func:`_lexle`)."""
    return ~_lexle(b, a, rtol)


@dataclass
class ChainResult:
    """Best plan (None when no contiguous plan is feasible), its prediction, and the front."""

    best: Placement | None
    best_prediction: Prediction | None
    best_value: float
    front: list[tuple[Placement, Prediction]] = field(default_factory=list)
    routes: list[list[str]] = field(default_factory=list)
    exact: bool = True
    labels_kept: int = 0
    #: the objective as the DP's labels added it up (equals ``best_value``, from :func:`evaluate`)
    label_value: float = math.inf


def route_is_exact(problem: PlanningProblem, stations: list[str]) -> bool:
    """Whether the messages of any plan on ``stations`` use distinct link directions."""
    seq = list(dict.fromkeys([problem.source, *stations]))
    dirs: dict[tuple[str, str], set[tuple[str, str, str]]] = {}

    def d(a: str, b: str) -> set[tuple[str, str, str]]:
        if a == b:
            return set()
        if (a, b) not in dirs:
            dirs[(a, b)] = {(lid, u, v) for lid, u, v, _ in message_coefficients(problem, a, b, "none").link_dirs}
        return dirs[(a, b)]

    r = len(seq)
    # a plan sends between increasing positions of seq, then from its last station to the result device
    for a in range(r):
        for b in range(a + 1, r):
            first = d(seq[a], seq[b])
            for x in range(b, r):
                if first & d(seq[x], problem.result_station(seq[x])):
                    return False
                for y in range(x + 1, r):
                    if first & d(seq[x], seq[y]):
                        return False
    return True


class _Columns:
    """Which label components a run needs, and where they sit."""

    def __init__(self, problem: PlanningProblem, pareto: bool, need_bott: bool, mem: bool, busy: bool,
                 fid: bool, ties: bool = False) -> None:
        weights = problem.weights
        c = problem.constraints
        names: list[str] = []
        additive = {k for k in weights if k != "throughput"}
        single = len(additive) == 1 and not pareto
        self.obj_metric: str | None = None
        if pareto:
            names += ["latency", "cost", "bytes"]
        else:
            if single:
                (m,) = additive
                self.obj_metric = {"latency": "latency", "cost": "cost", "bandwidth": "bytes", "energy": "energy"}[m]
                names.append(self.obj_metric)
            elif additive:
                names.append("obj")
            if c.slo_ms is not None and "latency" not in names:
                names.append("latency")
            if c.max_cost_usd_per_1k is not None and "cost" not in names:
                names.append("cost")
        self.need_bott = need_bott
        if need_bott:
            names.append("bott")
        if busy or need_bott:
            names.append("sbusy")
        if mem:
            names += ["smem", "sact"]
        if fid:
            names.append("negfid")
        if busy or need_bott or mem:
            # the open stage's resources are fixed by where it started (for a given unit, station and
            # level, a later start means fewer units: less of every resource), so labels compare on
            # -start instead of on each resource: one column, not three, in every dominance test
            names.append("kstart")
        #: columns that only break ties of the objective (latency, bytes, parts), in key order
        self.n_base = len(names)
        self.tie_cols: list[int] = []
        if ties and not pareto:
            for t in ("latency", "bytes", "parts"):
                if t == self.obj_metric:
                    continue
                if t not in names:
                    names.append(t)
                self.tie_cols.append(names.index(t))
        self.names = names
        self.idx = {n: i for i, n in enumerate(names)}
        self.add = [i for i, n in enumerate(names) if n in _ADDITIVE or n == "obj"]
        self.dom = [i for i, n in enumerate(names) if n not in ("sbusy", "smem", "sact")]
        self.dom_arrival = [i for i in self.dom if names[i] != "kstart"]
        self.weights = weights

    def __len__(self) -> int:
        return len(self.names)


def _scalar(cols: _Columns, L: np.ndarray) -> np.ndarray:
    """Objective value of final labels (stage closed)."""
    w = cols.weights
    v = np.zeros(len(L))
    if cols.obj_metric is not None:
        metric_obj = {"latency": "latency", "cost": "cost", "bytes": "bandwidth", "energy": "energy"}[cols.obj_metric]
        v += w[metric_obj] * L[:, cols.idx[cols.obj_metric]]
    elif "obj" in cols.idx:
        v += L[:, cols.idx["obj"]]
    if "throughput" in w:
        v += w["throughput"] * L[:, cols.idx["bott"]]
    return v


def _unit_deltas(problem: PlanningProblem, cols: _Columns, stations: list[str]) -> np.ndarray:
    """``U[i, j, l, c]``: what unit i on station j at level l adds to each additive column."""
    topo = problem.topology
    n, nl = problem.n_units, len(problem.levels)
    dindex = {d: i for i, d in enumerate(problem.devices)}
    U = np.zeros((n, len(stations), nl, len(cols)))
    w = cols.weights
    for j, dev_id in enumerate(stations):
        dev = topo.device(dev_id)
        raw = problem.ms[:, dindex[dev_id], :]
        ms = np.where(np.isfinite(raw), raw, 0.0)  # inf * 0 $/h would be nan; poisoned below
        usd = dev.cost_usd_per_hour / 3.6e6 * 1000.0
        energy_w = dev.power_active_w if dev.battery else 0.0
        per = {"latency": ms, "cost": ms * usd, "bytes": np.zeros_like(ms), "energy": ms * energy_w}
        for name, ci in cols.idx.items():
            if name in per:
                U[:, j, :, ci] = per[name]
            elif name == "obj":
                U[:, j, :, ci] = sum(w.get(k, 0.0) * per[m] for k, m in
                                     (("latency", "latency"), ("cost", "cost"), ("bandwidth", "bytes"), ("energy", "energy")))
        # unrunnable units poison every column so the label is dropped
        U[:, j][~np.isfinite(raw)] = np.inf
    return U


def _overhead_deltas(problem: PlanningProblem, cols: _Columns, stations: list[str]) -> np.ndarray:
    """``OH[j]``: what opening a stage (one part: a session call) on station j adds to each column."""
    oh = problem.overhead_ms
    OH = np.zeros((len(stations), len(cols)))
    w = cols.weights
    for j, dev_id in enumerate(stations):
        dev = problem.device_records[dev_id]
        per = {"latency": oh, "cost": oh * dev.cost_usd_per_hour / 3.6e6 * 1000.0, "bytes": 0.0,
               "energy": oh * (dev.power_active_w if dev.battery else 0.0), "parts": 1.0}
        for name, ci in cols.idx.items():
            if name in per:
                OH[j, ci] = per[name]
            elif name == "obj":
                OH[j, ci] = sum(w.get(k, 0.0) * per[m] for k, m in
                               (("latency", "latency"), ("cost", "cost"), ("bandwidth", "bytes"), ("energy", "energy")))
            elif name == "sbusy":
                OH[j, ci] = oh
    return OH


def _message(problem: PlanningProblem, cols: _Columns, a: str, b: str, codec: str, private: np.ndarray) -> _Message:
    """Deltas ``(n+1, C)`` of a message a -> b at each boundary, its max link busy ms, and feasibility."""
    s = problem.structure
    n1 = s.n_units + 1
    D = np.zeros((n1, len(cols)))
    bott = np.zeros(n1)
    ok = np.ones(n1, dtype=bool)
    if a == b:
        return D, bott, ok
    coef = message_coefficients(problem, a, b, codec)
    B = s.cut_bytes.astype(float)
    has = np.array([bool(t) for t in s.cut_tensors])
    w = cols.weights
    per = {
        "latency": np.where(has, coef.fixed_ms + coef.ms_per_byte * B, 0.0),
        "cost": coef.usd_per_1k_per_byte * B,
        "bytes": coef.wire_ratio * coef.hops * B,
        "energy": coef.energy_mj_per_byte * B,
    }
    for name, ci in cols.idx.items():
        if name in per:
            D[:, ci] = per[name]
        elif name == "obj":
            D[:, ci] = sum(w.get(k, 0.0) * per[m] for k, m in
                           (("latency", "latency"), ("cost", "cost"), ("bandwidth", "bytes"), ("energy", "energy")))
    bott = coef.max_link_ms_per_byte * B
    if problem.constraints.capacity:
        ok &= problem.rate_rps * bott / 1000.0 < 1.0
    if not coef.in_zone:
        ok &= ~private
    return D, bott, ok


def _prune(problem: PlanningProblem, cols: _Columns, L: np.ndarray, mem_limit: float) -> np.ndarray:
    keep: np.ndarray = np.isfinite(L.sum(axis=1))
    c = problem.constraints
    idx = cols.idx
    if c.slo_ms is not None and "latency" in idx:
        keep &= L[:, idx["latency"]] <= c.slo_ms * _TOL
    if c.max_cost_usd_per_1k is not None and "cost" in idx:
        keep &= L[:, idx["cost"]] <= c.max_cost_usd_per_1k * _TOL
    if "smem" in idx:
        keep &= L[:, idx["smem"]] + L[:, idx["sact"]] <= mem_limit
    if "sbusy" in idx and c.capacity:
        keep &= problem.rate_rps * L[:, idx["sbusy"]] / 1000.0 < 1.0
    return keep


def _run(problem: PlanningProblem, stations: list[str], codec: str, cols: _Columns, levels_ok: list[bool],
         cancel: CancelToken | None, known: np.ndarray | None = None,
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, _LabelHistory]:
    """One DP over one route and codec; returns final labels with back-pointers.

    ``known``: criteria (latency, cost, bytes[, -fidelity]) of feasible plans already found (they
    join the front). A label is dropped when one of them is no worse than the label plus a lower
    bound on what the remaining units add (their fastest time on this or a later station): every
    completion of the label would then be dominated by, or equal to, a known plan.
    """
    n = problem.n_units
    nl = len(problem.levels)
    R = len(stations)
    C = len(cols)
    idx = cols.idx
    private = problem.private_cut_mask()
    U = _unit_deltas(problem, cols, stations)
    OH = _overhead_deltas(problem, cols, stations)
    dindex = {d: i for i, d in enumerate(problem.devices)}
    ms_st = problem.ms[:, [dindex[d] for d in stations], :]
    pb = problem.param_bytes
    act = problem.activation_bytes
    mem_limit = np.array([problem.memory_limit_bytes(d) for d in stations])
    pins = {int(u): d for u, d in problem.constraints.pinned_units.items()}
    fid = np.array([problem.level_fidelity(x) for x in problem.levels])
    msg = {}
    for j0 in range(R):
        for j in range(j0 + 1, R):
            msg[(j0, j)] = _message(problem, cols, stations[j0], stations[j], codec, private)
    init = [_message(problem, cols, problem.source, stations[j], codec, private) for j in range(R)]
    final = [_message(problem, cols, stations[j], problem.result_station(stations[j]), codec, private)
             for j in range(R)]
    has_bott, has_busy, has_mem, has_fid = "bott" in idx, "sbusy" in idx, "smem" in idx, "negfid" in idx
    # one vector to add per (unit, station, level): additive figures and the open stage's resources
    if has_busy:
        U[:, :, :, idx["sbusy"]] = ms_st
    if has_mem:
        U[:, :, :, idx["smem"]] = pb[:, None, :]
    stage_cols = [idx[c] for c in ("sbusy", "smem", "sact") if c in idx]
    sact = idx.get("sact")

    def add_unit(L: np.ndarray, i: int, j: int, li: int) -> np.ndarray:
        L += U[i, j, li]
        if sact is not None:
            np.maximum(L[:, sact], act[i], out=L[:, sact])
        return L

    kcol = idx.get("kstart")

    def open_stage(L: np.ndarray, li: int, i: int, j: int) -> np.ndarray:
        L += OH[j]
        if has_fid:
            L[:, idx["negfid"]] = np.maximum(L[:, idx["negfid"]], -fid[li])
        if kcol is not None:
            L[:, kcol] = -float(i)
        return L

    def send(L: np.ndarray, m: _Message, k: int) -> np.ndarray:
        D, bott, ok = m
        if not ok[k]:
            return L[:0]
        if has_bott:
            L = L.copy()
            L[:, idx["bott"]] = np.maximum(np.maximum(L[:, idx["bott"]], L[:, idx["sbusy"]]), bott[k])
            L += D[k]
        else:
            L = L + D[k]
        # the closed stage's resources are accounted; the next stage starts empty
        if stage_cols:
            L[:, stage_cols] = 0.0
        return L

    states = [(j, li) for j in range(R) for li in range(nl) if levels_ok[li]]
    crit = [idx[c] for c in ("latency", "cost", "bytes", "negfid") if c in idx]
    lower = np.zeros((R, n + 1, len(crit)))
    if known is not None and "latency" in idx:
        # fastest time of each unit on this or a later station, summed over the units still to place
        fast = np.where(np.isfinite(ms_st), ms_st, np.inf)[:, :, [li for li in range(nl) if levels_ok[li]]].min(axis=2)
        later = np.minimum.accumulate(fast[:, ::-1], axis=1)[:, ::-1]  # (n, R): min over stations >= j
        suffix = np.concatenate([np.cumsum(later[::-1], axis=0)[::-1], np.zeros((1, R))])  # (n+1, R)
        lower[:, :, crit.index(idx["latency"])] = suffix.T
    # labels[s] = (array (m, C), back_state (m,), back_index (m,))
    history: _LabelHistory = []
    cur: dict[tuple[int, int], np.ndarray] = {}
    zero = np.zeros((1, C))
    if has_fid:
        zero[:, idx["negfid"]] = -np.inf
    for i in range(n):
        if cancel is not None and i % 16 == 0:
            cancel.raise_if_cancelled()
        pin = pins.get(i)
        new: dict[tuple[int, int], np.ndarray] = {}
        back: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        # what arrives at station j by a switch (before the level is known)
        arrivals: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        # every label of a station, whatever its level, with where it sits (one send per station pair)
        by_station: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for j0 in range(R):
            chunks = [(li0, cur[(j0, li0)]) for li0 in range(nl) if (j0, li0) in cur]
            if chunks:
                by_station[j0] = (np.concatenate([c for _, c in chunks]),
                                  np.concatenate([np.full(len(c), j0 * nl + li0) for li0, c in chunks]),
                                  np.concatenate([np.arange(len(c)) for _, c in chunks]))
        for j in range(R):
            if pin is not None and stations[j] != pin:
                continue
            parts, bs, bi = [], [], []
            if i == 0:
                L = send(zero, init[j], 0)
                parts.append(L)
                bs.append(np.full(len(L), -1))
                bi.append(np.zeros(len(L), dtype=np.int64))
            else:
                for j0 in range(j):
                    merged = by_station.get(j0)
                    if merged is None:
                        continue
                    L = send(merged[0], msg[(j0, j)], i)
                    if len(L):
                        parts.append(L)
                        bs.append(merged[1])
                        bi.append(merged[2])
            if parts:
                A = np.concatenate(parts)
                S, Ix = np.concatenate(bs), np.concatenate(bi)
                keep = nondominated(A[:, cols.dom_arrival])
                arrivals[j] = (A[keep], S[keep], Ix[keep])
        for j, li in states:
            if pin is not None and stations[j] != pin:
                continue
            parts, bs, bi = [], [], []
            prev = cur.get((j, li))
            if prev is not None and len(prev):
                parts.append(add_unit(prev.copy(), i, j, li))
                bs.append(np.full(len(prev), j * nl + li))
                bi.append(np.arange(len(prev)))
            if j in arrivals:
                A, S, Ix = arrivals[j]
                parts.append(add_unit(open_stage(A.copy(), li, i, j), i, j, li))
                bs.append(S)
                bi.append(Ix)
            if not parts:
                continue
            A = np.concatenate(parts) if len(parts) > 1 else parts[0]
            S, Ix = (np.concatenate(bs), np.concatenate(bi)) if len(parts) > 1 else (bs[0], bi[0])
            keep = _prune(problem, cols, A, mem_limit[j])
            if known is not None and len(known):
                bounded = A[:, crit] + lower[j, i + 1]
                keep &= ~np.any(np.all(known[None, :, :] <= bounded[:, None, :], axis=2), axis=1)
            if not keep.all():
                A, S, Ix = A[keep], S[keep], Ix[keep]
            if not len(A):
                continue
            if len(parts) > 1:  # stay-only labels were non-dominated already; adding one vector keeps them so
                k = nondominated(A[:, cols.dom])
                A, S, Ix = A[k], S[k], Ix[k]
            new[(j, li)] = A
            back[(j, li)] = (S, Ix)
        history.append(back)
        cur = new
    # close: last stage's busy into the bottleneck, results to the consumer
    finals, fs, fi = [], [], []
    for (j, li), L in cur.items():
        F = send(L, final[j], n)
        keep = _prune(problem, cols, F, mem_limit[j]) if len(F) else np.zeros(0, bool)
        finals.append(F[keep])
        fs.append(np.full(int(keep.sum()), j * nl + li))
        fi.append(np.arange(len(L))[keep] if len(F) else np.zeros(0, np.int64))
    if not finals:
        return np.zeros((0, C)), np.zeros(0, int), np.zeros(0, int), history
    return np.concatenate(finals), np.concatenate(fs), np.concatenate(fi), history


def _run_scalar(problem: PlanningProblem, stations: list[str], codec: str, cols: _Columns, levels_ok: list[bool],
                cancel: CancelToken | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """The one-objective case vectorised over states: one best key per (station, level).

    The key is the objective column then the tie-breaking columns (``cols.tie_cols``), compared
    lexicographically: every column is additive, so the lexicographic order is kept by adding
    and the DP stays exact for it. Returns final keys ``(m, 1 + ties)``.
    """
    n = problem.n_units
    nl = len(problem.levels)
    R = len(stations)
    key = [0, *cols.tie_cols]
    K = len(key)
    private = problem.private_cut_mask()
    U = _unit_deltas(problem, cols, stations)[:, :, :, key]  # (n, R, L, K)
    OH = _overhead_deltas(problem, cols, stations)[:, key]  # (R, K)
    bad_level = ~np.array(levels_ok)
    U[:, :, bad_level] = np.inf
    pins = {int(u): d for u, d in problem.constraints.pinned_units.items()}
    for u, d in pins.items():
        U[u, [j for j in range(R) if stations[j] != d], :] = np.inf
    M = np.full((n + 1, R, R, K), np.inf)
    for j0 in range(R):
        for j in range(j0 + 1, R):
            D, _, ok = _message(problem, cols, stations[j0], stations[j], codec, private)
            M[:, j0, j] = np.where(ok[:, None], D[:, key], np.inf)
    init = np.array([np.where(ok[0], D[0, key], np.inf) for D, _, ok in
                     (_message(problem, cols, problem.source, st, codec, private) for st in stations)])
    final = np.array([np.where(ok[n], D[n, key], np.inf) for D, _, ok in
                      (_message(problem, cols, st, problem.result_station(st), codec, private) for st in stations)])
    c = problem.constraints
    limit = math.inf
    if cols.names[0] == "latency" and c.slo_ms is not None:
        limit = c.slo_ms * _TOL
    if cols.names[0] == "cost" and c.max_cost_usd_per_1k is not None:
        limit = c.max_cost_usd_per_1k * _TOL

    def cap(v: np.ndarray) -> np.ndarray:
        v[v[..., 0] > limit] = np.inf
        return v

    val = cap(init[:, None, :] + OH[:, None, :] + U[0])  # (R, L, K)
    history = [np.full((R, nl), -1, dtype=np.int64)]
    state_id = np.arange(R * nl).reshape(R, nl)
    ar = np.arange(R)
    zero_l = np.zeros(R, dtype=np.int64)
    for i in range(1, n):
        if cancel is not None and i % 64 == 0:
            cancel.raise_if_cancelled()
        stay = val + U[i]
        bl = _lexargmin(val, axis=1) if nl > 1 else zero_l  # best level of each station
        bv = val[ar, bl]  # (R, K)
        cand = bv[:, None, :] + M[i]  # (j0, j, K)
        sj = _lexargmin(cand, axis=0)
        sv = cand[sj, ar]  # (R, K)
        arrive = sv[:, None, :] + OH[:, None, :] + U[i]
        take_stay = _lexle(stay, arrive)
        val = cap(np.where(take_stay[..., None], stay, arrive))
        src_state = (sj * nl + bl[sj])[:, None]
        history.append(np.where(take_stay, state_id, np.broadcast_to(src_state, (R, nl))))
    fin = cap(val + final[:, None, :])
    flat = fin.reshape(R * nl, K)
    finite = np.isfinite(flat[:, 0])
    if not finite.any():
        return np.zeros((0, K)), np.zeros(0, int), np.zeros(0, int), history
    states = np.nonzero(finite)[0]
    return flat[states], states, np.zeros(len(states), dtype=np.int64), history


def _run_stages(problem: PlanningProblem, stations: list[str], codec: str, cols: _Columns, levels_ok: list[bool],
                check_mem: bool, check_busy: bool, cancel: CancelToken | None) -> tuple[Placement, float] | None:
    """One-objective DP over whole stages, for when memory or utilization limits can bind.

    ``V[j][k]``: best key with units ``< k`` done and the last stage on station
    ``j``; a stage ``[k, k')`` is checked as a whole (weights + peak activation,
    busy time, pins, runnable), so those limits need no label columns. Keys are
    the objective then ``cols.tie_cols``, compared lexicographically.
    """
    n = problem.n_units
    nl = len(problem.levels)
    R = len(stations)
    key = [0, *cols.tie_cols]
    K = len(key)
    private = problem.private_cut_mask()
    U = _unit_deltas(problem, cols, stations)[:, :, :, key]  # (n, R, L, K), inf where unrunnable
    OH = _overhead_deltas(problem, cols, stations)[:, key]  # (R, K)
    oh = problem.overhead_ms
    dindex = {d: i for i, d in enumerate(problem.devices)}
    ms = problem.ms[:, [dindex[d] for d in stations], :]
    finite = np.isfinite(U[..., 0])
    zero_pad = np.zeros((1, R, nl))
    P = np.concatenate([np.zeros((1, R, nl, K)), np.cumsum(np.where(finite[..., None], U, 0.0), axis=0)])
    BAD = np.concatenate([zero_pad, np.cumsum(~finite, axis=0)])
    BZ = np.concatenate([zero_pad, np.cumsum(np.where(np.isfinite(ms), ms, 0.0), axis=0)])
    W = np.concatenate([np.zeros((1, nl)), np.cumsum(problem.param_bytes, axis=0)])  # (n+1, L)
    pins = {int(u): d for u, d in problem.constraints.pinned_units.items()}
    PIN = np.zeros((n + 1, R))
    for u, d in pins.items():
        for j in range(R):
            if stations[j] != d:
                PIN[u + 1:, j] += 1
    act_max = None
    if check_mem:  # act_max[k, k'] = largest activation of units k .. k'-1
        act = problem.activation_bytes
        act_max = np.full((n + 1, n + 1), np.inf)
        for k in range(n):
            act_max[k, k + 1:] = np.maximum.accumulate(act[k:])
    M = np.full((n + 1, R, R, K), np.inf)
    for j0 in range(R):
        for j in range(j0 + 1, R):
            D, _, ok = _message(problem, cols, stations[j0], stations[j], codec, private)
            M[:, j0, j] = np.where(ok[:, None], D[:, key], np.inf)
    init = [np.where(ok[0], D[0, key], np.inf) for D, _, ok in
            (_message(problem, cols, problem.source, st, codec, private) for st in stations)]
    final = [np.where(ok[n], D[n, key], np.inf) for D, _, ok in
             (_message(problem, cols, st, problem.result_station(st), codec, private) for st in stations)]
    c = problem.constraints
    limit = math.inf
    if cols.names[0] == "latency" and c.slo_ms is not None:
        limit = c.slo_ms * _TOL
    if cols.names[0] == "cost" and c.max_cost_usd_per_1k is not None:
        limit = c.max_cost_usd_per_1k * _TOL
    rate = problem.rate_rps
    ks = np.arange(n + 1)
    upper = ks[:, None] < ks[None, :]  # a stage [k, k') is not empty
    V = np.full((R, n + 1, K), np.inf)
    back_stage = np.zeros((R, n + 1, 2), dtype=np.int64)  # (k, level) of the stage ending at k'
    back_from = np.full((R, n + 1), -1, dtype=np.int64)  # station before stage start k (-1 = source)
    for j in range(R):
        if cancel is not None:
            cancel.raise_if_cancelled()
        A = np.full((n + 1, K), np.inf)
        A[0] = init[j]
        src = np.full(n + 1, -1, dtype=np.int64)
        for j0 in range(j):
            cand = V[j0] + M[:, j0, j]
            better = _lexlt(cand, A)
            A = np.where(better[:, None], cand, A)
            src = np.where(better, j0, src)
        if not np.isfinite(A[:, 0]).any():
            continue
        best = np.full((n + 1, K), np.inf)
        arg = np.zeros((n + 1, 2), dtype=np.int64)
        limit_mem = problem.memory_limit_bytes(stations[j])
        for li in range(nl):
            if not levels_ok[li]:
                continue
            ok = upper & (BAD[:, j, li][:, None] == BAD[:, j, li][None, :])
            ok &= PIN[:, j][:, None] == PIN[:, j][None, :]
            if check_busy and c.capacity:
                ok &= rate * (BZ[None, :, j, li] - BZ[:, j, li][:, None] + oh) / 1000.0 < 1.0
            if act_max is not None:
                ok &= (W[None, :, li] - W[:, li][:, None]) + act_max <= limit_mem
            # the objective column over every (start k, end k'); the tie columns only where it ties
            start = A - P[:, j, li]  # (n+1, K)
            prim = np.where(ok, start[:, 0][:, None] + P[None, :, j, li, 0] + OH[j, 0], np.inf)
            pmin = prim.min(axis=0)
            tied = prim <= pmin + np.where(np.isfinite(pmin), _STEP_RTOL * np.abs(pmin), 0.0)
            kbest = tied.argmax(axis=0)
            if K > 1:
                multi = np.nonzero((tied & np.isfinite(prim)).sum(axis=0) > 1)[0]
                if len(multi):
                    sub = np.where(tied[:, multi, None], start[:, None, :] + P[None, multi, j, li] + OH[j], np.inf)
                    kbest[multi] = _lexargmin(sub, axis=0)
            vbest = np.where(ok[kbest, ks][:, None], start[kbest] + P[ks, j, li] + OH[j], np.inf)
            better = _lexlt(vbest, best)
            best = np.where(better[:, None], vbest, best)
            arg[better] = np.stack([kbest[better], np.full(int(better.sum()), li)], axis=1)
        best[best[:, 0] > limit] = np.inf
        V[j] = best
        back_stage[j] = arg
        back_from[j] = src[arg[:, 0]]
    fin = np.array([V[j, n] + final[j] for j in range(R)])
    fin[fin[:, 0] > limit] = np.inf
    if not np.isfinite(fin[:, 0]).any():
        return None
    j = int(_lexargmin(fin, axis=0))
    value = float(fin[j, 0])
    devs: list[str] = [""] * n
    lvls: list[str] = [""] * n
    k_end = n
    while k_end > 0:
        k, li = (int(x) for x in back_stage[j, k_end])
        for u in range(k, k_end):
            devs[u], lvls[u] = stations[j], problem.levels[li]
        j_prev = int(back_from[j, k_end])
        k_end = k
        j = j_prev
    return Placement(tuple(devs), tuple(lvls), codec), value


def _reconstruct_scalar(problem: PlanningProblem, stations: list[str], codec: str, history: list[np.ndarray],
                        state: int) -> Placement:
    nl = len(problem.levels)
    n = problem.n_units
    devs: list[str] = [""] * n
    lvls: list[str] = [""] * n
    s = int(state)
    for i in range(n - 1, -1, -1):
        j, li = divmod(s, nl)
        devs[i] = stations[j]
        lvls[i] = problem.levels[li]
        s = int(history[i][j, li])
    return Placement(tuple(devs), tuple(lvls), codec)


def _reconstruct(problem: PlanningProblem, stations: list[str], codec: str, history: _LabelHistory, state: int,
                 index: int) -> Placement:
    nl = len(problem.levels)
    n = problem.n_units
    devs: list[str] = [""] * n
    lvls: list[str] = [""] * n
    s, k = int(state), int(index)
    for i in range(n - 1, -1, -1):
        j, li = divmod(s, nl)
        devs[i] = stations[j]
        lvls[i] = problem.levels[li]
        bs, bi = history[i][(j, li)]
        s, k = int(bs[k]), int(bi[k])
    p = Placement(tuple(devs), tuple(lvls), codec)
    return p


def _canonical_codec(problem: PlanningProblem, p: Placement) -> Placement:
    """A plan that sends nothing is reported with codec 'none'."""
    stations = [problem.source] + [d for _, _, d, _ in p.parts()]
    stations.append(problem.result_station(stations[-1]))
    sends = any(a != b for a, b in zip(stations, stations[1:], strict=False))
    return p if sends or p.codec == "none" else Placement(p.devices, p.levels, "none")


def _mem_may_bind(problem: PlanningProblem, stations: list[str]) -> bool:
    if not problem.constraints.memory:
        return False
    worst = float(np.max(problem.param_bytes, axis=1).sum() + problem.activation_bytes.max())
    return any(worst > problem.memory_limit_bytes(d) for d in stations)


def _busy_may_bind(problem: PlanningProblem, stations: list[str]) -> bool:
    if not problem.constraints.capacity:
        return False
    dindex = {d: i for i, d in enumerate(problem.devices)}
    for d in stations:
        ms = problem.ms[:, dindex[d], :]
        worst = float(np.where(np.isfinite(ms), ms, 0.0).max(axis=1).sum()) + problem.overhead_ms
        if problem.rate_rps * worst / 1000.0 >= 1.0:
            return True
    return False


def solve_chain(
    problem: PlanningProblem,
    pareto: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ChainResult:
    """The exact best contiguous plan for the problem's objective, and with ``pareto`` the front."""
    routes = chain_routes(problem)
    fid_floor = problem.constraints.min_fidelity
    level_f = [problem.level_fidelity(x) for x in problem.levels]
    candidates: list[tuple[Placement, float]] = []
    # plans that are each best on one criterion seed the front and bound the label search
    seeds: list[tuple[Placement, Prediction]] = []
    if pareto:
        for name in ("latency", "cost", "bandwidth"):
            r = solve_chain(problem.with_changes(objective=name), cancel=cancel)
            if r.best is not None:
                assert r.best_prediction is not None  # a best plan always has its prediction
                seeds.append((r.best, r.best_prediction))
        # every one-part plan too: ties on those objectives go to the lowest latency, so the most
        # faithful level (a front point of its own) is not always among the plans above
        for dev in problem.devices:
            for lvl in problem.levels:
                q = Placement.uniform(problem.n_units, dev, lvl)
                pr = evaluate(q, problem)
                if pr.feasible:
                    seeds.append((q, pr))
    front_points: list[Placement] = []
    exact = True
    kept = 0
    jobs = [(r, c) for r in routes for c in problem.codecs]
    n_units = problem.n_units
    need_bott = "throughput" in problem.weights
    distinct_fid = len({round(f, 12) for f in level_f}) > 1 or any(c.fidelity != 1.0 for c in problem.codecs.values())
    for ji, (stations, codec) in enumerate(jobs):
        report(progress, ji / max(1, len(jobs)), f"chain DP over {' → '.join(stations)}, codec {codec}")
        exact &= route_is_exact(problem, stations)
        cf = problem.codecs[codec].fidelity
        levels_ok = [fid_floor is None or f * (cf if codec != "none" else 1.0) >= fid_floor - 1e-12 for f in level_f]
        if not any(levels_ok):
            continue
        mem, busy = _mem_may_bind(problem, stations), _busy_may_bind(problem, stations)
        plain = _Columns(problem, False, need_bott, False, False, False, ties=True)
        if (mem or busy) and plain.n_base == 1 and not need_bott:
            # the stage-wise DP checks memory and utilization per stage without label columns
            found = _run_stages(problem, stations, codec, plain, levels_ok, mem, busy, cancel)
            if found is not None:
                candidates.append(found)
            runs = [(True, _Columns(problem, True, False, mem, busy, distinct_fid))] if pareto else []
        else:
            runs = [(False, _Columns(problem, False, need_bott, mem, busy, False, ties=True))]
            if pareto:
                runs.append((True, _Columns(problem, True, False, mem, busy, distinct_fid)))
        for is_front, cols in runs:
            scalar = cols.n_base == 1 and not is_front and cols.names[0] in _ADDITIVE + ("obj",)
            if scalar:
                L, S, Ix, hist = _run_scalar(problem, stations, codec, cols, levels_ok, cancel)
                kept += n_units * len(stations) * len(problem.levels)
            else:
                known = None
                if is_front and seeds:
                    with_fid = "negfid" in cols.idx
                    known = np.array([criteria_vector(pr, with_fid) for _, pr in seeds])
                L, S, Ix, hist = _run(problem, stations, codec, cols, levels_ok, cancel, known)
                kept += sum(len(b[0]) for h in hist for b in h.values())
            if not len(L):
                continue
            if scalar:
                full = np.zeros((len(L), len(cols)))
                full[:, [0, *cols.tie_cols]] = L
                v = _scalar(cols, full)
                k = int(_lexargmin(np.c_[v, L[:, 1:]], axis=0, rtol=TIE_RTOL))
                candidates.append((_reconstruct_scalar(problem, stations, codec, cast("list[np.ndarray]", hist), S[k]), float(v[k])))
                continue
            if is_front:
                crit = [cols.idx[c] for c in ("latency", "cost", "bytes", "negfid") if c in cols.idx]
                for k in nondominated(L[:, crit]):
                    front_points.append(_reconstruct(problem, stations, codec, cast(_LabelHistory, hist), S[k], Ix[k]))
            else:
                v = _scalar(cols, L)
                k = int(_lexargmin(np.c_[v, L[:, cols.tie_cols]], axis=0, rtol=TIE_RTOL))
                candidates.append((_reconstruct(problem, stations, codec, cast(_LabelHistory, hist), S[k], Ix[k]), float(v[k])))
    report(progress, 1.0, "chain DP done")
    best: tuple[tuple[float, ...], Placement, Prediction] | None = None
    label_value = math.inf
    for p, lv in candidates:
        p = _canonical_codec(problem, p)
        pred = evaluate(p, problem)
        key = problem.objective_key(pred)
        if pred.feasible and (best is None or lex_better(key, best[0])):
            best = (key, p, pred)
            label_value = lv
    front: list[tuple[Placement, Prediction]] = []
    front_points += [p for p, _ in seeds]
    if front_points:
        uniq = list(dict.fromkeys(_canonical_codec(problem, p) for p in front_points))
        evals = [(p, evaluate(p, problem)) for p in uniq]
        evals = [(p, pr) for p, pr in evals if pr.feasible]
        if evals:
            pts = np.array([criteria_vector(pr) for _, pr in evals])
            front = [evals[i] for i in nondominated(pts)]
            front.sort(key=lambda x: x[1].latency_ms)
    if best is None:
        return ChainResult(None, None, math.inf, front, routes, exact, kept)
    return ChainResult(best[1], best[2], best[0][0], front, routes, exact, kept, label_value)
