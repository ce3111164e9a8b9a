"""Exact pipeline DP: one contiguous stage per device, devices and their order chosen.

The space (PipeEdge's and PipeDream's partitioning problem): the units, in
topological order, are split into contiguous *stages*; each stage runs on its
own device at one compression level, the planner picks which devices take part
and in which order; the plan uses one cut codec. Messages go from the source
to the first stage (the raw inputs), from each stage to the next (the cut set
at the boundary, skip connections included) and from the last stage to the
result device (unless the workload keeps its results where they are made).

Objectives, as :func:`~planner_app.core.optimizer.cost_model.evaluate` counts them:

- ``throughput`` — the bottleneck: the largest of every stage's busy time
  (its units' ms + the per-part overhead) and every message's busy time on its
  slowest link direction (wire bytes over that link's bandwidth). Ties go to
  the lower latency (a second DP with every stage and message held under the
  optimal bottleneck);
- ``latency``, ``cost``, ``bandwidth``, ``energy`` and weighted sums of them:
  additive over stages and messages.

Memory (checked per stage, as ``evaluate`` does per device): the weights of the
stage's units at its level + the largest activation of one of its units (that
unit's inputs and outputs, alive at once; a layer table's working buffers are
part of its activation figure). Every figure is per call of the model, i.e. per
batch of ``Workload.batch_size`` requests (see the cost model).

The DP runs over states (units done, multiset of device *classes* used, class
of the last stage). A class is a set of interchangeable devices: the same
``Device.type_name`` (``device_type``, else preset), the same times, memory,
price and power, and the same network figures to every other station. Classes
start from device types and are split until interchangeable, so the DP is exact
whatever the types say; symmetry is what keeps it small (16 devices of 2 types
are 81 multisets, not 65,536 subsets). A pass runs under a threshold on every
stage and message (the bottleneck: from a lower bound up, the first pass that
finds a plan is optimal) and drops states that cannot beat a known plan, so the
windows of stage starts stay short; the step kernels are in
:mod:`~planner_app.core.optimizer.pipeline_steps`.

Exactness: the DP counts each message's busy time on its own slowest link
direction; ``evaluate`` adds up messages that share a direction, so the DP's
figure of a plan is never above ``evaluate``'s. When the returned plan evaluates
to the DP's own figure (always when messages use distinct directions: one device
per stage sends once; a star, a mesh or a switch), it is optimal; otherwise the
answer says it is not proven optimal. With more than one
stage per device (``max_stages_per_device`` > 1) a device's stages add up their
busy time and memory, which the DP does not see: the answer is then a good plan,
not a proven one.

Example
-------
>>> res = solve_pipeline(problem)                       # doctest: +SKIP
>>> res.best.summary(), res.exact                       # doctest: +SKIP
('gpu-1[0-47] fp16 → gpu-2[48-95] fp16', True)
"""

from __future__ import annotations

__all__ = ["PipelineResult", "solve_pipeline", "device_classes", "MAX_PIPELINE_STATES"]

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from planner_app.core.optimizer import pipeline_steps
from planner_app.core.optimizer.cost_model import Prediction, evaluate, message_coefficients
from planner_app.core.optimizer.dataflow import is_chain
from planner_app.core.optimizer.pipeline_steps import minmax_step, minsum_step, window
from planner_app.core.optimizer.problem import Placement, PlanningProblem, ProblemError, lex_better
from planner_app.core.progress import CancelToken, ProgressCallback, report

#: the largest (multisets × classes × boundaries) the DP accepts
MAX_PIPELINE_STATES = 60_000_000
_INF = math.inf
_RTOL = 1e-9
_ADDITIVE = ("latency", "cost", "bandwidth", "energy")


@dataclass
class PipelineResult:
    """The best pipeline (None when none is feasible), what the DP computed, and how sure it is."""

    best: Placement | None
    best_prediction: Prediction | None
    #: the objective as the DP added it up (bottleneck ms, or the additive sum)
    dp_value: float
    exact: bool
    classes: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    states: int = 0


# ------------------------------------------------------------------------------ device classes


def _pair_key(problem: PlanningProblem, a: str, b: str) -> tuple[float, ...] | None:
    """What a message a -> b costs, as a comparable key (None: same device; nan-key: unreachable)."""
    if a == b:
        return None
    if (a, b) not in problem.routes:
        return (math.nan,)
    c = message_coefficients(problem, a, b, "none")
    return (c.fixed_ms, c.ms_per_byte, c.max_link_ms_per_byte, c.usd_per_1k_per_byte, c.energy_mj_per_byte,
            float(c.in_zone), float(c.hops))


