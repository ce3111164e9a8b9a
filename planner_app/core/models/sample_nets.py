"""Builders of the non-CNN-classifier samples: transformer encoder, YOLO-style detector, LSTM KWS.

See :mod:`planner_app.core.models.samples` for the registry and the cache.
"""

from __future__ import annotations

__all__ = ["build_transformer_encoder", "build_yolo_detector", "build_lstm_kws"]

import numpy as np
import onnx

from planner_app.core.models.sample_builder import GraphBuilder


def _layer_norm(b: GraphBuilder, x: str, d: int, name: str, opset: int) -> str:
    gamma = b.const(f"{name}.weight", np.ones(d, np.float32))
    beta = b.const(f"{name}.bias", np.zeros(d, np.float32))
    if opset >= 17:
        return b.op("LayerNormalization", [x, gamma, beta], name=name, axis=-1, epsilon=1e-5)
    # decomposed, as exporters write it before opset 17
    def mean(v: str, nm: str) -> str:
        return b.op("ReduceMean", [v], name=nm, axes=[-1], keepdims=1)

    mu = mean(x, f"{name}.mean")
    xc = b.op("Sub", [x, mu], name=f"{name}.sub")
    var = mean(b.op("Mul", [xc, xc], name=f"{name}.sq"), f"{name}.var")
    std = b.op("Sqrt", [b.op("Add", [var, b.scalar(f"{name}.eps", 1e-5)], name=f"{name}.addeps")],
               name=f"{name}.sqrt")
    y = b.op("Div", [xc, std], name=f"{name}.div")
    y = b.op("Mul", [y, gamma], name=f"{name}.scale")
    return b.op("Add", [y, beta], name=f"{name}.shift")


def build_transformer_encoder(layers: int = 4, d_model: int = 256, heads: int = 4, ffn: int = 1024,
                              seq_len: int = 128, seed: int = 0, opset: int = 17) -> onnx.ModelProto:
    """Post-norm transformer encoder: MatMul attention with Softmax, LayerNorm, GELU via Erf."""
    if d_model % heads:
        raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
    b = GraphBuilder("transformer_encoder", seed)
    dh = d_model // heads
    x = b.input("embeddings", [1, seq_len, d_model])
    split_shape = b.ints("shape.split_heads", [1, seq_len, heads, dh])
    merge_shape = b.ints("shape.merge_heads", [1, seq_len, d_model])
    inv_sqrt_dh = b.scalar("attn.scale", 1.0 / np.sqrt(dh))
    sqrt2 = b.scalar("gelu.sqrt2", float(np.sqrt(2.0)))
    one = b.scalar("gelu.one", 1.0)
    half = b.scalar("gelu.half", 0.5)
    for layer in range(layers):
        p = f"layer{layer}"

        def heads_of(v: str, perm: list[int], nm: str) -> str:
            r = b.op("Reshape", [v, split_shape], name=f"{nm}.reshape")
            return b.op("Transpose", [r], name=f"{nm}.transpose", perm=perm)

        q = heads_of(b.linear(x, d_model, d_model, f"{p}.attn.q"), [0, 2, 1, 3], f"{p}.attn.q")
        k = heads_of(b.linear(x, d_model, d_model, f"{p}.attn.k"), [0, 2, 3, 1], f"{p}.attn.k")
        v = heads_of(b.linear(x, d_model, d_model, f"{p}.attn.v"), [0, 2, 1, 3], f"{p}.attn.v")
        s = b.op("MatMul", [q, k], name=f"{p}.attn.scores")
        s = b.op("Mul", [s, inv_sqrt_dh], name=f"{p}.attn.scale")
        a = b.op("Softmax", [s], name=f"{p}.attn.softmax", axis=-1)
        c = b.op("MatMul", [a, v], name=f"{p}.attn.context")
        c = b.op("Transpose", [c], name=f"{p}.attn.merge.transpose", perm=[0, 2, 1, 3])
        c = b.op("Reshape", [c, merge_shape], name=f"{p}.attn.merge.reshape")
        o = b.linear(c, d_model, d_model, f"{p}.attn.out")
        x = _layer_norm(b, b.op("Add", [x, o], name=f"{p}.attn.residual"), d_model, f"{p}.norm1", opset)
        h = b.linear(x, d_model, ffn, f"{p}.ffn.up", gain=2.0)
        e = b.op("Erf", [b.op("Div", [h, sqrt2], name=f"{p}.ffn.gelu.div")], name=f"{p}.ffn.gelu.erf")
        e = b.op("Add", [e, one], name=f"{p}.ffn.gelu.add")
        h = b.op("Mul", [b.op("Mul", [h, e], name=f"{p}.ffn.gelu.mul"), half], name=f"{p}.ffn.gelu.half")
        h = b.linear(h, ffn, d_model, f"{p}.ffn.down")
        x = _layer_norm(b, b.op("Add", [x, h], name=f"{p}.ffn.residual"), d_model, f"{p}.norm2", opset)
    b.nodes[-1].output[0] = "last_hidden_state"
    b.output("last_hidden_state", shape=[1, seq_len, d_model])
    return b.model(opset, "Transformer encoder (planner_app sample)")


