"""The pipeline DP's steps: ``min_j A[j] ⊕ stage(j, j')`` for every row and ``j'`` at once.

One step of :mod:`~planner_app.core.optimizer.pipeline`: given ``A[r, j]``, the best value of
state ``r`` with ``j`` units done, and a stage matrix ``S[j, j']`` (busy ms of the stage
``(j, j']``, inf where not allowed), find ``W[r, j'] = min_j A[r, j] ⊕ S[j, j']`` with ⊕ = max
(the bottleneck) or + (additive objectives), and the argmin. Stage times and memory grow with
the stage, so ``S`` is non-increasing in ``j`` and the allowed starts form a window:

- short windows (``<= SCAN_WINDOW`` units) are scanned offset by offset, contiguous array work;
- long ones use a sparse table of range minima: for ⊕ = max a binary search for the window
  start where the range minimum of ``A`` crosses ``S`` (``O(log n)``), for ⊕ = + the range
  minimum of ``A - P`` with ``P`` the prefix sums of unit times.
"""

from __future__ import annotations

__all__ = ["SCAN_WINDOW", "RangeMin", "window", "scan", "minmax_step", "minsum_step"]

from collections.abc import Sequence

import numpy as np

_INF = np.inf

class RangeMin:
    """Sparse table over the rows of ``A`` (R, N): argmin of ``A[r, lo:hi]`` in O(1), vectorised.

    Level ``k`` holds the minimum (value and index) of every window of ``2**k`` columns,
    built from level ``k - 1`` by shifted slices (no gathers).
    """

    def __init__(self, A: np.ndarray) -> None:
        self.A = A
        R, N = A.shape
        self.vals = [A]
        self.idx = [np.broadcast_to(np.arange(N), (R, N))]
        span = 1
        while 2 * span <= N:
            va, vb = self.vals[-1][:, : N - span], self.vals[-1][:, span:]
            ia, ib = self.idx[-1][:, : N - span], self.idx[-1][:, span:]
            take_b = vb < va
            vals = self.vals[-1].copy()
            idx = np.array(self.idx[-1], copy=True)
            vals[:, : N - span] = np.where(take_b, vb, va)
            idx[:, : N - span] = np.where(take_b, ib, ia)
            self.vals.append(vals)
            self.idx.append(idx)
            span *= 2

    def argmin_columns(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`argmin` with the same range ``lo[c]:hi[c]`` for every row (1-D ``lo``, ``hi``)."""
        R, N = self.A.shape
        lo_c = np.minimum(lo, N - 1)
        p = np.floor(np.log2(np.maximum(hi - lo, 1))).astype(np.int64)
        out_i = np.empty((R, len(lo)), dtype=np.int64)
        out_v = np.empty((R, len(lo)))
        for k in np.unique(p).tolist():
            cols = np.nonzero(p == k)[0]
            a = lo_c[cols]
            b = np.clip(hi[cols] - (1 << k), a, N - 1)
            v1, v2 = self.vals[k][:, a], self.vals[k][:, b]
            second = v2 < v1
            out_i[:, cols] = np.where(second, self.idx[k][:, b], self.idx[k][:, a])
            out_v[:, cols] = np.where(second, v2, v1)
        return out_i, np.where((hi > lo)[None, :], out_v, _INF)

    def argmin(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index, value) of the minimum of ``A[r, lo:hi]`` per entry of the (R, M) arrays ``lo``, ``hi``;
        empty ranges give value inf."""
        N = self.A.shape[1]
        lo_c = np.minimum(lo, N - 1)
        p = np.floor(np.log2(np.maximum(hi - lo, 1))).astype(np.int64)
        rows = np.broadcast_to(np.arange(self.A.shape[0])[:, None], lo.shape)
        out_i = np.empty(lo.shape, dtype=np.int64)
        out_v = np.empty(lo.shape)
        for k in np.unique(p).tolist():
            m = p == k
            r = rows[m]
            a = lo_c[m]
            b = np.clip(hi[m] - (1 << k), a, N - 1)
            v1, v2 = self.vals[k][r, a], self.vals[k][r, b]
            second = v2 < v1
            out_i[m] = np.where(second, self.idx[k][r, b], self.idx[k][r, a])
            out_v[m] = np.where(second, v2, v1)
        return out_i, np.where(hi > lo, out_v, _INF)


#: windows up to this many units are scanned offset by offset (contiguous array work); longer
#: ones use the range-minimum methods (O(log n) per entry, but gathers)
SCAN_WINDOW = 64


def window(S: np.ndarray) -> int:
    """The longest stage ``j' - j`` with a finite entry in ``S[j, j']``."""
    fin = np.isfinite(S)
    cols = fin.any(axis=0)
    if not cols.any():
        return 0
    first = fin.argmax(axis=0)
    return int((np.arange(S.shape[0]) - first)[cols].max())


def scan(A: np.ndarray, stages: Sequence[np.ndarray], wmax: int, bottleneck: bool,
          factor: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``W[r, j'] = min over d <= wmax, l of A[r, j'-d] ⊕ S_l[j'-d, j']`` (⊕ max or +), with argmins."""
    R, N = A.shape
    W = np.full((R, N), _INF)
    J = np.full((R, N), -1, dtype=np.int64)
    Lv = np.zeros((R, N), dtype=np.int64)
    starts = np.arange(N)
    for li, S in enumerate(stages):
        for d in range(1, min(wmax, N - 1) + 1):
            diag = np.diagonal(S, d)
            if not np.isfinite(diag).any():
                continue
            a = A[:, : N - d]
            cand = np.maximum(a, diag[None, :]) if bottleneck else a + factor * diag[None, :]
            sub = W[:, d:]
            better = cand < sub
            np.copyto(sub, cand, where=better)
            np.copyto(J[:, d:], starts[None, : N - d], where=better)
            if li:
                np.copyto(Lv[:, d:], li, where=better)
    return W, J, Lv


def minmax_step(A: np.ndarray, S: np.ndarray, wmax: int) -> tuple[np.ndarray, np.ndarray]:
    """``W[r, j'] = min_j max(A[r, j], S[j, j'])`` and the argmin ``j`` (-1 where none)."""
    if wmax <= SCAN_WINDOW:  # read at call time: tests lower it to exercise the long-window paths
        W, J, _ = scan(A, [S], wmax, True)
        return W, np.where(np.isfinite(W), J, -1)
    return _minmax_search(A, S)


def _minmax_search(A: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``W[r, j'] = min_j max(A[r, j], S[j, j'])`` and the argmin ``j``, with ``S`` non-increasing in ``j``.

    ``f(j) = min A[r, j:j']`` grows with ``j`` and ``S[j, j']`` shrinks, and
    ``W = min_j max(f(j), S[j, j'])`` (the split inside a window is its argmin of ``A``): the best
    window start is where the two cross, found by a binary search, every row and ``j'`` at once.
    """
    R, N = A.shape
    rmq = RangeMin(A)
    jp = np.broadcast_to(np.arange(N), (R, N))
    lo = np.zeros((R, N), dtype=np.int64)
    hi = jp.astype(np.int64).copy()  # smallest j in [0, j') with f(j) >= S(j, j'); j' if none
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        _, f = rmq.argmin(mid, jp)
        pred = f >= S[mid, jp]
        hi = np.where(active & pred, mid, hi)
        lo = np.where(active & ~pred, mid + 1, lo)
    i1, _ = rmq.argmin(lo, jp)
    i2, _ = rmq.argmin(np.maximum(lo - 1, 0), jp)
    v1 = np.where(lo < jp, np.maximum(np.take_along_axis(A, i1, 1), S[i1, jp]), _INF)
    v2 = np.where((lo >= 1) & (jp >= 1), np.maximum(np.take_along_axis(A, i2, 1), S[i2, jp]), _INF)
    use2 = v2 < v1
    W = np.where(use2, v2, v1)
    J = np.where(use2, i2, i1)
    W[:, 0] = _INF
    return W, np.where(np.isfinite(W), J, -1)


def minsum_step(A: np.ndarray, stage: np.ndarray, prefix: np.ndarray, factor: float,
                 overhead_ms: float, wmax: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``W[r, j'] = min_{l, j} A[r, j] + factor·stage_l(j, j')`` and the argmins ``j``, ``l``.

    A stage's busy time is ``P_l[j'] - P_l[j] + overhead`` on a window of feasible starts
    ``[s_l(j'), j')`` (busy time and memory grow with the stage), so the minimum over ``j`` is a
    range minimum of ``A - factor·P_l``.
    """
    if wmax <= SCAN_WINDOW:  # read at call time: tests lower it to exercise the long-window paths
        W, J, Lv = scan(A, list(stage), wmax, False, factor)
        W[:, 0] = _INF
        return W, np.where(np.isfinite(W), J, -1), Lv
    R, N = A.shape
    W = np.full((R, N), _INF)
    J = np.full((R, N), -1, dtype=np.int64)
    Lv = np.zeros((R, N), dtype=np.int64)
    for li in range(stage.shape[0]):
        fin = np.isfinite(stage[li])
        col_ok = fin.any(axis=0)
        if not col_ok.any():
            continue
        start = np.where(col_ok, fin.argmax(axis=0), np.arange(N))
        P = prefix[li]
        rmq = RangeMin(A - factor * P[None, :])
        idx, val = rmq.argmin_columns(start.astype(np.int64), np.arange(N))
        cand = val + factor * (P[None, :] + overhead_ms)
        cand = np.where(col_ok[None, :], cand, _INF)
        better = cand < W
        W = np.where(better, cand, W)
        J = np.where(better, idx, J)
        Lv = np.where(better, li, Lv)
    W[:, 0] = _INF
    return W, np.where(np.isfinite(W), J, -1), Lv
