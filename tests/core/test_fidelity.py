"""Fidelity metrics on hand-computed outputs and on real compressed models."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner_app.core.compression.fidelity import (
    SQNR_IDENTICAL_DB,
    compare_outputs,
    measure_fidelity,
    run_model,
)
from planner_app.core.compression.levels import compress, synthetic_samples
from tests.core._tiny_models import tiny_cnn


def test_identical_outputs_are_perfect():
    ref = [{"y": np.array([[1.0, 2.0, 3.0]], np.float32)}]
    f = compare_outputs(ref, [{"y": ref[0]["y"].copy()}])
    assert (f.max_abs_err, f.mean_abs_err, f.sqnr_db, f.cosine, f.top1_agreement) == (0.0, 0.0, SQNR_IDENTICAL_DB, 1.0, 1.0)
    assert f.score() == 1.0 and f.n_samples == 1


def test_metrics_match_hand_computed_values():
    # signal power 25, noise power 0.25 -> SQNR 20 dB
    ref = [{"y": np.array([3.0, 4.0], np.float32)}]
    cand = [{"y": np.array([3.3, 4.4], np.float32)}]
    f = compare_outputs(ref, cand)
    assert f.sqnr_db == pytest.approx(20.0, abs=1e-4)
    assert f.max_abs_err == pytest.approx(0.4, abs=1e-6)
    assert f.mean_abs_err == pytest.approx(0.35, abs=1e-6)
    assert f.cosine == pytest.approx(1.0, abs=1e-9)  # a pure rescale keeps the direction
    assert f.top1_agreement is None  # 1-D outputs are not classifier-shaped
    assert f.score() == pytest.approx(f.cosine)


def test_top1_agreement_and_accuracy_with_labels():
    ref = [{"logits": np.array([[0.1, 0.9]])}, {"logits": np.array([[0.8, 0.2]])},
           {"logits": np.array([[0.3, 0.7]])}, {"logits": np.array([[0.6, 0.4]])}]
    cand = [{"logits": np.array([[0.2, 0.8]])}, {"logits": np.array([[0.4, 0.6]])},
            {"logits": np.array([[0.3, 0.7]])}, {"logits": np.array([[0.6, 0.4]])}]
    f = compare_outputs(ref, cand, labels=[1, 0, 0, 0])
    assert f.top1_agreement == 0.75
    assert f.accuracy == 0.5 and f.reference_accuracy == 0.75
    assert f.score() == 0.75


def test_mismatched_inputs_are_errors():
    with pytest.raises(ValueError, match="2 reference samples but 1"):
        compare_outputs([{"y": np.zeros(1)}] * 2, [{"y": np.zeros(1)}])
    with pytest.raises(ValueError, match="no common outputs"):
        compare_outputs([{"y": np.zeros(1)}], [{"z": np.zeros(1)}])


@pytest.fixture(scope="module")
def cnn_and_samples():
    model = tiny_cnn(channels=16, hw=16)
    return model, synthetic_samples(model, 16)


def test_measured_fidelity_orders_levels_by_how_lossy_they_are(cnn_and_samples):
    model, samples = cnn_and_samples
    ref = run_model(model, samples)
    fid = {
        level: measure_fidelity(model, compress(model, level, samples=samples).model, samples, reference=ref)
        for level in ("fp32", "fp16", "int8-static", "pruned-75")
    }
    assert fid["fp32"].sqnr_db == SQNR_IDENTICAL_DB
    assert fid["fp16"].sqnr_db > 50 and fid["fp16"].cosine > 0.99999
    assert 20 < fid["int8-static"].sqnr_db < fid["fp16"].sqnr_db
    assert fid["pruned-75"].sqnr_db < fid["int8-static"].sqnr_db
    assert all(0.0 <= f.score() <= 1.0 for f in fid.values())
    assert all(math.isfinite(f.sqnr_db) and f.n_samples == 16 for f in fid.values())
