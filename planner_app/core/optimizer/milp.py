"""MILP for the general case, solved by HiGHS through ``scipy.optimize.milp``.

Variables (per workload, per cut codec tried):

- ``x[i, d, l]`` binary: unit ``i`` runs on device ``d`` at level ``l``;
- ``y[k, a, b]`` in [0, 1]: the units on either side of boundary ``k`` run on
  ``a`` and ``b``. Flow rows ``Σ_b y[k,a,b] = Σ_l x[k-1,a,l]`` and
  ``Σ_a y[k,a,b] = Σ_l x[k,b,l]`` make ``y`` the product of the one-hot rows,
  so it is integral without being declared so; ``y[k, a, b]`` with ``a ≠ b``
  pays boundary ``k``'s message (the cut set) from ``a`` to ``b``. Boundary 0
  (raw input from the source) and ``n`` (results to the consumer) are linear
  in ``x`` directly.
- ``t`` (throughput objective): at least every device's and link direction's
  busy time per request; ``z[d]`` (memory): at least each unit activation on d.
- ``s[i, d, l]`` in [0, 1]: a part starts at unit ``i`` on ``d`` at level ``l``
  (``s ≥ x[i,d,l] − x[i−1,d,l]``; unit 0 starts one): each start pays the
  per-part overhead (``PlanningProblem.overhead_ms``) in latency, busy time,
  cost and energy, exactly as the cost model counts parts.

Ties: the objective is minimised first; then, with the objective held at its
optimum (within a relative 1e-9), latency, then bytes on links, then the
number of parts — the same lexicographic key as
:meth:`~planner_app.core.optimizer.problem.PlanningProblem.objective_key`.

The latency expression is exactly the cost model's, so the MILP is exact over
every placement: any device and level per unit, branches of a DAG on different
devices, devices revisited. On a chain (``dataflow.is_chain``) the critical path
is the sum of all compute and messages, linear in ``x`` and ``y`` as above. On a
model with branches, tensors travel straight to their readers (``w`` variables
per tensor and device pair) and the latency is the critical path, modelled with
continuous finish-time variables and big-M rows (:func:`_add_dataflow`),
tightened by valid lower bounds (:func:`_add_latency_cuts`) and by the chain
DP's plan as an upper bound (:func:`_latency_bound`; that plan is also kept
when the MILP stops before finding a better one). Constraints: SLO, $ per 1k, fidelity floor (levels
filtered), memory, utilization < 1 per device and link direction (summed over
workloads sharing them in :func:`solve_milp_joint`), privacy (messages that
carry private tensors may only use routes inside the zone), pinned units.

Example
-------
>>> res = solve_milp(problem)                 # doctest: +SKIP
>>> res.best.summary(), res.status            # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["MilpResult", "JointResult", "solve_milp", "solve_milp_joint"]

import contextlib
import ctypes
import itertools
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from planner_app.core.optimizer.chain_dp import solve_chain
from planner_app.core.optimizer.cost_model import Prediction, evaluate, message_coefficients
from planner_app.core.optimizer.dataflow import is_chain
from planner_app.core.optimizer.problem import Placement, PlanningProblem, ProblemError, lex_better
from planner_app.core.optimizer.reduce import reduce_problem
from planner_app.core.optimizer.sequence_dp import solve_sequence
from planner_app.core.progress import CancelToken, ProgressCallback, report

_METRICS = ("latency", "cost", "bandwidth", "energy")
#: what breaks ties of the objective, in order (see ``PlanningProblem.objective_key``)
_TIES = ("latency", "bandwidth", "parts")


@dataclass
class MilpResult:
    """Best placement found (None if infeasible), its prediction, and how the solve went."""

    best: Placement | None
    best_prediction: Prediction | None
    best_value: float
    exact: bool
    status: str
    solve_ms: float
    n_variables: int = 0
    n_constraints: int = 0
    #: proven relative gap of ``best_value`` to the optimum (0: proven optimal; None: no plan found,
    #: or HiGHS stopped before proving any bound)
    gap: float | None = None
    #: how optimality was proven when not by HiGHS alone (e.g. the sequence DP's shortcut)
    proof: str = ""


@dataclass
class JointResult:
    """Placements of several workloads solved together on shared devices and links."""

    placements: list[Placement] | None
    predictions: list[Prediction] | None
    total_value: float
    exact: bool
    status: str
    solve_ms: float
    #: device or link direction -> utilization summed over the workloads
    shared_utilization: dict[str, float] = field(default_factory=dict)


class _Model:
    """A sparse MILP under construction."""

    def __init__(self) -> None:
        self.n = 0
        #: the main solve's proven lower bound on the objective, in the objective's own units
        self.dual_bound = -math.inf
        self.cost: list[np.ndarray] = []
        self.lb: list[np.ndarray] = []
        self.ub: list[np.ndarray] = []
        self.integ: list[np.ndarray] = []
        self.rows: list[int] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []
        self._r: list[np.ndarray] = []

    def add_vars(self, count: int, lb: float = 0.0, ub: float = 1.0, integer: bool = True) -> np.ndarray:
        ids = np.arange(self.n, self.n + count)
        self.n += count
        self.cost.append(np.zeros(count))
        self.lb.append(np.full(count, lb))
        self.ub.append(np.full(count, ub))
        self.integ.append(np.full(count, 1 if integer else 0))
        return ids

    def add_row(self, cols: np.ndarray, vals: np.ndarray, lo: float, hi: float) -> None:
        r = len(self.row_lo)
        cols = np.asarray(cols, dtype=np.int64)
        self._r.append(np.full(len(cols), r))
        self.cols.append(cols)
        self.vals.append(np.asarray(vals, dtype=float))
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def add_rows(self, cols: np.ndarray, vals: np.ndarray | float, lo: float, hi: float) -> None:
        """Many rows of equal width at once: ``cols``/``vals`` are (rows, width)."""
        cols = np.asarray(cols, dtype=np.int64)
        rows, width = cols.shape
        r0 = len(self.row_lo)
        self._r.append(np.repeat(np.arange(r0, r0 + rows), width))
        self.cols.append(cols.ravel())
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=float), cols.shape).ravel())
        self.row_lo.extend([lo] * rows)
        self.row_hi.extend([hi] * rows)

    def solve(self, c: np.ndarray, time_limit_s: float) -> Any:  # scipy's OptimizeResult (scipy is untyped)
        ub = np.concatenate(self.ub)
        lb = np.concatenate(self.lb)
        integ = np.concatenate(self.integ)
        constraints = []
        if self.row_lo:
            rows = np.concatenate(self._r)
            cols = np.concatenate(self.cols)
            vals = np.concatenate(self.vals)
            A = coo_matrix((vals, (rows, cols)), shape=(len(self.row_lo), self.n)).tocsr()
            constraints.append(LinearConstraint(A, np.array(self.row_lo), np.array(self.row_hi)))
        with _stdout_to_stderr():
            return milp(c, integrality=integ, bounds=Bounds(lb, ub), constraints=constraints,
                        options={"time_limit": time_limit_s, "mip_rel_gap": 1e-9, "presolve": True})


def _flush_c_stdio() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


_redirect_lock = threading.Lock()
_redirect_state: dict[str, int] = {"depth": 0, "saved": -1}


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what C code writes to standard output to standard error while HiGHS runs.

    scipy's HiGHS prints debugging lines (``HighsMipSolverData::...``) with printf even when
    asked to be quiet; on standard output they would corrupt what ``edgeplan`` prints there
    (plans, JSON). Process-wide (file descriptor 1), so nested and concurrent solves share
    one redirection; does nothing where the descriptors cannot be duplicated.
    """
    with _redirect_lock:
        if _redirect_state["depth"] == 0:
            try:
                sys.stdout.flush()
                _redirect_state["saved"] = os.dup(1)
                os.dup2(2, 1)
            except (OSError, ValueError, AttributeError):
                _redirect_state["saved"] = -1
        _redirect_state["depth"] += 1
    try:
        yield
    finally:
        with _redirect_lock:
            _redirect_state["depth"] -= 1
            saved = _redirect_state["saved"]
            if _redirect_state["depth"] == 0 and saved >= 0:
                try:
                    sys.stdout.flush()
                    _flush_c_stdio()  # printf's buffer still holds lines meant for the redirection
                    os.dup2(saved, 1)
                finally:
                    os.close(saved)
                    _redirect_state["saved"] = -1


