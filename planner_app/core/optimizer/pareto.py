"""Non-dominated filtering (every criterion minimised).

Example
-------
>>> import numpy as np
>>> nondominated(np.array([[1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [1.0, 5.0]])).tolist()
[0, 1]
"""

from __future__ import annotations

__all__ = ["nondominated", "dominates", "PARETO_CRITERIA", "criteria_vector", "ParetoEntry"]

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from planner_app.core.optimizer.cost_model import Prediction
    from planner_app.core.optimizer.problem import Placement

#: the criteria of the trade-off front (fidelity is maximised, stored negated)
PARETO_CRITERIA = ("latency_ms", "cost_usd_per_1k", "link_bytes_per_request", "fidelity")


@dataclass
class ParetoEntry:
    """One point of the trade-off front."""

    placement: Placement
    prediction: Prediction


def criteria_vector(prediction: Prediction, with_fidelity: bool = True) -> np.ndarray:
    """The front's criteria of a prediction, all to be minimised (fidelity negated)."""
    v = [prediction.latency_ms, prediction.cost_usd_per_1k, prediction.link_bytes_per_request]
    if with_fidelity:
        v.append(-prediction.fidelity)
    return np.array(v, dtype=float)


def dominates(a: np.ndarray, b: np.ndarray, rtol: float = 0.0) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (beyond ``rtol``)."""
    tol = rtol * np.maximum(np.abs(a), np.abs(b))
    return bool(np.all(a <= b + tol) and np.any(a < b - tol))


def nondominated(points: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Indices of the non-dominated rows of ``points`` (one of each group of equal rows).

    Rows are sorted lexicographically first: a row can only be dominated (or
    equalled) by one that sorts before it, so each row is compared with the
    rows before it only.
    """
    pts = np.asarray(points, dtype=float)
    m = len(pts)
    if m <= 1:
        return np.arange(m)
    if pts.ndim == 1 or pts.shape[1] == 1:
        return np.array([int(np.argmin(pts.reshape(m)))])
    if m <= 32:  # small sets (the common case inside the DP): one broadcast, no sort
        le = np.all(pts[None, :, :] <= pts[:, None, :], axis=2)  # le[i, j]: row j <= row i everywhere
        lt = np.any(pts[None, :, :] < pts[:, None, :], axis=2)
        earlier_equal = le & ~lt & np.tri(m, m, -1, dtype=bool)
        return np.nonzero(~np.any((le & lt) | earlier_equal, axis=1))[0]
    order = np.lexsort(pts.T[::-1])
    a = pts[order]
    if a.shape[1] == 2:
        prev_min = np.minimum.accumulate(a[:, 1])
        keep = np.empty(m, dtype=bool)
        keep[0] = True
        keep[1:] = a[1:, 1] < prev_min[:-1]
        return np.sort(order[keep])
    dominated = np.zeros(m, dtype=bool)
    for lo in range(1, m, chunk):
        hi = min(m, lo + chunk)
        block = a[lo:hi]  # rows lo..hi-1 against rows 0..hi-2
        prev = a[:hi - 1]
        le = np.all(prev[None, :, :] <= block[:, None, :], axis=2)  # (b, hi-1)
        # only rows strictly before each block row count
        idx = np.arange(lo, hi)[:, None] > np.arange(hi - 1)[None, :]
        dominated[lo:hi] = np.any(le & idx, axis=1)
    return np.sort(order[~dominated])
