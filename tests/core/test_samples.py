"""Sample models: real-architecture sizes, deterministic bytes, a cache keyed by parameters, sane activations."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from planner_app.core.models.graph import ModelError, load_model, random_inputs
from planner_app.core.models.samples import (
    SAMPLE_MODELS,
    build_sample_model,
    build_synthetic_model,
    sample_input_shapes,
    sample_model_path,
)
from tests.core._model_helpers import analysed_sample


@pytest.fixture(scope="session")
def samples():
    """Every sample at its default size, analysed once for the whole session."""
    return {name: analysed_sample(name) for name in SAMPLE_MODELS}


def _ops(mg) -> dict[str, int]:
    return mg.summary()["ops_by_count"]


def test_registry_names_are_exactly_the_five_samples():
    assert set(SAMPLE_MODELS) == {"mobilenet_v2", "resnet18", "transformer_encoder", "yolo_detector", "lstm_kws"}
    for name, spec in SAMPLE_MODELS.items():
        assert spec.name == name and spec.description
        assert spec.input_shapes == sample_input_shapes(name)


def test_mobilenet_v2_resembles_the_real_network(samples):
    mg = samples["mobilenet_v2"]
    assert 280e6 < mg.total_macs < 320e6
    assert 3.3e6 < mg.total_params < 3.7e6
    assert mg.graph.number_of_nodes() >= 100
    ops = _ops(mg)
    assert ops["Add"] == 10  # the inverted residuals' skips
    depthwise = [n for n in mg.model.graph.node if n.op_type == "Conv"
                 and next(a.i for a in n.attribute if a.name == "group") > 1]
    assert len(depthwise) == 17
    assert mg.outputs == {"logits": [1, 1000]}


def test_resnet18_resembles_the_real_network(samples):
    mg = samples["resnet18"]
    assert 1.7e9 < mg.total_macs < 1.9e9
    assert 11.5e6 < mg.total_params < 11.9e6
    assert _ops(mg)["Add"] == 8 and _ops(mg)["Conv"] == 20


def test_transformer_encoder_has_attention_layernorm_and_gelu(samples):
    mg = samples["transformer_encoder"]
    ops = _ops(mg)
    assert ops["Softmax"] == 4 and ops["LayerNormalization"] == 8 and ops["Erf"] == 4
    assert ops["MatMul"] == 4 * 8  # q, k, v, scores, context, out, ffn up, ffn down
    assert 2.9e6 < mg.total_params < 3.4e6
    assert mg.inputs == {"embeddings": [1, 128, 256]}
    scores = next(n for n in mg.model.graph.node if n.name == "layer0.attn.scores")
    assert mg.tensor_shapes[scores.output[0]] == [1, 4, 128, 128]


def test_yolo_detector_has_resize_concat_and_three_heads(samples):
    mg = samples["yolo_detector"]
    ops = _ops(mg)
    assert ops["Resize"] == 2 and ops["Concat"] >= 4 and ops["MaxPool"] == 3
    assert mg.outputs == {"det_p3": [1, 255, 40, 40], "det_p4": [1, 255, 20, 20], "det_p5": [1, 255, 10, 10]}
    assert 0.5e9 < mg.total_macs < 3e9


def test_lstm_kws_uses_onnx_lstm_ops(samples):
    mg = samples["lstm_kws"]
    assert _ops(mg)["LSTM"] == 2
    assert mg.inputs == {"mfcc": [1, 98, 40]}
    assert mg.outputs == {"logits": [1, 12]}


@pytest.mark.parametrize("name", list(SAMPLE_MODELS))
def test_activations_stay_finite_and_moderate(samples, name):
    mg = samples[name]
    sess = ort.InferenceSession(mg.model.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = sess.run(None, random_inputs(mg.inputs, mg.input_dtypes, seed=1))
    for out in outs:
        assert np.isfinite(out).all()
        assert 1e-3 < float(np.std(out)) < 1e3, (name, float(np.std(out)))


def test_builds_are_deterministic_and_parameters_change_them():
    a = build_sample_model("mobilenet_v2", image_size=64, width_mult=0.5).SerializeToString()
    b = build_sample_model("mobilenet_v2", image_size=64, width_mult=0.5).SerializeToString()
    c = build_sample_model("mobilenet_v2", image_size=64, width_mult=0.5, seed=1).SerializeToString()
    assert a == b
    assert a != c


def test_sample_path_is_cached_by_parameters():
    p1 = sample_model_path("lstm_kws", hidden=16)
    mtime = p1.stat().st_mtime_ns
    assert sample_model_path("lstm_kws", hidden=16) == p1
    assert p1.stat().st_mtime_ns == mtime
    p2 = sample_model_path("lstm_kws", hidden=32)
    assert p2 != p1 and p2.exists()
    assert load_model("sample:lstm_kws").name == "lstm_kws"


def test_unknown_sample_or_parameter_is_a_model_error():
    with pytest.raises(ModelError, match="mobilenet_v2.*resnet18"):
        sample_model_path("vgg16")
    with pytest.raises(ModelError, match="no parameter 'depth'"):
        build_sample_model("resnet18", depth=50)
    with pytest.raises(ModelError, match="unknown sample"):
        load_model("sample:alexnet")


def test_synthetic_model_has_the_requested_size():
    mg = load_model(build_synthetic_model(200, width=16).SerializeToString())
    assert mg.graph.number_of_nodes() == 200
    assert len(mg.units) == 50
