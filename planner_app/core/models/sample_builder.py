"""A tiny ONNX graph builder for the sample models (no torch needed).

Weights are drawn from a seeded ``numpy.random.RandomState`` with He-like
scales, so the same parameters always give byte-identical models and
activations stay in a sane range (quantization fidelity is measured on them).
"""

from __future__ import annotations

__all__ = ["GraphBuilder"]

from typing import Any, Literal, overload

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class GraphBuilder:
    """Accumulates nodes and initializers; every tensor and node gets a readable name."""

    def __init__(self, name: str, seed: int = 0) -> None:
        self.name = name
        self.rng = np.random.RandomState(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._count: dict[str, int] = {}

    def unique(self, base: str) -> str:
        k = self._count.get(base, 0)
        self._count[base] = k + 1
        return base if k == 0 else f"{base}_{k}"

    # -- tensors -------------------------------------------------------------
    def input(self, name: str, shape: list[int], dtype: int = TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, name: str, dtype: int = TensorProto.FLOAT, shape: list[int] | None = None) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, dtype, shape))

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.unique(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, base: str, shape: list[int], fan_in: int, gain: float = 2.0) -> str:
        std = np.sqrt(gain / max(1, fan_in))
        return self.const(base, (self.rng.standard_normal(shape) * std).astype(np.float32))

    def ints(self, base: str, values: list[int]) -> str:
        return self.const(base, np.asarray(values, dtype=np.int64))

    def scalar(self, base: str, value: float) -> str:
        return self.const(base, np.asarray(value, dtype=np.float32))

    # -- nodes ---------------------------------------------------------------
    @overload
    def op(self, op_type: str, inputs: list[str], name: str | None = None, n_out: Literal[1] = 1,
           **attrs: Any) -> str: ...
    @overload
    def op(self, op_type: str, inputs: list[str], name: str | None = None, *, n_out: int,
           **attrs: Any) -> list[str]: ...
    def op(self, op_type: str, inputs: list[str], name: str | None = None, n_out: int = 1,
           **attrs: Any) -> str | list[str]:
        node_name = self.unique(name or op_type.lower())
        outs = [node_name if i == 0 else f"{node_name}:{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=node_name, **attrs))
        return outs[0] if n_out == 1 else outs

    # -- common blocks -------------------------------------------------------
    def conv(self, x: str, c_in: int, c_out: int, k: int, stride: int = 1, group: int = 1,
             name: str = "conv", bias: bool = False, gain: float = 2.0) -> str:
        w = self.weight(f"{name}.weight", [c_out, c_in // group, k, k], fan_in=(c_in // group) * k * k, gain=gain)
        ins = [x, w]
        if bias:
            ins.append(self.const(f"{name}.bias", np.zeros(c_out, np.float32)))
        pad = k // 2
        return self.op("Conv", ins, name=name, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[pad, pad, pad, pad], group=group)

    def batchnorm(self, x: str, c: int, name: str = "bn", gamma: float = 1.0) -> str:
        scale = (gamma * (1.0 + 0.1 * self.rng.standard_normal(c))).astype(np.float32)
        shift = (0.05 * self.rng.standard_normal(c)).astype(np.float32)
        mean = (0.05 * self.rng.standard_normal(c)).astype(np.float32)
        var = (1.0 + 0.1 * np.abs(self.rng.standard_normal(c))).astype(np.float32)
        ins = [x] + [self.const(f"{name}.{p}", v) for p, v in
                     (("weight", scale), ("bias", shift), ("running_mean", mean), ("running_var", var))]
        return self.op("BatchNormalization", ins, name=name, epsilon=1e-5)

    def linear(self, x: str, d_in: int, d_out: int, name: str = "linear", gain: float = 1.0) -> str:
        """MatMul + bias Add (how exporters write a Linear on 3-D input)."""
        w = self.weight(f"{name}.weight", [d_in, d_out], fan_in=d_in, gain=gain)
        y = self.op("MatMul", [x, w], name=f"{name}.matmul")
        b = self.const(f"{name}.bias", (0.02 * self.rng.standard_normal(d_out)).astype(np.float32))
        return self.op("Add", [y, b], name=f"{name}.add")

    def gemm(self, x: str, d_in: int, d_out: int, name: str = "fc", gain: float = 1.0) -> str:
        w = self.weight(f"{name}.weight", [d_out, d_in], fan_in=d_in, gain=gain)
        b = self.const(f"{name}.bias", np.zeros(d_out, np.float32))
        return self.op("Gemm", [x, w, b], name=name, transB=1)

    def model(self, opset: int = 17, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        ir = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=max(ir, 8),
            producer_name="planner_app.samples", doc_string=doc,
        )
        return model