def _final_station(problem: PlanningProblem) -> str | None:
    """Where results go (None: they stay on the last stage's device)."""
    if problem.results_stay:
        return None
    return problem.result_device


def device_classes(problem: PlanningProblem) -> list[list[str]]:
    """Candidate devices grouped into interchangeable classes (see the module docstring).

    Starts from ``Device.type_name`` plus the device's own figures, then splits
    classes until every device of a class sees the same message costs to and from
    every other class, the source and the result device.
    """
    devs = list(problem.devices)
    recs = problem.device_records
    pinned = set(problem.constraints.pinned_units.values())
    src, res = problem.source, _final_station(problem)
    di = {d: i for i, d in enumerate(devs)}

    def own(d: str) -> tuple[object, ...]:
        r = recs[d]
        return (r.type_name, problem.ms[:, di[d], :].tobytes(), problem.memory_limit_bytes(d), r.cost_usd_per_hour,
                r.power_active_w if r.battery else 0.0, d if d in pinned else "")

    pair: dict[tuple[str, str], tuple[float, ...] | None] = {}
    for a in devs:
        for b in devs:
            if a != b:
                pair[(a, b)] = _pair_key(problem, a, b)
    ends = {d: (_pair_key(problem, src, d), None if res is None else _pair_key(problem, d, res)) for d in devs}

    color = _renumber({d: own(d) for d in devs})
    while True:
        while True:
            keys = {x: (color[x], ends[x], tuple(sorted(
                {(color[y], pair[(x, y)], pair[(y, x)]) for y in devs if y != x}, key=repr))) for x in devs}
            new = _renumber(keys)
            if len(set(new.values())) == len(set(color.values())):
                break
            color = new
        # uniform: every pair of devices between two classes costs the same; else split both
        seen: dict[tuple[int, int], object] = {}
        bad: set[int] = set()
        for x in devs:
            for y in devs:
                if x == y:
                    continue
                k = (color[x], color[y])
                v = (pair[(x, y)], pair[(y, x)])
                if k in seen and repr(seen[k]) != repr(v):
                    bad |= set(k)
                seen.setdefault(k, v)
        if not bad:
            break
        color = _renumber({d: (color[d], d if color[d] in bad else "") for d in devs})
    groups: dict[int, list[str]] = {}
    for d in devs:
        groups.setdefault(color[d], []).append(d)
    return sorted(groups.values(), key=lambda g: devs.index(g[0]))


def _renumber(keys: Mapping[str, object]) -> dict[str, int]:
    index: dict[str, int] = {}
    out: dict[str, int] = {}
    for d, k in keys.items():
        out[d] = index.setdefault(repr(k), len(index))
    return out


# ------------------------------------------------------------------------------ the DP


@dataclass
class _Data:
    """Everything one DP run reads, for one codec."""

    n: int
    classes: list[list[str]]
    cap: np.ndarray  # stages each class may host
    levels: list[int]  # allowed level indices
    stage_ms: np.ndarray  # (K, L, n+1, n+1) busy ms of stage (j, j'], inf where not allowed
    stage_add: np.ndarray  # (K,) additive objective per stage busy ms
    prefix: np.ndarray  # (K, L, n+1) prefix sums of unit ms (0 for units that cannot run)
    overhead_ms: float
    msg_busy: np.ndarray  # (K+1, K+1, n+1) slowest-link busy ms; index K = source (from) / result (to)
    msg_add: np.ndarray  # (K+1, K+1, n+1) additive objective of the message
    msg_lat: np.ndarray  # (K+1, K+1, n+1) latency of the message


def _range_max(x: np.ndarray) -> np.ndarray:
    """``M[j, j'] = max x[j:j']`` (-inf where empty), for all 0 <= j, j' <= n."""
    n = len(x)
    M = np.full((n + 1, n + 1), -_INF)
    for j in range(n):
        M[j, j + 1:] = np.maximum.accumulate(x[j:])
    return M


