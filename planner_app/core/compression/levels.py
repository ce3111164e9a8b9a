"""Compression levels as transforms of a whole model or of one stage part.

A level turns an fp32 ONNX model into a smaller or faster one:

========================  ==============================================================
``fp32``                  the model as given
``fp16``                  weights and activations in half precision (input/output types kept)
``int8-dynamic``          onnxruntime ``quantize_dynamic``: int8 weights, activations
                          quantized at run time
``int8-static``           QDQ, per-channel, calibrated on user samples (or synthetic inputs,
                          and the result says so)
``pruned-50``/``-75``     magnitude pruning: the smallest 50 / 75 % of each weight tensor set
                          to zero. The model stays dense: what shrinks is the size when
                          stored compressed; any speed change is measured, never assumed
``variant:NAME``          a model the user supplies (e.g. a distilled student) with its own file
========================  ==============================================================

A level that does not apply (nothing to quantize, an operator onnxruntime cannot run
at that precision) comes back ``applicable=False`` with the reason, never faked.

Example
-------
>>> cm = compress(model, "fp16")                              # doctest: +SKIP
>>> cm.applicable, cm.size_bytes < len(model.SerializeToString())  # doctest: +SKIP
(True, True)
"""

from __future__ import annotations

__all__ = [
    "LEVELS",
    "CompressionError",
    "CompressedModel",
    "SampleSet",
    "compress",
    "load_samples",
    "synthetic_samples",
    "part_samples",
    "input_specs",
    "open_session",
    "level_precision",
    "is_known_level",
    "stored_size_bytes",
    "measure_cut_codecs",
    "encode_tensor",
    "decode_tensor",
]

import contextlib
import logging
import tempfile
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from planner_app.core.compression.calibration import (
    CompressionError,
    SampleSet,
    input_specs,
    load_samples,
    open_session,
    part_samples,
    synthetic_samples,
)
from planner_app.core.compression.cut_codecs import decode_tensor, encode_tensor, measure_cut_codecs

LEVELS = ("fp32", "fp16", "int8-dynamic", "int8-static", "pruned-50", "pruned-75")

#: operators whose weights the int8 quantizers rewrite (ORT's registry, the ones that matter here)
_QUANTIZABLE_OPS = {"Conv", "MatMul", "Gemm", "Attention", "LSTM", "GRU", "ConvTranspose"}
_PRUNE_FRACTION = {"pruned-50": 0.5, "pruned-75": 0.75}


def is_known_level(level: str) -> bool:
    """True for the built-in levels and ``variant:NAME``."""
    return level in LEVELS or (level.startswith("variant:") and len(level) > len("variant:"))


def level_precision(level: str) -> str:
    """The arithmetic precision a level needs on a device: ``fp32``, ``fp16`` or ``int8``."""
    if level == "fp16":
        return "fp16"
    if level.startswith("int8"):
        return "int8"
    return "fp32"


# ---------------------------------------------------------------------------- levels


@dataclass
class CompressedModel:
    """The result of :func:`compress`; ``model`` is None when the level does not apply."""

    level: str
    applicable: bool
    reason: str
    model: onnx.ModelProto | None
    size_bytes: int = 0
    stored_size_bytes: int = 0
    calibration: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def stored_size_bytes(data: bytes) -> int:
    """Size of the serialized model once deflate-compressed (what pruning shrinks)."""
    return len(zlib.compress(data, 1))


def _quantizable_nodes(model: onnx.ModelProto) -> list[str]:
    inits = {i.name for i in model.graph.initializer}
    return [
        n.name or n.op_type for n in model.graph.node
        if n.op_type in _QUANTIZABLE_OPS and any(i in inits for i in n.input[1:])
    ]


def _count_ops(model: onnx.ModelProto, ops: set[str]) -> int:
    return sum(1 for n in model.graph.node if n.op_type in ops)


def _fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    from onnxconverter_common import float16

    with warnings.catch_warnings():
        # it warns for every weight below fp16's range; the fidelity measurement shows the effect
        warnings.simplefilter("ignore", UserWarning)
        return float16.convert_float_to_float16(model, keep_io_types=True)


def _int8_dynamic(model: onnx.ModelProto, workdir: Path) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = workdir / "dyn.onnx"
    src = workdir / "src_dyn.onnx"
    # onnxruntime's quantizers mutate a ModelProto they are given: hand them a file instead
    onnx.save(model, str(src))
    # ConvInteger has CPU kernels for uint8 weights only, so Conv models need QUInt8 weights
    weight_type = QuantType.QUInt8 if _count_ops(model, {"Conv"}) else QuantType.QInt8
    with _quiet_quantizer():
        quantize_dynamic(src, out, weight_type=weight_type)
    return onnx.load(str(out))


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """onnxruntime's quantizer logs advice on the root logger; keep the CLI output clean."""
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(old)


class _Reader:
    """Feeds calibration samples to onnxruntime's static quantizer."""

    def __init__(self, samples: SampleSet, names: list[str]) -> None:
        self._it = iter([{n: s[n] for n in names} for s in samples.inputs])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:  # pragma: no cover - the MinMax calibrator reads once
        pass


