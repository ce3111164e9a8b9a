"""What the optimizer is fed: per-unit compute times.

A :class:`TimeTable` holds the time of every unit of a model on every device at
every compression level, with where each figure came from. Profiling and the
device model fill it (``device_model.build_time_table``); imported files and
agents override parts of it; the optimizer and the cost model only read it.

Example
-------
>>> import numpy as np
>>> tt = TimeTable(device_ids=["cam", "cloud"], levels=["fp32"],
...                ms=np.array([[[4.0], [0.5]], [[2.0], [0.25]]]),
...                param_bytes=np.array([[100], [200]]))
>>> tt.time(1, "cloud", "fp32")
0.25
"""

from __future__ import annotations

__all__ = ["PROVENANCES", "TimeTable"]

from dataclasses import dataclass, field

import numpy as np

#: where a figure came from, best first
PROVENANCES = ("measured-agent", "measured-local", "imported", "estimated")


@dataclass
class TimeTable:
    """Compute time of each unit × device × level, in milliseconds per request.

    ``ms[u, d, l]`` is ``np.inf`` where unit ``u`` cannot run at level ``l`` on
    device ``d`` (level not applicable to the unit, or the device lacks the
    precision). ``param_bytes[u, l]`` is the unit's weight bytes at level ``l``;
    ``fidelity[level]`` the measured whole-model fidelity (1.0 = equal to fp32,
    top-1 agreement for classifiers, else cosine similarity).
    """

    device_ids: list[str]
    levels: list[str]
    ms: np.ndarray
    param_bytes: np.ndarray
    provenance: dict[tuple[str, str], str] = field(default_factory=dict)
    fidelity: dict[str, float] = field(default_factory=dict)
    #: peak activation bytes of each unit (inputs + outputs live at once)
    activation_bytes: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.ms = np.asarray(self.ms, dtype=float)
        self.param_bytes = np.asarray(self.param_bytes, dtype=float)
        n_units = self.ms.shape[0]
        if self.ms.shape != (n_units, len(self.device_ids), len(self.levels)):
            raise ValueError(
                f"ms has shape {self.ms.shape}, expected (units, {len(self.device_ids)} devices, {len(self.levels)} levels)"
            )
        if self.param_bytes.shape != (n_units, len(self.levels)):
            raise ValueError(f"param_bytes has shape {self.param_bytes.shape}, expected ({n_units}, {len(self.levels)})")
        self._dev = {d: i for i, d in enumerate(self.device_ids)}
        self._lvl = {lv: i for i, lv in enumerate(self.levels)}

    @property
    def n_units(self) -> int:
        return int(self.ms.shape[0])

    def device_index(self, device_id: str) -> int:
        return self._dev[device_id]

    def level_index(self, level: str) -> int:
        return self._lvl[level]

    def time(self, unit: int, device_id: str, level: str) -> float:
        """Milliseconds of ``unit`` on ``device_id`` at ``level``."""
        return float(self.ms[unit, self._dev[device_id], self._lvl[level]])

    def provenance_of(self, device_id: str, level: str) -> str:
        return self.provenance.get((device_id, level), "estimated")
