"""Checking numeric options: bounded, finite, never NaN.

Every numeric option of the command line is checked here before any work:
``--runs -1``, ``--max-seconds nan`` or ``--threads 100000`` are refused with
exit 2 and a message naming the option and its range.

>>> check_number("--threads", 8, 1, MAX_THREADS)
>>> check_number("--max-seconds", float("nan"), 0, 86_400, low_open=True)
Traceback (most recent call last):
...
planner_app.core.errors.PlannerError: --max-seconds is nan: give a number above 0 and at most 86400
"""

from __future__ import annotations

__all__ = ["check_number", "MAX_THREADS"]

import math
import os

from planner_app.core.errors import PlannerError

#: the most onnxruntime threads an option may ask for: a few times this machine's cores
MAX_THREADS = max(8, 4 * (os.cpu_count() or 1))


def check_number(option: str, value: float | None, low: float, high: float, *, low_open: bool = False) -> None:
    """Refuse ``value`` (None = not given: fine) outside ``[low, high]`` (``(low, high]``), NaN or infinite."""
    if value is None:
        return
    ok = math.isfinite(value) and low <= value <= high and not (low_open and value == low)
    if not ok:
        lower = f"above {low:g}" if low_open else f"at least {low:g}"
        raise PlannerError(f"{option} is {value:g}: give a number {lower} and at most {high:g}")