class _Expr:
    """A linear expression as growing lists of (variable ids, coefficients)."""

    def __init__(self) -> None:
        self.ids: list[np.ndarray] = []
        self.coef: list[np.ndarray] = []

    def add(self, ids: np.ndarray, coef: np.ndarray | float) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        c = np.broadcast_to(np.asarray(coef, dtype=float), ids.shape).ravel()
        ids = ids.ravel()
        keep = c != 0
        if keep.any():
            self.ids.append(ids[keep])
            self.coef.append(c[keep].copy())

    def parts(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.ids:
            return np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(self.ids), np.concatenate(self.coef)

    def value_at(self, xv: np.ndarray) -> float:
        i, c = self.parts()
        return float(c @ xv[i]) if len(i) else 0.0


@dataclass
class _Block:
    """One workload's variables and expressions inside a model."""

    problem: PlanningProblem
    codec: str
    x: np.ndarray  # (n, D, L) variable ids
    metric: dict[str, _Expr]
    busy: dict[str, _Expr]  # device -> busy ms per request
    link_busy: dict[tuple[str, str, str], _Expr]
    mem: dict[str, _Expr]
    t: int | None


def _add_problem(m: _Model, p: PlanningProblem, codec: str, shared_mem: bool,
                 latency_ub: float | None = None) -> _Block | None:
    n, D, L = p.n_units, len(p.devices), len(p.levels)
    s = p.structure
    c = p.constraints
    cf = p.codecs[codec].fidelity if codec != "none" else 1.0
    lvl_ok = [c.min_fidelity is None or p.level_fidelity(x) * cf >= c.min_fidelity - 1e-12 for x in p.levels]
    if not any(lvl_ok):
        return None
    x = m.add_vars(n * D * L).reshape(n, D, L)
    xub = m.ub[-1].reshape(n, D, L)
    finite = np.isfinite(p.ms)
    xub[~finite] = 0.0
    for li, ok in enumerate(lvl_ok):
        if not ok:
            xub[:, :, li] = 0.0
    for u, dev in c.pinned_units.items():
        for d, dv in enumerate(p.devices):
            if dv != dev:
                xub[int(u), d, :] = 0.0
    # one device and level per unit
    m.add_rows(x.reshape(n, D * L), 1.0, 1.0, 1.0)
    topo = p.topology
    metric = {k: _Expr() for k in (*_METRICS, "parts")}
    busy: dict[str, _Expr] = {d: _Expr() for d in p.devices}
    link_busy: dict[tuple[str, str, str], _Expr] = {}
    ms = np.where(finite, p.ms, 0.0)
    # a DAG with branches: latency is the critical path (timing variables, see _add_dataflow)
    branched = not is_chain(s)
    for d, dv in enumerate(p.devices):
        dev = topo.device(dv)
        ids = x[:, d, :]
        if not branched:
            metric["latency"].add(ids, ms[:, d, :])
        metric["cost"].add(ids, ms[:, d, :] * dev.cost_usd_per_hour / 3.6e6 * 1000.0)
        if dev.battery:
            metric["energy"].add(ids, ms[:, d, :] * dev.power_active_w)
        busy[dv].add(ids, ms[:, d, :])
    # part starts: unit 0 starts one; unit i does where its (device, level) differs from unit i-1's
    oh = p.overhead_ms
    if n > 1:
        st = m.add_vars((n - 1) * D * L, integer=False).reshape(n - 1, D, L)
        m.add_rows(np.stack([st, x[1:], x[:-1]], axis=-1).reshape(-1, 3), np.array([1.0, -1.0, 1.0]), 0.0, math.inf)
        starts = [x[:1], st]
    else:
        starts = [x[:1]]
    for sid in starts:
        metric["parts"].add(sid, 1.0)
        if oh > 0:
            for d, dv in enumerate(p.devices):
                dev = topo.device(dv)
                ids = sid[:, d, :]
                if not branched:
                    metric["latency"].add(ids, oh)
                metric["cost"].add(ids, oh * dev.cost_usd_per_hour / 3.6e6 * 1000.0)
                if dev.battery:
                    metric["energy"].add(ids, oh * dev.power_active_w)
                busy[dv].add(ids, oh)
    private = p.private_cut_mask()

    if branched:
        _add_dataflow(m, p, codec, x, xub, starts, ms, metric, link_busy, latency_ub)

    def message(k: int | np.ndarray, a: str, b: str, ids: np.ndarray) -> None:
        """Charge boundary k's message a -> b to ``ids`` (0/1 each; ``k`` may be one per id)."""
        coef = message_coefficients(p, a, b, codec)
        B = s.cut_bytes[k].astype(float)
        metric["latency"].add(ids, coef.fixed_ms + coef.ms_per_byte * B)
        metric["cost"].add(ids, coef.usd_per_1k_per_byte * B)
        metric["bandwidth"].add(ids, coef.wire_ratio * coef.hops * B)
        metric["energy"].add(ids, coef.energy_mj_per_byte * B)
        for lid, u, v, per_byte in coef.link_dirs:
            link_busy.setdefault((lid, u, v), _Expr()).add(ids, per_byte * B)

    def forbid_private(k: int, a: str, b: str) -> bool:
        return bool(private[k]) and not message_coefficients(p, a, b, codec).in_zone

    src, res = p.source, p.result_device
    if branched:
        pass
    elif s.cut_tensors[0]:
        for d, dv in enumerate(p.devices):
            if dv != src:
                if forbid_private(0, src, dv):
                    xub[0, d, :] = 0.0
                message(0, src, dv, x[0, d, :])
    if s.cut_tensors[n] and not p.results_stay and not branched:
        for d, dv in enumerate(p.devices):
            if dv != res:
                if forbid_private(n, dv, res):
                    xub[n - 1, d, :] = 0.0
                message(n, dv, res, x[n - 1, d, :])
    ks = (np.array([k for k in range(1, n) if s.cut_tensors[k]], dtype=np.int64) if D > 1 and not branched
          else np.zeros(0, np.int64))
    if len(ks):
        K = len(ks)
        y = m.add_vars(K * D * D, integer=False).reshape(K, D, D)
        yub = m.ub[-1].reshape(K, D, D)
        ones = np.r_[np.ones(D), -np.ones(L)]
        # flow rows: the y of boundary k leaving a = unit k-1 on a; arriving at b = unit k on b
        m.add_rows(np.concatenate([y, x[ks - 1]], axis=2).reshape(K * D, D + L), ones, 0.0, 0.0)
        m.add_rows(np.concatenate([y.transpose(0, 2, 1), x[ks]], axis=2).reshape(K * D, D + L), ones, 0.0, 0.0)
        for a, av in enumerate(p.devices):
            for b, bv in enumerate(p.devices):
                if a == b:
                    continue
                if not message_coefficients(p, av, bv, codec).in_zone:
                    yub[private[ks], a, b] = 0.0
                message(ks, av, bv, y[:, a, b])
    mem: dict[str, _Expr] = {}
    if c.memory:
        worst = float(np.max(p.param_bytes, axis=1).sum() + p.activation_bytes.max())
        for d, dv in enumerate(p.devices):
            if worst <= p.memory_limit_bytes(dv):
                continue
            e = _Expr()
            e.add(x[:, d, :], p.param_bytes)
            z = int(m.add_vars(1, 0.0, math.inf, integer=False)[0])
            # z >= the activation of every unit on d
            m.add_rows(np.c_[x[:, d, :], np.full(n, z)],
                       np.c_[np.repeat(p.activation_bytes[:, None], L, axis=1), -np.ones(n)], -math.inf, 0.0)
            e.add(np.array([z]), 1.0)
            mem[dv] = e
            if not shared_mem:
                i_, c_ = e.parts()
                m.add_row(i_, c_, -math.inf, p.memory_limit_bytes(dv))
    t = None
    if "throughput" in p.weights:
        t = int(m.add_vars(1, 0.0, math.inf, integer=False)[0])
        for e in list(busy.values()) + list(link_busy.values()):
            i_, c_ = e.parts()
            if len(i_):
                m.add_row(np.r_[i_, [t]], np.r_[c_, [-1.0]], -math.inf, 0.0)
    if c.slo_ms is not None:
        i_, c_ = metric["latency"].parts()
        m.add_row(i_, c_, -math.inf, c.slo_ms - 1e-7)
    if c.max_cost_usd_per_1k is not None:
        i_, c_ = metric["cost"].parts()
        m.add_row(i_, c_, -math.inf, c.max_cost_usd_per_1k * (1 - 1e-9))
    return _Block(p, codec, x, metric, busy, link_busy, mem, t)


def _add_dataflow(m: _Model, p: PlanningProblem, codec: str, x: np.ndarray, xub: np.ndarray,
                  starts: list[np.ndarray], ms: np.ndarray, metric: dict[str, _Expr],
                  link_busy: dict[tuple[str, str, str], _Expr], latency_ub: float | None = None) -> None:
    """Messages and the critical path of a DAG with branches, exactly as the cost model's dataflow.

    Messages: ``w[t, a, b]`` ≥ (producer of t on a) + (a reader of t on b) − 1 pays tensor t's bytes
    from a to b (graph inputs from the source, results to the consumer linear in x). Timing, per
    unit v (continuous, only bounded below, so minimising the latency makes them the earliest
    times): ``B`` its start, ``O`` when its part's outputs are ready (its part's end), ``H`` when
    every input of its part has arrived, ``C[v, d]`` when device d is done with units ≤ v; ``Q``/``R``
    the MB a part sends to each device (one message per part and destination). Rows switched by
    placement carry big-M terms; part starts ``S_v`` are made exact (``s = x_v (1 − x_{v−1})``).
    """
    s = p.structure
    n, D, L = p.n_units, len(p.devices), len(p.levels)
    oh = p.overhead_ms
    c = p.constraints
    zone = p.privacy_zone_devices()
    private = set(c.private_tensors) if zone is not None else set()
    raw_private = zone is not None and c.privacy == "raw_input_in_zone"
    src, res = p.source, p.result_device
    # exact part starts: s[v] <= x[v] and s[v] <= 1 - x[v-1]
    if n > 1:
        st = starts[1]
        m.add_rows(np.stack([st, x[1:]], axis=-1).reshape(-1, 2), np.array([1.0, -1.0]), -math.inf, 0.0)
        m.add_rows(np.stack([st, x[:-1]], axis=-1).reshape(-1, 2), np.array([1.0, 1.0]), -math.inf, 1.0)
    start_ids = [x[0].ravel()] + ([starts[1][v - 1].ravel() for v in range(1, n)] if n > 1 else [])
    # compute of unit v (with the part overhead when it starts a part): ids, coefficients
    comp = []
    for v in range(n):
        ids = np.r_[x[v].ravel(), start_ids[v]]
        cf = np.r_[ms[v].ravel(), np.full(len(start_ids[v]), oh)]
        comp.append((ids, cf))
    mb = 1e-6
    total_mb = float(sum(t.size_bytes for t in s.tensors)) * mb + 1.0
    pairs = [(a, b) for a in range(D) for b in range(D) if a != b]
    devs = list(p.devices)
    stations = list(dict.fromkeys([src, *devs, res]))
    max_msg = 0.0
    for a_ in stations:
        for b_ in stations:
            if a_ != b_ and (a_, b_) in p.routes:
                cf_ = message_coefficients(p, a_, b_, codec)
                max_msg = max(max_msg, cf_.fixed_ms + cf_.ms_per_byte * total_mb / mb)
    big = float(np.max(ms, axis=(1, 2)).sum()) + n * oh + (2 * n + 2) * max_msg + 1.0
    if c.slo_ms is not None:
        latency_ub = c.slo_ms if latency_ub is None else min(latency_ub, c.slo_ms)
    if latency_ub is not None:
        # every time of a plan worth having is at most its latency: big-M only has to reach past that
        big = min(big, latency_ub + max_msg + 1.0)
    B = m.add_vars(n, 0.0, math.inf, integer=False)
    Oend = m.add_vars(n, 0.0, math.inf, integer=False)
    H = m.add_vars(n, 0.0, math.inf, integer=False)
    C = m.add_vars(n * D, 0.0, math.inf, integer=False).reshape(n, D)
    Q = m.add_vars(n * D, 0.0, math.inf, integer=False).reshape(n, D)
    R = m.add_vars(n * D, 0.0, math.inf, integer=False).reshape(n, D)
    Lv = int(m.add_vars(1, 0.0, math.inf, integer=False)[0])
    metric["latency"].add(np.array([Lv]), 1.0)
    if latency_ub is not None:
        m.add_row(np.array([Lv]), np.array([1.0]), 0.0, latency_ub)
    _add_latency_cuts(m, p, codec, x, Lv, comp)
    for v in range(n):
        ids, cf = comp[v]
        # O_v >= B_v + T_v ; H_v <= B_v ; L >= O_v
        m.add_row(np.r_[Oend[v], B[v], ids], np.r_[1.0, -1.0, -cf], 0.0, math.inf)
        m.add_row(np.array([B[v], H[v]]), np.array([1.0, -1.0]), 0.0, math.inf)
        m.add_row(np.array([Lv, Oend[v]]), np.array([1.0, -1.0]), 0.0, math.inf)
        if v + 1 < n:
            nxt = start_ids[v + 1]
            # same part as v+1 (no start there): v's outputs come with the part's end; v+1's inputs gate the start
            m.add_row(np.r_[Oend[v], Oend[v + 1], nxt], np.r_[1.0, -1.0, np.full(len(nxt), big)], 0.0, math.inf)
            m.add_row(np.r_[H[v], H[v + 1], nxt], np.r_[1.0, -1.0, np.full(len(nxt), big)], 0.0, math.inf)
        for d in range(D):
            xd = x[v, d, :]
            # device clock: C[v,d] >= C[v-1,d]; C[v,d] >= B_v + T_v on d; B_v >= C[v-1,d] on d
            if v > 0:
                m.add_row(np.array([C[v, d], C[v - 1, d]]), np.array([1.0, -1.0]), 0.0, math.inf)
                m.add_row(np.r_[B[v], C[v - 1, d], xd], np.r_[1.0, -1.0, np.full(L, -big)], -big, math.inf)
            m.add_row(np.r_[C[v, d], B[v], ids, xd], np.r_[1.0, -1.0, -cf, np.full(L, -big)], -big, math.inf)
    # -- tensors between devices: bytes (cost, links, energy) and per-part message sizes ----------
    out_mb: list[_Expr] = [_Expr() for _ in range(n * D)]  # (u, b): MB unit u sends to device b
    src_mb: list[_Expr] = [_Expr() for _ in range(D)]

    def charge(a: str, b: str, ids: np.ndarray, size: float) -> None:
        coef = message_coefficients(p, a, b, codec)
        metric["cost"].add(ids, coef.usd_per_1k_per_byte * size)
        metric["bandwidth"].add(ids, coef.wire_ratio * coef.hops * size)
        metric["energy"].add(ids, coef.energy_mj_per_byte * size)
        for lid, u_, v_, per_byte in coef.link_dirs:
            link_busy.setdefault((lid, u_, v_), _Expr()).add(ids, per_byte * size)

    def in_zone(a: str, b: str) -> bool:
        return message_coefficients(p, a, b, codec).in_zone

    result_mb = np.zeros(n)
    for t in s.tensors:
        size = float(t.size_bytes)
        is_private = t.name in private or (raw_private and t.producer < 0)
        if t.producer < 0:
            for b, bv in enumerate(devs):
                if bv == src or not t.consumers:
                    continue
                if is_private and not in_zone(src, bv):
                    for cu in t.consumers:
                        xub[cu, b, :] = 0.0
                    continue
                w = int(m.add_vars(1, integer=False)[0])
                for cu in t.consumers:
                    m.add_row(np.r_[w, x[cu, b, :]], np.r_[1.0, -np.ones(L)], 0.0, math.inf)
                charge(src, bv, np.array([w]), size)
                src_mb[b].add(np.array([w]), size * mb)
            continue
        u = t.producer
        if t.consumers:
            for a, b in pairs:
                if is_private and not in_zone(devs[a], devs[b]):
                    for cu in t.consumers:  # not (u on a and a reader on b)
                        m.add_row(np.r_[x[u, a, :], x[cu, b, :]], np.ones(2 * L), -math.inf, 1.0)
                    continue
                w = int(m.add_vars(1, integer=False)[0])
                for cu in t.consumers:
                    m.add_row(np.r_[w, x[u, a, :], x[cu, b, :]], np.r_[1.0, -np.ones(2 * L)], -1.0, math.inf)
                charge(devs[a], devs[b], np.array([w]), size)
                out_mb[u * D + b].add(np.array([w]), size * mb)
        if t.is_output and not p.results_stay:
            result_mb[u] += size * mb
            for a, av in enumerate(devs):
                if av == res:
                    continue
                if is_private and not in_zone(av, res):
                    xub[u, a, :] = 0.0
                charge(av, res, x[u, a, :], size)
    # Q[u,b]: MB for b of u's part up to u; R[u,b]: of the whole part (carried back from its end)
    nz = [start_ids[v] for v in range(n)]
    for u in range(n):
        for b in range(D):
            i_, c_ = out_mb[u * D + b].parts()
            m.add_row(np.r_[Q[u, b], i_], np.r_[1.0, -c_], 0.0, math.inf)
            if u > 0:  # inside a part, the MB add up
                m.add_row(np.r_[Q[u, b], i_, Q[u - 1, b], nz[u]],
                          np.r_[1.0, -c_, -1.0, np.full(len(nz[u]), total_mb)], 0.0, math.inf)
            m.add_row(np.array([R[u, b], Q[u, b]]), np.array([1.0, -1.0]), 0.0, math.inf)
            if u + 1 < n:
                m.add_row(np.r_[R[u, b], R[u + 1, b], nz[u + 1]], np.r_[1.0, -1.0, np.full(len(nz[u + 1]), total_mb)],
                          0.0, math.inf)
    # arrivals: H_v >= O_u + transfer(u's part -> v's device) when u on a, v on b, a != b
    readers: dict[int, set[int]] = {}
    for t in s.tensors:
        for cu in t.consumers:
            readers.setdefault(t.producer, set()).add(cu)
    # valid whatever the placement (no big-M): a unit starts after each unit it reads has run;
    # these carry the compute of every path of the DAG into the LP relaxation
    for u, vs in readers.items():
        if u < 0:
            continue
        ids, cf = comp[u]
        for v in sorted(vs):
            m.add_row(np.r_[B[v], B[u], ids], np.r_[1.0, -1.0, -cf], 0.0, math.inf)
    for u, vs in readers.items():
        for v in sorted(vs):
            if u < 0:
                for b, bv in enumerate(devs):
                    if bv == src:
                        continue
                    coef = message_coefficients(p, src, bv, codec)
                    i_, c_ = src_mb[b].parts()
                    # H_v >= fixed + ms/MB * MB(src -> b) - big (1 - X_vb)
                    m.add_row(np.r_[H[v], i_, x[v, b, :]], np.r_[1.0, -coef.ms_per_byte / mb * c_, np.full(L, -big)],
                              coef.fixed_ms - big, math.inf)
                continue
            for a, b in pairs:
                coef = message_coefficients(p, devs[a], devs[b], codec)
                m.add_row(np.r_[H[v], Oend[u], R[u, b], x[u, a, :], x[v, b, :]],
                          np.r_[1.0, -1.0, -coef.ms_per_byte / mb, np.full(2 * L, -big)],
                          coef.fixed_ms - 2 * big, math.inf)
    # results: L >= O_u + transfer(u's part -> consumer) for parts on another device
    if not p.results_stay and result_mb.any():
        Qr = m.add_vars(n, 0.0, math.inf, integer=False)
        Rr = m.add_vars(n, 0.0, math.inf, integer=False)
        for u in range(n):
            m.add_row(np.array([Qr[u]]), np.array([1.0]), result_mb[u], math.inf)
            if u > 0:
                m.add_row(np.r_[Qr[u], Qr[u - 1], nz[u]], np.r_[1.0, -1.0, np.full(len(nz[u]), total_mb)],
                          result_mb[u], math.inf)
            m.add_row(np.array([Rr[u], Qr[u]]), np.array([1.0, -1.0]), 0.0, math.inf)
            if u + 1 < n:
                m.add_row(np.r_[Rr[u], Rr[u + 1], nz[u + 1]], np.r_[1.0, -1.0, np.full(len(nz[u + 1]), total_mb)],
                          0.0, math.inf)
        for u in range(n):
            if result_mb[u] == 0:
                continue
            for a, av in enumerate(devs):
                if av == res:
                    continue
                coef = message_coefficients(p, av, res, codec)
                m.add_row(np.r_[Lv, Oend[u], Rr[u], x[u, a, :]],
                          np.r_[1.0, -1.0, -coef.ms_per_byte / mb, np.full(L, -big)], coef.fixed_ms - big, math.inf)


def _longest_path(p: PlanningProblem, ms: np.ndarray) -> list[int]:
    """The unit path through the DAG with the most compute at its fastest placement (ties: more units)."""
    s = p.structure
    n = p.n_units
    fast = np.where(np.isfinite(p.ms), p.ms, np.inf).min(axis=(1, 2))
    fast = np.where(np.isfinite(fast), fast, 0.0)
    preds: list[list[int]] = [[] for _ in range(n)]
    for t in s.tensors:
        if t.producer >= 0:
            for cu in t.consumers:
                preds[cu].append(t.producer)
    best = np.zeros(n)
    back = [-1] * n
    for v in range(n):
        for u in preds[v]:
            if (best[u], u) > (best[back[v]] if back[v] >= 0 else -1.0, back[v]):
                back[v] = u
        best[v] = fast[v] + (best[back[v]] if back[v] >= 0 else 0.0) + 1e-9
    v = int(np.argmax(best))
    path = [v]
    while back[path[-1]] >= 0:
        path.append(back[path[-1]])
    return path[::-1]


def _add_latency_cuts(m: _Model, p: PlanningProblem, codec: str, x: np.ndarray, Lv: int,
                      comp: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Valid lower bounds on the critical path that keep the LP relaxation as tight as the chain's.

    The big-M timing rows alone relax to almost nothing. Two bounds hold for every placement:
    each device runs its units one after another (L ≥ its busy time), and the units of any path of
    the DAG run one after another with a message between consecutive ones on different devices
    (L ≥ their compute + ``fixed + ms/byte × the edge's bytes`` for each such hop, with the product
    of the two placements linearised exactly by flow rows as in the chain formulation, + the raw
    input's message into the path's first unit and the results' out of its last unit).
    """
    s = p.structure
    n, D, L = p.n_units, len(p.devices), len(p.levels)
    devs = list(p.devices)
    src, res = p.source, p.result_device
    # device busy time
    for d in range(D):
        e = _Expr()
        for v in range(n):
            ids, cf = comp[v]
            on_d = np.zeros(len(ids), dtype=bool)
            on_d[: D * L] = (np.arange(D * L) // L) == d
            on_d[D * L:] = (np.arange(len(ids) - D * L) // L) == d if len(ids) > D * L else False
            e.add(ids[on_d], cf[on_d])
        i_, c_ = e.parts()
        if len(i_):
            m.add_row(np.r_[Lv, i_], np.r_[1.0, -c_], 0.0, math.inf)
    path = _longest_path(p, p.ms)
    e = _Expr()
    for v in path:
        e.add(*comp[v])
    edge_bytes: dict[tuple[int, int], float] = {}
    input_bytes = 0.0
    for t in s.tensors:
        for cu in t.consumers:
            if t.producer < 0 and cu == path[0]:
                input_bytes += t.size_bytes
            edge_bytes[(t.producer, cu)] = edge_bytes.get((t.producer, cu), 0.0) + t.size_bytes
    if input_bytes:
        for b, bv in enumerate(devs):
            if bv != src:
                coef = message_coefficients(p, src, bv, codec)
                e.add(x[path[0], b, :], coef.fixed_ms + coef.ms_per_byte * input_bytes)
    out_bytes = float(sum(t.size_bytes for t in s.tensors if t.producer == path[-1] and t.is_output))
    if out_bytes and not p.results_stay:
        for a, av in enumerate(devs):
            if av != res:
                coef = message_coefficients(p, av, res, codec)
                e.add(x[path[-1], a, :], coef.fixed_ms + coef.ms_per_byte * out_bytes)
    if D > 1 and len(path) > 1:
        K = len(path) - 1
        y = m.add_vars(K * D * D, integer=False).reshape(K, D, D)
        us, vs = np.array(path[:-1]), np.array(path[1:])
        ones = np.r_[np.ones(D), -np.ones(L)]
        m.add_rows(np.concatenate([y, x[us]], axis=2).reshape(K * D, D + L), ones, 0.0, 0.0)
        m.add_rows(np.concatenate([y.transpose(0, 2, 1), x[vs]], axis=2).reshape(K * D, D + L), ones, 0.0, 0.0)
        for k, (u, v) in enumerate(zip(path[:-1], path[1:], strict=True)):
            for a in range(D):
                for b in range(D):
                    if a != b:
                        coef = message_coefficients(p, devs[a], devs[b], codec)
                        e.add(y[k, a, b:b + 1], coef.fixed_ms + coef.ms_per_byte * edge_bytes[(u, v)])
    i_, c_ = e.parts()
    m.add_row(np.r_[Lv, i_], np.r_[1.0, -c_], 0.0, math.inf)


def _raw_objective(m: _Model, blocks: list[_Block]) -> np.ndarray:
    c = np.zeros(m.n)
    for b in blocks:
        w = b.problem.weights
        for k in _METRICS:
            if k in w:
                i_, c_ = b.metric[k].parts()
                np.add.at(c, i_, w[k] * c_)
        if b.t is not None:
            c[b.t] += w["throughput"]
    return c


def _scaled(c: np.ndarray) -> np.ndarray:
    scale = np.abs(c).max()
    # HiGHS stops within an absolute gap of 1e-6: scale so that is negligible for any figure
    return c * (1e4 / scale) if scale > 0 else c


def _capacity_rows(m: _Model, blocks: list[_Block]) -> None:
    dev_rows: dict[str, _Expr] = {}
    link_rows: dict[tuple[str, str, str], _Expr] = {}
    for b in blocks:
        if not b.problem.constraints.capacity:
            continue
        r = b.problem.rate_rps / 1000.0
        for d, e in b.busy.items():
            i_, c_ = e.parts()
            dev_rows.setdefault(d, _Expr()).add(i_, c_ * r)
        for key, e in b.link_busy.items():
            i_, c_ = e.parts()
            link_rows.setdefault(key, _Expr()).add(i_, c_ * r)
    for e in list(dev_rows.values()) + list(link_rows.values()):
        i_, c_ = e.parts()
        if len(i_) and c_.sum() >= 1.0 - 1e-6:  # rows that cannot bind are left out
            m.add_row(i_, c_, -math.inf, 1.0 - 1e-6)


def _decode(b: _Block, xv: np.ndarray) -> Placement:
    p = b.problem
    vals = xv[b.x]  # (n, D, L)
    flat = vals.reshape(p.n_units, -1).argmax(axis=1)
    d, li = np.divmod(flat, len(p.levels))
    pl = Placement(tuple(p.devices[i] for i in d), tuple(p.levels[i] for i in li), b.codec)
    stations = [p.source] + [dv for _, _, dv, _ in pl.parts()]
    stations.append(p.result_station(stations[-1]))
    if b.codec != "none" and not any(u != v for u, v in zip(stations, stations[1:], strict=False)):
        pl = Placement(pl.devices, pl.levels, "none")
    return pl


_STATUS = {0: "optimal", 1: "time or node limit reached", 2: "infeasible", 3: "unbounded", 4: "solver error"}


def _solve_combo(
    problems: list[PlanningProblem], codecs: tuple[str, ...], time_limit_s: float, cutoff: float | None = None,
    latency_ub: float | None = None,
) -> tuple[tuple[list[_Block], Any] | None, str, _Model]:
    """Build and solve one MILP; ``cutoff``: only plans with an objective at most this (plus a
    relative 1e-7) are wanted — a known plan's value; HiGHS then prunes everything worse."""
    m = _Model()
    shared = len(problems) > 1
    blocks = []
    for p, c in zip(problems, codecs, strict=True):
        b = _add_problem(m, p, c, shared, latency_ub)
        if b is None:
            return None, "no level meets the fidelity floor with codec " + c, m
        blocks.append(b)
    if shared:
        mem_rows: dict[str, _Expr] = {}
        for b in blocks:
            for d, e in b.mem.items():
                i_, c_ = e.parts()
                mem_rows.setdefault(d, _Expr()).add(i_, c_)
        for d, e in mem_rows.items():
            i_, c_ = e.parts()
            m.add_row(i_, c_, -math.inf, problems[0].memory_limit_bytes(d))
    _capacity_rows(m, blocks)
    raw = _raw_objective(m, blocks)
    if cutoff is not None and math.isfinite(cutoff):
        nz = np.nonzero(raw)[0]
        f = 1e4 / max(abs(cutoff), float(np.abs(raw).max()), 1e-300)
        m.add_row(nz, raw[nz] * f, -math.inf, f * cutoff + max(1e-7 * abs(f * cutoff), 1e-6))
    t0 = time.perf_counter()
    scaled = _scaled(raw)
    res = m.solve(scaled, time_limit_s)
    bound = getattr(res, "mip_dual_bound", None)
    scale = float(np.abs(raw).max())
    if bound is not None and math.isfinite(bound):
        m.dual_bound = float(bound) / (1e4 / scale) if scale > 0 else float(bound)
    if res.status == 0 and res.x is not None and len(blocks) == 1:
        # each tie-breaking solve gets at most as long as the main one took (at least 1 s)
        tie_limit = min(time_limit_s, max(1.0, time.perf_counter() - t0))
        res = _break_ties(m, blocks[0], raw, res, tie_limit)
    return (blocks, res), _STATUS.get(res.status, str(res.status)), m


def _break_ties(m: _Model, b: _Block, raw: np.ndarray, res: Any, time_limit_s: float) -> Any:
    """Hold each criterion at its optimum (relative 1e-9) and minimise the next: latency, bytes, parts.

    A tie-breaking solve that stops early keeps its plan when it improves the criterion (it meets
    the held rows, so the objective is still optimal); one that finds nothing ends the refinement.
    The result keeps the main solve's status: the objective is proven optimal either way.
    """
    status = res.status
    stages = [raw]
    floors = [-math.inf]
    for k in _TIES:
        if b.problem.weights == {k: b.problem.weights.get(k)}:
            continue  # the objective itself
        i_, c_ = b.metric[k].parts()
        c = np.zeros(m.n)
        np.add.at(c, i_, c_)
        stages.append(c)
        # the least any plan can have: no bytes on links, one part
        floors.append({"bandwidth": 0.0, "parts": 1.0}.get(k, -math.inf))
    for prev, nxt, floor in zip(stages, stages[1:], floors[1:], strict=False):
        v = float(prev @ res.x)
        big = float(np.abs(prev).max())
        if big == 0:
            continue
        f = 1e4 / max(abs(v), big)
        nz = np.nonzero(prev)[0]
        m.add_row(nz, prev[nz] * f, -math.inf, f * v + max(1e-9 * abs(f * v), 1e-6))
        if not np.abs(nxt).max() > 0:
            continue
        if float(nxt @ res.x) <= floor + 1e-9 * max(1.0, abs(floor)):
            continue  # the plan already has the least possible: nothing to solve
        r2 = m.solve(_scaled(nxt), time_limit_s)
        if r2.x is None or float(nxt @ r2.x) > float(nxt @ res.x):
            break  # keep the plan we have: it is optimal for the objective
        res = r2
        if r2.status != 0:
            break  # the next criterion would be held at a value that is not its optimum
    res.status = status
    return res


def _incumbent(problem: PlanningProblem,
               cancel: CancelToken | None) -> tuple[tuple[float, ...], Placement, Prediction] | None:
    """The chain DP's best plan (exact over contiguous splits on chains, fast): a known plan to beat.

    Its figures are the cost model's (on a model with branches, the critical path), so it is a
    feasible plan of the MILP's problem whatever the DP's own exactness.
    """
    if problem.constraints.max_stages_per_device is not None:
        return None
    dp = solve_chain(problem, cancel=cancel)
    if dp.best is None or dp.best_prediction is None or not dp.best_prediction.feasible:
        return None
    if not math.isfinite(problem.objective_value(dp.best_prediction)):
        return None
    return problem.objective_key(dp.best_prediction), dp.best, dp.best_prediction


def _latency_bound_ms(problem: PlanningProblem, value: float) -> float | None:
    """No plan with objective at most ``value`` is slower than this (None: latency is not in the objective)."""
    w = problem.weights
    if "latency" not in w or "throughput" in w or not w["latency"]:
        return None
    return value / w["latency"]  # every other term of the objective is >= 0


def _queueing_counts(problem: PlanningProblem, pred: Prediction) -> bool:
    """Whether messages queueing for a shared link (which the latency rows leave out) change the plan's
    objective or its feasibility: then the MILP's optimum bounds it but does not prove it."""
    if pred.link_queueing_ms <= 0:
        return False
    alone = replace(pred, latency_ms=pred.latency_ms - pred.link_queueing_ms)
    return bool(problem.objective_key(alone)[0] != problem.objective_key(pred)[0]
                or problem.constraints.slo_ms is not None)


def solve_milp(
    problem: PlanningProblem,
    time_limit_s: float = 60.0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    presolve: bool = True,
) -> MilpResult:
    """The exact best placement over every placement (one MILP per cut codec).

    ``presolve`` (default): first :func:`~planner_app.core.optimizer.sequence_dp.solve_sequence`,
    exact over every placement ignoring memory, utilization and caps on chains, and a lower
    bound on models with branches (edge tensors only; latency along a chain of units that must
    run one after another): when its plan meets every limit and, on a DAG, attains the bound,
    it is the answer, and no MILP is built. Else the chain DP's plan, whose objective
    becomes a cutoff row of every codec's MILP (its codec goes first; then the best plan so far
    is the cutoff: a codec that cannot match it ends as soon as HiGHS proves so, with no
    tie-breaking solves) and a bound on the optimum's latency; then :func:`~planner_app.core.optimizer.reduce.reduce_problem`
    drops the devices no optimal plan needs. Both keep the answer exact (tests hold them to
    the unreduced MILP and to brute force).
    """
    t0 = time.perf_counter()
    best: tuple[tuple[float, ...], Placement, Prediction] | None = None
    exact = True
    status = "infeasible"
    nv = nc = 0
    bounds: list[float] = []
    codecs = list(problem.codecs)
    work = problem
    cutoff: float | None = None
    latency_ub: float | None = None
    chain = is_chain(problem.structure)
    if presolve:
        seq = solve_sequence(problem, cancel)
        if seq.proven and seq.best is not None and seq.prediction is not None:
            ms = (time.perf_counter() - t0) * 1000.0
            return MilpResult(seq.best, seq.prediction, problem.objective_value(seq.prediction), True, "optimal", ms,
                              gap=0.0, proof=f"the sequence DP: {seq.reason}")
    if presolve or not chain:
        # a known plan: with branches its latency bounds the big-M of the timing rows (and prunes:
        # the MILP then proves on the sample models what it would not within its time limit)
        best = _incumbent(problem, cancel)
        if best is not None:
            status = "optimal"
            bound = _latency_bound_ms(problem, best[0][0])
            if not chain and bound is not None and math.isfinite(bound):
                latency_ub = bound * (1 + 1e-6) + 1e-6
    if presolve:
        if best is not None:
            cutoff = best[0][0]
        work = reduce_problem(problem, None if best is None else _latency_bound_ms(problem, best[0][0])).problem
        if best is not None:  # the known plan's codec first: its optimum is likely the cutoff for the others
            first = best[1].codec
            codecs.sort(key=lambda c: c != first)
    for ci, codec in enumerate(codecs):
        if cancel is not None:
            cancel.raise_if_cancelled()
        report(progress, ci / len(codecs), f"MILP with cut codec {codec}")
        out, st, m = _solve_combo([work], (codec,), time_limit_s, cutoff, latency_ub)
        nv, nc = max(nv, m.n), max(nc, len(m.row_lo))
        if out is None:
            continue
        blocks, res = out
        if res.status == 2 and cutoff is not None:
            bounds.append(cutoff)  # nothing with this codec beats the known plan
        elif res.status != 2:  # an infeasible codec bounds nothing
            bounds.append(m.dual_bound)
        if res.x is None:
            if res.status not in (2,):
                exact = False
                status = st
            continue
        if res.status != 0:
            exact = False
            status = st
        pl = _decode(blocks[0], res.x)
        pred = evaluate(pl, problem)
        key = problem.objective_key(pred)
        if pred.feasible and (best is None or lex_better(key, best[0])):
            best = (key, pl, pred)
            status = "optimal" if exact else status
        if presolve and best is not None:
            cutoff = best[0][0]  # later codecs only matter if they match the best plan so far
    report(progress, 1.0, "MILP done")
    ms = (time.perf_counter() - t0) * 1000.0
    if best is None:
        return MilpResult(None, None, math.inf, exact, status, ms, nv, nc)
    if exact and _queueing_counts(problem, best[2]):
        # the plan's messages queue for a link they share, which the latency rows leave out: the MILP's
        # optimum is a lower bound (sharing only adds time), no longer a proof for this plan
        exact = False
        status = (f"best found; its messages queue {best[2].link_queueing_ms:.3g} ms for a shared link, which the "
                  "MILP's latency rows do not model: the gap bounds how far from optimal it can be")
    if exact:
        status = "optimal"  # also when the DP's plan (the bound) was already the optimum
    value = best[0][0]
    if exact:
        gap = 0.0
    else:
        low = min(bounds, default=-math.inf)
        # no finite bound (HiGHS stopped before its first one): the gap is not known, not infinite
        gap = max(0.0, (value - low) / max(abs(value), 1e-12)) if math.isfinite(low) else None
    return MilpResult(best[1], best[2], value, exact, status, ms, nv, nc, gap)


def solve_milp_joint(
    problems: list[PlanningProblem], time_limit_s: float = 120.0, cancel: CancelToken | None = None
) -> JointResult:
    """Place several workloads at once: devices and links they share carry the sum of their loads.

    The objective is the sum of each problem's objective; memory of a device
    holds the weights and activations of every model placed on it. The
    problems must come from one topology (device ids are matched by name).
    """
    if not problems:
        raise ProblemError("solve_milp_joint needs at least one problem")
    t0 = time.perf_counter()
    best = None
    exact = True
    status = "infeasible"
    for combo in itertools.product(*[list(p.codecs) for p in problems]):
        if cancel is not None:
            cancel.raise_if_cancelled()
        out, st, _ = _solve_combo(problems, combo, time_limit_s)
        if out is None:
            continue
        blocks, res = out
        if res.x is None:
            if res.status != 2:
                exact, status = False, st
            continue
        if res.status != 0:
            exact, status = False, st
        pls = [_decode(b, res.x) for b in blocks]
        preds = [evaluate(pl, p) for pl, p in zip(pls, problems, strict=True)]
        total = sum(p.objective_value(pr) for p, pr in zip(problems, preds, strict=True))
        if best is None or total < best[0]:
            best = (total, pls, preds)
            status = "optimal" if exact else status
    ms = (time.perf_counter() - t0) * 1000.0
    if best is None:
        return JointResult(None, None, math.inf, exact, status, ms)
    if exact and any(_queueing_counts(p, pr) for p, pr in zip(problems, best[2], strict=True)):
        exact = False  # messages queue for a shared link, which the latency rows leave out (see solve_milp)
        status = "best found; messages queue for a shared link, which the MILP's latency rows do not model"
    shared: dict[str, float] = {}
    for p, pr in zip(problems, best[2], strict=True):
        for d, u in pr.device_utilization.items():
            shared[f"device {d}"] = shared.get(f"device {d}", 0.0) + u
        for tr in pr.transfers:
            coef = message_coefficients(p, tr.from_device, tr.to_device, tr.codec)
            for lid, u, v, per_byte in coef.link_dirs:
                key = f"link {lid} {u}→{v}"
                shared[key] = shared.get(key, 0.0) + p.rate_rps * per_byte * tr.bytes / 1000.0
    return JointResult(best[1], best[2], best[0], exact, status, ms, shared)
