"""The layer-table model format: a model described by its layers and their measured times.

Teams that measured their network layer by layer on real boards (TFLite's
benchmark tool, onnxruntime's profiler, research planners' profile files) and
have no ONNX file at hand describe the model as a table, one row per layer, in
CSV or JSON (the format is in ``docs/layer_tables.md``; the JSON Schema is
``resources/layer_table.schema.json``, generated from :class:`LayerTableDocument`).

Each layer has a name, its successors (default: the next row; none: a model
output), its output size per request (``output_bytes``, or ``output_shape`` +
``output_dtype``), its weight bytes, its working memory, its FLOPs when known,
and its times per device type (optionally per compression level and batch size).
The input's size is part of the file and the unit of every time is explicit
(``time_unit``: ``ms`` or ``s``; a file that leaves it open, or says both, is an
error). Sizes are per request (they scale with the batch), times are per batch of
the series' ``batch`` requests, weight bytes do not scale.

:func:`load_layer_table` reads and checks a file into a :class:`LayerTable`;
:meth:`LayerTable.structure` is the :class:`~planner_app.core.models.structure.ModelStructure`
the optimizer reads, :meth:`LayerTable.series` the times of one device type.
The planning source that turns a table into a time table on a topology is
:class:`planner_app.core.planning.layer_source.LayerTableSource`.

Example
-------
>>> doc = LayerTableDocument(name="tiny", time_unit="ms", input=LayerInput(bytes=4000),
...     layers=[LayerRow(name="a", output_bytes=400, param_bytes=1e6), LayerRow(name="b", output_bytes=40)],
...     times=[LayerTimes(device_type="pi4", values=[2.0, 1.0])])
>>> t = LayerTable(doc)
>>> t.structure().cut_bytes.tolist(), t.series("pi4", "fp32", 1).tolist()
([4000, 400, 40], [2.0, 1.0])
"""

from __future__ import annotations

__all__ = [
    "LAYER_TABLE_FORMAT",
    "LAYER_TABLE_VERSION",
    "LAYER_TABLE_SCHEMA_PATH",
    "LayerTableError",
    "LayerInput",
    "LayerRow",
    "LayerTimes",
    "LayerTableDocument",
    "LayerTable",
    "load_layer_table",
    "layer_table_from_structure",
    "parse_layer_table_json",
    "parse_layer_table_csv",
    "layer_table_csv_text",
    "write_layer_table",
    "layer_table_json_schema",
    "write_schemas",
    "dtype_bytes",
]

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner_app.core.errors import InputFileError, Problem
from planner_app.core.fileio import atomic_write_json, atomic_write_text, read_bytes
from planner_app.core.models.structure import ModelStructure, TensorInfo

LAYER_TABLE_FORMAT: Literal["edgeplan-layer-table"] = "edgeplan-layer-table"
LAYER_TABLE_VERSION: Literal[1] = 1
LAYER_TABLE_SCHEMA_PATH = "layer_table.schema.json"

#: a layer table file larger than this is refused (untrusted input)
MAX_FILE_BYTES = 64 * 2**20
#: and so is one with more layers than this
MAX_LAYERS = 100_000

_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_LEVEL_RE = r"^[A-Za-z0-9][A-Za-z0-9_.\-:]*$"

#: bytes per element of the dtypes a shape may name (numpy, ONNX and PyTorch spellings)
_DTYPE_BYTES = {
    "float64": 8, "double": 8, "float32": 4, "float": 4, "float16": 2, "half": 2, "bfloat16": 2,
    "int64": 8, "long": 8, "int32": 4, "int": 4, "int16": 2, "short": 2, "int8": 1, "uint8": 1,
    "bool": 1, "uint16": 2, "uint32": 4, "uint64": 8,
}


def dtype_bytes(name: str) -> int | None:
    """Bytes per element of ``name`` (``float32``, ``torch.float16``, ``int8`` …), None if unknown."""
    return _DTYPE_BYTES.get(name.strip().lower().removeprefix("torch.").removeprefix("np.").removeprefix("numpy."))


