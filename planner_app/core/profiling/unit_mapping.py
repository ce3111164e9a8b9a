"""Map the nodes of a transformed graph back to the units of the original model.

Quantizers, the fp16 converter and onnxruntime's graph optimizer rename, fuse and
insert nodes (``conv1_token_1``, ``r1_nchwc``, ``InsertedPrecisionFreeCast_w1``,
``x_QuantizeLinear``). Their names and output tensors still carry the original
node or tensor names as ``_``-separated pieces, so a node is matched, in order, by:

1. its name being an original node name;
2. an output tensor being an original tensor;
3. the longest run of ``_``-separated pieces of its name or outputs that is an
   original node or tensor name;
4. data flow: the unit of the node producing one of its inputs, else of a consumer
   (inserted casts, quantize/dequantize of inputs and weights, layout reorders).

Example
-------
>>> _pieces("InsertedPrecisionFreeCast_r1_nchwc")[:2]
['InsertedPrecisionFreeCast_r1_nchwc', 'InsertedPrecisionFreeCast_r1']
"""

from __future__ import annotations

__all__ = ["UnitMapper"]

from typing import TYPE_CHECKING

import onnx

if TYPE_CHECKING:
    from planner_app.core.models.graph import ModelGraph


def _pieces(name: str) -> list[str]:
    """Every contiguous run of ``_``-separated tokens, longest first."""
    tokens = name.split("_")
    out = []
    for length in range(len(tokens), 0, -1):
        for start in range(0, len(tokens) - length + 1):
            out.append("_".join(tokens[start:start + length]))
    return out


class UnitMapper:
    """Resolves node names of any transformed version of a model to unit ids."""

    def __init__(self, mg: ModelGraph) -> None:
        self.node_unit: dict[str, int] = dict(mg.node_to_unit)
        self.tensor_unit: dict[str, int] = {}
        for node in mg.model.graph.node:
            unit = self.node_unit.get(node.name)
            if unit is None:
                continue
            for out in node.output:
                if out:
                    self.tensor_unit[out] = unit

    def lookup(self, name: str) -> int | None:
        """The unit a node or tensor name ties to by name alone (steps 1-3), or None."""
        if name in self.node_unit:
            return self.node_unit[name]
        if name in self.tensor_unit:
            return self.tensor_unit[name]
        for piece in _pieces(name)[1:]:
            if piece in self.node_unit:
                return self.node_unit[piece]
            if piece in self.tensor_unit:
                return self.tensor_unit[piece]
        return None

    def map_graph(self, graph: onnx.GraphProto) -> dict[str, int | None]:
        """Node name -> unit id (None when nothing ties it to a unit) for every node."""
        result: dict[str, int | None] = {}
        nodes = list(graph.node)
        for node in nodes:
            unit = self.node_unit.get(node.name)
            if unit is None:
                unit = next((self.tensor_unit[o] for o in node.output if o in self.tensor_unit), None)
            if unit is None:
                unit = self.lookup(node.name)
            if unit is None:
                unit = next((u for o in node.output if o and (u := self.lookup(o)) is not None), None)
            result[node.name] = unit
        # data flow for what names could not tie: producers first, then consumers
        producer = {o: n.name for n in nodes for o in n.output if o}
        consumers: dict[str, list[str]] = {}
        for n in nodes:
            for i in n.input:
                consumers.setdefault(i, []).append(n.name)
        for _ in range(len(nodes)):
            changed = False
            for n in nodes:
                if result[n.name] is not None:
                    continue
                unit = next(
                    (result[producer[i]] for i in n.input if i in producer and result.get(producer[i]) is not None),
                    None,
                )
                if unit is None:
                    unit = next(
                        (result[c] for o in n.output for c in consumers.get(o, []) if result.get(c) is not None),
                        None,
                    )
                if unit is not None:
                    result[n.name] = unit
                    changed = True
            if not changed:
                break
        return result

    def param_bytes_per_unit(self, model: onnx.ModelProto, n_units: int) -> list[int]:
        """Bytes of initializers each unit consumes in ``model`` (shared ones split evenly)."""
        mapping = self.map_graph(model.graph)
        inits = {i.name: i for i in model.graph.initializer}
        users: dict[str, list[int]] = {}
        for node in model.graph.node:
            unit = mapping.get(node.name)
            if unit is None:
                continue
            for i in node.input:
                if i in inits:
                    users.setdefault(i, []).append(unit)
        out = [0.0] * n_units
        for name, units in users.items():
            size = _tensor_bytes(inits[name])
            for u in units:
                out[u] += size / len(units)
        return [int(round(v)) for v in out]


def _tensor_bytes(t: onnx.TensorProto) -> int:
    if t.HasField("raw_data"):
        return len(t.raw_data)
    n = 1
    for d in t.dims:
        n *= d
    size = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize if t.data_type else 4
    return int(n * size)
