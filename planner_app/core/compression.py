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
import hashlib
import logging
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from planner_app.core.cut_codecs import decode_tensor, encode_tensor, measure_cut_codecs
from planner_app.core.errors import PlannerError

LEVELS = ("fp32", "fp16", "int8-dynamic", "int8-static", "pruned-50", "pruned-75")

#: operators whose weights the int8 quantizers rewrite (ORT's registry, the ones that matter here)
_QUANTIZABLE_OPS = {"Conv", "MatMul", "Gemm", "Attention", "LSTM", "GRU", "ConvTranspose"}
_PRUNE_FRACTION = {"pruned-50": 0.5, "pruned-75": 0.75}


class CompressionError(PlannerError):
    """A level or its inputs are wrong: unknown level, bad samples, an unreadable variant."""


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


# ---------------------------------------------------------------------------- samples

_ONNX_TO_NP = {
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.DOUBLE: np.float64,
    onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32,
    onnx.TensorProto.INT8: np.int8,
    onnx.TensorProto.UINT8: np.uint8,
    onnx.TensorProto.BOOL: np.bool_,
}


def input_specs(model: onnx.ModelProto) -> dict[str, tuple[list[int], np.dtype]]:
    """The real inputs of a model (initializers excluded): name -> (shape, dtype).

    Dynamic dimensions (no fixed value) are given as 1.
    """
    inits = {i.name for i in model.graph.initializer}
    out: dict[str, tuple[list[int], np.dtype]] = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in tt.shape.dim]
        out[vi.name] = (shape, np.dtype(_ONNX_TO_NP.get(tt.elem_type, np.float32)))
    return out


@dataclass
class SampleSet:
    """Inputs to calibrate and compare on: one dict (input name -> array) per sample.

    ``labels`` (one class index per sample) enables real accuracy; ``source`` says
    where the samples came from, as shown to the user.
    """

    inputs: list[dict[str, np.ndarray]]
    labels: list[int] | None = None
    source: str = ""
    synthetic: bool = False

    def __len__(self) -> int:
        return len(self.inputs)

    def fingerprint(self) -> str:
        """A hash of every array and label (part of the profile cache key)."""
        h = hashlib.sha256(self.source.encode())
        for sample in self.inputs:
            for name in sorted(sample):
                arr = np.ascontiguousarray(sample[name])
                h.update(name.encode() + str(arr.dtype).encode() + str(arr.shape).encode())
                h.update(arr.tobytes())
        h.update(repr(self.labels).encode())
        return h.hexdigest()[:20]


def _model_of(mg_or_model: Any) -> onnx.ModelProto:
    return mg_or_model if isinstance(mg_or_model, onnx.ModelProto) else mg_or_model.model


def _int_input_high(model: onnx.ModelProto, name: str) -> int:
    """Largest safe value + 1 for an integer input: the vocabulary size when it feeds a Gather."""
    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == name and node.input[0] in inits:
            return max(1, int(inits[node.input[0]].dims[0]))
    return 2


def synthetic_samples(mg_or_model: Any, n: int = 8, seed: int = 0) -> SampleSet:
    """``n`` reproducible random inputs (normal floats, small integers / valid token ids)."""
    model = _model_of(mg_or_model)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        sample = {}
        for name, (shape, dtype) in input_specs(model).items():
            if np.issubdtype(dtype, np.floating):
                sample[name] = rng.standard_normal(shape).astype(dtype)
            elif dtype == np.bool_:
                sample[name] = rng.integers(0, 2, shape).astype(bool)
            else:
                sample[name] = rng.integers(0, _int_input_high(model, name), shape).astype(dtype)
        samples.append(sample)
    return SampleSet(samples, source="synthetic inputs (no samples given)", synthetic=True)


def _check_array(file: Path, name: str, arr: np.ndarray, shape: list[int], dtype: np.dtype) -> np.ndarray:
    if arr.ndim == len(shape) - 1 and shape and shape[0] == 1:
        arr = arr[None, ...]  # a sample saved without its batch dimension
    if list(arr.shape) != list(shape):
        raise CompressionError(
            f"sample file '{file}': input '{name}' has shape {list(arr.shape)}, expected {shape}: "
            "save arrays of the model's input shape (see --shape)."
        )
    same_kind = (np.issubdtype(arr.dtype, np.floating) and np.issubdtype(dtype, np.floating)) or (
        np.issubdtype(arr.dtype, np.integer) and np.issubdtype(dtype, np.integer)
    )
    if not same_kind and arr.dtype != dtype:
        raise CompressionError(
            f"sample file '{file}': input '{name}' has dtype {arr.dtype}, expected {dtype}: "
            f"convert it, e.g. np.save(path, array.astype(np.{dtype}))."
        )
    # float64 from numpy defaults or int32 token ids are safe to cast within their kind
    return arr.astype(dtype, copy=False)