def _build(problem: PlanningProblem, classes: list[list[str]], codec: str, k_stages: int,
           weights: dict[str, float]) -> _Data:
    s = problem.structure
    n = s.n_units
    K = len(classes)
    c = problem.constraints
    codec_f = problem.codecs[codec].fidelity
    floor = c.min_fidelity
    levels = [li for li, lv in enumerate(problem.levels)
              if floor is None or problem.level_fidelity(lv) * (codec_f if codec != "none" else 1.0) >= floor - 1e-12]
    dev_index = {d: i for i, d in enumerate(problem.devices)}
    rate = problem.rate_rps if c.capacity else 0.0
    act = np.asarray(problem.activation_bytes, float)
    act_max = _range_max(act)
    jj = np.arange(n + 1)
    upper = jj[:, None] < jj[None, :]
    stage = np.full((K, max(len(levels), 1), n + 1, n + 1), _INF)
    add = np.zeros(K)
    prefix = np.zeros((K, max(len(levels), 1), n + 1))
    recs = problem.device_records
    for k, members in enumerate(classes):
        rep = members[0]
        d = dev_index[rep]
        others_pinned = {u for u, dv in c.pinned_units.items() if dv not in members}
        r = recs[rep]
        add[k] = (weights.get("latency", 0.0) + weights.get("cost", 0.0) * r.cost_usd_per_hour / 3.6e3
                  + weights.get("energy", 0.0) * (r.power_active_w if r.battery else 0.0))
        limit = problem.memory_limit_bytes(rep)
        for a, li in enumerate(levels):
            t = problem.ms[:, d, li].astype(float).copy()
            for u in others_pinned:
                t[int(u)] = _INF
            bad = ~np.isfinite(t)
            P = np.concatenate([[0.0], np.cumsum(np.where(bad, 0.0, t))])
            prefix[k, a] = P
            B = np.concatenate([[0], np.cumsum(bad)])
            T = P[None, :] - P[:, None] + problem.overhead_ms
            ok = upper & ((B[None, :] - B[:, None]) == 0)
            if c.memory:
                W = np.concatenate([[0.0], np.cumsum(problem.param_bytes[:, li])])
                ok &= (W[None, :] - W[:, None]) + act_max <= limit
            if rate > 0:
                ok &= rate * T / 1000.0 < 1.0
            stage[k, a] = np.where(ok, T, _INF)
    # messages: index K is the source (as sender) and the result device (as receiver)
    busy = np.full((K + 1, K + 1, n + 1), _INF)
    madd = np.full((K + 1, K + 1, n + 1), _INF)
    mlat = np.full((K + 1, K + 1, n + 1), _INF)
    B = s.cut_bytes.astype(float)
    has = np.array([bool(t) for t in s.cut_tensors])
    private = problem.private_cut_mask()
    res = _final_station(problem)

    def fill(i: int, j: int, a: str, b: str | None, cuts: np.ndarray) -> None:
        if b is None or a == b:
            busy[i, j, cuts] = 0.0
            madd[i, j, cuts] = 0.0
            mlat[i, j, cuts] = 0.0
            return
        if (a, b) not in problem.routes:
            return
        coef = message_coefficients(problem, a, b, codec)
        bb = B[cuts]
        lat = np.where(has[cuts], coef.fixed_ms + coef.ms_per_byte * bb, 0.0)
        bz = coef.max_link_ms_per_byte * bb
        ad = (weights.get("latency", 0.0) * lat + weights.get("cost", 0.0) * coef.usd_per_1k_per_byte * bb
              + weights.get("bandwidth", 0.0) * coef.wire_ratio * coef.hops * bb
              + weights.get("energy", 0.0) * coef.energy_mj_per_byte * bb)
        ok = np.ones(len(cuts), dtype=bool)
        if rate > 0:
            ok &= rate * bz / 1000.0 < 1.0
        if not coef.in_zone:
            ok &= ~private[cuts]
        busy[i, j, cuts] = np.where(ok, bz, _INF)
        madd[i, j, cuts] = np.where(ok, ad, _INF)
        mlat[i, j, cuts] = np.where(ok, lat, _INF)

    inner = np.arange(1, n)
    for t, mt in enumerate(classes):
        fill(K, t, problem.source, mt[0], np.array([0]))
        fill(t, K, mt[0], res, np.array([n]))
        for u, mu in enumerate(classes):
            if t == u:
                if len(mt) > 1:
                    fill(t, u, mt[0], mt[1], inner)
                elif k_stages > 1:
                    continue  # the one device of the class cannot follow itself (that is one stage)
            else:
                fill(t, u, mt[0], mu[0], inner)
    cap = np.array([len(m) * k_stages for m in classes], dtype=np.int64)
    return _Data(n, classes, cap, levels, stage, add, prefix, problem.overhead_ms, busy, madd, mlat)


