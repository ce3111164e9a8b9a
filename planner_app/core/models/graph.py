"""ONNX model -> :class:`ModelGraph`: operators, costs, tensor sizes, units and cuts.

:func:`load_model` reads an ONNX file (a path, raw bytes, or ``sample:NAME`` for
a generated sample model), checks it, fixes dynamic dimensions to values the
user gives, runs shape inference and builds:

- ``graph``: the operator DAG (networkx), one node per ONNX node, with FLOPs,
  MACs, parameter bytes and output bytes per request;
- ``units``: meaningful units of work after folding trivial nodes (Reshape,
  Transpose, Cast, shape arithmetic, ...) and runtime-fused epilogues (BatchNorm,
  activations, bias and residual adds) into their neighbours, in topological
  order; the optimizer places units, never single trivial nodes;
- ``cuts()``: every position in the unit order with the tensors that cross it
  (skip connections included) and their bytes.

Example
-------
>>> mg = load_model("sample:resnet18")                      # doctest: +SKIP
>>> round(mg.total_macs / 1e9, 2), len(mg.units)             # doctest: +SKIP
(1.81, 23)
>>> [(c.position, c.tensors) for c in mg.cheapest_cuts(2)]   # doctest: +SKIP
[(21, ['flatten']), (18, ['layer4.0.relu'])]
"""

from __future__ import annotations

__all__ = [
    "ModelError",
    "Unit",
    "Cut",
    "ModelGraph",
    "load_model",
    "parse_shape_args",
    "random_inputs",
    "outer_scope_inputs",
    "SAMPLE_PREFIX",
]

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import onnx

from planner_app.core.fileio import MAX_MODEL_BYTES, read_bytes, sha256_bytes
from planner_app.core.models.analysis import Cut, Unit, all_graphs, analyse, outer_scope_inputs
from planner_app.core.models.loading import MAX_DIM, ModelError, prepare_model, random_inputs
from planner_app.core.progress import CancelToken, ProgressCallback, report

#: ``load_model("sample:resnet18")`` builds (or reuses) a sample model
SAMPLE_PREFIX = "sample:"


