"""load_model: FLOPs against hand counts, subgraphs, external data, opsets, dynamic dims, bad files, units, cuts."""

from __future__ import annotations

import networkx as nx
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from planner_app.core.models.graph import ModelError, load_model, parse_shape_args
from planner_app.core.models.partition import check_chain, split_stages, stages_from_positions
from planner_app.core.models.samples import SAMPLE_MODELS, build_sample_model
from planner_app.core.progress import Cancelled, CancelToken
from tests.core._model_helpers import (
    analysed_sample,
    batched_matmul,
    dynamic_conv,
    gemm,
    grouped_conv,
    if_model,
    init,
    loop_model,
    make,
    scan_model,
    torch_style_flatten,
    vi,
)


@pytest.fixture(scope="session")
def samples():
    """Every sample at its default size, analysed once for the whole session."""
    return {name: analysed_sample(name) for name in SAMPLE_MODELS}


# -- FLOPs against hand-computed values -------------------------------------------------

def test_grouped_conv_flops_match_hand_count():
    mg = load_model(grouped_conv(n=1, c=8, m=16, hw=10, k=3, group=4).SerializeToString())
    # 16 output channels x 10x10 positions, each a dot product over 8/4 channels x 3x3 taps
    assert mg.total_macs == 16 * 10 * 10 * 2 * 9
    assert mg.total_flops == 2 * 16 * 10 * 10 * 2 * 9
    assert mg.total_param_bytes == 16 * 2 * 3 * 3 * 4
    assert mg.outputs["y"] == [1, 16, 10, 10]


def test_depthwise_conv_flops():
    mg = load_model(grouped_conv(c=8, m=8, hw=6, group=8).SerializeToString())
    assert mg.total_macs == 8 * 6 * 6 * 1 * 9


def test_gemm_flops_match_hand_count():
    mg = load_model(gemm(m=4, k=32, n=16).SerializeToString())
    assert mg.total_macs == 4 * 16 * 32
    assert mg.total_flops == 2 * 4 * 16 * 32
    assert mg.units[0].param_bytes == (16 * 32 + 16) * 4


def test_batched_matmul_flops_match_hand_count():
    mg = load_model(batched_matmul((2, 3, 5, 7), (2, 3, 7, 4)).SerializeToString())
    assert mg.total_macs == 2 * 3 * 5 * 4 * 7
    broadcast = load_model(batched_matmul((2, 5, 7), (7, 4)).SerializeToString())
    assert broadcast.total_macs == 2 * 5 * 4 * 7
    assert broadcast.tensor_bytes["y"] == 2 * 5 * 4 * 4


def test_lstm_flops_count_four_gates():
    x = vi("x", [5, 1, 3])
    lstm = helper.make_node("LSTM", ["x", "W", "R"], ["Y", "Y_h"], name="lstm", hidden_size=4)
    model = make([lstm], [x], [vi("Y_h", None)], [init("W", [1, 16, 3]), init("R", [1, 16, 4])])
    mg = load_model(model.SerializeToString())
    assert mg.total_macs == 5 * 4 * 4 * (3 + 4)
    assert mg.not_costed == {}


# -- subgraphs, external data, opsets ----------------------------------------------------

def test_if_node_is_one_unit_costed_by_its_larger_branch():
    mg = load_model(if_model(d=32).SerializeToString())
    if_unit = mg.units[mg.node_to_unit["if"]]
    assert if_unit.has_subgraph
    # then branch: a 1x32 @ 32x32 MatMul; the else branch (an Add) is smaller
    assert mg.graph.nodes["if"]["macs"] == 32 * 32
    # the branches read 'r' from the outer scope: the If unit consumes it
    assert "r" in if_unit.inputs
    assert mg.graph.has_edge("relu", "if")
    assert if_unit.param_bytes >= 32 * 32 * 4  # W, read only inside the branch


def test_if_model_splits_before_the_if_and_chains_exactly():
    mg = load_model(if_model(d=32).SerializeToString())
    pos = mg.node_to_unit["if"] - 1
    parts = split_stages(mg, stages_from_positions(mg, [pos]))
    assert "r" in parts[1].inputs
    assert check_chain(mg, [p.model for p in parts]).ok


