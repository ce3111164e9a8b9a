"""A time table from measurements made elsewhere only: imported files and agent profiles.

When no profile of this host exists (a model nobody can run here, or a user who
measured every device on the boards themselves), the device model has nothing
to scale. Then each (device, level) pair runs only where a measurement covers
it: imported rows and agent profiles fill their pairs, every other pair is
``inf`` with provenance ``not measured``, and the optimizer leaves it alone.
A unit the file skipped inside a covered pair is also ``inf``: the plan never
rests on a guess.

Weight bytes per level are the model's fp32 weights times the level's nominal
weight-size factor; fidelity is what an agent measured, else unknown (the cost
model then assumes 1.0 and the plan's provenance says so).

Example
-------
>>> import numpy as np
>>> from planner_app.core.models.structure import ModelStructure
>>> s = ModelStructure.chain([1e6, 2e6], [100, 10], input_bytes=1000)
>>> imp = ImportedTimes("t.csv", 2, {("cam", "fp32"): np.array([1.0, 2.0])})
>>> tt = time_table_from_measurements(s, ["cam", "cloud"], ["fp32"], imported=imp)
>>> tt.ms[:, :, 0].tolist(), tt.provenance[("cloud", "fp32")]
([[1.0, inf], [2.0, inf]], 'not measured')
"""

from __future__ import annotations

__all__ = ["NOT_MEASURED", "time_table_from_measurements"]

from collections.abc import Mapping, Sequence

import numpy as np

from planner_app.core.compression.registry import get_level
from planner_app.core.models.structure import ModelStructure
from planner_app.core.profiling.imported import ImportedTimes
from planner_app.core.profiling.records import ModelProfile
from planner_app.core.profiling.timetable import TimeTable

#: provenance of a (device, level) pair no measurement covers
NOT_MEASURED = "not measured"


def time_table_from_measurements(
    structure: ModelStructure,
    device_ids: Sequence[str],
    levels: Sequence[str],
    *,
    imported: ImportedTimes | None = None,
    agent_profiles: Mapping[str, ModelProfile] | None = None,
) -> TimeTable:
    """The :class:`TimeTable` of ``structure`` from imported times and agent profiles alone."""
    n = structure.n_units
    ms = np.full((n, len(device_ids), len(levels)), np.inf)
    provenance: dict[tuple[str, str], str] = {}
    fidelity: dict[str, float] = {}
    for di, dev in enumerate(device_ids):
        agent = (agent_profiles or {}).get(dev)
        for li, level in enumerate(levels):
            col: np.ndarray | None = None
            lp = agent.levels.get(level) if agent is not None else None
            if lp is not None and lp.applicable and len(lp.unit_ms) == n:
                col, provenance[(dev, level)] = np.asarray(lp.unit_ms, dtype=float), "measured-agent"
                if lp.fidelity is not None:
                    fidelity[level] = min(fidelity.get(level, 1.0), float(lp.fidelity.score()))
            elif imported is not None and (times := imported.times_for(dev, level)) is not None:
                col, provenance[(dev, level)] = times, "imported"
            else:
                provenance[(dev, level)] = NOT_MEASURED
            if col is not None:
                ms[:, di, li] = np.where(np.isfinite(col), col, np.inf)
    if "fp32" in levels:
        fidelity.setdefault("fp32", 1.0)
    factors = np.array([get_level(lv).weight_size_factor for lv in levels])
    param_bytes = np.outer(np.asarray(structure.param_bytes, dtype=float), factors)
    return TimeTable(
        device_ids=list(device_ids), levels=list(levels), ms=ms, param_bytes=param_bytes,
        provenance=provenance, fidelity=fidelity, activation_bytes=np.asarray(structure.activation_bytes),
    )