class LayerTableError(InputFileError):
    """A layer table (or a file read into one) is malformed; the message names the file, row or key."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


NonNegative = Annotated[float, Field(ge=0)]


class LayerInput(_Record):
    """The model input: its name and its size per request (bytes, or shape + dtype)."""

    name: Annotated[str, Field(min_length=1, max_length=200)] = "input"
    bytes: Annotated[int, Field(ge=1)] | None = Field(default=None, description="size per request in bytes")
    shape: list[Annotated[int, Field(ge=1)]] | None = Field(default=None, description="shape of one request")
    dtype: str = Field(default="float32", description="element type of shape (float32, float16, int8 …)")
    consumers: list[str] | None = Field(
        default=None, description="layers that read the input (default: the layers no other layer feeds)")


class LayerRow(_Record):
    """One layer: what it produces, holds and costs."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    successors: list[str] | None = Field(
        default=None, description="layers that read this layer's output (default: the next row; [] = an output)")
    is_output: bool | None = Field(default=None, description="a model output (default: when it has no successors)")
    output_bytes: Annotated[int, Field(ge=0)] | None = Field(default=None, description="output size per request")
    output_shape: list[Annotated[int, Field(ge=1)]] | None = Field(default=None, description="output shape per request")
    output_dtype: str | None = Field(default=None, description="element type of output_shape (default float32)")
    param_bytes: NonNegative = Field(default=0.0, description="weight bytes (fp32); they do not scale with the batch")
    working_bytes: NonNegative = Field(default=0.0, description="scratch memory per request beyond input and output")
    flops: NonNegative | None = Field(default=None, description="floating-point operations per request, if known")


class LayerTimes(_Record):
    """The times of every layer on one device type, at one level and batch size, in the file's time_unit."""

    device_type: Annotated[str, Field(min_length=1, max_length=64, pattern=_ID_RE)]
    level: Annotated[str, Field(min_length=1, max_length=64, pattern=_LEVEL_RE)] = "fp32"
    batch: Annotated[int, Field(ge=1, le=65536)] = Field(default=1, description="requests per measured run")
    values: list[NonNegative] = Field(description="one time per layer, in row order, in the file's time_unit")


class LayerTableDocument(_Record):
    """A model described as a table of layers (version 1)."""

    format: Literal["edgeplan-layer-table"] = LAYER_TABLE_FORMAT
    version: Literal[1] = LAYER_TABLE_VERSION
    name: Annotated[str, Field(min_length=1, max_length=200)]
    time_unit: Literal["ms", "s"] = Field(description="the unit of every time in the file")
    input: LayerInput
    layers: list[LayerRow] = Field(min_length=1, max_length=MAX_LAYERS)
    times: list[LayerTimes] = Field(default_factory=list)
    source: str = Field(default="", description="where the figures came from (free text)")


def layer_table_from_structure(
    structure: ModelStructure,
    times_ms: dict[tuple[str, str, int], np.ndarray] | None = None,
    *,
    name: str | None = None,
    source: str = "",
) -> LayerTableDocument:
    """The layer table of a unit structure (one row per unit) with times in ms per
    ``(device_type, level, batch)``.

    A unit's output size is the sum of the tensors it produces and its successors are
    every unit that reads one of them; the table is exact when each unit produces one
    tensor (chains, most CNNs and transformers after grouping).
    """
    s = structure
    produced: list[int] = [0] * s.n_units
    succ: list[set[int]] = [set() for _ in range(s.n_units)]
    is_out = [False] * s.n_units
    in_bytes, in_cons, in_names = 0, set[int](), list[str]()
    for t in s.tensors:
        if t.producer < 0:
            in_bytes += t.size_bytes
            in_cons.update(t.consumers)
            in_names.append(t.name)
            continue
        produced[t.producer] += t.size_bytes
        succ[t.producer].update(t.consumers)
        is_out[t.producer] |= t.is_output
    names = list(s.unit_names)
    rows = [
        LayerRow(name=names[i], successors=[names[c] for c in sorted(succ[i])], is_output=is_out[i] or None,
                 output_bytes=produced[i], param_bytes=float(s.param_bytes[i]),
                 flops=float(s.flops[i]))
        for i in range(s.n_units)
    ]
    inp = LayerInput(name="+".join(in_names) or "input", bytes=max(1, in_bytes),
                     consumers=[names[c] for c in sorted(in_cons)])
    times = [LayerTimes(device_type=d, level=lv, batch=b, values=[float(v) for v in arr])
             for (d, lv, b), arr in (times_ms or {}).items()]
    return LayerTableDocument(name=name or s.name, time_unit="ms", input=inp, layers=rows, times=times,
                              source=source)


