"""Per-unit times measured elsewhere, imported from a CSV or JSON file.

For devices the user cannot attach (a phone in a lab, a vendor's benchmark), times
per unit or per layer come from a file, one row per measurement::

    device,level,unit,ms
    phone,fp32,conv1,3.2
    phone,fp32,features.1.conv.0,1.1     # an original node name: summed into its unit
    phone,int8-static,7,0.9              # a unit id

JSON holds the same rows as a list of objects (or ``{"rows": [...]}``), or nested
``{"devices": {"phone": {"fp32": {"conv1": 3.2}}}}``. Every row must name a unit
(name or id) or an original ONNX node of the model; rows that match nothing are
listed together, with the nearest names as suggestions.

Example
-------
>>> imp = load_imported_times("phone_times.csv", mg)        # doctest: +SKIP
>>> imp.times_for("phone", "fp32")[:3]                      # doctest: +SKIP
array([3.2, 1.1, nan])
"""

from __future__ import annotations

__all__ = ["ImportedTimes", "ImportedTimesError", "load_imported_times"]

import csv
import difflib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner_app.core.compression import LEVELS, is_known_level
from planner_app.core.errors import InputFileError, PlannerError, Problem

_MS_KEYS = ("ms", "time_ms", "latency_ms")


class ImportedTimesError(PlannerError):
    """An imported times file names unknown units, levels or has bad values."""


@dataclass
class ImportedTimes:
    """Times per unit for (device, level) pairs; ``nan`` where the file gave none."""

    source: str
    n_units: int
    times: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def times_for(self, device_id: str, level: str) -> np.ndarray | None:
        """Milliseconds per unit (``nan`` = not in the file), or None when the pair is absent."""
        arr = self.times.get((device_id, level))
        return None if arr is None else arr.copy()

    @property
    def devices(self) -> list[str]:
        """Devices the file measured, in file order."""
        return list(dict.fromkeys(d for d, _ in self.times))

    def coverage(self, device_id: str, level: str) -> float:
        """Share of the model's units the file timed for this pair (0 when absent)."""
        arr = self.times.get((device_id, level))
        return 0.0 if arr is None else float(np.mean(~np.isnan(arr)))


def _rows_from_json(data: Any, path: Path) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if isinstance(data, list):
        if not all(isinstance(r, dict) for r in data):
            raise ImportedTimesError(f"imported times '{path}': every row must be an object with device, level, unit, ms.")
        return data
    if isinstance(data, dict) and isinstance(data.get("devices"), dict):
        rows = []
        for device, per_level in data["devices"].items():
            if not isinstance(per_level, dict):
                raise ImportedTimesError(f"imported times '{path}': devices.{device} must map levels to {{unit: ms}}.")
            for level, per_unit in per_level.items():
                if not isinstance(per_unit, dict):
                    raise ImportedTimesError(f"imported times '{path}': devices.{device}.{level} must map units to ms.")
                rows.extend({"device": device, "level": level, "unit": u, "ms": ms} for u, ms in per_unit.items())
        return rows
    raise ImportedTimesError(
        f"imported times '{path}': expected a list of rows, {{\"rows\": [...]}} or {{\"devices\": {{...}}}}."
    )


def _rows_from_csv(text: str, path: Path) -> list[dict[str, Any]]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    need = {"device", "level", "unit"}
    if not need <= set(header) or not set(_MS_KEYS) & set(header):
        raise ImportedTimesError(
            f"imported times '{path}': the CSV header is {header or 'missing'}; it needs columns "
            "device, level, unit, ms."
        )
    rows = []
    for raw in reader:
        row = {(k or "").strip().lower(): (v or "").split("#")[0].strip() for k, v in raw.items()}
        rows.append(row)
    return rows


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise InputFileError(f"imported times '{path}' does not exist: check the path.")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputFileError(f"imported times '{path}' is not valid JSON: {exc}.") from None
        return _rows_from_json(data, path)
    if path.suffix.lower() == ".csv":
        return _rows_from_csv(path.read_text(encoding="utf-8"), path)
    raise ImportedTimesError(f"imported times '{path}': use a .csv or .json file.")


def load_imported_times(path: str | Path, mg: Any) -> ImportedTimes:
    """Read and validate an imported times file against the units of ``mg``.

    Rows naming original nodes are summed into their unit. Every problem (unknown
    unit with suggestions, unknown level, bad number, repeated row) is collected and
    raised together as :class:`ImportedTimesError`.
    """
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise ImportedTimesError(f"imported times '{path}' holds no rows.")
    unit_by_name = {u.name: u.id for u in mg.units}
    node_to_unit = dict(mg.node_to_unit)
    n_units = len(mg.units)
    known_names = list(unit_by_name) + [n for n in node_to_unit if n not in unit_by_name]
    times: dict[tuple[str, str], np.ndarray] = {}
    seen: dict[tuple[str, str, str], int] = {}
    problems: list[Problem] = []
    unknown_rows = 0
    for i, row in enumerate(rows, start=2 if path.suffix.lower() == ".csv" else 0):
        where = f"row {i}" if path.suffix.lower() == ".csv" else f"rows[{i}]"
        device = str(row.get("device", "")).strip()
        level = str(row.get("level", "")).strip()
        unit_token = str(row.get("unit", "")).strip()
        ms_raw = next((row[k] for k in _MS_KEYS if k in row and row[k] not in ("", None)), None)
        if not device:
            problems.append(Problem(where, "no device"))
            continue
        if not is_known_level(level):
            problems.append(Problem(where, f"unknown level '{level}' (levels: {', '.join(LEVELS)}, variant:NAME)"))
            continue
        try:
            ms = float(ms_raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            problems.append(Problem(where, f"ms '{ms_raw}' is not a number"))
            continue
        if not math.isfinite(ms) or ms < 0:
            problems.append(Problem(where, f"ms {ms_raw} must be a finite number >= 0"))
            continue
        if unit_token in unit_by_name:
            unit = unit_by_name[unit_token]
        elif unit_token in node_to_unit:
            unit = node_to_unit[unit_token]
        elif unit_token.isdigit() and int(unit_token) < n_units:
            unit = int(unit_token)
        else:
            unknown_rows += 1
            near = difflib.get_close_matches(unit_token, known_names, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            problems.append(Problem(where, f"unit '{unit_token}' matches no unit name, unit id (0-{n_units - 1}) or node of {mg.name}{hint}"))
            continue
        key = (device, level, unit_token)
        if key in seen:
            problems.append(Problem(where, f"repeats {seen[key]} ({device}, {level}, {unit_token})"))
            continue
        seen[key] = where  # type: ignore[assignment]
        arr = times.setdefault((device, level), np.full(n_units, np.nan))
        arr[unit] = ms if np.isnan(arr[unit]) else arr[unit] + ms
    if problems:
        what = f"{unknown_rows} row(s) match no unit of the model" if unknown_rows else "bad rows"
        raise ImportedTimesError(f"imported times '{path}': {what}; fix or remove them:", problems=problems)
    return ImportedTimes(source=str(path), n_units=n_units, times=times)
