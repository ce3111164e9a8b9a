"""Fidelity of a compressed model, or of a whole plan of parts, against fp32.

Both run on the same sample inputs; the outputs are compared with max and mean
absolute error, SQNR (dB), cosine similarity, top-1 agreement when the outputs
are classifier-shaped (``[batch, classes]``) and accuracy when the samples carry
labels. A plan mixing levels is measured by running its chained parts, never by
adding the parts' errors.

Example
-------
>>> ref = [{"y": np.array([[0.1, 0.9]], np.float32)}]
>>> cand = [{"y": np.array([[0.2, 0.8]], np.float32)}]
>>> f = compare_outputs(ref, cand)
>>> f.top1_agreement, round(f.score(), 3)
(1.0, 1.0)
"""

from __future__ import annotations

__all__ = ["Fidelity", "SQNR_IDENTICAL_DB", "compare_outputs", "measure_fidelity", "run_model"]

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from planner_app.core.compression.levels import SampleSet, open_session, synthetic_samples

if TYPE_CHECKING:
    from planner_app.core.models.graph import ModelGraph

#: SQNR reported for outputs equal to fp32 bit for bit (a finite stand-in for +inf, JSON-safe)
SQNR_IDENTICAL_DB = 200.0


@dataclass
class Fidelity:
    """How close a candidate's outputs are to fp32's on ``n_samples`` inputs."""

    max_abs_err: float
    mean_abs_err: float
    sqnr_db: float
    cosine: float
    top1_agreement: float | None = None
    accuracy: float | None = None
    reference_accuracy: float | None = None
    n_samples: int = 0

    def score(self) -> float:
        """One number in [0, 1] for the optimizer: top-1 agreement if known, else cosine."""
        if self.top1_agreement is not None:
            return float(self.top1_agreement)
        return float(max(0.0, min(1.0, self.cosine)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fidelity:
        return cls(**d)


def _classifier_output(sample: dict[str, np.ndarray], names: list[str]) -> str | None:
    for name in names:
        arr = sample[name]
        if arr.ndim == 2 and arr.shape[1] >= 2 and np.issubdtype(arr.dtype, np.floating):
            return name
    return None


def compare_outputs(
    reference: list[dict[str, np.ndarray]],
    candidate: list[dict[str, np.ndarray]],
    labels: list[int] | None = None,
) -> Fidelity:
    """Compare candidate outputs with reference outputs, sample by sample.

    Every output present in both is compared (flattened together). Top-1
    agreement uses the first ``[batch, classes]`` float output; accuracy needs
    ``labels`` (one per sample, for batch 1).
    """
    if len(reference) != len(candidate):
        raise ValueError(f"{len(reference)} reference samples but {len(candidate)} candidate samples")
    if not reference:
        raise ValueError("no samples to compare")
    names = [n for n in reference[0] if n in candidate[0]]
    if not names:
        raise ValueError(f"no common outputs: reference {sorted(reference[0])}, candidate {sorted(candidate[0])}")
    ref = np.concatenate([np.asarray(s[n], dtype=np.float64).ravel() for s in reference for n in names])
    cand = np.concatenate([np.asarray(s[n], dtype=np.float64).ravel() for s in candidate for n in names])
    if ref.shape != cand.shape:
        raise ValueError(f"outputs differ in size: reference {ref.size} values, candidate {cand.size}")
    err = cand - ref
    noise = float(np.sum(err * err))
    signal = float(np.sum(ref * ref))
    if noise == 0:
        sqnr = SQNR_IDENTICAL_DB
    elif signal == 0:
        sqnr = -SQNR_IDENTICAL_DB
    else:
        sqnr = min(SQNR_IDENTICAL_DB, 10 * math.log10(signal / noise))
    den = float(np.linalg.norm(ref) * np.linalg.norm(cand))
    cosine = (1.0 if noise == 0 else 0.0) if den == 0 else float(ref @ cand / den)
    top1 = acc = ref_acc = None
    cls_name = _classifier_output(reference[0], names)
    if cls_name is not None:
        ref_top = np.concatenate([np.argmax(s[cls_name], axis=1) for s in reference])
        cand_top = np.concatenate([np.argmax(s[cls_name], axis=1) for s in candidate])
        top1 = float(np.mean(ref_top == cand_top))
        if labels is not None and len(labels) == len(cand_top):
            acc = float(np.mean(cand_top == np.asarray(labels)))
            ref_acc = float(np.mean(ref_top == np.asarray(labels)))
    return Fidelity(
        max_abs_err=float(np.max(np.abs(err))) if err.size else 0.0,
        mean_abs_err=float(np.mean(np.abs(err))) if err.size else 0.0,
        sqnr_db=sqnr,
        cosine=cosine,
        top1_agreement=top1,
        accuracy=acc,
        reference_accuracy=ref_acc,
        n_samples=len(reference),
    )


def run_model(model: onnx.ModelProto | bytes, samples: SampleSet, *, threads: int = 1) -> list[dict[str, np.ndarray]]:
    """Run a model on every sample; returns one dict of all outputs per sample."""
    sess = open_session(model, threads=threads)
    names = [o.name for o in sess.get_outputs()]
    feeds = {i.name for i in sess.get_inputs()}
    return [dict(zip(names, sess.run(names, {k: v for k, v in s.items() if k in feeds}), strict=True)) for s in samples.inputs]


def _model_of(mg_or_model: ModelGraph | onnx.ModelProto) -> onnx.ModelProto:
    return mg_or_model if isinstance(mg_or_model, onnx.ModelProto) else mg_or_model.model


def measure_fidelity(
    mg: ModelGraph | onnx.ModelProto,
    candidate: onnx.ModelProto | list[onnx.ModelProto],
    samples: SampleSet | None = None,
    *,
    reference: list[dict[str, np.ndarray]] | None = None,
) -> Fidelity:
    """Fidelity of ``candidate`` against the fp32 model of ``mg`` on ``samples``.

    ``candidate`` is one model, or a list of stage parts (a plan mixing levels),
    which run chained through ``partition.run_chain``. ``reference`` saves
    re-running fp32 when it is already known. Synthetic inputs when no samples.
    """
    model = _model_of(mg)
    if samples is None:
        samples = synthetic_samples(model)
    if reference is None:
        reference = run_model(model, samples)
    out_names = [o.name for o in model.graph.output]
    if isinstance(candidate, list):
        from planner_app.core.models.partition import run_chain

        cand = []
        for s in samples.inputs:
            produced = run_chain(candidate, s)
            cand.append({n: produced[n] for n in out_names if n in produced})
    else:
        cand = run_model(candidate, samples)
    return compare_outputs(reference, cand, labels=samples.labels)
