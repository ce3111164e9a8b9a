"""TFLite ``benchmark_model --enable_op_profiling=true`` output as the times of one device type.

The tool prints, after ``Operator-wise Profiling Info for Regular Benchmark Runs:``,
a ``Run Order`` table, tab-separated, one row per op in execution order::

    [node type]  [first]  [avg ms]  [%]  [cdf%]  [mem KB]  [times called]  [Name]
    CONV_2D      0.487    0.412     25.215%  25.215%  0.000  1  [ds_cnn/conv_0/Relu]

The reader keeps that table only (not the initialization table before it, nor the
``Top by Computation Time`` and ``Summary by node type`` tables after it), finds
the columns by their bracketed headers (older builds add ``[start]``), and reads
each op's ``avg ms`` (its average time per run, every call of the op included)
and its name (the op's output tensor). Ops of the same name are summed.

TFLite's output has no tensor sizes, so its times join a layer table that has
them (:func:`add_tflite_times`): by layer name, or in run order (``by_order``)
when the counts agree.

Example
-------
>>> ops = read_tflite_benchmark("tests/data/tflite/rpi3_benchmark.txt")   # doctest: +SKIP
>>> ops[0].node_type, ops[0].avg_ms, ops[0].name                          # doctest: +SKIP
('CONV_2D', 0.412, 'ds_cnn/conv_0/Relu')
"""

from __future__ import annotations

__all__ = ["TfliteOp", "read_tflite_benchmark", "add_tflite_times"]

import re
from dataclasses import dataclass
from pathlib import Path

from planner_app.core.errors import Problem
from planner_app.core.fileio import read_bytes
from planner_app.core.models.layer_table import (
    MAX_FILE_BYTES,
    LayerTable,
    LayerTableDocument,
    LayerTableError,
)
from planner_app.core.profiling.readers.onnxruntime_profile import add_times

_REGULAR = "Operator-wise Profiling Info for Regular Benchmark Runs"
_NAME = re.compile(r"\[(.*)\]\s*$")


@dataclass(frozen=True)
class TfliteOp:
    """One row of the run-order table."""

    node_type: str
    name: str
    avg_ms: float
    times_called: int = 1
    line: int = 0


def read_tflite_benchmark(path: str | Path) -> list[TfliteOp]:
    """The ops of the regular runs' run-order table, in run order; errors name the file and line."""
    p = Path(path)
    raw = read_bytes(p, "TFLite benchmark output", error=LayerTableError, suffix=".txt")
    if len(raw) > MAX_FILE_BYTES:
        raise LayerTableError(f"TFLite benchmark output '{p}' is above the {MAX_FILE_BYTES}-byte limit.")
    lines = raw.decode("utf-8", errors="replace").splitlines()
    start = next((i for i, ln in enumerate(lines) if _REGULAR in ln), None)
    if start is None:
        raise LayerTableError(f"TFLite benchmark output '{p}' has no '{_REGULAR}' section: run benchmark_model "
                              "with --enable_op_profiling=true and save everything it prints.")
    header_at = next((i for i in range(start, len(lines)) if "[node type]" in lines[i].lower()), None)
    if header_at is None:
        raise LayerTableError(f"TFLite benchmark output '{p}', line {start + 1}: no '[node type] … [Name]' header "
                              "after the section title.")
    columns = [c.strip().lower() for c in re.findall(r"\[([^\]]+)\]", lines[header_at])]
    for need in ("node type", "avg ms", "name"):
        if need not in columns:
            raise LayerTableError(f"TFLite benchmark output '{p}', line {header_at + 1}: no [{need}] column "
                                  f"(columns: {', '.join(columns)}).")
    numeric = [c for c in columns if c not in ("node type", "name")]
    ops: list[TfliteOp] = []
    problems: list[Problem] = []
    for i in range(header_at + 1, len(lines)):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("="):
            break
        m = _NAME.search(line)
        fields = line[: m.start()].split() if m else []
        if m is None or len(fields) != 1 + len(numeric):
            problems.append(Problem(f"line {i + 1}", f"expected {len(columns)} columns ending in [Name], got "
                                    f"{line.strip()[:80]!r}"))
            continue
        values = dict(zip(numeric, fields[1:], strict=True))
        try:
            avg = float(values["avg ms"])
            called = int(float(values.get("times called", "1")))
        except ValueError:
            problems.append(Problem(f"line {i + 1}", f"avg ms {values['avg ms']!r} is not a number"))
            continue
        if avg < 0:
            problems.append(Problem(f"line {i + 1} ({m.group(1)})", f"negative time {avg}"))
            continue
        ops.append(TfliteOp(fields[0], m.group(1), avg, called, i + 1))
    if problems:
        raise LayerTableError(f"TFLite benchmark output '{p}' has unreadable rows:", problems=problems[:20])
    if not ops:
        raise LayerTableError(f"TFLite benchmark output '{p}', line {header_at + 1}: the run-order table is empty.")
    return ops


def add_tflite_times(table: LayerTable, ops: list[TfliteOp], device_type: str, *, level: str = "fp32",
                     by_order: bool = False, where: str = "TFLite benchmark output") -> LayerTableDocument:
    """``table``'s document with the ops' times as the series of ``device_type`` at ``level``."""
    if by_order:
        if len(ops) != table.n_layers:
            raise LayerTableError(f"{where}: {len(ops)} ops but {table.where} has {table.n_layers} layers: "
                                  "--by-order needs one op per layer (or match by name).")
        names = [r.name for r in table.document.layers]
        times = {n: op.avg_ms for n, op in zip(names, ops, strict=True)}
    else:
        times = {}
        for op in ops:
            times[op.name] = times.get(op.name, 0.0) + op.avg_ms
    return add_times(table, times, device_type, level, where)
