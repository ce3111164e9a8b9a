"""Single-operator and special-case ONNX models for the model-graph and partition tests."""

from __future__ import annotations

import functools

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make(nodes, inputs, outputs, inits=(), opset: int = 17, domains=()) -> onnx.ModelProto:
    """A model; outputs declared with shape None get the shape inference finds (else rank-free)."""
    graph = helper.make_graph(list(nodes), "t", list(inputs), list(outputs), list(inits))
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in domains]
    model = helper.make_model(graph, opset_imports=imports, ir_version=8)
    if any(not o.type.tensor_type.HasField("shape") for o in model.graph.output):
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
            known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)
                     if v.type.tensor_type.HasField("shape")}
        except Exception:
            known = {}
        for o in model.graph.output:
            if not o.type.tensor_type.HasField("shape"):
                if o.name in known:
                    o.CopyFrom(known[o.name])
                else:
                    o.type.tensor_type.shape.SetInParent()
    return model


def vi(name: str, shape, dtype=TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def init(name: str, shape, seed: int = 0, scale: float = 0.1) -> onnx.TensorProto:
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def grouped_conv(n=1, c=8, m=16, hw=10, k=3, group=4) -> onnx.ModelProto:
    return make(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", group=group, pads=[1, 1, 1, 1],
                          kernel_shape=[k, k])],
        [vi("x", [n, c, hw, hw])], [vi("y", None)], [init("w", [m, c // group, k, k])],
    )


def gemm(m=4, k=32, n=16) -> onnx.ModelProto:
    return make(
        [helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="gemm", transB=1)],
        [vi("a", [m, k])], [vi("y", None)], [init("b", [n, k]), init("c", [n])],
    )


def batched_matmul(a=(2, 3, 5, 7), b=(2, 3, 7, 4)) -> onnx.ModelProto:
    return make(
        [helper.make_node("MatMul", ["a", "b"], ["y"], name="matmul")],
        [vi("a", list(a)), vi("b", list(b))], [vi("y", None)],
    )


def if_model(d: int = 32) -> onnx.ModelProto:
    """x -> Relu -> If(cond): then MatMul(r, W) (big), else Add(r, r) (small) -> Sigmoid.

    The branches read ``r`` and ``W`` from the outer scope, so a stage holding the
    If must receive ``r`` although no node input names it.
    """
    then_g = helper.make_graph(
        [helper.make_node("MatMul", ["r", "W"], ["t_out"], name="then_mm")], "then", [],
        [vi("t_out", [1, d])])
    else_g = helper.make_graph(
        [helper.make_node("Add", ["r", "r"], ["e_out"], name="else_add")], "else", [],
        [vi("e_out", [1, d])])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("MatMul", ["r", "W0"], ["r2"], name="pre_mm"),
        helper.make_node("ReduceSum", ["r2"], ["s"], name="sum", keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["cond"], name="gt"),
        helper.make_node("If", ["cond"], ["branch"], name="if", then_branch=then_g, else_branch=else_g),
        helper.make_node("Sigmoid", ["branch"], ["y"], name="sig"),
    ]
    return make(nodes, [vi("x", [1, d])], [vi("y", [1, d])],
                [init("W", [d, d], seed=1), init("W0", [d, d], seed=2),
                 numpy_helper.from_array(np.array(0.0, np.float32), "zero")])


def dynamic_conv() -> onnx.ModelProto:
    return make(
        [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["y"], name="relu")],
        [vi("x", ["batch", 3, "H", "W"])], [vi("y", ["batch", 4, "H", "W"])], [init("w", [4, 3, 3, 3])],
    )


@functools.cache
def analysed_sample(name: str):
    """Sample ``name`` at its default size, built in memory and analysed once per test session.

    Shared by the model, partition and sample tests (treat the result as read-only).
    """
    from planner_app.core.models.graph import load_model
    from planner_app.core.models.samples import build_sample_model

    return load_model(build_sample_model(name).SerializeToString(), name=name)


def loop_model(d: int = 16, trips: int = 3) -> onnx.ModelProto:
    """x -> MatMul -> Loop(trips) { v = MatMul(v, W) } -> y; W read from the outer scope."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond"),
         helper.make_node("MatMul", ["v_in", "W"], ["v_out"], name="body_mm")],
        "body",
        [vi("iter", [], TensorProto.INT64), vi("cond_in", [], TensorProto.BOOL), vi("v_in", [1, d])],
        [vi("cond_out", [], TensorProto.BOOL), vi("v_out", [1, d])],
    )
    nodes = [helper.make_node("MatMul", ["x", "W0"], ["r"], name="pre_mm"),
             helper.make_node("Loop", ["M", "true", "r"], ["y"], name="loop", body=body)]
    inits = [init("W", [d, d], seed=3, scale=0.2), init("W0", [d, d], seed=5), numpy_helper.from_array(np.array(trips, np.int64), "M"),
             numpy_helper.from_array(np.array(True), "true")]
    return make(nodes, [vi("x", [1, d])], [vi("y", [1, d])], inits)


def scan_model(d: int = 8, steps: int = 5) -> onnx.ModelProto:
    """Scan over ``steps`` rows of x: state = state + MatMul(x_t, W)."""
    body = helper.make_graph(
        [helper.make_node("MatMul", ["x_t", "W"], ["p"], name="scan_mm"),
         helper.make_node("Add", ["s_in", "p"], ["s_out"], name="scan_add")],
        "scan_body", [vi("s_in", [d]), vi("x_t", [d])], [vi("s_out", [d])],
    )
    nodes = [helper.make_node("Scan", ["s0", "x"], ["s"], name="scan", body=body, num_scan_inputs=1)]
    inits = [init("W", [d, d], seed=4), numpy_helper.from_array(np.zeros(d, np.float32), "s0")]
    return make(nodes, [vi("x", [steps, d])], [vi("s", [d])], inits)


def torch_style_flatten() -> onnx.ModelProto:
    """What PyTorch exports for ``x.view(x.size(0), -1)``: Shape/Gather/Unsqueeze/Concat feeding Reshape.

    The batch dimension is dynamic; the weight is also listed as a graph input,
    as old exporters did.
    """
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Shape", ["r"], ["shape"], name="shape"),
        helper.make_node("Constant", [], ["zero"], name="const0",
                         value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="gather", axis=0),
        helper.make_node("Constant", [], ["axes"], name="const_axes",
                         value=numpy_helper.from_array(np.array([0], np.int64))),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"], name="unsqueeze"),
        helper.make_node("Constant", [], ["minus1"], name="const_m1",
                         value=numpy_helper.from_array(np.array([-1], np.int64))),
        helper.make_node("Concat", ["batch1", "minus1"], ["new_shape"], name="concat", axis=0),
        helper.make_node("Reshape", ["r", "new_shape"], ["flat"], name="reshape"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], name="fc", transB=1),
    ]
    inputs = [vi("x", ["N", 3, 8, 8]), vi("w", [4, 3, 3, 3])]
    return make(nodes, inputs, [vi("y", ["N", 5])],
                [init("w", [4, 3, 3, 3]), init("fc_w", [5, 4 * 8 * 8]), init("fc_b", [5])], opset=13)
