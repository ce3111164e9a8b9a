"""Per-operator cost formulas: FLOPs and MACs of one ONNX node at known shapes.

Conventions (the ones papers and fvcore/ptflops use, so numbers compare):

- a multiply-accumulate (MAC) is one multiply and one add; convolutions and
  matrix products count ``FLOPs = 2 * MACs`` and leave the bias add out;
- elementwise ops count a small fixed number of FLOPs per output element
  (``Relu`` 1, ``Sigmoid`` 4, ``Softmax`` 5, ...);
- data movement (Reshape, Transpose, Concat, Gather, ...) counts 0 FLOPs and is
  still *costed* (we know its cost: none worth counting);
- an operator with no formula here counts 0 and is reported as not costed.

Example
-------
>>> from onnx import helper
>>> node = helper.make_node("MatMul", ["a", "b"], ["y"])
>>> shapes = {"a": [8, 16, 32], "b": [8, 32, 4], "y": [8, 16, 4]}
>>> node_cost(node, shapes.get, {}).macs
16384.0
"""

from __future__ import annotations

__all__ = [
    "NodeCost",
    "node_cost",
    "ZERO_COST_OPS",
    "ELEMENTWISE_FLOPS",
]

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper

ShapeOf = Callable[[str], "list[int] | None"]


@dataclass(frozen=True)
class NodeCost:
    """FLOPs and MACs of one node for one request; ``costed`` False when unknown."""

    flops: float
    macs: float
    costed: bool = True


#: pure data movement or metadata: costed, 0 FLOPs
ZERO_COST_OPS = frozenset(
    {
        "Reshape", "Transpose", "Cast", "CastLike", "Constant", "ConstantOfShape", "Shape", "Size",
        "Gather", "GatherElements", "GatherND", "Unsqueeze", "Squeeze", "Concat", "Identity",
        "Flatten", "Dropout", "Slice", "Split", "Pad", "Expand", "Tile", "Range",
        "ScatterND", "ScatterElements", "DepthToSpace", "SpaceToDepth", "NonZero",
        "OneHot", "EyeLike", "Trilu", "Optional", "OptionalGetElement", "OptionalHasElement",
        "SequenceConstruct", "SequenceAt", "SequenceEmpty", "SequenceInsert", "SequenceLength",
        "SplitToSequence", "ConcatFromSequence", "Compress", "ReverseSequence",
    }
)

#: FLOPs per output element of elementwise ops
ELEMENTWISE_FLOPS: dict[str, float] = {
    "Add": 1, "Sub": 1, "Mul": 1, "Div": 1, "Neg": 1, "Abs": 1, "Relu": 1, "Max": 1, "Min": 1,
    "Sum": 1, "Mean": 1, "Sign": 1, "Floor": 1, "Ceil": 1, "Round": 1, "Reciprocal": 1,
    "Equal": 1, "Greater": 1, "Less": 1, "GreaterOrEqual": 1, "LessOrEqual": 1, "Where": 1,
    "And": 1, "Or": 1, "Xor": 1, "Not": 1, "Mod": 1, "BitShift": 1, "IsNaN": 1, "IsInf": 1,
    "Clip": 2, "LeakyRelu": 2, "PRelu": 2, "ThresholdedRelu": 1, "Shrink": 2,
    "Pow": 1, "Sqrt": 1, "Exp": 1, "Log": 1, "Erf": 1, "Sin": 1, "Cos": 1, "Tan": 1,
    "Sigmoid": 4, "HardSigmoid": 3, "HardSwish": 4, "Tanh": 5, "Elu": 4, "Selu": 5, "Celu": 5,
    "Softplus": 3, "Softsign": 3, "Mish": 8, "Gelu": 8,
    "QuantizeLinear": 2, "DequantizeLinear": 2, "DynamicQuantizeLinear": 4,
}

_REDUCE_OPS = frozenset(
    {
        "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
        "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin",
    }
)


