"""Per-unit times measured elsewhere, imported from a CSV or JSON file.

For devices the user cannot attach (a phone in a lab, a vendor's benchmark), times
per unit or per layer come from a file, one row per measurement::

    device,level,unit,ms
    phone,fp32,conv1,3.2
    phone,fp32,features.1.conv.0,1.1     # an original node name: summed into its unit
    phone,int8-static,7,0.9              # a unit id

JSON holds the same rows as a list of objects (or ``{"rows": [...]}``), or nested
``{"devices": {"phone": {"fp32": {"conv1": 3.2}}}}``. Every row must name a device,
a known level, a unit (name or id) or an original ONNX node of the model, and a time
>= 0. Every bad row is reported, with its line number in the file (``rows[i]`` or
``devices.D.L.U`` in JSON), each of its reasons, and the nearest names as suggestions
for unknown units; the count in the message is the number of bad rows. Devices are
checked against a topology when one is given (``device_ids``), else when the time
table is built.

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
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from planner_app.core.compression.registry import is_known_level, level_names
from planner_app.core.errors import InputFileError, PlannerError, Problem
from planner_app.core.fileio import parse_json, read_bytes

if TYPE_CHECKING:
    from planner_app.core.models.graph import ModelGraph

_MS_KEYS = ("ms", "time_ms", "latency_ms")


class ImportedTimesError(PlannerError):
    """An imported times file names unknown units, levels or has bad values."""


@dataclass
class ImportedTimes:
    """Times per unit for (device, level) pairs; ``nan`` where the file gave none."""

    source: str
    n_units: int
    times: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    #: where each device is named in the file ("row 3", "rows[2]"), to point at unknown devices
    device_rows: dict[str, list[str]] = field(default_factory=dict)

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
        rows: list[dict[str, Any]] = []
        for device, per_level in data["devices"].items():
            if not isinstance(per_level, dict):
                raise ImportedTimesError(f"imported times '{path}': devices.{device} must map levels to {{unit: ms}}.")
            for level, per_unit in per_level.items():
                if not isinstance(per_unit, dict):
                    raise ImportedTimesError(f"imported times '{path}': devices.{device}.{level} must map units to ms.")
                rows.extend({"device": device, "level": level, "unit": u, "ms": ms,
                             "_where": f"devices.{device}.{level}.{u}"} for u, ms in per_unit.items())
        return rows
    raise ImportedTimesError(
        f"imported times '{path}': expected a list of rows, {{\"rows\": [...]}} or {{\"devices\": {{...}}}}."
    )


def _rows_from_csv(text: str, path: Path) -> list[dict[str, Any]]:
    """The data rows, each with ``_where`` = its line number in the file (comment and blank
    lines are skipped but still counted)."""
    kept = [(no, ln) for no, ln in enumerate(text.splitlines(), start=1)
            if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.reader(ln for _, ln in kept)
    header_raw = next(reader, None) or []
    header = [h.strip().lower() for h in header_raw]
    need = {"device", "level", "unit"}
    if not need <= set(header) or not set(_MS_KEYS) & set(header):
        raise ImportedTimesError(
            f"imported times '{path}': the CSV header is {header or 'missing'}; it needs columns "
            "device, level, unit, ms."
        )
    rows = []
    start = reader.line_num  # lines of ``kept`` consumed so far; a record starts after them
    for values in reader:
        row: dict[str, Any] = {"_where": f"line {kept[start][0]}"}
        start = reader.line_num
        for k, v in zip(header, values, strict=False):
            row[k] = v.split("#")[0].strip()
        rows.append(row)
    return rows


def _read_rows(path: Path) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        if not path.exists():
            raise InputFileError(f"imported times '{path}' does not exist: check the path.")
        raise ImportedTimesError(f"imported times '{path}': use a .csv or .json file.")
    # a regular file under the size cap, read by the one safe reader (no FIFO, no /dev/zero)
    raw = read_bytes(path, "imported times", suffix=suffix)
    if suffix == ".json":
        return _rows_from_json(parse_json(raw, f"imported times '{path}'"), path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"imported times '{path}' is not UTF-8 text: is it really a CSV file?") from None
    return _rows_from_csv(text, path)


def _unit_of(token: str, unit_by_name: dict[str, int], node_to_unit: dict[str, int], n_units: int) -> int | None:
    if token in unit_by_name:
        return unit_by_name[token]
    if token in node_to_unit:
        return node_to_unit[token]
    if token.isdigit() and int(token) < n_units:
        return int(token)
    return None


def load_imported_times(path: str | Path, mg: ModelGraph, device_ids: list[str] | None = None) -> ImportedTimes:
    """Read and validate an imported times file against the units of ``mg``.

    Rows naming original nodes are summed into their unit. Every bad row (no or
    unknown device, unknown level, unknown unit with suggestions, bad number,
    repeated row) is listed with its line number (``rows[i]`` in JSON) and every
    reason, and raised together as :class:`ImportedTimesError`. Devices are checked
    against ``device_ids`` when given (a topology's devices); else
    :func:`~planner_app.core.profiling.device_model.build_time_table` checks them, naming the rows.
    """
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise ImportedTimesError(f"imported times '{path}' holds no rows.")
    unit_by_name = {u.name: u.id for u in mg.units}
    node_to_unit = dict(mg.node_to_unit)
    n_units = len(mg.units)
    known_names = list(unit_by_name) + [n for n in node_to_unit if n not in unit_by_name]
    known_devices = None if device_ids is None else list(device_ids)
    times: dict[tuple[str, str], np.ndarray] = {}
    device_rows: dict[str, list[str]] = {}
    seen: dict[tuple[str, str, str], str] = {}
    problems: list[Problem] = []
    counts: dict[str, int] = {}
    for i, row in enumerate(rows):
        where = str(row.get("_where") or f"rows[{i}]")
        device = str(row.get("device") or "").strip()
        level = str(row.get("level") or "").strip()
        unit_token = str(row.get("unit") if row.get("unit") is not None else "").strip()
        ms_raw = next((row[k] for k in _MS_KEYS if k in row and row[k] not in ("", None)), None)
        reasons: list[tuple[str, str]] = []
        if not device:
            reasons.append(("missing device", "no device"))
        elif known_devices is not None and device not in known_devices:
            reasons.append(("unknown device",
                            f"device '{device}' is not in the topology (devices: {', '.join(known_devices)})"))
        if not level:
            reasons.append(("missing level", "no level"))
        elif not is_known_level(level):
            reasons.append(("unknown level", f"unknown level '{level}' (levels: {', '.join(level_names(True))})"))
        unit = _unit_of(unit_token, unit_by_name, node_to_unit, n_units)
        if not unit_token:
            reasons.append(("missing unit", "no unit"))
        elif unit is None:
            near = difflib.get_close_matches(unit_token, known_names, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            reasons.append(("unknown unit",
                            f"unit '{unit_token}' matches no unit name, unit id (0-{n_units - 1}) or node of {mg.name}{hint}"))
        ms = math.nan
        try:
            ms = float(ms_raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            reasons.append(("bad ms", f"ms '{ms_raw if ms_raw is not None else ''}' is not a number"))
        else:
            if not math.isfinite(ms) or ms < 0:
                reasons.append(("bad ms", f"ms {ms_raw} must be a finite number >= 0"))
        key = (device, level, unit_token)
        if not reasons and key in seen:
            reasons.append(("repeated", f"repeats {seen[key]} ({device}, {level}, {unit_token})"))
        if reasons:
            for kind in dict.fromkeys(k for k, _ in reasons):
                counts[kind] = counts.get(kind, 0) + 1
            problems.append(Problem(where, "; ".join(m for _, m in reasons)))
            continue
        seen[key] = where
        device_rows.setdefault(device, []).append(where)
        arr = times.setdefault((device, level), np.full(n_units, np.nan))
        arr[unit] = ms if np.isnan(arr[unit]) else arr[unit] + ms
    if problems:
        what = ", ".join(f"{kind}: {n}" for kind, n in counts.items())
        raise ImportedTimesError(
            f"imported times '{path}': {len(problems)} of {len(rows)} row(s) are bad ({what}); fix or remove them:",
            problems=problems,
        )
    return ImportedTimes(source=str(path), n_units=n_units, times=times, device_rows=device_rows)
