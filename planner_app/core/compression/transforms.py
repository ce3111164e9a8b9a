"""The model transforms behind the built-in compression levels.

Every transform has the shape the registry (:mod:`~planner_app.core.compression.registry`)
expects: ``transform(model, samples) -> Transformed``. ``model`` is an fp32 ONNX
model (a whole model or a stage part) the transform must not change; ``samples``
are calibration inputs (a :class:`SampleSet`) for levels that declare
``needs_calibration``, else None. A transform that finds nothing to do says so with
:meth:`Transformed.not_applicable` and a reason, never a faked model.

Example
-------
>>> t = fp16(model, None)                                       # doctest: +SKIP
>>> t.applicable, t.model.graph.initializer[0].data_type        # doctest: +SKIP
(True, 10)
"""

from __future__ import annotations

__all__ = [
    "Transformed",
    "identity",
    "fp16",
    "int8_dynamic",
    "int8_static",
    "pruning",
    "variant_transform",
    "has_float_weights",
    "has_quantizable_weights",
    "has_weight_matrices",
]

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from planner_app.core.compression.calibration import CompressionError, SampleSet, input_specs

#: operators whose weights the int8 quantizers rewrite (ORT's registry, the ones that matter here)
_QUANTIZABLE_OPS = {"Conv", "MatMul", "Gemm", "Attention", "LSTM", "GRU", "ConvTranspose"}
_DYNAMIC_QUANT_OPS = {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM", "QGemm",
                      "DynamicQuantizeMatMul"}


@dataclass(frozen=True)
class Transformed:
    """What a level's transform gives back: the compressed model, or None and the reason.

    ``details`` are figures worth showing (e.g. ``quantized_ops``); they end up in
    :attr:`CompressedModel.details`.
    """

    model: onnx.ModelProto | None
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def applicable(self) -> bool:
        return self.model is not None

    @classmethod
    def not_applicable(cls, reason: str) -> Transformed:
        """The level does not apply to this model, for ``reason`` (shown to the user)."""
        return cls(None, reason)


# ----------------------------------------------------------------------- applies-to checks


def _quantizable_nodes(model: onnx.ModelProto) -> list[str]:
    inits = {i.name for i in model.graph.initializer}
    return [
        n.name or n.op_type for n in model.graph.node
        if n.op_type in _QUANTIZABLE_OPS and any(i in inits for i in n.input[1:])
    ]


def has_float_weights(model: onnx.ModelProto) -> str | None:
    """None when ``model`` has fp32 weights to convert, else why not."""
    if any(i.data_type == onnx.TensorProto.FLOAT for i in model.graph.initializer):
        return None
    return "no fp32 weights to convert"


def has_quantizable_weights(model: onnx.ModelProto) -> str | None:
    """None when some Conv/MatMul/Gemm/... has weights an int8 quantizer rewrites, else why not."""
    if _quantizable_nodes(model):
        return None
    ops = sorted({n.op_type for n in model.graph.node})
    return f"nothing quantizable: no Conv/MatMul/Gemm with weights (ops: {', '.join(ops)})"


def has_weight_matrices(model: onnx.ModelProto) -> str | None:
    """None when ``model`` has fp32 weight matrices or kernels to prune, else why not."""
    names = _weight_inputs(model)
    if any(i.name in names and i.data_type == onnx.TensorProto.FLOAT and len(i.dims) >= 2
           for i in model.graph.initializer):
        return None
    return "no fp32 weight matrices or kernels to prune"


# ------------------------------------------------------------------------------ transforms


def identity(model: onnx.ModelProto, samples: SampleSet | None) -> Transformed:
    """The model as given (the fp32 reference level)."""
    return Transformed(model)


def fp16(model: onnx.ModelProto, samples: SampleSet | None) -> Transformed:
    """Weights and activations in half precision; the model's input/output types are kept."""
    from onnxconverter_common import float16

    with warnings.catch_warnings():
        # it warns for every weight below fp16's range; the fidelity measurement shows the effect
        warnings.simplefilter("ignore", UserWarning)
        return Transformed(float16.convert_float_to_float16(model, keep_io_types=True))


def _count_ops(model: onnx.ModelProto, ops: set[str]) -> int:
    return sum(1 for n in model.graph.node if n.op_type in ops)