def _numel(shape: list[int] | None) -> float:
    if shape is None:
        return 0.0
    return float(math.prod(int(d) for d in shape))


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _conv(node: onnx.NodeProto, shape_of: ShapeOf, w_index: int, y_index: int = 0) -> NodeCost | None:
    w = shape_of(node.input[w_index]) if len(node.input) > w_index else None
    y = shape_of(node.output[y_index])
    if not w or not y:
        return None
    # W: [M, C/group, k...]; each output element needs C/group * prod(k) MACs
    macs = _numel(y) * _numel(w[1:])
    return NodeCost(2 * macs, macs)


def _conv_transpose(node: onnx.NodeProto, shape_of: ShapeOf) -> NodeCost | None:
    x = shape_of(node.input[0])
    w = shape_of(node.input[1])
    if not x or not w:
        return None
    # W: [C, M/group, k...]; each input element scatters into M/group * prod(k) outputs
    macs = _numel(x) * _numel(w[1:])
    return NodeCost(2 * macs, macs)


def _gemm(node: onnx.NodeProto, shape_of: ShapeOf) -> NodeCost | None:
    a = shape_of(node.input[0])
    y = shape_of(node.output[0])
    if not a or not y or len(a) != 2:
        return None
    k = a[0] if _attr(node, "transA", 0) else a[1]
    macs = _numel(y) * k
    return NodeCost(2 * macs, macs)


def _matmul(node: onnx.NodeProto, shape_of: ShapeOf, a_index: int = 0, y_index: int = 0) -> NodeCost | None:
    a = shape_of(node.input[a_index])
    y = shape_of(node.output[y_index])
    if a is None or y is None or len(a) == 0:
        return None
    # output already carries the broadcast batch dims; each element is a K-long dot product
    macs = _numel(y) * a[-1]
    return NodeCost(2 * macs, macs)


def _rnn(node: onnx.NodeProto, shape_of: ShapeOf, gates: int) -> NodeCost | None:
    x = shape_of(node.input[0])
    w = shape_of(node.input[1])
    if not x or not w or len(x) != 3 or len(w) != 3:
        return None
    layout = _attr(node, "layout", 0)
    seq, batch = (x[0], x[1]) if layout == 0 else (x[1], x[0])
    input_size = x[2]
    num_dir = w[0]
    hidden = w[1] // gates
    steps = seq * batch * num_dir
    macs = steps * gates * hidden * (input_size + hidden)
    # gate activations and the cell update: about 4 FLOPs per gate element plus 3 for the state
    extra = steps * hidden * (4 * gates + 3)
    return NodeCost(2 * macs + extra, macs)


def _einsum(node: onnx.NodeProto, shape_of: ShapeOf) -> NodeCost | None:
    equation = _attr(node, "equation")
    if isinstance(equation, bytes):
        equation = equation.decode()
    if not equation or "..." in equation:
        return None
    lhs = equation.replace(" ", "").split("->")[0].split(",")
    sizes: dict[str, int] = {}
    for name, letters in zip(node.input, lhs, strict=False):
        shape = shape_of(name)
        if shape is None or len(shape) != len(letters):
            return None
        for letter, dim in zip(letters, shape, strict=True):
            sizes[letter] = max(sizes.get(letter, 1), int(dim))
    macs = float(math.prod(sizes.values()))
    return NodeCost(2 * macs, macs)