def _multisets(cap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every count vector ``0 <= c <= cap`` (rows, mixed radix order) and the radix strides."""
    strides = np.ones(len(cap), dtype=np.int64)
    for k in range(len(cap) - 2, -1, -1):
        strides[k] = strides[k + 1] * (cap[k + 1] + 1)
    grid = np.array(list(itertools.product(*[range(int(x) + 1) for x in cap])), dtype=np.int64)
    return grid.reshape(-1, len(cap)), strides


@dataclass
class _Run:
    """The result of one DP pass: the best final value and how to walk back to its stages."""

    value: float
    stages: list[tuple[int, int, int, int]]  # (start, end, class, level index into data.levels)


def _dp(data: _Data, mode: str, threshold: float, cancel: CancelToken | None, bound: float = _INF) -> _Run:
    """One DP pass. ``mode``: 'bottleneck' (min-max) or 'additive' (min-sum of the objective,
    'latency' tie-break passes use ``msg_lat`` and stage ms); every stage and message busy time
    must stay <= ``threshold``.

    Additive passes prune a state when its value plus a lower bound on the rest (every remaining
    unit at its fastest anywhere) exceeds ``bound`` or the best one-stage plan: the optimum's
    states never do, so the pass stays exact."""
    n, K = data.n, len(data.classes)
    grid, strides = _multisets(data.cap)
    M = len(grid)
    layer = grid.sum(axis=1)
    thr = threshold * (1 + _RTOL) if math.isfinite(threshold) else _INF
    stage = np.where(data.stage_ms <= thr, data.stage_ms, _INF)  # (K, L, n+1, n+1)
    busy_ok = data.msg_busy <= thr
    wmax = [window(stage[u].min(axis=0)) for u in range(K)]
    if mode == "bottleneck":
        msg = np.where(busy_ok, data.msg_busy, _INF)
        best_stage = stage.min(axis=1)  # (K, n+1, n+1): the fastest level of each stage
    elif mode == "latency":
        msg = np.where(busy_ok, data.msg_lat, _INF)
        factor = np.ones(K)
    else:
        msg = np.where(busy_ok, data.msg_add, _INF)
        factor = data.stage_add
    rem = np.zeros(n + 1)
    if mode != "bottleneck":
        idx = np.arange(n)
        unit = np.stack([factor[u] * (stage[u][:, idx, idx + 1].min(axis=0) - data.overhead_ms) for u in range(K)])
        rem[:n] = np.cumsum(unit.min(axis=0)[::-1])[::-1]
        one_stage = [msg[K, u, 0] + factor[u] * stage[u][:, 0, n].min() + msg[u, K, n] for u in range(K)]
        bound = min(bound, *one_stage) if K else bound
    limit = bound * (1 + _RTOL) + 1e-12 if math.isfinite(bound) else _INF
    # under a threshold T, the units left after j must fit on the devices left: unit i costs at
    # least t*_i (its fastest anywhere) and a device d of class k runs at most rho_k (T - overhead)
    # of such work (see _lower_bound), so a state whose devices left cannot hold it is dropped
    room = None
    if math.isfinite(thr):
        work, rho = _work_and_speed(data)
        rest = np.zeros(n + 1)
        rest[:n] = np.cumsum(work[::-1])[::-1]
        slots = (data.cap[None, :] - grid) * rho[None, :]
        room = slots.sum(axis=1) * max(thr - data.overhead_ms, 0.0) * (1 + _RTOL) + 1e-12
    # V[c, u] is only written (whole rows) for states some plan reaches; ``written`` says which, so
    # the memory of the others is never touched (most multisets stay unreached under a threshold)
    V = np.empty((M, K, n + 1))
    written = np.zeros((M, K), dtype=bool)
    # back-pointers are read only along a finite path, where they were written
    back_j = np.empty((M, K, n + 1), dtype=np.int32)
    back_t = np.empty((M, K, n + 1), dtype=np.int16)
    back_l = np.empty((M, K, n + 1), dtype=np.int16)
    bottleneck = mode == "bottleneck"
    for m in range(min(int(layer.max()) if M else -1, n) + 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rows_m = np.nonzero(layer == m)[0]
        if m > 0:
            rows_m = rows_m[written[rows_m].any(axis=1)]
            Vm = V[rows_m]
            Vm[~written[rows_m]] = _INF
            live = np.isfinite(Vm).any(axis=(1, 2))
            rows_m, Vm = rows_m[live], Vm[live]
        for u in range(K):
            pick = grid[rows_m, u] < data.cap[u]
            rows = rows_m[pick]
            if len(rows) == 0:
                continue
            # A[r, j]: best value with j units done and the next stage on class u (message included);
            # At: the class of the stage before
            if m == 0:
                A = np.full((len(rows), n + 1), _INF)
                A[:, 0] = msg[K, u, 0]
                At = np.full((len(rows), n + 1), -1, dtype=np.int16)
            else:
                A = np.full((len(rows), n + 1), _INF)
                At = np.full((len(rows), n + 1), -1, dtype=np.int16)
                Vu = Vm[pick]
                for t in range(K):
                    if not np.isfinite(msg[t, u]).any():
                        continue
                    Vt = Vu[:, t, :]
                    comb = np.maximum(Vt, msg[t, u][None, :]) if bottleneck else Vt + msg[t, u][None, :]
                    better = comb < A
                    np.copyto(A, comb, where=better)
                    np.copyto(At, t, where=better)
            alive = np.isfinite(A).any(axis=1)
            if not alive.all():
                rows, A, At = rows[alive], A[alive], At[alive]
            if len(rows) == 0:
                continue
            cols = np.nonzero(np.isfinite(A).any(axis=0))[0]
            c0, c1 = int(cols[0]), min(n, int(cols[-1]) + max(wmax[u], 1) if wmax[u] <= pipeline_steps.SCAN_WINDOW else n)
            Asub = A[:, c0:c1 + 1]
            if bottleneck:
                W, J = minmax_step(Asub, best_stage[u][c0:c1 + 1, c0:c1 + 1], wmax[u])
                L = np.zeros_like(J)
            else:
                W, J, L = minsum_step(Asub, stage[u][:, c0:c1 + 1, c0:c1 + 1], data.prefix[u][:, c0:c1 + 1],
                                       float(factor[u]), data.overhead_ms, wmax[u])
            J = np.where(J >= 0, J + c0, -1)
            target = rows + strides[u]
            if limit < _INF:
                W = np.where(W + rem[None, c0:c1 + 1] > limit, _INF, W)
            if room is not None:
                W = np.where(rest[None, c0:c1 + 1] > room[target][:, None], _INF, W)
            # each (multiset + u, u) has one predecessor multiset: it is written once
            full = np.full((len(target), n + 1), _INF)
            full[:, c0:c1 + 1] = W
            V[target, u, :] = full
            written[target, u] = True
            back_j[target, u, c0:c1 + 1] = J
            back_t[target, u, c0:c1 + 1] = np.take_along_axis(At, np.clip(J, 0, n), 1)
            back_l[target, u, c0:c1 + 1] = L
    # the end: n units done, then the message to the result device
    last = np.where(written, V[:, :, n], _INF)
    fin = np.maximum(last, msg[:K, K, n][None, :]) if mode == "bottleneck" else last + msg[:K, K, n][None, :]
    if not np.isfinite(fin).any():
        return _Run(_INF, [])
    r, u = np.unravel_index(int(np.argmin(fin)), fin.shape)
    value = float(fin[r, u])
    stages: list[tuple[int, int, int, int]] = []
    row, cls, end = int(r), int(u), n
    while end > 0:
        j = int(back_j[row, cls, end])
        lvl = int(back_l[row, cls, end])
        if mode == "bottleneck":
            lvl = int(np.argmin(stage[cls, :, j, end]))
        stages.append((j, end, cls, lvl))
        prev = int(back_t[row, cls, end])
        row -= int(strides[cls])
        cls, end = prev, j
    stages.reverse()
    return _Run(value, stages)


# ------------------------------------------------------------------------------ the solver


def _placement(problem: PlanningProblem, data: _Data, stages: Sequence[tuple[int, int, int, int]],
               codec: str, k_stages: int) -> Placement:
    """Give each stage an actual device of its class (members in order, each up to ``k_stages`` times)."""
    used: dict[int, int] = {}
    last: str | None = None
    out: list[tuple[int, int, str, str]] = []
    for start, end, cls, lvl in stages:
        members = data.classes[cls]
        i = used.get(cls, 0)
        dev = members[(i // k_stages) % len(members)] if k_stages > 1 else members[i]
        if dev == last and len(members) > 1:
            i += 1
            dev = members[i % len(members)]
        used[cls] = i + 1
        out.append((start, end, dev, problem.levels[data.levels[lvl]]))
        last = dev
    return Placement.from_stages(out, codec)


def solve_pipeline(problem: PlanningProblem, *, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> PipelineResult:
    """The best pipeline for ``problem`` (see the module docstring)."""
    weights = problem.weights
    if "throughput" in weights and len(weights) > 1:
        raise ProblemError(
            "the pipeline solver minimises the bottleneck (objective 'throughput') or a sum of additive figures "
            f"({', '.join(_ADDITIVE)}), not a mix of both; got {dict(weights)}")
    mode = "bottleneck" if "throughput" in weights else "additive"
    k_stages = problem.constraints.max_stages_per_device or 1
    classes = device_classes(problem)
    K = len(classes)
    cap = np.array([len(m) * k_stages for m in classes])
    n_states = int(np.prod(cap + 1)) * K * (problem.n_units + 1)
    if n_states > MAX_PIPELINE_STATES:
        raise ProblemError(
            f"the pipeline DP would hold {n_states:,} states ({K} classes of interchangeable devices: "
            f"{', '.join(str(len(c)) for c in classes)} devices); give devices of one kind the same "
            "device_type and the same links, or plan with fewer candidate devices")
    notes: list[str] = []
    best: tuple[tuple[float, ...], Placement, Prediction, float] | None = None
    c = problem.constraints
    codecs = list(problem.codecs)
    for ci, codec in enumerate(codecs):
        report(progress, ci / max(len(codecs), 1), f"pipeline DP, codec {codec}")
        data = _build(problem, classes, codec, k_stages, weights)
        if mode == "bottleneck":
            run = _bottleneck(data, cancel)
            if not math.isfinite(run.value):
                continue
            bott = run.value
            tie = _dp(data, "latency", bott, cancel, _path_latency(data, run.stages))
            if c.slo_ms is not None and (not math.isfinite(tie.value) or tie.value > c.slo_ms * (1 + _RTOL)):
                tie, bott = _slo_search(data, bott, c.slo_ms, cancel)
            run = tie if math.isfinite(tie.value) else run
            dp_value = bott
        else:
            run = _dp(data, "additive", _INF, cancel)
            dp_value = run.value
            if _limit_proves_infeasible(problem, run.value):
                continue  # the least latency (or cost) breaks its own limit: no pipeline meets it
        if not run.stages:
            continue
        placement = _placement(problem, data, run.stages, codec, k_stages)
        pred = evaluate(placement, problem)
        if not pred.feasible:
            notes.append(f"codec {codec}: the DP's plan breaks {'; '.join(pred.violations[:2])} when evaluated")
            continue
        key = problem.objective_key(pred)
        if best is None or lex_better(key, best[0]):
            best = (key, placement, pred, dp_value)
    exact = k_stages == 1
    if not is_chain(problem.structure):
        # the DP adds relayed cut sets and times stage after stage; a DAG's tensors go straight to their
        # readers and its branches overlap (the cost model's critical path): not proven optimal there
        exact = False
        notes.append("the model has branches: the DP sums relayed cut sets and stage times, the cost model "
                     "takes the critical path; the plan is evaluated, not proven optimal")
    if best is None:
        return PipelineResult(None, None, _INF, exact and not notes, classes, notes,
                              int(np.prod(cap + 1)) * K)
    _, placement, pred, dp_value = best
    value = problem.objective_value(pred)
    if not math.isclose(value, dp_value, rel_tol=1e-6, abs_tol=1e-9):
        exact = False
        notes.append(f"the evaluated objective {value:.6g} differs from the DP's {dp_value:.6g} "
                     "(messages share a link direction, or a device hosts several stages): not proven optimal")
    if k_stages > 1:
        notes.append(f"with up to {k_stages} stages per device the DP checks busy time and memory per stage, "
                     "not per device: the plan is evaluated, not proven optimal")
    report(progress, 1.0, "pipeline DP done")
    return PipelineResult(placement, pred, dp_value, exact, classes, notes, int(np.prod(cap + 1)) * K)


def _limit_proves_infeasible(problem: PlanningProblem, value: float) -> bool:
    """The objective is latency (cost) alone, with an SLO (cost limit) its optimum breaks."""
    c = problem.constraints
    w = problem.weights
    if w == {"latency": 1.0} and c.slo_ms is not None:
        return value > c.slo_ms * (1 + _RTOL)
    if w == {"cost": 1.0} and c.max_cost_usd_per_1k is not None:
        return value > c.max_cost_usd_per_1k * (1 + _RTOL)
    return False


def _path_latency(data: _Data, stages: Sequence[tuple[int, int, int, int]]) -> float:
    """Latency of a DP plan as the DP adds it up (stages and messages in order)."""
    K, n = len(data.classes), data.n
    prev, total = K, 0.0
    for j, e, cls, lvl in stages:
        total += float(data.msg_lat[prev, cls, j] + data.stage_ms[cls, lvl, j, e])
        prev = cls
    return total + float(data.msg_lat[prev, K, n])


def _work_and_speed(data: _Data) -> tuple[np.ndarray, np.ndarray]:
    """``t*_i``, each unit's fastest busy time anywhere (overhead excluded), and per class
    ``rho_k = max_i t*_i / t_ik`` (how much of that work a device of the class does per ms, at best)."""
    K, n = len(data.classes), data.n
    ov = data.overhead_ms
    idx = np.arange(n)
    single = np.stack([data.stage_ms[u][:, idx, idx + 1].min(axis=0) for u in range(K)]) - ov  # (K, n)
    work = single.min(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(single > 0, work[None, :] / single, np.where(np.isfinite(single), 1.0, 0.0))
    rho = np.nan_to_num(ratio, nan=0.0, posinf=1.0).max(axis=1)
    return work, rho


def _lower_bound(data: _Data) -> float:
    """A bound no pipeline's bottleneck beats: one unit's stage, the first and last messages, and the
    work spread over every device at its best relative speed (see the code)."""
    K, n = len(data.classes), data.n
    ov = data.overhead_ms
    work, rho = _work_and_speed(data)
    if not np.isfinite(work).all():
        return _INF
    bound = float(work.max()) + ov
    bound = max(bound, float(data.msg_busy[K, :K, 0].min()), float(data.msg_busy[:K, K, n].min()))
    # a device runs unit i at best rho_d times as fast as the fastest, so
    # sum_i t*_i <= sum_d rho_d (B - overhead) when every stage takes at most B
    speed = float((rho * data.cap).sum())
    if speed > 0:
        bound = max(bound, ov + float(work.sum()) / speed)
    return bound


def _bottleneck(data: _Data, cancel: CancelToken | None) -> _Run:
    """The min-max pass, under thresholds growing from a lower bound: a pass under ``T`` finds the
    optimum whenever it is <= T, and windows (stages no slower than ``T``) stay short."""
    top = max(float(np.max(data.stage_ms[np.isfinite(data.stage_ms)], initial=0.0)),
              float(np.max(data.msg_busy[np.isfinite(data.msg_busy)], initial=0.0)))
    # the bound is usually within a few percent: start a little above it (a failed pass costs as
    # much as a successful one, a higher threshold only widens the windows)
    thr = _lower_bound(data) * 1.1
    while math.isfinite(thr) and thr < top:
        run = _dp(data, "bottleneck", thr, cancel)
        if math.isfinite(run.value):
            return run
        thr *= 1.15
    return _dp(data, "bottleneck", _INF, cancel)


def _slo_search(data: _Data, lowest: float, slo_ms: float, cancel: CancelToken | None) -> tuple[_Run, float]:
    """The smallest bottleneck whose fastest plan meets the SLO (binary search over the figures)."""
    vals = np.concatenate([data.stage_ms[np.isfinite(data.stage_ms)], data.msg_busy[np.isfinite(data.msg_busy)]])
    cands = np.unique(vals[vals >= lowest * (1 - _RTOL)])
    lo, hi = 0, len(cands) - 1
    found: tuple[_Run, float] = (_Run(_INF, []), _INF)
    while lo <= hi:
        mid = (lo + hi) // 2
        run = _dp(data, "latency", float(cands[mid]), cancel)
        if math.isfinite(run.value) and run.value <= slo_ms * (1 + _RTOL):
            found = (run, float(cands[mid]))
            hi = mid - 1
        else:
            lo = mid + 1
    return found
