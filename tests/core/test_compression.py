"""Compression levels on small real ONNX models, calibration samples and cut codecs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from planner_app.core.compression.cut_codecs import decode_tensor, encode_tensor, measure_cut_codecs
from planner_app.core.compression.fidelity import run_model
from planner_app.core.compression.levels import (
    LEVELS,
    CompressionError,
    compress,
    load_samples,
    synthetic_samples,
)
from tests.core._tiny_models import relu_only, tiny_cnn, tiny_lstm


@pytest.fixture(scope="module")
def cnn() -> onnx.ModelProto:
    return tiny_cnn(channels=32, hw=16)


@pytest.fixture(scope="module")
def cnn_levels(cnn):
    return {level: compress(cnn, level) for level in LEVELS}


def test_every_level_applies_to_a_cnn_and_changes_size_the_way_it_should(cnn, cnn_levels):
    fp32 = cnn_levels["fp32"]
    assert all(cm.applicable for cm in cnn_levels.values()), {k: v.reason for k, v in cnn_levels.items()}
    assert fp32.size_bytes == len(cnn.SerializeToString())
    # fp16 halves the weights (the graph structure is a small constant on top)
    assert 0.45 * fp32.size_bytes < cnn_levels["fp16"].size_bytes < 0.65 * fp32.size_bytes
    assert cnn_levels["int8-dynamic"].size_bytes < 0.5 * fp32.size_bytes
    # pruning keeps the model dense: same size on disk, smaller once deflated
    for level in ("pruned-50", "pruned-75"):
        assert cnn_levels[level].size_bytes == fp32.size_bytes
    assert cnn_levels["pruned-75"].stored_size_bytes < cnn_levels["pruned-50"].stored_size_bytes < fp32.stored_size_bytes


def test_int8_levels_hold_int8_weights_and_pruning_zeroes_the_right_share(cnn_levels):
    static = cnn_levels["int8-static"].model
    ops = {n.op_type for n in static.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert any(i.data_type == onnx.TensorProto.INT8 for i in static.graph.initializer)
    dyn_ops = {n.op_type for n in cnn_levels["int8-dynamic"].model.graph.node}
    assert dyn_ops & {"ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"}
    for level, share in (("pruned-50", 0.5), ("pruned-75", 0.75)):
        w2 = next(i for i in cnn_levels[level].model.graph.initializer if i.name == "w2")
        zeros = float(np.mean(numpy_helper.to_array(w2) == 0))
        assert share <= zeros < share + 0.02


def test_compress_leaves_the_input_model_untouched():
    model = tiny_cnn()
    before = model.SerializeToString()
    for level in LEVELS:
        compress(model, level)
    assert model.SerializeToString() == before


def test_static_calibration_says_where_its_samples_came_from(cnn, tmp_path):
    assert compress(cnn, "int8-static").calibration == "synthetic inputs (no samples given)"
    rng = np.random.default_rng(3)
    for i in range(4):
        np.save(tmp_path / f"s{i}.npy", rng.standard_normal((1, 3, 16, 16)).astype(np.float32))
    samples = load_samples(tmp_path, cnn)
    cm = compress(cnn, "int8-static", samples=samples)
    assert cm.applicable and cm.calibration == f"user samples from {tmp_path}"
    # calibration on other data gives other scales: the samples were really used
    assert cm.model.SerializeToString() != compress(cnn, "int8-static").model.SerializeToString()


def test_levels_that_do_not_apply_say_why():
    lstm = {level: compress(tiny_lstm(), level) for level in ("int8-dynamic", "int8-static")}
    assert lstm["int8-dynamic"].applicable
    assert not lstm["int8-static"].applicable and "float" in lstm["int8-static"].reason
    assert lstm["int8-static"].model is None
    for level in LEVELS[1:]:
        cm = compress(relu_only(), level)
        assert not cm.applicable and cm.reason and cm.model is None, level


def test_unknown_level_is_a_clear_error(cnn):
    with pytest.raises(CompressionError, match="int4.*fp32, fp16"):
        compress(cnn, "int4")


def test_a_user_variant_is_a_level_with_its_own_file(cnn, tmp_path):
    student = tiny_cnn(channels=8, hw=16, seed=5)
    onnx.save(student, str(tmp_path / "student.onnx"))
    cm = compress(cnn, "variant:student", variant_path=tmp_path / "student.onnx")
    assert cm.applicable and cm.size_bytes == len(student.SerializeToString())
    onnx.save(relu_only(), str(tmp_path / "other.onnx"))
    with pytest.raises(CompressionError, match="drop-in replacement"):
        compress(cnn, "variant:other", variant_path=tmp_path / "other.onnx")
    with pytest.raises(CompressionError, match="variant_path"):
        compress(cnn, "variant:student")


def test_bad_samples_name_the_file_the_input_and_the_expected_shape(cnn, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(CompressionError) as err:
        load_samples(tmp_path, cnn)
    msg = str(err.value)
    assert "a.npy" in msg and "'x'" in msg and "[1, 3, 8, 8]" in msg and "[1, 3, 16, 16]" in msg
    (tmp_path / "a.npy").unlink()
    np.save(tmp_path / "b.npy", np.zeros((1, 3, 16, 16), np.int64))
    with pytest.raises(CompressionError, match=r"b\.npy.*dtype int64, expected float32"):
        load_samples(tmp_path, cnn)
    (tmp_path / "b.npy").unlink()
    np.savez(tmp_path / "c.npz", y=np.zeros((1, 3, 16, 16), np.float32))
    with pytest.raises(CompressionError, match=r"c\.npz.*lacks input\(s\) \['x'\]"):
        load_samples(tmp_path, cnn)
    with pytest.raises(CompressionError, match="does not exist"):
        load_samples(tmp_path / "nope", cnn)


def test_labelled_npz_samples_and_batchless_arrays(cnn, tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        # float64 and no batch dimension: both are accepted and converted
        np.savez(tmp_path / f"s{i}.npz", x=rng.standard_normal((3, 16, 16)), label=np.array(i))
    samples = load_samples(tmp_path, cnn)
    assert len(samples) == 3 and samples.labels == [0, 1, 2]
    assert samples.inputs[0]["x"].shape == (1, 3, 16, 16) and samples.inputs[0]["x"].dtype == np.float32
    assert samples.fingerprint() != synthetic_samples(cnn, 3).fingerprint()


def test_compressed_models_run_and_stay_close_to_fp32(cnn, cnn_levels):
    samples = synthetic_samples(cnn, 2)
    ref = run_model(cnn, samples)
    out = run_model(cnn_levels["fp16"].model, samples)
    np.testing.assert_allclose(out[0]["logits"], ref[0]["logits"], rtol=0.02, atol=0.02)


def test_cut_codecs_round_trip_and_shrink_the_wire():
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((1, 64, 28, 28)), 0).astype(np.float32)
    fp16 = encode_tensor(x, "fp16")
    int8 = encode_tensor(x, "int8")
    assert fp16.wire_bytes == x.nbytes // 2
    assert int8.wire_bytes == x.nbytes // 4 + 8
    np.testing.assert_allclose(decode_tensor(fp16), x, atol=2e-3, rtol=1e-3)
    step = (x.max() - 0) / 255
    assert float(np.abs(decode_tensor(int8) - x).max()) <= step / 2 + 1e-6
    assert decode_tensor(encode_tensor(x, "none")).tobytes() == x.tobytes()
    with pytest.raises(ValueError, match="unknown cut codec"):
        encode_tensor(x, "zip")


def test_measured_cut_codecs_have_real_costs():
    codecs = measure_cut_codecs(tensor_mb=0.5, repeats=3)
    assert codecs["none"].wire_ratio == 1.0
    assert codecs["fp16"].wire_ratio == pytest.approx(0.5)
    assert codecs["int8"].wire_ratio == pytest.approx(0.25, abs=1e-3)
    for name in ("fp16", "int8"):
        assert codecs[name].encode_ms_per_mb > 0 and codecs[name].decode_ms_per_mb > 0
        assert 0.999 < codecs[name].fidelity <= 1.0


def test_a_level_onnxruntime_cannot_run_is_not_applicable_with_its_message(cnn, tmp_path):
    from onnx import TensorProto, helper

    # same inputs and outputs, but an operator no execution provider implements
    node = helper.make_node("Frobnicate", ["x"], ["logits"], name="custom", domain="com.example")
    graph = helper.make_graph(
        [node], "odd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
    )
    odd = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    odd.ir_version = 9
    onnx.save(odd, str(tmp_path / "odd.onnx"))
    cm = compress(cnn, "variant:odd", variant_path=tmp_path / "odd.onnx")
    assert not cm.applicable and cm.model is None
    assert cm.reason.startswith("onnxruntime cannot run this level") and "Frobnicate" in cm.reason