def node_cost(
    node: onnx.NodeProto,
    shape_of: ShapeOf,
    constants: dict[str, np.ndarray],
    subgraph_cost: Callable[[onnx.GraphProto], NodeCost] | None = None,
) -> NodeCost:
    """FLOPs and MACs of ``node``.

    ``shape_of(tensor)`` returns a static shape or None; ``constants`` maps tensor
    names to known values (for a ``Loop`` trip count); ``subgraph_cost`` costs a
    body graph (``If``/``Loop``/``Scan``).
    """
    op = node.op_type
    if node.domain not in ("", "ai.onnx"):
        return NodeCost(0.0, 0.0, costed=False)
    result: NodeCost | None
    if op in ZERO_COST_OPS:
        return NodeCost(0.0, 0.0)
    if op in ("Conv", "ConvInteger"):
        result = _conv(node, shape_of, 1)
    elif op == "QLinearConv":
        result = _conv(node, shape_of, 3)
    elif op == "ConvTranspose":
        result = _conv_transpose(node, shape_of)
    elif op == "Gemm":
        result = _gemm(node, shape_of)
    elif op in ("MatMul", "MatMulInteger"):
        result = _matmul(node, shape_of)
    elif op == "QLinearMatMul":
        result = _matmul(node, shape_of, a_index=0)
    elif op == "Einsum":
        result = _einsum(node, shape_of)
    elif op == "LSTM":
        result = _rnn(node, shape_of, 4)
    elif op == "GRU":
        result = _rnn(node, shape_of, 3)
    elif op == "RNN":
        result = _rnn(node, shape_of, 1)
    elif op in ELEMENTWISE_FLOPS:
        n = _numel(shape_of(node.output[0]))
        result = NodeCost(ELEMENTWISE_FLOPS[op] * n, 0.0) if shape_of(node.output[0]) is not None else None
    elif op in ("MaxPool", "AveragePool", "LpPool"):
        y = shape_of(node.output[0])
        kernel = _attr(node, "kernel_shape")
        result = NodeCost(_numel(y) * float(math.prod(kernel)), 0.0) if y and kernel else None
    elif op in ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool") or op in _REDUCE_OPS:
        x = shape_of(node.input[0])
        result = NodeCost(_numel(x), 0.0) if x is not None else None
    elif op == "BatchNormalization":
        x = shape_of(node.input[0])
        result = NodeCost(2 * _numel(x), 0.0) if x is not None else None
    elif op in ("LayerNormalization", "InstanceNormalization", "GroupNormalization", "LpNormalization",
                "MeanVarianceNormalization"):
        x = shape_of(node.input[0])
        result = NodeCost(8 * _numel(x), 0.0) if x is not None else None
    elif op in ("Softmax", "LogSoftmax", "Hardmax"):
        y = shape_of(node.output[0])
        result = NodeCost(5 * _numel(y), 0.0) if y is not None else None
    elif op == "Resize" or op == "Upsample":
        y = shape_of(node.output[0])
        mode = _attr(node, "mode", b"nearest")
        per = 1.0 if mode in (b"nearest", "nearest") else 4.0 if mode in (b"linear", "linear") else 16.0
        result = NodeCost(per * _numel(y), 0.0) if y is not None else None
    elif op == "LRN":
        y = shape_of(node.output[0])
        size = _attr(node, "size", 1)
        result = NodeCost((size + 3) * _numel(y), 0.0) if y is not None else None
    elif op == "TopK":
        x = shape_of(node.input[0])
        result = NodeCost(_numel(x) * math.log2(max(2.0, _numel(x))), 0.0) if x is not None else None
    elif op in ("If", "Loop", "Scan") and subgraph_cost is not None:
        result = _control_flow(node, shape_of, constants, subgraph_cost)
    else:
        result = None
    return result if result is not None else NodeCost(0.0, 0.0, costed=False)


def _control_flow(
    node: onnx.NodeProto,
    shape_of: ShapeOf,
    constants: dict[str, np.ndarray],
    subgraph_cost: Callable[[onnx.GraphProto], NodeCost],
) -> NodeCost | None:
    if node.op_type == "If":
        branches = [subgraph_cost(_attr(node, name)) for name in ("then_branch", "else_branch")]
        # the larger branch: a plan must fit whichever branch runs
        worst = max(branches, key=lambda c: c.flops)
        return NodeCost(worst.flops, worst.macs, all(b.costed for b in branches))
    body = subgraph_cost(_attr(node, "body"))
    repeats = 1.0
    known = True
    if node.op_type == "Loop":
        # the trip count when it is a constant; else the body is costed once and the Loop is "not costed"
        known = bool(node.input) and node.input[0] in constants
        if known:
            repeats = float(np.asarray(constants[node.input[0]]).reshape(-1)[0])
    elif node.op_type == "Scan":
        n_state = len(node.input) - int(_attr(node, "num_scan_inputs", 1))
        scan_in = node.input[n_state] if len(node.input) > n_state else None
        axes = _attr(node, "scan_input_axes") or [0]
        shape = shape_of(scan_in) if scan_in else None
        if shape:
            repeats = float(shape[axes[0]])
    return NodeCost(body.flops * repeats, body.macs * repeats, body.costed and known)