@dataclass
class ModelGraph:
    """An analysed ONNX model. Build it with :func:`load_model`.

    ``model`` is the shape-inferred model with dynamic dimensions fixed to
    ``dynamic_dims`` and every node named (unnamed nodes get ``<op>_<index>``);
    ``sha256`` hashes the original file bytes. ``graph`` is the node-level DAG
    (node attributes ``op_type``, ``domain``, ``flops``, ``macs``, ``costed``,
    ``param_bytes``, ``output_bytes``; edge attributes ``tensors``, ``bytes``);
    ``unit_graph`` the unit-level DAG with the same edge attributes. Sizes are
    bytes per request at the input shapes used.
    """

    name: str
    path: Path | None
    sha256: str
    model: onnx.ModelProto
    opsets: dict[str, int]
    inputs: dict[str, list[int]]
    outputs: dict[str, list[int]]
    input_dtypes: dict[str, np.dtype]
    dynamic_dims: dict[str, int]
    graph: nx.DiGraph
    units: list[Unit]
    unit_graph: nx.DiGraph
    tensor_bytes: dict[str, int]
    tensor_producer: dict[str, int]
    node_to_unit: dict[str, int]
    not_costed: dict[str, int]
    total_flops: float
    total_macs: float
    total_param_bytes: int
    model_bytes: int
    total_params: int = 0
    #: activation tensor -> unit ids that consume it (graph inputs included)
    tensor_consumers: dict[str, list[int]] = field(default_factory=dict)
    #: tensor -> static shape, for every activation tensor
    tensor_shapes: dict[str, list[int]] = field(default_factory=dict)
    #: tensor -> ONNX element type (``onnx.TensorProto.FLOAT`` ...), activations and weights
    tensor_elem_types: dict[str, int] = field(default_factory=dict)
    #: tensors whose shape no inference could find (counted as 0 bytes)
    unknown_shapes: list[str] = field(default_factory=list)
    #: notes about the analysis a user should know (shapes found by running, ...)
    warnings: list[str] = field(default_factory=list)
    _cuts: list[Cut] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """How messages name this model: its path, or its name."""
        return str(self.path) if self.path else self.name

    @property
    def graph_outputs(self) -> list[str]:
        return list(self.outputs)

    def cuts(self) -> list[Cut]:
        """Every cut position ``0 .. len(units) - 2``, in order (linear sweep, cached)."""
        if self._cuts is not None:
            return self._cuts
        n = len(self.units)
        starts: list[list[str]] = [[] for _ in range(n)]
        ends: list[list[str]] = [[] for _ in range(n)]
        # only tensors read outside their unit can cross; internal ones are most tensors
        for tensor, consumers in self.tensor_consumers.items():
            producer = self.tensor_producer.get(tensor)
            if producer is None:  # a graph input: the source feeds it directly
                continue
            last = consumers[-1]  # sorted
            if last > producer:
                starts[producer].append(tensor)
                ends[last].append(tensor)
        active: dict[str, None] = {}
        total = 0
        cuts: list[Cut] = []
        for pos in range(n - 1):
            for t in ends[pos]:
                active.pop(t, None)
                total -= self.tensor_bytes.get(t, 0)
            for t in starts[pos]:
                active[t] = None
                total += self.tensor_bytes.get(t, 0)
            cuts.append(Cut(pos, list(active), total))
        self._cuts = cuts
        return cuts

    def cheapest_cuts(self, k: int = 10) -> list[Cut]:
        """The ``k`` cuts carrying the fewest bytes (ties: earlier first)."""
        return sorted(self.cuts(), key=lambda c: (c.bytes, c.position))[:k]

    def unit_of_tensor(self, tensor: str) -> int | None:
        """The unit producing ``tensor`` (None for graph inputs and unknown names)."""
        return self.tensor_producer.get(tensor)

    def summary(self) -> dict[str, Any]:
        """A plain dict for the CLI, the GUI and JSON output."""
        ops: dict[str, int] = {}
        for _, data in self.graph.nodes(data=True):
            ops[data["op_type"]] = ops.get(data["op_type"], 0) + 1
        return {
            "name": self.name,
            "path": str(self.path) if self.path else None,
            "sha256": self.sha256,
            "opsets": dict(self.opsets),
            "inputs": {k: list(v) for k, v in self.inputs.items()},
            "input_dtypes": {k: str(v) for k, v in self.input_dtypes.items()},
            "outputs": {k: list(v) for k, v in self.outputs.items()},
            "dynamic_dims": dict(self.dynamic_dims),
            "nodes": self.graph.number_of_nodes(),
            "units": len(self.units),
            "ops_by_count": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
            "flops": self.total_flops,
            "macs": self.total_macs,
            "params": self.total_params,
            "param_bytes": self.total_param_bytes,
            "model_bytes": self.model_bytes,
            "input_bytes": sum(self.tensor_bytes.get(n, 0) for n in self.inputs),
            "output_bytes": sum(self.tensor_bytes.get(n, 0) for n in self.outputs),
            "not_costed": dict(self.not_costed),
            "unknown_shapes": list(self.unknown_shapes),
            "warnings": list(self.warnings),
            "cheapest_cuts": [
                {"position": c.position, "after_unit": self.units[c.position].name, "bytes": c.bytes,
                 "tensors": list(c.tensors)}
                for c in self.cheapest_cuts(10)
            ],
        }


_SHAPE_ARG = re.compile(r"^\s*([^=\s]+)\s*=\s*(\d+(?:\s*[xX,]\s*\d+)*)?\s*$")


def parse_shape_args(values: list[str] | None) -> dict[str, list[int]]:
    """``["input=1x3x224x224"]`` -> ``{"input": [1, 3, 224, 224]}``.

    ``NAME=`` (nothing after ``=``) means a scalar input. Bad text raises
    :class:`ModelError` quoting the value and the expected form.

    >>> parse_shape_args(["x=1x3x8x8", "ids=1,128"])
    {'x': [1, 3, 8, 8], 'ids': [1, 128]}
    """
    shapes: dict[str, list[int]] = {}
    for value in values or []:
        m = _SHAPE_ARG.match(value)
        if not m:
            raise ModelError(
                f"--shape '{value}' is not of the form NAME=DIMS, for example --shape input=1x3x224x224."
            )
        name, dims = m.group(1), m.group(2)
        parsed = [int(d) for d in re.split(r"\s*[xX,]\s*", dims)] if dims else []
        if any(d <= 0 for d in parsed):
            raise ModelError(f"--shape '{value}': every dimension must be a positive integer.")
        if any(d > MAX_DIM for d in parsed):
            raise ModelError(f"--shape '{value}': a dimension is above {MAX_DIM:,}, the largest a tensor axis "
                             "can have; give the real size.")
        if name in shapes and shapes[name] != parsed:
            raise ModelError(f"--shape gives input '{name}' twice with different dimensions.")
        shapes[name] = parsed
    return shapes