def load_samples(directory: str | Path, mg_or_model: Any) -> SampleSet:
    """Read calibration / evaluation samples from a folder of ``.npy`` and ``.npz`` files.

    A ``.npy`` file is one sample of a single-input model. A ``.npz`` file holds one
    array per input name, and optionally ``label`` (an integer class) for accuracy.
    Wrong shape or dtype raises :class:`CompressionError` naming the file, the input,
    what was expected and what was found.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise CompressionError(f"samples folder '{folder}' does not exist or is not a folder.")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".npy", ".npz"))
    if not files:
        raise CompressionError(f"samples folder '{folder}' holds no .npy or .npz files.")
    specs = input_specs(_model_of(mg_or_model))
    samples: list[dict[str, np.ndarray]] = []
    labels: list[int] = []
    for file in files:
        try:
            loaded = np.load(file, allow_pickle=False)
        except Exception as exc:  # numpy raises ValueError/OSError/EOFError for bad files
            raise CompressionError(f"sample file '{file}' cannot be read as numpy data: {exc}.") from None
        if isinstance(loaded, np.ndarray):
            if len(specs) != 1:
                raise CompressionError(
                    f"sample file '{file}' holds one array but the model has inputs {sorted(specs)}: "
                    "save an .npz with one array per input name."
                )
            (name, (shape, dtype)), = specs.items()
            samples.append({name: _check_array(file, name, loaded, shape, dtype)})
            continue
        with loaded:
            keys = set(loaded.files)
            missing = sorted(set(specs) - keys)
            if missing:
                raise CompressionError(
                    f"sample file '{file}' lacks input(s) {missing} (it has {sorted(keys)}): "
                    f"an .npz needs one array per model input {sorted(specs)}."
                )
            samples.append({n: _check_array(file, n, loaded[n], s, d) for n, (s, d) in specs.items()})
            for key in ("label", "labels"):
                if key in keys:
                    labels.append(int(np.asarray(loaded[key]).ravel()[0]))
    if labels and len(labels) != len(samples):
        raise CompressionError(
            f"samples folder '{folder}': {len(labels)} of {len(samples)} samples have a 'label': "
            "label all of them or none."
        )
    return SampleSet(samples, labels=labels or None, source=f"user samples from {folder}")


def part_samples(parts: list[onnx.ModelProto], samples: SampleSet) -> list[SampleSet]:
    """The inputs each stage part sees when ``samples`` flow through the fp32 chain.

    What calibrates ``int8-static`` for a part that does not start at the model input.
    """
    sessions = [open_session(p, graph_optimization="basic") for p in parts]
    per_part: list[list[dict[str, np.ndarray]]] = [[] for _ in parts]
    for sample in samples.inputs:
        env = dict(sample)
        for i, sess in enumerate(sessions):
            feed = {inp.name: env[inp.name] for inp in sess.get_inputs()}
            per_part[i].append(feed)
            names = [o.name for o in sess.get_outputs()]
            env.update(zip(names, sess.run(names, feed), strict=True))
    source = f"{samples.source}, through the fp32 parts before each part"
    return [SampleSet(inputs, labels=samples.labels, source=source, synthetic=samples.synthetic) for inputs in per_part]


# ---------------------------------------------------------------------------- sessions

_OPT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def open_session(
    model: onnx.ModelProto | bytes | str | Path,
    *,
    threads: int = 1,
    graph_optimization: str = "all",
    provider: str = "CPUExecutionProvider",
    profile_prefix: str | None = None,
    optimized_model_path: str | None = None,
):
    """An onnxruntime session with pinned threads (sequential, ``threads`` intra-op)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPT_LEVELS[graph_optimization])
    so.log_severity_level = 3
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    if optimized_model_path:
        so.optimized_model_filepath = optimized_model_path
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    if isinstance(data, Path):
        data = str(data)
    return ort.InferenceSession(data, sess_options=so, providers=[provider])


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
def _quiet_quantizer():
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

    def get_next(self):
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