def build_yolo_detector(image_size: int = 320, width: int = 16, num_classes: int = 80, seed: int = 0,
                        opset: int = 17) -> onnx.ModelProto:
    """YOLOv5-style detector: SiLU conv backbone with bottlenecks, SPPF, FPN+PAN neck, 3 heads."""
    if image_size % 32:
        raise ValueError(f"image_size {image_size} must be a multiple of 32")
    b = GraphBuilder("yolo_detector", seed)
    x = b.input("images", [1, 3, image_size, image_size])
    scales = b.const("resize.scales", np.array([1, 1, 2, 2], np.float32))
    roi = "" if opset >= 13 else b.const("resize.roi", np.zeros(0, np.float32))

    def cbs(v: str, cin: int, cout: int, k: int, s: int, name: str) -> str:
        y = b.conv(v, cin, cout, k, s, name=f"{name}.conv")
        y = b.batchnorm(y, cout, f"{name}.bn")
        sig = b.op("Sigmoid", [y], name=f"{name}.sigmoid")
        return b.op("Mul", [y, sig], name=f"{name}.silu")

    def bottlenecks(v: str, c: int, n: int, name: str) -> str:
        for i in range(n):
            h = cbs(v, c, c, 1, 1, f"{name}.{i}.cv1")
            h = cbs(h, c, c, 3, 1, f"{name}.{i}.cv2")
            v = b.op("Add", [v, h], name=f"{name}.{i}.add")
        return v

    def up(v: str, name: str) -> str:
        return b.op("Resize", [v, roi, scales], name=name, mode="nearest")

    w = width
    y = cbs(x, 3, w, 3, 2, "backbone.0")                   # /2
    y = cbs(y, w, 2 * w, 3, 2, "backbone.1")               # /4
    y = bottlenecks(y, 2 * w, 1, "backbone.2")
    y = cbs(y, 2 * w, 4 * w, 3, 2, "backbone.3")           # /8
    p3 = bottlenecks(y, 4 * w, 2, "backbone.4")
    y = cbs(p3, 4 * w, 8 * w, 3, 2, "backbone.5")          # /16
    p4 = bottlenecks(y, 8 * w, 3, "backbone.6")
    y = cbs(p4, 8 * w, 16 * w, 3, 2, "backbone.7")         # /32
    y = bottlenecks(y, 16 * w, 1, "backbone.8")
    # SPPF: three chained 5x5 max pools concatenated
    s = cbs(y, 16 * w, 8 * w, 1, 1, "sppf.cv1")
    m1 = b.op("MaxPool", [s], name="sppf.pool1", kernel_shape=[5, 5], pads=[2, 2, 2, 2], strides=[1, 1])
    m2 = b.op("MaxPool", [m1], name="sppf.pool2", kernel_shape=[5, 5], pads=[2, 2, 2, 2], strides=[1, 1])
    m3 = b.op("MaxPool", [m2], name="sppf.pool3", kernel_shape=[5, 5], pads=[2, 2, 2, 2], strides=[1, 1])
    p5 = cbs(b.op("Concat", [s, m1, m2, m3], name="sppf.concat", axis=1), 32 * w, 16 * w, 1, 1, "sppf.cv2")
    # FPN (top-down)
    h5 = cbs(p5, 16 * w, 8 * w, 1, 1, "neck.lateral5")
    n4 = b.op("Concat", [up(h5, "neck.up5"), p4], name="neck.concat4", axis=1)
    n4 = bottlenecks(cbs(n4, 16 * w, 8 * w, 1, 1, "neck.c4"), 8 * w, 1, "neck.c4b")
    h4 = cbs(n4, 8 * w, 4 * w, 1, 1, "neck.lateral4")
    n3 = b.op("Concat", [up(h4, "neck.up4"), p3], name="neck.concat3", axis=1)
    out3 = bottlenecks(cbs(n3, 8 * w, 4 * w, 1, 1, "neck.c3"), 4 * w, 1, "neck.c3b")
    # PAN (bottom-up)
    d3 = cbs(out3, 4 * w, 4 * w, 3, 2, "neck.down3")
    out4 = cbs(b.op("Concat", [d3, h4], name="neck.pan4", axis=1), 8 * w, 8 * w, 3, 1, "neck.p4")
    d4 = cbs(out4, 8 * w, 8 * w, 3, 2, "neck.down4")
    out5 = cbs(b.op("Concat", [d4, h5], name="neck.pan5", axis=1), 16 * w, 16 * w, 3, 1, "neck.p5")
    per_anchor = 5 + num_classes
    for level, (feat, c) in enumerate(((out3, 4 * w), (out4, 8 * w), (out5, 16 * w)), start=3):
        head = b.conv(feat, c, 3 * per_anchor, 1, name=f"head.p{level}", bias=True, gain=1.0)
        b.op("Sigmoid", [head], name=f"head.p{level}.sigmoid")
        b.nodes[-1].output[0] = f"det_p{level}"
        g = image_size // (2 ** level)
        b.output(f"det_p{level}", shape=[1, 3 * per_anchor, g, g])
    return b.model(opset, "YOLO-style detector (planner_app sample)")