def layer_table_json_schema() -> dict[str, Any]:
    """The JSON Schema of a layer table file, as shipped in ``resources/``."""
    from planner_app.core.schemas import schema_document

    return schema_document(LayerTableDocument, LAYER_TABLE_SCHEMA_PATH, "edgeplan layer table")


def write_schemas() -> list[Path]:
    """Regenerate ``resources/layer_table.schema.json`` (``make schemas``)."""
    from planner_app.core.schemas import write_schema

    return write_schema(LAYER_TABLE_SCHEMA_PATH, layer_table_json_schema())


# -- the checked table -----------------------------------------------------------------


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


@dataclass
class LayerTable:
    """A checked layer table: layers in topological order, sizes resolved, times in ms.

    Raises :class:`LayerTableError` (naming ``where`` and the row or key) when
    a row names an unknown layer, the declared graph has a cycle, a size is
    missing or two sizes disagree, or a time series has the wrong length.
    """

    document: LayerTableDocument
    where: str = "layer table"
    #: the layer names in topological order (file order where the graph allows)
    order: list[str] = field(init=False)
    _rows: dict[str, LayerRow] = field(init=False, repr=False)
    _succ: dict[str, list[str]] = field(init=False, repr=False)
    _out_bytes: dict[str, int] = field(init=False, repr=False)
    _series: dict[tuple[str, str, int], np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        doc, where = self.document, self.where
        problems: list[Problem] = []
        rows: dict[str, LayerRow] = {}
        for i, row in enumerate(doc.layers):
            if row.name in rows:
                problems.append(Problem(f"layers[{i}] ({row.name})", "a second layer with this name: names must be unique"))
            rows[row.name] = row
        succ: dict[str, list[str]] = {}
        for i, row in enumerate(doc.layers):
            if row.successors is None:
                succ[row.name] = [doc.layers[i + 1].name] if i + 1 < len(doc.layers) else []
            else:
                unknown = [s for s in row.successors if s not in rows]
                if unknown:
                    problems.append(Problem(f"layers[{i}] ({row.name}).successors",
                                            f"names unknown layer(s) {', '.join(map(repr, unknown))}: "
                                            f"{_closest(unknown[0], rows)}"))
                succ[row.name] = list(dict.fromkeys(s for s in row.successors if s in rows))
        out_bytes: dict[str, int] = {}
        for i, row in enumerate(doc.layers):
            size = _size(row.output_bytes, row.output_shape, row.output_dtype or "float32",
                         f"layers[{i}] ({row.name})", "output", problems)
            if size is not None:
                out_bytes[row.name] = size
        _size(doc.input.bytes, doc.input.shape, doc.input.dtype, "input", "", problems)
        for name in doc.input.consumers or []:
            if name not in rows:
                problems.append(Problem("input.consumers", f"names unknown layer {name!r}: {_closest(name, rows)}"))
        n = len(doc.layers)
        series: dict[tuple[str, str, int], np.ndarray] = {}
        scale = 1000.0 if doc.time_unit == "s" else 1.0
        for j, ts in enumerate(doc.times):
            key = (ts.device_type, ts.level, ts.batch)
            loc = f"times[{j}] ({ts.device_type}, {ts.level}, batch {ts.batch})"
            if key in series:
                problems.append(Problem(loc, "a second time series for this device type, level and batch"))
            if len(ts.values) != n:
                problems.append(Problem(loc, f"has {len(ts.values)} values for {n} layers: give one time per layer"))
                continue
            series[key] = np.asarray(ts.values, dtype=float) * scale
        if problems:
            raise LayerTableError(f"{where} is not a valid layer table ({len(problems)} problem(s)):",
                                  problems=problems)
        self._rows, self._succ, self._out_bytes = rows, succ, out_bytes
        self.order = _topological_order([r.name for r in doc.layers], succ, where)
        position = {name: i for i, name in enumerate(r.name for r in doc.layers)}
        perm = [position[name] for name in self.order]
        self._series = {k: v[perm] for k, v in series.items()}

    # -- what the file says --------------------------------------------------------
    @property
    def name(self) -> str:
        return self.document.name

    @property
    def n_layers(self) -> int:
        return len(self.order)

    @property
    def input_bytes(self) -> int:
        inp = self.document.input
        if inp.bytes is not None:
            return int(inp.bytes)
        assert inp.shape is not None
        return int(math.prod(inp.shape)) * (dtype_bytes(inp.dtype) or 4)

    @property
    def input_shapes(self) -> dict[str, list[int]]:
        inp = self.document.input
        return {inp.name: list(inp.shape)} if inp.shape else {}

    @property
    def output_names(self) -> list[str]:
        return [n for n in self.order if self._is_output(n)]

    def _is_output(self, name: str) -> bool:
        row = self._rows[name]
        return row.is_output if row.is_output is not None else not self._succ[name]

    @property
    def device_types(self) -> list[str]:
        """Device types with times, in file order."""
        return list(dict.fromkeys(t.device_type for t in self.document.times))

    @property
    def levels(self) -> list[str]:
        """Levels with times, in file order."""
        return list(dict.fromkeys(t.level for t in self.document.times))

    def batches(self, device_type: str, level: str) -> list[int]:
        """Batch sizes measured for a device type at a level."""
        return sorted(b for (d, lv, b) in self._series if d == device_type and lv == level)

    def series(self, device_type: str, level: str, batch: int) -> np.ndarray | None:
        """Milliseconds per batch of every layer (topological order), or None when the file has none."""
        arr = self._series.get((device_type, level, batch))
        return None if arr is None else arr.copy()

    @property
    def flops(self) -> np.ndarray | None:
        """FLOPs per request of every layer (topological order), or None when a layer lacks them."""
        values = [self._rows[n].flops for n in self.order]
        if any(v is None for v in values):
            return None
        return np.asarray(values, dtype=float)

    @property
    def layers_without_flops(self) -> list[str]:
        return [n for n in self.order if self._rows[n].flops is None]

    @property
    def param_bytes(self) -> np.ndarray:
        return np.asarray([self._rows[n].param_bytes for n in self.order], dtype=float)

    @property
    def working_bytes(self) -> np.ndarray:
        """Scratch bytes per request of every layer (topological order)."""
        return np.asarray([self._rows[n].working_bytes for n in self.order], dtype=float)

    def structure(self, batch_size: int = 1) -> ModelStructure:
        """The unit structure the optimizer reads, sizes for a batch of ``batch_size`` requests."""
        index = {name: i for i, name in enumerate(self.order)}
        inp = self.document.input
        has_pred = {s for name in self.order for s in self._succ[name]}
        readers = inp.consumers if inp.consumers is not None else [n for n in self.order if n not in has_pred]
        tensors = [TensorInfo(inp.name, self.input_bytes * batch_size, -1, tuple(sorted(index[n] for n in readers)))]
        for i, name in enumerate(self.order):
            tensors.append(TensorInfo(name, self._out_bytes[name] * batch_size, i,
                                      tuple(sorted(index[s] for s in self._succ[name])), self._is_output(name)))
        flops = np.asarray([self._rows[n].flops or 0.0 for n in self.order], dtype=float)
        return ModelStructure(self.name, list(self.order), flops * batch_size, self.param_bytes, tensors)


def _closest(name: str, known: Iterable[str]) -> str:
    import difflib

    near = difflib.get_close_matches(name, list(known), n=3)
    return f"did you mean {', '.join(map(repr, near))}?" if near else "add a row for it or fix the name"


def _size(nbytes: int | None, shape: list[int] | None, dtype: str, loc: str, what: str,
          problems: list[Problem]) -> int | None:
    key = f"{what}_" if what else ""
    if shape is not None:
        per = dtype_bytes(dtype)
        if per is None:
            problems.append(Problem(f"{loc}.{key}dtype", f"unknown dtype {dtype!r}: use one of {', '.join(sorted(_DTYPE_BYTES))}"))
            return None
        from_shape = int(math.prod(shape)) * per
        if nbytes is not None and nbytes != from_shape:
            problems.append(Problem(loc, f"{key}bytes {nbytes} disagrees with {key}shape {shape} of {dtype} "
                                         f"({from_shape} bytes): give one of them"))
            return None
        return from_shape
    if nbytes is None:
        problems.append(Problem(loc, f"no {key}bytes (or {key}shape): give the size per request"))
        return None
    return int(nbytes)


def _topological_order(names: list[str], succ: dict[str, list[str]], where: str) -> list[str]:
    """Kahn's order, taking the earliest row among the ready layers (file order for a chain)."""
    import heapq

    pos = {n: i for i, n in enumerate(names)}
    indeg = {n: 0 for n in names}
    for n in names:
        for s in succ[n]:
            indeg[s] += 1
    ready = [pos[n] for n in names if indeg[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        n = names[heapq.heappop(ready)]
        order.append(n)
        for s in succ[n]:
            indeg[s] -= 1
            if indeg[s] == 0:
                heapq.heappush(ready, pos[s])
    if len(order) < len(names):
        stuck = [n for n in names if indeg[n] > 0]
        cycle = _find_cycle(stuck, succ)
        raise LayerTableError(
            f"{where}: the layers' successors form a cycle ({' -> '.join(cycle)}): a model is a DAG; "
            "fix the successors of these rows.")
    return order


def _find_cycle(stuck: list[str], succ: dict[str, list[str]]) -> list[str]:
    inside = set(stuck)
    node, seen = stuck[0], []
    while node not in seen:
        seen.append(node)
        node = next(s for s in succ[node] if s in inside)
    return seen[seen.index(node):] + [node]


# -- files -----------------------------------------------------------------------------


def _validation_problems(exc: ValidationError) -> list[Problem]:
    out = []
    for e in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(e["loc"]))
        value = e.get("input")
        shown = f" (got {value!r})" if not isinstance(value, dict | list) and e["type"] != "missing" else ""
        out.append(Problem(loc, f"{e['msg']}{shown}"))
    return out


def parse_layer_table_json(data: Any, where: str = "layer table") -> LayerTable:
    """A checked table from JSON data (``where`` names the file in messages)."""
    if not isinstance(data, dict):
        raise LayerTableError(f"{where}: expected a JSON object with format, time_unit, input and layers, "
                              f"got {type(data).__name__}")
    fmt = data.get("format", LAYER_TABLE_FORMAT)
    if fmt != LAYER_TABLE_FORMAT:
        raise LayerTableError(f"{where}: format is {fmt!r}, not {LAYER_TABLE_FORMAT!r}: is it a layer table?")
    version = data.get("version", LAYER_TABLE_VERSION)
    if isinstance(version, int) and version > LAYER_TABLE_VERSION:
        raise LayerTableError(f"{where}: layer-table version {version} is newer than this edgeplan reads "
                              f"({LAYER_TABLE_VERSION}): update edgeplan.")
    if "time_unit" not in data:
        raise LayerTableError(f"{where}: no time_unit: say whether the times are in \"ms\" or \"s\".")
    try:
        doc = LayerTableDocument.model_validate(data)
    except ValidationError as exc:
        raise LayerTableError(f"{where} is not a valid layer table:", problems=_validation_problems(exc)) from None
    return LayerTable(doc, where)


_META_KEYS = {"format", "version", "name", "time_unit", "input_name", "input_bytes", "input_shape",
              "input_dtype", "input_consumers", "source"}
_COLUMNS = {"name", "successors", "is_output", "output_bytes", "output_shape", "output_dtype", "param_bytes",
            "working_bytes", "flops"}
_TIME_PREFIXES = {"time": None, "time_ms": "ms", "time_s": "s"}


def _dims(text: str) -> list[int]:
    return [int(p) for p in text.replace(",", "x").replace(" ", "").lower().split("x") if p]


def _list(text: str) -> list[str]:
    return [p.strip() for p in text.replace(",", ";").split(";") if p.strip()]


def parse_layer_table_csv(text: str, where: str = "layer table") -> LayerTable:
    """A checked table from CSV text: ``# key: value`` lines, a header, one row per layer.

    Time columns are ``time:TYPE[:LEVEL[:BATCH]]`` (``time_ms:`` or ``time_s:`` state the
    unit in the column; ``# time_unit: ms`` states it for every column).
    """
    meta: dict[str, str] = {}
    body: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            key, sep, value = stripped.lstrip("#").partition(":")
            key = key.strip().lower()
            if sep and key in _META_KEYS:
                meta[key] = value.strip()
            continue
        if stripped:
            body.append((lineno, line))
    if not body:
        raise LayerTableError(f"{where}: no header and no rows: expected a header line (name,output_bytes,…) "
                              "and one row per layer.")
    header_line, header_text = body[0]
    header = [h.strip() for h in next(csv.reader([header_text]))]
    problems: list[Problem] = []
    time_cols: list[tuple[int, str, str, int, str | None]] = []
    plain: dict[str, int] = {}
    for ci, col in enumerate(header):
        prefix, _, rest = col.partition(":")
        if prefix in _TIME_PREFIXES and rest:
            parts = rest.split(":")
            try:
                batch = int(parts[2]) if len(parts) > 2 else 1
            except ValueError:
                problems.append(Problem(f"line {header_line}, column {col!r}", "the batch (after the second ':') "
                                        "must be an integer"))
                continue
            if len(parts) > 3:
                problems.append(Problem(f"line {header_line}, column {col!r}", "expected time:TYPE[:LEVEL[:BATCH]]"))
                continue
            time_cols.append((ci, parts[0], parts[1] if len(parts) > 1 and parts[1] else "fp32", batch,
                              _TIME_PREFIXES[prefix]))
        elif col in _COLUMNS:
            plain[col] = ci
        else:
            problems.append(Problem(f"line {header_line}, column {col!r}",
                                    f"unknown column: expected {', '.join(sorted(_COLUMNS))} or time:TYPE[:LEVEL[:BATCH]]"))
    if "name" not in plain:
        problems.append(Problem(f"line {header_line}", "no 'name' column"))
    unit = _resolve_unit(meta.get("time_unit"), [u for *_, u in time_cols], where)
    layers: list[dict[str, Any]] = []
    values: list[list[Any]] = [[] for _ in time_cols]
    for lineno, line in body[1:]:
        cells = next(csv.reader([line]))
        if len(cells) != len(header):
            problems.append(Problem(f"line {lineno}", f"has {len(cells)} cells for {len(header)} columns"))
            continue
        row: dict[str, Any] = {}
        for col, ci in plain.items():
            cell = cells[ci].strip()
            if not cell:
                continue
            try:
                row[col] = _cell(col, cell)
            except ValueError:
                problems.append(Problem(f"line {lineno}, column {col}", f"cannot read {cell!r} as a number"))
        layers.append(row)
        for k, (ci, *_rest) in enumerate(time_cols):
            cell = cells[ci].strip()
            label = row.get("name", f"line {lineno}")
            if not cell:
                problems.append(Problem(f"line {lineno} ({label}), column {header[ci]!r}",
                                        "no time: every layer needs a time in every time column"))
                continue
            try:
                values[k].append(float(cell))
            except ValueError:
                problems.append(Problem(f"line {lineno} ({label}), column {header[ci]!r}",
                                        f"cannot read {cell!r} as a time"))
    if problems:
        raise LayerTableError(f"{where} is not a valid layer table ({len(problems)} problem(s)):", problems=problems)
    data: dict[str, Any] = {"format": meta.get("format", LAYER_TABLE_FORMAT).split()[0],
                            "name": meta.get("name") or Path(where).stem or "layers", "time_unit": unit,
                            "layers": layers, "source": meta.get("source", "")}
    if "version" in meta:
        data["version"] = int(meta["version"]) if meta["version"].isdigit() else meta["version"]
    inp: dict[str, Any] = {}
    if meta.get("input_name"):
        inp["name"] = meta["input_name"]
    if meta.get("input_bytes"):
        inp["bytes"] = meta["input_bytes"]
    if meta.get("input_shape"):
        inp["shape"] = _dims(meta["input_shape"])
    if meta.get("input_dtype"):
        inp["dtype"] = meta["input_dtype"]
    if "input_consumers" in meta:
        inp["consumers"] = _list(meta["input_consumers"])
    data["input"] = inp
    data["times"] = [{"device_type": t, "level": lv, "batch": b, "values": v}
                     for (_, t, lv, b, _u), v in zip(time_cols, values, strict=True)]
    return parse_layer_table_json(data, where)


def _cell(col: str, cell: str) -> Any:
    if col == "successors":
        return [] if cell == "-" else _list(cell)
    if col == "output_shape":
        return _dims(cell)
    if col == "is_output":
        return cell.lower() in ("1", "true", "yes", "y")
    if col in ("name", "output_dtype"):
        return cell
    return float(cell) if col in ("param_bytes", "working_bytes", "flops") else int(float(cell))


def _resolve_unit(meta_unit: str | None, column_units: list[str | None], where: str) -> str:
    stated = {u for u in column_units if u is not None}
    if meta_unit is not None and meta_unit not in ("ms", "s"):
        raise LayerTableError(f"{where}: time_unit {meta_unit!r} is neither 'ms' nor 's'.")
    if len(stated) > 1:
        raise LayerTableError(f"{where}: time columns say both ms and s (time_ms: and time_s:): use one unit.")
    if meta_unit is not None and stated and stated != {meta_unit}:
        raise LayerTableError(f"{where}: '# time_unit: {meta_unit}' disagrees with the time_{stated.pop()}: "
                              "columns: the unit is ambiguous, make them agree.")
    if meta_unit is not None:
        return meta_unit
    if stated and None in column_units:
        raise LayerTableError(f"{where}: some time columns say time_{next(iter(stated))}: and others only "
                              "time:, with no '# time_unit:' line: the unit is ambiguous.")
    if stated:
        return stated.pop()
    if not column_units:
        return "ms"  # no times at all: nothing to be ambiguous about
    raise LayerTableError(f"{where}: the time columns do not say their unit: add a line '# time_unit: ms' "
                          "(or s), or name the columns time_ms:TYPE.")


def load_layer_table(path: str | Path) -> LayerTable:
    """Read and check a layer table file (``.csv`` or ``.json``)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise LayerTableError(f"layer table '{p}': expected a .csv or .json file, got {suffix or 'no suffix'!r}.")
    raw = read_bytes(p, "layer table", error=LayerTableError, suffix=suffix)
    if len(raw) > MAX_FILE_BYTES:
        raise LayerTableError(f"layer table '{p}' is {len(raw)} bytes, above the {MAX_FILE_BYTES} limit.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LayerTableError(f"layer table '{p}' is not UTF-8 text.") from None
    if suffix == ".csv":
        return parse_layer_table_csv(text, f"layer table '{p}'")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LayerTableError(f"layer table '{p}' is not valid JSON at line {exc.lineno}, column {exc.colno}: "
                              f"{exc.msg.lower()}.") from None
    return parse_layer_table_json(data, f"layer table '{p}'")


def layer_table_csv_text(doc: LayerTableDocument) -> str:
    """The CSV form of ``doc`` (what :func:`parse_layer_table_csv` reads back to the same document)."""
    out = io.StringIO()
    out.write(f"# format: {LAYER_TABLE_FORMAT}\n# version: {doc.version}\n# name: {doc.name}\n")
    out.write(f"# time_unit: {doc.time_unit}\n")
    inp = doc.input
    out.write(f"# input_name: {inp.name}\n")
    if inp.bytes is not None:
        out.write(f"# input_bytes: {inp.bytes}\n")
    if inp.shape is not None:
        out.write(f"# input_shape: {'x'.join(map(str, inp.shape))}\n# input_dtype: {inp.dtype}\n")
    if inp.consumers is not None:
        out.write(f"# input_consumers: {';'.join(inp.consumers)}\n")
    if doc.source:
        out.write(f"# source: {doc.source}\n")
    cols = ["name"] + [c for c in ("successors", "is_output", "output_bytes", "output_shape", "output_dtype",
                                   "param_bytes", "working_bytes", "flops")
                       if any(getattr(r, c) not in (None, 0.0) for r in doc.layers)]
    for t in doc.times:
        cols.append(f"time:{t.device_type}:{t.level}:{t.batch}")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(cols)
    for i, r in enumerate(doc.layers):
        cells: list[str] = []
        for c in cols:
            if c.startswith("time:"):
                continue
            v = getattr(r, c)
            if v is None:
                cells.append("")
            elif c == "successors":
                cells.append(";".join(v) if v else "-")
            elif c == "output_shape":
                cells.append("x".join(map(str, v)))
            elif isinstance(v, bool):
                cells.append("true" if v else "false")
            elif isinstance(v, int | float):
                cells.append(_fmt_num(v))
            else:
                cells.append(str(v))
        cells += [repr(float(t.values[i])) for t in doc.times]
        w.writerow(cells)
    return out.getvalue()


def write_layer_table(doc: LayerTableDocument, path: str | Path) -> Path:
    """Write ``doc`` atomically as CSV or JSON (by the suffix of ``path``)."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return atomic_write_text(p, layer_table_csv_text(doc))
    if p.suffix.lower() != ".json":
        raise LayerTableError(f"cannot write a layer table to '{p}': give a .csv or .json path.")
    return atomic_write_json(p, doc.model_dump(mode="json", exclude_none=True))