def test_external_data_is_loaded_and_missing_files_are_named(tmp_path):
    model = gemm(m=2, k=256, n=128)
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.weights", size_threshold=0)
    assert (tmp_path / "ext.weights").exists()
    mg = load_model(path)
    assert mg.total_param_bytes == (128 * 256 + 128) * 4
    assert mg.model_bytes > path.stat().st_size  # the weights file counts
    with pytest.raises(ModelError, match="raw bytes"):
        load_model(path.read_bytes())
    (tmp_path / "ext.weights").unlink()
    with pytest.raises(ModelError, match=r"ext\.weights"):
        load_model(path)


@pytest.mark.parametrize("opset", [11, 13, 17, 18])
def test_models_at_opsets_11_to_18_load_and_split(opset):
    for name, params in (("resnet18", {"image_size": 32, "width": 8}),
                         ("transformer_encoder", {"layers": 1, "d_model": 32, "heads": 2, "ffn": 64, "seq_len": 8}),
                         ("lstm_kws", {"frames": 10, "hidden": 16})):
        mg = load_model(build_sample_model(name, opset=opset, **params).SerializeToString(), name=name)
        assert mg.opsets["ai.onnx"] == opset
        assert mg.not_costed == {}, (name, opset)
        assert mg.total_macs > 0
        parts = split_stages(mg, stages_from_positions(mg, [len(mg.units) // 2]))
        assert all(p.model.opset_import[0].version == opset for p in parts)
        assert check_chain(mg, [p.model for p in parts]).ok, (name, opset)


def test_custom_domain_ops_are_listed_not_costed_and_sized_by_a_run():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("Gelu", ["m"], ["g"], name="gelu", domain="com.microsoft"),
             helper.make_node("Relu", ["g"], ["y"], name="relu")]
    model = make(nodes, [vi("x", [2, 8])], [vi("y", None)], [init("w", [8, 8])],
                 domains=[("com.microsoft", 1)])
    mg = load_model(model.SerializeToString())
    assert mg.not_costed == {"com.microsoft:Gelu": 1}
    assert not mg.units[mg.node_to_unit["gelu"]].costed
    # shape inference cannot size the contrib op's output: one onnxruntime run did
    assert mg.tensor_bytes["g"] == 2 * 8 * 4
    assert any("onnxruntime" in w for w in mg.warnings)


def test_ai_onnx_ml_op_is_listed():
    node = helper.make_node("Normalizer", ["x"], ["y"], name="norm", domain="ai.onnx.ml", norm="L2")
    model = make([node], [vi("x", [3, 4])], [vi("y", [3, 4])], domains=[("ai.onnx.ml", 3)])
    mg = load_model(model.SerializeToString())
    assert mg.not_costed == {"ai.onnx.ml:Normalizer": 1}
    assert mg.opsets["ai.onnx.ml"] == 3


# -- dynamic dimensions ------------------------------------------------------------------

def test_dynamic_dims_supplied_are_used_and_reported():
    data = dynamic_conv().SerializeToString()
    one = load_model(data, {"x": [1, 3, 16, 16]})
    two = load_model(data, {"x": [2, 3, 16, 16]})
    assert two.dynamic_dims == {"batch": 2, "H": 16, "W": 16}
    assert two.inputs["x"] == [2, 3, 16, 16]
    assert two.outputs["y"] == [2, 4, 16, 16]
    assert two.total_macs == 2 * one.total_macs
    assert two.model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2


def test_dynamic_dims_missing_name_the_dim_the_input_and_the_flag():
    with pytest.raises(ModelError) as err:
        load_model(dynamic_conv().SerializeToString())
    text = str(err.value)
    assert "'batch'" in text and "'H'" in text and "input 'x'" in text and "--shape x=" in text


def test_wrong_shape_arguments_are_rejected():
    data = dynamic_conv().SerializeToString()
    with pytest.raises(ModelError, match="has no input named 'images'"):
        load_model(data, {"images": [1, 3, 8, 8]})
    with pytest.raises(ModelError, match="gives 3 dimensions"):
        load_model(data, {"x": [1, 3, 8]})
    with pytest.raises(ModelError, match="fixed to 3"):
        load_model(data, {"x": [1, 4, 8, 8]})


def test_parse_shape_args():
    assert parse_shape_args(["x=1x3x224x224", "ids = 1,128"]) == {"x": [1, 3, 224, 224], "ids": [1, 128]}
    for bad in ["x", "x=1xa", "=1x2", "x=0x3"]:
        with pytest.raises(ModelError, match="--shape"):
            parse_shape_args([bad])


# -- bad files ----------------------------------------------------------------------------

def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("this is a text file, not a model\n" * 20)
    with pytest.raises(ModelError, match="notes.onnx") as err:
        load_model(path)
    assert "ONNX" in str(err.value)


def test_truncated_protobuf(tmp_path):
    data = build_sample_model("lstm_kws", frames=10, hidden=16).SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"cut\.onnx.*(truncated|checker)"):
        load_model(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="is a directory"):
        load_model(tmp_path)


def test_model_with_no_nodes():
    model = make([], [vi("x", [1])], [vi("x", [1])])
    with pytest.raises(ModelError, match="no nodes"):
        load_model(model.SerializeToString(), name="empty")


def test_opset_onnxruntime_cannot_run_is_rejected_at_load():
    model = make([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [2])], [vi("y", [2])], opset=40)
    with pytest.raises(ModelError, match="opset 40"):
        load_model(model.SerializeToString())