def _read_source(source: str | Path | bytes, name: str | None) -> tuple[bytes, Path | None, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None, name or "model"
    text = str(source)
    if text.startswith(SAMPLE_PREFIX):
        from planner_app.core.models.samples import sample_model_path  # samples import this module

        sample = text[len(SAMPLE_PREFIX):]
        path = sample_model_path(sample)
        return read_bytes(path, "sample model", error=ModelError, suffix=".onnx",
                          max_bytes=MAX_MODEL_BYTES), path, name or sample
    path = Path(text)
    data = read_bytes(path, "model", error=ModelError, suffix=".onnx",
                      hint="check the path (or use sample:NAME for a sample)", max_bytes=MAX_MODEL_BYTES)
    return data, path, name or path.stem


def load_model(
    source: str | Path | bytes,
    shapes: dict[str, list[int]] | None = None,
    name: str | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ModelGraph:
    """Load, check and analyse an ONNX model.

    Parameters
    ----------
    source
        A path to an ``.onnx`` file (external data files are read from its
        folder), the file's bytes, or ``"sample:NAME"`` for a sample model.
    shapes
        Input name -> dimensions; required for every dynamic dimension.
    name
        Display name (default: the file stem).
    progress, cancel
        Progress callback ``(fraction, message)`` and cancel token, checked
        between the read, check/inference and analysis steps.

    Raises
    ------
    ModelError
        Not an ONNX file, truncated, failing the ONNX checker, missing external
        data, an opset onnxruntime cannot run, a dynamic dimension without a
        value, no nodes. The message names the model and the fix.
    """
    report(progress, 0.0, "reading the model")
    data, path, display = _read_source(source, name)
    label = str(path) if path else f"model '{display}' (bytes)"
    if cancel is not None:
        cancel.raise_if_cancelled()
    report(progress, 0.2, "checking and inferring shapes")
    prepared = prepare_model(data, path, label, shapes or {})
    if cancel is not None:
        cancel.raise_if_cancelled()
    report(progress, 0.6, "costing operators and folding units")
    result = analyse(prepared.model, prepared.tensor_shapes, prepared.tensor_dtypes, label)
    report(progress, 1.0, f"{len(result.units)} units")
    # weights inside control flow (If branches, Loop bodies) are parameters too
    total_params = sum(math.prod(init.dims) for g in all_graphs(prepared.model.graph) for init in g.initializer)
    return ModelGraph(
        name=display,
        path=path,
        sha256=sha256_bytes(data),
        model=prepared.model,
        opsets=prepared.opsets,
        inputs=prepared.inputs,
        outputs={o: result.tensor_shapes.get(o, []) for o in result.graph_outputs},
        input_dtypes=prepared.input_dtypes,
        dynamic_dims=prepared.dynamic_dims,
        graph=result.graph,
        units=result.units,
        unit_graph=result.unit_graph,
        tensor_bytes=result.tensor_bytes,
        tensor_producer=result.tensor_producer,
        node_to_unit=result.node_to_unit,
        not_costed=result.not_costed,
        total_flops=sum(u.flops for u in result.units),
        total_macs=sum(u.macs for u in result.units),
        total_param_bytes=result.total_param_bytes,
        model_bytes=len(data) + prepared.external_bytes,
        total_params=total_params,
        tensor_consumers=result.tensor_consumers,
        tensor_shapes=result.tensor_shapes,
        tensor_elem_types=prepared.tensor_dtypes,
        unknown_shapes=result.unknown_shapes,
        warnings=prepared.warnings + result.warnings,
    )

