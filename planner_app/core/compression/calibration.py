"""Calibration and evaluation samples, and onnxruntime sessions pinned for measurement.

A :class:`SampleSet` is the inputs a compressed model is calibrated and compared on:
read from a folder of ``.npy``/``.npz`` files (:func:`load_samples`, strict about
shapes and dtypes), generated (:func:`synthetic_samples`, and it says so), or pushed
through the fp32 stage parts to reach a later part (:func:`part_samples`).
:class:`CompressionError` lives here because bad samples raise it; the
:mod:`compression` module re-exports it.

Example
-------
>>> samples = synthetic_samples(model, n=4)                 # doctest: +SKIP
>>> samples.source
'synthetic inputs (no samples given)'
"""

from __future__ import annotations

__all__ = [
    "CompressionError",
    "SampleSet",
    "input_specs",
    "synthetic_samples",
    "load_samples",
    "part_samples",
    "held_out_samples",
    "calibration_share",
    "open_session",
]

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import read_bytes

if TYPE_CHECKING:
    from planner_app.core.models.graph import ModelGraph


#: the largest sample file read (one input batch)
MAX_SAMPLE_BYTES = 1024 * 1024 * 1024


class CompressionError(PlannerError):
    """A level or its inputs are wrong: unknown level, bad samples, an unreadable variant."""


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


def _model_of(mg_or_model: ModelGraph | onnx.ModelProto) -> onnx.ModelProto:
    return mg_or_model if isinstance(mg_or_model, onnx.ModelProto) else mg_or_model.model


def _int_input_high(model: onnx.ModelProto, name: str) -> int:
    """Largest safe value + 1 for an integer input: the vocabulary size when it feeds a Gather."""
    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == name and node.input[0] in inits:
            return max(1, int(inits[node.input[0]].dims[0]))
    return 2


def synthetic_samples(mg_or_model: ModelGraph | onnx.ModelProto, n: int = 8, seed: int = 0) -> SampleSet:
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


#: the seed of synthetic held-out inputs (calibration inputs use seed 0)
HELD_OUT_SEED = 1


def held_out_samples(mg_or_model: ModelGraph | onnx.ModelProto, samples: SampleSet) -> SampleSet:
    """Inputs to measure fidelity on that ``samples`` (what a level calibrates on) do not hold.

    Synthetic samples get as many fresh synthetic inputs from another seed. User samples
    are split: the second half is held out, and the first half becomes the calibration
    set's share (``calibration_share``). One user sample cannot be split: it is returned
    as it is, and its ``source`` says fidelity was measured on the calibration input.

    >>> held_out_samples(model, synthetic_samples(model, n=4)).source  # doctest: +SKIP
    'synthetic held-out inputs (seed 1, not the calibration inputs)'
    """
    if samples.synthetic:
        fresh = synthetic_samples(mg_or_model, n=max(1, len(samples)), seed=HELD_OUT_SEED)
        return SampleSet(fresh.inputs, source=f"synthetic held-out inputs (seed {HELD_OUT_SEED}, not the "
                         "calibration inputs)", synthetic=True)
    if len(samples) < 2:
        return SampleSet(samples.inputs, labels=samples.labels, synthetic=samples.synthetic,
                         source=f"{samples.source} (one sample: fidelity measured on the calibration input itself)")
    half = len(samples) // 2
    labels = samples.labels[half:] if samples.labels else None
    return SampleSet(samples.inputs[half:], labels=labels, synthetic=samples.synthetic,
                     source=f"{samples.source}, samples {half + 1}-{len(samples)} held out from calibration")


def calibration_share(samples: SampleSet) -> SampleSet:
    """The part of ``samples`` a level calibrates on when :func:`held_out_samples` keeps the rest apart."""
    if samples.synthetic or len(samples) < 2:
        return samples
    half = len(samples) // 2
    return SampleSet(samples.inputs[:half], labels=samples.labels[:half] if samples.labels else None,
                     source=f"{samples.source}, samples 1-{half} (calibration)", synthetic=samples.synthetic)


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


def load_samples(directory: str | Path, mg_or_model: ModelGraph | onnx.ModelProto) -> SampleSet:
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
        # the safe reader: a regular file under the size cap (a FIFO named x.npy must not block)
        raw = read_bytes(file, "sample file", error=CompressionError, suffix=file.suffix, max_bytes=MAX_SAMPLE_BYTES)
        try:
            loaded = np.load(io.BytesIO(raw), allow_pickle=False)
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
) -> Any:  # an onnxruntime.InferenceSession (onnxruntime ships no type information)
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