def _quantized(model: onnx.ModelProto, result: onnx.ModelProto, quant_ops: set[str]) -> Transformed:
    n_q = _count_ops(result, quant_ops)
    if n_q == 0:
        candidates = _quantizable_nodes(model)
        return Transformed.not_applicable(
            f"onnxruntime's quantizer left every operator in float (candidates: {', '.join(candidates[:5])})")
    return Transformed(result, details={"quantized_ops": n_q})


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


def int8_dynamic(model: onnx.ModelProto, samples: SampleSet | None) -> Transformed:
    """onnxruntime ``quantize_dynamic``: int8 weights, activations quantized at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="planner-compress-") as tmp:
        src, out = Path(tmp) / "src_dyn.onnx", Path(tmp) / "dyn.onnx"
        # onnxruntime's quantizers mutate a ModelProto they are given: hand them a file instead
        onnx.save(model, str(src))
        # ConvInteger has CPU kernels for uint8 weights only, so Conv models need QUInt8 weights
        weight_type = QuantType.QUInt8 if _count_ops(model, {"Conv"}) else QuantType.QInt8
        with _quiet_quantizer():
            quantize_dynamic(src, out, weight_type=weight_type)
        result = onnx.load(str(out))
    return _quantized(model, result, _DYNAMIC_QUANT_OPS)


class _Reader:
    """Feeds calibration samples to onnxruntime's static quantizer."""

    def __init__(self, samples: SampleSet, names: list[str]) -> None:
        self._it = iter([{n: s[n] for n in names} for s in samples.inputs])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:  # pragma: no cover - the MinMax calibrator reads once
        pass


def int8_static(model: onnx.ModelProto, samples: SampleSet | None) -> Transformed:
    """QDQ, per-channel int8, calibrated on ``samples`` (the caller supplies them)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if samples is None or len(samples) == 0:
        raise CompressionError("int8-static needs calibration samples (compress() supplies synthetic ones)")
    with tempfile.TemporaryDirectory(prefix="planner-compress-") as tmp:
        workdir = Path(tmp)
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
        result = onnx.load(str(out))
    return _quantized(model, result, {"QuantizeLinear"})


def _weight_inputs(model: onnx.ModelProto) -> set[str]:
    names: set[str] = set()
    for n in model.graph.node:
        if n.op_type in _QUANTIZABLE_OPS and len(n.input) > 1:
            names.add(n.input[1])
        if n.op_type in {"LSTM", "GRU", "RNN"} and len(n.input) > 2:
            names.add(n.input[2])  # the recurrent weights
        if n.op_type in {"MatMul", "Gemm"}:
            names.add(n.input[0])
    return names


def pruning(fraction: float) -> Callable[[onnx.ModelProto, SampleSet | None], Transformed]:
    """A transform zeroing the smallest-magnitude ``fraction`` of every weight matrix / kernel (ndim >= 2).

    The model stays dense: what shrinks is its size when stored compressed.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"pruning fraction must be in (0, 1), got {fraction}")

    def prune(model: onnx.ModelProto, samples: SampleSet | None) -> Transformed:
        out = onnx.ModelProto()
        out.CopyFrom(model)
        weight_inputs = _weight_inputs(out)
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
        if pruned == 0:
            return Transformed.not_applicable("no fp32 weight matrices or kernels to prune")
        return Transformed(out, details={"pruned_tensors": pruned})

    return prune


def variant_transform(level: str, path: Path | None) -> Callable[[onnx.ModelProto, SampleSet | None], Transformed]:
    """A transform that replaces the model by the user's file at ``path`` (a drop-in replacement)."""

    def load_variant(model: onnx.ModelProto, samples: SampleSet | None) -> Transformed:
        if path is None:
            raise CompressionError(f"level '{level}' needs the variant's ONNX file: pass variant_path.")
        try:
            variant = onnx.load(str(path))
        except Exception as exc:
            raise CompressionError(f"variant file '{path}' for level '{level}' is not an ONNX model: {exc}.") from None
        want, got = input_specs(model), input_specs(variant)
        outs = sorted(o.name for o in model.graph.output)
        variant_outs = sorted(o.name for o in variant.graph.output)
        if set(want) != set(got) or outs != variant_outs:
            raise CompressionError(
                f"variant file '{path}' has inputs {sorted(got)} / outputs {variant_outs}, but the model has "
                f"inputs {sorted(want)} / outputs {outs}: a variant must be a drop-in replacement."
            )
        return Transformed(variant)

    return load_variant