def test_checker_failure_names_the_model():
    node = helper.make_node("Relu", ["missing"], ["y"], name="r")
    model = make([node], [vi("x", [2])], [vi("y", [2])])
    with pytest.raises(ModelError, match="checker"):
        load_model(model.SerializeToString(), name="broken")


def test_unnamed_nodes_get_unique_names():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Sigmoid", ["b"], ["y"], name="dup"), ]
    model = make(nodes, [vi("x", [4])], [vi("y", [4])])
    mg = load_model(model.SerializeToString())
    names = [n.name for n in mg.model.graph.node]
    assert len(set(names)) == 3 and all(names)
    assert set(mg.node_to_unit) == set(names)


# -- units and cuts -------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SAMPLE_MODELS))
def test_units_are_topological_acyclic_and_cover_every_node(samples, name):
    mg = samples[name]
    assert [u.id for u in mg.units] == list(range(len(mg.units)))
    assert nx.is_directed_acyclic_graph(mg.unit_graph)
    assert all(u < v for u, v in mg.unit_graph.edges)
    folded = [n for u in mg.units for n in u.node_names]
    assert sorted(folded) == sorted(n.name for n in mg.model.graph.node)
    assert all(mg.node_to_unit[n] == u.id for u in mg.units for n in u.node_names)
    assert mg.total_flops == pytest.approx(sum(d["flops"] for _, d in mg.graph.nodes(data=True)))
    # trivial operators never stand alone as a unit
    for u in mg.units:
        assert u.op_types[0] not in {"Reshape", "Transpose", "Cast", "Identity", "Constant", "Shape"}, u
    assert 3 < len(mg.units) < mg.graph.number_of_nodes() or name == "lstm_kws"


@pytest.mark.parametrize("name", ["mobilenet_v2", "yolo_detector", "transformer_encoder"])
def test_cut_enumeration_matches_brute_force(samples, name):
    mg = samples[name]
    cuts = mg.cuts()
    assert [c.position for c in cuts] == list(range(len(mg.units) - 1))
    for cut in cuts:
        crossing = {t for t, p in mg.tensor_producer.items()
                    if p <= cut.position and any(c > cut.position for c in mg.tensor_consumers.get(t, []))}
        assert set(cut.tensors) == crossing
        assert cut.bytes == sum(mg.tensor_bytes[t] for t in crossing)
    cheapest = mg.cheapest_cuts(5)
    assert [c.bytes for c in cheapest] == sorted(c.bytes for c in cheapest)
    assert cheapest[0].bytes == min(c.bytes for c in cuts)