def build_lstm_kws(frames: int = 98, features: int = 40, hidden: int = 128, layers: int = 2,
                   num_classes: int = 12, seed: int = 0, opset: int = 17) -> onnx.ModelProto:
    """Keyword spotter: MFCC frames -> stacked ONNX LSTM ops -> Gemm classifier."""
    b = GraphBuilder("lstm_kws", seed)
    x = b.input("mfcc", [1, frames, features])
    y = b.op("Transpose", [x], name="to_time_major", perm=[1, 0, 2])   # [T, 1, F]
    size_in = features
    last_h = ""
    for layer in range(layers):
        name = f"lstm{layer}"
        w = b.weight(f"{name}.W", [1, 4 * hidden, size_in], fan_in=hidden, gain=1.0)
        r = b.weight(f"{name}.R", [1, 4 * hidden, hidden], fan_in=hidden, gain=1.0)
        bias = b.const(f"{name}.B", np.zeros((1, 8 * hidden), np.float32))
        seq, last_h, _ = b.op("LSTM", [y, w, r, bias], name=name, n_out=3, hidden_size=hidden)
        if layer == layers - 1:
            break  # the last layer's Y goes unused: only its final hidden state feeds the classifier
        # Y is [T, num_directions, batch, hidden]: drop the direction axis for the next layer
        if opset >= 13:
            y = b.op("Squeeze", [seq, b.ints(f"{name}.squeeze_axes", [1])], name=f"{name}.squeeze")
        else:
            y = b.op("Squeeze", [seq], name=f"{name}.squeeze", axes=[1])
        size_in = hidden
    h = b.op("Reshape", [last_h, b.ints("classifier.shape", [1, hidden])], name="classifier.flatten")
    h = b.op("Relu", [b.gemm(h, hidden, 64, name="classifier.fc1", gain=2.0)], name="classifier.relu")
    b.gemm(h, 64, num_classes, name="classifier.fc2")
    b.nodes[-1].output[0] = "logits"
    b.output("logits", shape=[1, num_classes])
    return b.model(opset, "LSTM keyword spotter (planner_app sample)")