def _int8_static(model: onnx.ModelProto, samples: SampleSet, workdir: Path) -> onnx.ModelProto:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    raw = workdir / "src_static.onnx"
    onnx.save(model, str(raw))  # the quantizers mutate a ModelProto they are given
    src, pre = raw, workdir / "pre.onnx"
    try:
        # shape inference + basic fusions make per-channel QDQ cover more nodes; optional
        with _quiet_quantizer():
            quant_pre_process(str(raw), str(pre), skip_symbolic_shape=True)
        src = pre
    except Exception:  # noqa: BLE001 - the raw model still quantizes, only less completely
        src = raw
    reader = type("Reader", (_Reader, CalibrationDataReader), {})(samples, list(input_specs(model)))
    out = workdir / "static.onnx"
    with _quiet_quantizer():
        quantize_static(
            src, out, reader, quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    return onnx.load(str(out))


def _prune(model: onnx.ModelProto, fraction: float) -> tuple[onnx.ModelProto, int]:
    """Zero the smallest-magnitude ``fraction`` of every weight matrix / kernel (ndim >= 2)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    weight_inputs: set[str] = set()
    for n in out.graph.node:
        if n.op_type in _QUANTIZABLE_OPS and len(n.input) > 1:
            weight_inputs.add(n.input[1])
        if n.op_type in {"LSTM", "GRU", "RNN"} and len(n.input) > 2:
            weight_inputs.add(n.input[2])  # the recurrent weights
        if n.op_type in {"MatMul", "Gemm"}:
            weight_inputs.add(n.input[0])
    pruned = 0
    for i, init in enumerate(out.graph.initializer):
        if init.name not in weight_inputs or init.data_type != onnx.TensorProto.FLOAT or len(init.dims) < 2:
            continue
        w = numpy_helper.to_array(init).copy()
        k = int(w.size * fraction)
        if k == 0:
            continue
        threshold = np.partition(np.abs(w).ravel(), k - 1)[k - 1]
        w[np.abs(w) <= threshold] = 0.0
        out.graph.initializer[i].CopyFrom(numpy_helper.from_array(w, init.name))
        pruned += 1
    return out, pruned


def _variant(model: onnx.ModelProto, level: str, path: Path | None) -> onnx.ModelProto:
    if path is None:
        raise CompressionError(f"level '{level}' needs the variant's ONNX file: pass variant_path.")
    try:
        variant = onnx.load(str(path))
    except Exception as exc:
        raise CompressionError(f"variant file '{path}' for level '{level}' is not an ONNX model: {exc}.") from None
    want, got = input_specs(model), input_specs(variant)
    if set(want) != set(got) or {o.name for o in model.graph.output} != {o.name for o in variant.graph.output}:
        raise CompressionError(
            f"variant file '{path}' has inputs {sorted(got)} / outputs "
            f"{sorted(o.name for o in variant.graph.output)}, but the model has inputs {sorted(want)} / "
            f"outputs {sorted(o.name for o in model.graph.output)}: a variant must be a drop-in replacement."
        )
    return variant


def compress(
    model: onnx.ModelProto,
    level: str,
    *,
    samples: SampleSet | None = None,
    variant_path: str | Path | None = None,
    check_runs: bool = True,
) -> CompressedModel:
    """Apply a compression ``level`` to a whole model or a stage part.

    ``samples`` calibrate ``int8-static`` (synthetic inputs when None, and
    ``calibration`` says so). With ``check_runs`` the result is opened in
    onnxruntime; a model it cannot run is reported not applicable with its message.
    """
    if not is_known_level(level):
        raise CompressionError(
            f"unknown compression level '{level}': choose one of {', '.join(LEVELS)} or variant:NAME."
        )
    calibration = ""
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="planner-compress-") as tmp:
        workdir = Path(tmp)
        if level == "fp32":
            result = model
        elif level == "fp16":
            if not any(i.data_type == onnx.TensorProto.FLOAT for i in model.graph.initializer):
                return CompressedModel(level, False, "no fp32 weights to convert", None)
            result = _fp16(model)
        elif level in ("int8-dynamic", "int8-static"):
            candidates = _quantizable_nodes(model)
            if not candidates:
                ops = sorted({n.op_type for n in model.graph.node})
                return CompressedModel(level, False, f"nothing quantizable: no Conv/MatMul/Gemm with weights (ops: {', '.join(ops)})", None)
            if level == "int8-dynamic":
                result = _int8_dynamic(model, workdir)
                n_q = _count_ops(result, {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM", "QGemm", "DynamicQuantizeMatMul"})
            else:
                if samples is None or len(samples) == 0:
                    samples = synthetic_samples(model)
                if set(input_specs(model)) - set(samples.inputs[0]):
                    raise CompressionError(
                        f"calibration samples have inputs {sorted(samples.inputs[0])} but the model needs "
                        f"{sorted(input_specs(model))}: give samples for this model (or part)."
                    )
                calibration = samples.source or "user samples"
                result = _int8_static(model, samples, workdir)
                n_q = _count_ops(result, {"QuantizeLinear"})
            if n_q == 0:
                return CompressedModel(
                    level, False,
                    f"onnxruntime's quantizer left every operator in float (candidates: {', '.join(candidates[:5])})",
                    None,
                )
            details["quantized_ops"] = n_q
        elif level in _PRUNE_FRACTION:
            result, n_pruned = _prune(model, _PRUNE_FRACTION[level])
            if n_pruned == 0:
                return CompressedModel(level, False, "no fp32 weight matrices or kernels to prune", None)
            details["pruned_tensors"] = n_pruned
        else:
            result = _variant(model, level, Path(variant_path) if variant_path else None)
        if model.metadata_props and not result.metadata_props:
            # the converters drop metadata; a stage part keeps what partition wrote in it
            result.metadata_props.extend(model.metadata_props)
        data = result.SerializeToString()
        if check_runs:
            try:
                open_session(data, graph_optimization="basic")
            except Exception as exc:  # onnxruntime raises its own Fail/NotImplemented types
                msg = str(exc).splitlines()[0][:300]
                return CompressedModel(level, False, f"onnxruntime cannot run this level: {msg}", None)
    return CompressedModel(
        level, True, "", result, size_bytes=len(data), stored_size_bytes=stored_size_bytes(data),
        calibration=calibration, details=details,
    )
