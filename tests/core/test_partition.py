"""Parts chained with onnxruntime equal the whole model; invalid stages and cuts are refused with reasons."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper

from planner_app.core.models.graph import load_model
from planner_app.core.models.partition import (
    PartitionError,
    check_chain,
    run_chain,
    split_stages,
    stages_from_cut_tensors,
    stages_from_positions,
    write_parts,
)
from planner_app.core.models.samples import SAMPLE_MODELS
from tests.core._model_helpers import analysed_sample, init, make, vi


@pytest.fixture(scope="session")
def samples():
    """Every sample at its default size, analysed once for the whole session."""
    return {name: analysed_sample(name) for name in SAMPLE_MODELS}


def _skip_cut(mg):
    """A position inside a residual block: the cut carries two or more tensors."""
    multi = [c for c in mg.cuts() if len(c.tensors) > 1]
    return multi[len(multi) // 2] if multi else None


@pytest.mark.parametrize("name", list(SAMPLE_MODELS))
def test_every_sample_chains_exactly_at_several_cuts(samples, name):
    mg = samples[name]
    n = len(mg.units)
    splits = [[n // 2 - 1], sorted({max(0, n // 4 - 1), n // 2, max(1, n - 2)})]
    skip = _skip_cut(mg)
    if skip is not None:
        splits.append([skip.position])
    for positions in splits:
        parts = split_stages(mg, stages_from_positions(mg, positions))
        assert len(parts) == len(positions) + 1
        report = check_chain(mg, [p.model for p in parts])
        assert report.ok, (name, positions, str(report))
        assert set(report.per_output) == set(mg.outputs)
    if skip is not None:
        # the same multi-tensor cut given as tensor names (the CLI's --cut)
        stages = stages_from_cut_tensors(mg, [skip.tensors])
        parts = split_stages(mg, stages)
        assert set(parts[0].outputs) >= set(skip.tensors)
        assert check_chain(mg, [p.model for p in parts]).ok


def test_cut_across_a_skip_connection_resnet(samples):
    mg = samples["resnet18"]
    stages = stages_from_cut_tensors(mg, [["layer1.0.relu", "layer1.1.1.relu"], ["layer3.1.relu"]])
    parts = split_stages(mg, stages)
    assert parts[1].inputs == ["layer1.0.relu", "layer1.1.1.relu"] or set(parts[1].inputs) == {
        "layer1.0.relu", "layer1.1.1.relu"}
    assert check_chain(mg, [p.model for p in parts]).ok


def test_parts_hold_only_the_weights_they_read(samples):
    mg = samples["resnet18"]
    parts = split_stages(mg, stages_from_positions(mg, [10]))
    for part in parts:
        init_bytes = sum(numpy_helper.to_array(t).nbytes for t in part.model.graph.initializer)
        assert init_bytes == sum(mg.units[u].param_bytes for u in part.unit_ids)
    total = sum(len(p.model.graph.initializer) for p in parts)
    assert total == len(mg.model.graph.initializer)


def test_graph_input_feeds_a_later_stage_directly(samples):
    mg = samples["transformer_encoder"]
    # after unit 0 (the first Q projection): K and V projections still read the embeddings
    parts = split_stages(mg, stages_from_positions(mg, [0]))
    assert "embeddings" in parts[1].inputs
    assert "embeddings" not in parts[0].outputs
    assert check_chain(mg, [p.model for p in parts]).ok


def test_an_output_may_leave_an_early_stage(samples):
    mg = samples["yolo_detector"]
    head3 = mg.tensor_producer["det_p3"]
    parts = split_stages(mg, stages_from_positions(mg, [head3]))
    assert "det_p3" in parts[0].graph_outputs
    outs = run_chain([p.model for p in parts], {"images": np.zeros((1, 3, 320, 320), np.float32)})
    assert set(outs) == {"det_p3", "det_p4", "det_p5"}


def test_write_parts_are_runnable_files_with_metadata(samples, tmp_path):
    mg = samples["lstm_kws"]
    parts = split_stages(mg, stages_from_positions(mg, [0, 1]))
    paths = write_parts(parts, tmp_path / "out")
    assert [p.name for p in paths] == [f"part_{i:02d}_{parts[i].name}.onnx" for i in range(3)]
    assert not list((tmp_path / "out").glob("*.tmp"))
    loaded = onnx.load(str(paths[1]))
    onnx.checker.check_model(loaded)
    meta = {p.key: p.value for p in loaded.metadata_props}
    assert meta["planner.stage_index"] == "1"
    assert meta["planner.source_sha256"] == mg.sha256
    assert json.loads(meta["planner.units"]) == parts[1].unit_ids
    assert loaded.opset_import[0].version == 17
    assert check_chain(mg, paths).ok


def test_check_chain_detects_a_wrong_part(samples):
    mg = samples["lstm_kws"]
    parts = split_stages(mg, stages_from_positions(mg, [1]))
    tampered = onnx.ModelProto()
    tampered.CopyFrom(parts[1].model)
    w = tampered.graph.initializer[0]
    w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w) * 1.01, w.name))
    report = check_chain(mg, [parts[0].model, tampered])
    assert not report.ok
    assert report.max_abs_diff > 0
    assert "logits" in str(report)


def test_given_inputs_are_used(samples):
    mg = samples["lstm_kws"]
    parts = split_stages(mg, stages_from_positions(mg, [1]))
    feeds = {"mfcc": np.ones((1, 98, 40), np.float32)}
    assert check_chain(mg, [p.model for p in parts], inputs=feeds).ok


# -- refused stages and cuts ----------------------------------------------------------------

def test_cut_missing_the_skip_tensor_says_which(samples):
    mg = samples["resnet18"]
    with pytest.raises(PartitionError, match=r"'layer1.0.relu' also flow.*--cut layer1.0.relu,layer1.1.1.relu"):
        stages_from_cut_tensors(mg, [["layer1.1.1.relu"]])


@pytest.mark.parametrize(
    ("tensors", "reason"),
    [
        (["input"], "graph input"),
        (["fc.weight"], "weight"),
        (["layer1.0.1.bn"], "inside unit"),
        (["layer1.0.reluu"], "did you mean 'layer1.0.relu'"),
        (["logits"], "graph output"),
        (["layer4.1.relu", "layer4.0.relu"], "only read before the cut"),
    ],
)
def test_invalid_cut_tensors_are_explained(samples, tensors, reason):
    with pytest.raises(PartitionError, match=reason):
        stages_from_cut_tensors(samples["resnet18"], [tensors])


def test_crossing_and_repeated_cuts_are_refused(samples):
    mg = samples["resnet18"]
    with pytest.raises(PartitionError, match="same cut"):
        stages_from_cut_tensors(mg, [["layer2.1.relu"], ["layer2.1.relu"]])
    # two parallel branches: each alone is a valid cut, but neither lies before the other
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["a"], name="mm_a"),
             helper.make_node("MatMul", ["x", "w2"], ["b"], name="mm_b"),
             helper.make_node("Concat", ["a", "b"], ["y"], name="cat", axis=1)]
    branches = load_model(make(nodes, [vi("x", [2, 4])], [vi("y", [2, 8])],
                               [init("w1", [4, 4]), init("w2", [4, 4], seed=1)]).SerializeToString())
    for one in ("a", "b"):
        assert len(stages_from_cut_tensors(branches, [[one]])) == 2
    with pytest.raises(PartitionError, match="cross each other"):
        stages_from_cut_tensors(branches, [["a"], ["b"]])


def test_invalid_stage_lists_are_refused(samples):
    mg = samples["lstm_kws"]
    n = len(mg.units)
    with pytest.raises(PartitionError, match="leave out"):
        split_stages(mg, [list(range(n - 1))])
    with pytest.raises(PartitionError, match="stages 0 and 1"):
        split_stages(mg, [list(range(n)), [0]])
    with pytest.raises(PartitionError, match="later stage"):
        split_stages(mg, [list(range(1, n)), [0]])
    with pytest.raises(PartitionError, match="empty"):
        split_stages(mg, [[], list(range(n))])
    with pytest.raises(PartitionError, match="outside"):
        stages_from_positions(mg, [n - 1])


# -- property: random DAGs of main and foldable ops -------------------------------------------

_OPS = ("MatMul", "MatMul", "Softmax", "Relu", "Add", "Mul", "Reshape", "Sigmoid", "Identity")


@st.composite
def _random_dag(draw):
    """A random DAG over [2, 8] tensors; every dangling tensor is a graph output."""
    n = draw(st.integers(3, 14))
    tensors = ["x"]
    nodes, inits = [], [init("w", [8, 8], seed=1, scale=0.3),
                        numpy_helper.from_array(np.array([2, 8], np.int64), "shape"),
                        numpy_helper.from_array(np.array(0.5, np.float32), "half")]
    for i in range(n):
        op = draw(st.sampled_from(_OPS))
        a = draw(st.sampled_from(tensors))
        out = f"t{i}"
        if op == "MatMul":
            ins = [a, "w"]
        elif op == "Add":
            ins = [a, draw(st.sampled_from(tensors))]
        elif op == "Mul":
            ins = [a, "half"]
        elif op == "Reshape":
            ins = [a, "shape"]
        else:
            ins = [a]
        nodes.append(helper.make_node(op, ins, [out], name=f"n{i}"))
        tensors.append(out)
    used = {t for node in nodes for t in node.input}
    outputs = [t for t in tensors[1:] if t not in used]
    return make(nodes, [vi("x", [2, 8])], [vi(t, [2, 8]) for t in outputs], inits)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(model=_random_dag(), data=st.data())
def test_random_dags_fold_acyclically_and_chain_exactly_at_any_cut(model, data):
    mg = load_model(model.SerializeToString())
    assert nx.is_directed_acyclic_graph(mg.unit_graph)
    assert all(u < v for u, v in mg.unit_graph.edges)
    if len(mg.units) < 2:
        return
    pos = data.draw(st.lists(st.integers(0, len(mg.units) - 2), min_size=1, max_size=3, unique=True))
    parts = split_stages(mg, stages_from_positions(mg, pos))
    assert check_chain(mg, [p.model for p in parts]).ok
    # every listed cut, named by its tensors (as `model inspect` prints them), is accepted
    named = [mg.cuts()[p].tensors for p in pos if mg.cuts()[p].tensors]
    if named and len({frozenset(t) for t in named}) == len(named):
        stages = stages_from_cut_tensors(mg, named)
        assert check_chain(mg, [s.model for s in split_stages(mg, stages)]).ok
