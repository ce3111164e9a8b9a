"""onnxruntime profiler JSON (per-node times of a model run elsewhere) as a layer table.

``SessionOptions.enable_profiling = True`` makes onnxruntime write a Chrome-trace
JSON list of events. The reader keeps the ``Node`` events named
``<node>_kernel_time`` (``dur`` in µs; ``args``: ``op_name``, ``output_size``,
``parameter_size``, ``activation_size`` in bytes) and the ``Session`` events named
``model_run``, which tell the runs apart. A node's time is its kernel time summed
within a run, the median over runs (over occurrences when the file has no
``model_run`` events).

Into a table:

* with the model (``graph``), nodes map onto the model's units by name
  (:class:`~planner_app.core.profiling.unit_mapping.UnitMapper`: fused and
  renamed nodes included); a node no name ties to a unit (an inserted reorder
  or cast) counts toward the unit run just before it. Sizes, weights and FLOPs
  come from the model, so the table is exactly the model's units;
* without it, each node is a layer of a chain in execution order, its output and
  weight bytes from the profile (the input size is the first node's
  ``activation_size``): a DAG is flattened into its execution order, which keeps
  every node's time and size but not which layer reads which.

Example
-------
>>> prof = read_ort_profile("tests/data/onnxruntime/tiny_cnn_profile.json")   # doctest: +SKIP
>>> doc = layer_table_from_ort_profile(prof, "pixel-7", graph=None)          # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["OrtProfile", "read_ort_profile", "layer_table_from_ort_profile", "add_times"]

import bisect
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from planner_app.core.errors import Problem
from planner_app.core.fileio import read_bytes
from planner_app.core.models.layer_table import (
    MAX_FILE_BYTES,
    LayerInput,
    LayerRow,
    LayerTable,
    LayerTableDocument,
    LayerTableError,
    LayerTimes,
    layer_table_from_structure,
)
from planner_app.core.models.structure import ModelStructure
from planner_app.core.profiling.unit_mapping import UnitMapper

if TYPE_CHECKING:
    from planner_app.core.models.graph import ModelGraph

_SUFFIX = "_kernel_time"


@dataclass
class OrtProfile:
    """Per-node kernel ms (median over runs) in execution order, with the sizes the profile states."""

    source: str
    order: list[str]
    node_ms: dict[str, float]
    op_types: dict[str, str] = field(default_factory=dict)
    output_bytes: dict[str, int] = field(default_factory=dict)
    param_bytes: dict[str, int] = field(default_factory=dict)
    activation_bytes: dict[str, int] = field(default_factory=dict)
    runs: int = 1


def _int_arg(args: dict[str, Any], key: str) -> int | None:
    try:
        value = int(str(args.get(key, "")).strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def read_ort_profile(path: str | Path) -> OrtProfile:
    """Read an onnxruntime profile; errors name the file and the event."""
    p = Path(path)
    raw = read_bytes(p, "onnxruntime profile", error=LayerTableError)
    if len(raw) > MAX_FILE_BYTES:
        raise LayerTableError(f"onnxruntime profile '{p}' is {len(raw)} bytes, above the {MAX_FILE_BYTES} limit.")
    try:
        events = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayerTableError(f"onnxruntime profile '{p}' is not JSON: {exc}.") from None
    if not isinstance(events, list):
        raise LayerTableError(f"onnxruntime profile '{p}': expected a JSON list of trace events "
                              f"(SessionOptions.enable_profiling output), got {type(events).__name__}.")
    runs: list[tuple[float, float]] = []
    kernels: list[tuple[float, float, str, dict[str, Any]]] = []
    problems: list[Problem] = []
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            problems.append(Problem(f"[{i}]", "expected a trace event object"))
            continue
        name, cat = e.get("name"), e.get("cat")
        if cat not in ("Node", "Session") or not isinstance(name, str):
            continue
        ts, dur = e.get("ts"), e.get("dur")
        if isinstance(ts, bool) or isinstance(dur, bool) or not isinstance(ts, int | float) \
                or not isinstance(dur, int | float) or dur < 0:
            problems.append(Problem(f"[{i}] ({name})", f"ts and dur must be numbers, dur >= 0; got {ts!r}, {dur!r}"))
            continue
        if cat == "Session" and name == "model_run":
            runs.append((float(ts), float(ts + dur)))
        elif cat == "Node" and name.endswith(_SUFFIX):
            args = e.get("args") if isinstance(e.get("args"), dict) else {}
            kernels.append((float(ts), float(dur), name[: -len(_SUFFIX)], args or {}))
    if problems:
        raise LayerTableError(f"onnxruntime profile '{p}' has malformed events:", problems=problems[:20])
    if not kernels:
        raise LayerTableError(f"onnxruntime profile '{p}' has no '<node>_kernel_time' Node events: is it the "
                              "profile of a run (not only of the session's start)?")
    runs.sort()
    starts = [r[0] for r in runs]
    per_run: dict[int, dict[str, float]] = {}
    occurrences: dict[str, list[float]] = {}
    order: dict[str, float] = {}
    prof = OrtProfile(str(p), [], {})
    for ts, dur, node, args in sorted(kernels, key=lambda k: k[0]):
        if runs:
            i = bisect.bisect_right(starts, ts) - 1
            if i < 0 or ts > runs[i][1]:
                continue  # a kernel outside every run (initialization)
            run = per_run.setdefault(i, {})
            run[node] = run.get(node, 0.0) + dur / 1e3
            order.setdefault(node, ts - runs[i][0])
        else:
            occurrences.setdefault(node, []).append(dur / 1e3)
            order.setdefault(node, len(order))
        if isinstance(args.get("op_name"), str):
            prof.op_types.setdefault(node, args["op_name"])
        for key, target in (("output_size", prof.output_bytes), ("parameter_size", prof.param_bytes),
                            ("activation_size", prof.activation_bytes)):
            value = _int_arg(args, key)
            if value is not None:
                target.setdefault(node, value)
    prof.order = sorted(order, key=order.__getitem__)
    if runs:
        if not per_run:
            raise LayerTableError(f"onnxruntime profile '{p}': no kernel event falls inside a model_run.")
        prof.runs = len(per_run)
        prof.node_ms = {n: statistics.median([r.get(n, 0.0) for r in per_run.values()]) for n in prof.order}
    else:
        prof.runs = max(len(v) for v in occurrences.values())
        prof.node_ms = {n: statistics.median(v) for n, v in occurrences.items()}
    return prof


def _unit_times(profile: OrtProfile, graph: ModelGraph) -> tuple[np.ndarray, list[str]]:
    mapper = UnitMapper(graph)
    ms = np.zeros(len(graph.units))
    unmapped: list[str] = []
    last: int | None = None
    pending = 0.0
    for node in profile.order:
        unit = mapper.lookup(node)
        t = profile.node_ms[node]
        if unit is None:
            unmapped.append(node)
            if last is None:
                pending += t
            else:
                ms[last] += t
            continue
        ms[unit] += t + pending
        pending, last = 0.0, unit
    if last is None:
        raise LayerTableError(f"onnxruntime profile '{profile.source}': none of its {len(profile.order)} nodes "
                              f"belongs to model {graph.name!r} (first: {', '.join(profile.order[:3])}): was it "
                              "made with this model?")
    return ms, unmapped


def layer_table_from_ort_profile(
    profile: OrtProfile,
    device_type: str,
    *,
    graph: ModelGraph | None = None,
    level: str = "fp32",
    into: LayerTable | None = None,
) -> LayerTableDocument:
    """The layer table of ``profile`` measured on ``device_type`` (see the module docstring).

    With ``into``, the times are added as a series of ``into`` (matched by layer name).
    """
    if graph is not None:
        ms, _ = _unit_times(profile, graph)
        names = [u.name for u in graph.units]
        times = dict(zip(names, ms.tolist(), strict=True))
        if into is None:
            return layer_table_from_structure(
                ModelStructure.from_model_graph(graph), {(device_type, level, 1): ms},
                source=f"onnxruntime profile {profile.source} ({profile.runs} runs) on {device_type}")
    else:
        times = dict(profile.node_ms)
        if into is None:
            missing = [n for n in profile.order if n not in profile.output_bytes]
            if missing:
                raise LayerTableError(
                    f"onnxruntime profile '{profile.source}': nodes {', '.join(missing[:5])} state no "
                    "output_size: give the model (--model) so sizes come from it.")
            rows = [LayerRow(name=n, output_bytes=profile.output_bytes[n],
                             param_bytes=float(profile.param_bytes.get(n, 0))) for n in profile.order]
            first = profile.order[0]
            inp = LayerInput(name="input", bytes=max(1, profile.activation_bytes.get(first, 0)))
            return LayerTableDocument(
                name=Path(profile.source).stem, time_unit="ms", input=inp, layers=rows,
                times=[LayerTimes(device_type=device_type, level=level, values=[profile.node_ms[n]
                                                                                for n in profile.order])],
                source=f"onnxruntime profile {profile.source} ({profile.runs} runs) on {device_type}: nodes "
                       "in execution order")
    return add_times(into, times, device_type, level, f"onnxruntime profile '{profile.source}'")


def add_times(table: LayerTable, times_ms: dict[str, float], device_type: str, level: str, where: str,
              batch: int = 1) -> LayerTableDocument:
    """``table``'s document with one more time series, matched by layer name; every layer needs a time."""
    doc = table.document
    names = [r.name for r in doc.layers]
    unknown = [n for n in times_ms if n not in set(names)]
    missing = [n for n in names if n not in times_ms]
    if unknown or missing:
        problems = [Problem(f"{where}: {n}", f"is not a layer of {table.where}") for n in unknown[:10]]
        problems += [Problem(f"{table.where}: {n}", f"has no time in {where}") for n in missing[:10]]
        raise LayerTableError(f"{where} does not time the layers of {table.where} one to one "
                              f"({len(unknown)} unknown, {len(missing)} without a time):", problems=problems)
    scale = 1e-3 if doc.time_unit == "s" else 1.0
    series = LayerTimes(device_type=device_type, level=level, batch=batch,
                        values=[times_ms[n] * scale for n in names])
    kept = [t for t in doc.times if (t.device_type, t.level, t.batch) != (device_type, level, batch)]
    return doc.model_copy(update={"times": [*kept, series]})