def test_cut_inside_a_residual_block_carries_the_skip(samples):
    mg = samples["resnet18"]
    first_conv_of_block = mg.node_to_unit["layer1.1.1.conv"]
    cut = mg.cuts()[first_conv_of_block]
    assert set(cut.tensors) == {"layer1.0.relu", "layer1.1.1.relu"}
    assert cut.bytes == 2 * 64 * 56 * 56 * 4


def test_folding_fuses_bn_activation_and_residual_add(samples):
    mg = samples["resnet18"]
    unit = mg.units[mg.node_to_unit["layer1.0.2.conv"]]
    assert unit.op_types == ["Conv", "BatchNormalization", "Add", "Relu"]
    yolo = samples["yolo_detector"]
    silu = yolo.units[yolo.node_to_unit["backbone.0.conv"]]
    assert silu.op_types == ["Conv", "BatchNormalization", "Sigmoid", "Mul"]
    assert silu.outputs == ["backbone.0.silu"]


def test_summary_has_what_the_cli_prints(samples):
    s = samples["mobilenet_v2"].summary()
    for key in ("ops_by_count", "flops", "macs", "params", "param_bytes", "model_bytes", "opsets",
                "dynamic_dims", "not_costed", "cheapest_cuts", "inputs", "outputs", "units"):
        assert key in s
    assert s["ops_by_count"]["Conv"] == 52
    assert len(s["cheapest_cuts"]) == 10


def test_random_input_int_ids_feed_a_gather_embedding():
    table = init("emb", [50, 8])
    nodes = [helper.make_node("Gather", ["emb", "ids"], ["e"], name="embed"),
             helper.make_node("Relu", ["e"], ["y"], name="relu")]
    model = make(nodes, [vi("ids", [1, 6], TensorProto.INT64)], [vi("y", None)], [table])
    mg = load_model(model.SerializeToString())
    assert mg.input_dtypes["ids"] == np.dtype("int64")
    assert mg.units[0].param_bytes == 50 * 8 * 4
    assert mg.tensor_bytes["ids"] == 6 * 8


def test_loop_is_costed_by_its_body_times_the_trip_count():
    mg = load_model(loop_model(d=16, trips=3).SerializeToString())
    loop = mg.units[mg.node_to_unit["loop"]]
    assert loop.has_subgraph and loop.costed
    assert mg.graph.nodes["loop"]["macs"] == 3 * 16 * 16
    assert loop.param_bytes >= 16 * 16 * 4  # W, read only inside the body
    parts = split_stages(mg, stages_from_positions(mg, [mg.node_to_unit["loop"] - 1]))
    assert check_chain(mg, [p.model for p in parts]).ok


def test_scan_is_costed_by_its_body_times_the_sequence_length():
    mg = load_model(scan_model(d=8, steps=5).SerializeToString())
    assert mg.graph.nodes["scan"]["macs"] == 5 * 8 * 8
    assert mg.units[0].has_subgraph


def test_progress_is_reported_and_cancel_stops_the_load():
    seen: list[tuple[float, str]] = []
    data = gemm().SerializeToString()
    load_model(data, progress=lambda f, m: seen.append((f, m)))
    assert seen[0][0] == 0.0 and seen[-1][0] == 1.0
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        load_model(data, cancel=token)


def test_pytorch_style_shape_arithmetic_folds_and_never_crosses_a_cut():
    mg = load_model(torch_style_flatten().SerializeToString(), {"x": [2, 3, 8, 8]})
    assert mg.inputs == {"x": [2, 3, 8, 8]}  # the weight listed as an input is not one
    assert [u.op_types[0] for u in mg.units] == ["Conv", "Gemm"]
    assert set(mg.units[0].op_types) >= {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape", "Constant"}
    (cut,) = mg.cuts()
    assert cut.tensors == ["flat"] and cut.bytes == 2 * 4 * 8 * 8 * 4
    parts = split_stages(mg, stages_from_positions(mg, [0]))
    assert check_chain(mg, [p.model for p in parts]).ok
