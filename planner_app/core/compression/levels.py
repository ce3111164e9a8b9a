"""Applying a compression level to a whole model or to one stage part.

The levels themselves (fp32, fp16, int8-dynamic, int8-static, pruned-50/-75,
``variant:NAME``) are records in :mod:`~planner_app.core.compression.registry`;
:func:`compress` looks the level up, checks that it applies, supplies calibration
samples when it needs them, runs its transform and checks that onnxruntime can run
the result.

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

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

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
from planner_app.core.compression.registry import (
    BUILTIN_LEVELS,
    get_level,
    is_known_level,
    level_precision,
)
from planner_app.core.errors import PlannerError

#: the built-in level names (``registry.level_names()`` also lists levels registered later)
LEVELS = BUILTIN_LEVELS


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


def compress(
    model: onnx.ModelProto,
    level: str,
    *,
    samples: SampleSet | None = None,
    variant_path: str | Path | None = None,
    check_runs: bool = True,
) -> CompressedModel:
    """Apply a compression ``level`` (a registered name or ``variant:NAME``) to a whole model or a stage part.

    ``samples`` calibrate levels that need calibration (synthetic inputs when None,
    and ``calibration`` says so). With ``check_runs`` the result is opened in
    onnxruntime; a model it cannot run is reported not applicable with its message.
    """
    record = get_level(level, variant_path=variant_path)
    reason = record.why_not(model)
    if reason is not None:
        return CompressedModel(level, False, reason, None)
    calibration = ""
    if record.needs_calibration:
        if samples is None or len(samples) == 0:
            samples = synthetic_samples(model)
        if set(input_specs(model)) - set(samples.inputs[0]):
            raise CompressionError(
                f"calibration samples have inputs {sorted(samples.inputs[0])} but the model needs "
                f"{sorted(input_specs(model))}: give samples for this model (or part)."
            )
        calibration = samples.source or "user samples"
    try:
        out = record.transform(model, samples if record.needs_calibration else None)
    except PlannerError:
        raise
    except Exception as exc:  # a quantizer that cannot handle this model (onnxruntime raises ValueError, ...)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        return CompressedModel(level, False, f"the {level} transform cannot apply to this model "
                               f"({type(exc).__name__}: {first})", None, calibration=calibration)
    if out.model is None:
        return CompressedModel(level, False, out.reason, None, calibration=calibration)
    result = out.model
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
        calibration=calibration, details=dict(out.details),
    )
