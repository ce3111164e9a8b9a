"""Readers of other tools' per-layer measurements, each on its example file in tests/data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from planner_app.cli import main
from planner_app.core.models import ModelStructure, load_model
from planner_app.core.models.layer_table import LayerTable, LayerTableError, load_layer_table
from planner_app.core.profiling.readers.onnxruntime_profile import (
    layer_table_from_ort_profile,
    read_ort_profile,
)
from planner_app.core.profiling.readers.pipeedge import read_pipeedge
from planner_app.core.profiling.readers.tflite import add_tflite_times, read_tflite_benchmark
from planner_app.core.topology import load_topology

DATA = Path(__file__).resolve().parents[1] / "data"
PE = DATA / "pipeedge"
VIT = "google/vit-base-patch16-224"


# -- onnxruntime -----------------------------------------------------------------------

def test_onnxruntime_profile_is_read_per_node_with_sizes():
    prof = read_ort_profile(DATA / "onnxruntime" / "tiny_cnn_profile.json")
    assert prof.runs == 3
    # onnxruntime fused Conv+Relu into NCHWc nodes and inserted a reorder
    assert prof.order == ["r1_nchwc", "r2_nchwc", "g_nchwc", "ReorderOutput", "flat", "fc"]
    assert prof.op_types["r1_nchwc"] == "Conv"
    assert prof.output_bytes["r1_nchwc"] == 16 * 32 * 32 * 4
    assert all(v > 0 for v in prof.node_ms.values())
    doc = layer_table_from_ort_profile(prof, "pixel-7")
    table = LayerTable(doc)
    assert table.order == prof.order and table.input_bytes == 3 * 32 * 32 * 4
    assert table.series("pixel-7", "fp32", 1).tolist() == [prof.node_ms[n] for n in prof.order]


def test_onnxruntime_profile_maps_onto_the_models_units():
    prof = read_ort_profile(DATA / "onnxruntime" / "tiny_cnn_profile.json")
    graph = load_model(str(DATA / "onnxruntime" / "tiny_cnn.onnx"))
    table = LayerTable(layer_table_from_ort_profile(prof, "pixel-7", graph=graph))
    assert table.order == [u.name for u in graph.units]
    ms = table.series("pixel-7", "fp32", 1)
    # every node's time lands in a unit: nothing is lost or counted twice
    assert ms.sum() == pytest.approx(sum(prof.node_ms.values()))
    assert ms[0] == prof.node_ms["r1_nchwc"]  # conv1+relu1, fused
    assert np.array_equal(table.structure().cut_bytes, ModelStructure.from_model_graph(graph).cut_bytes)


def test_onnxruntime_profile_of_another_model_is_refused(tmp_path):
    prof = read_ort_profile(DATA / "onnxruntime" / "tiny_cnn_profile.json")
    with pytest.raises(LayerTableError, match="none of its 6 nodes belongs to model"):
        layer_table_from_ort_profile(prof, "pixel-7", graph=load_model("sample:lstm_kws"))
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"traceEvents": []}))
    with pytest.raises(LayerTableError, match="expected a JSON list of trace events"):
        read_ort_profile(bad)


def test_import_onnxruntime_cli_writes_a_plannable_table(tmp_path, capsys):
    out = tmp_path / "tiny.json"
    rc = main(["import", "onnxruntime", str(DATA / "onnxruntime" / "tiny_cnn_profile.json"), "--device-type",
               "raspberry-pi-5", "--model", str(DATA / "onnxruntime" / "tiny_cnn.onnx"), "--out-layers", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert load_layer_table(out).device_types == ["raspberry-pi-5"]


# -- TFLite ----------------------------------------------------------------------------

def test_tflite_benchmark_reads_the_regular_run_order_table_only():
    ops = read_tflite_benchmark(DATA / "tflite" / "rpi3_benchmark.txt")
    assert [op.name for op in ops][:2] == ["ds_cnn/conv_0/Relu", "ds_cnn/dw_1/Relu"]
    assert len(ops) == 8  # not the initialization table, nor the top-by-time and summary tables
    assert ops[0].node_type == "CONV_2D" and ops[0].avg_ms == 0.412
    table = load_layer_table(DATA / "tflite" / "ds_cnn_layers.csv")
    doc = add_tflite_times(table, ops, "raspberry-pi-3")
    timed = LayerTable(doc)
    assert timed.series("raspberry-pi-3", "fp32", 1).sum() == pytest.approx(1.353)
    assert timed.structure().cut_bytes.tolist()[:2] == [49 * 10 * 4, 25 * 5 * 64 * 4]


def test_tflite_names_that_match_no_layer_are_reported(tmp_path):
    text = (DATA / "tflite" / "rpi3_benchmark.txt").read_text().replace("[Identity]", "[Softmax_out]", 1)
    bench = tmp_path / "b.txt"
    bench.write_text(text)
    table = load_layer_table(DATA / "tflite" / "ds_cnn_layers.csv")
    with pytest.raises(LayerTableError) as err:
        add_tflite_times(table, read_tflite_benchmark(bench), "rpi3", where=str(bench))
    assert "Softmax_out: is not a layer" in str(err.value) and "Identity: has no time" in str(err.value)
    # in run order the counts agree, so it works
    doc = add_tflite_times(table, read_tflite_benchmark(bench), "rpi3", by_order=True)
    assert len(doc.times) == 1


def test_tflite_output_without_op_profiling_is_a_clear_error(tmp_path):
    bench = tmp_path / "b.txt"
    bench.write_text("STARTING!\ncount=50 first=41220 curr=41076 min=40677 max=43108 avg=41398.5 std=466\n")
    assert main(["import", "tflite", str(bench), "--device-type", "pi", "--into",
                 str(DATA / "tflite" / "ds_cnn_layers.csv"), "--out-layers", str(tmp_path / "l.json")]) == 2


# -- PipeEdge --------------------------------------------------------------------------

def test_pipeedge_readme_example_becomes_a_table_and_a_topology():
    imp = read_pipeedge(PE / "models.yml", PE / "device_types.yml", PE / "devices.yml", VIT)
    table = LayerTable(imp.table)
    assert table.n_layers == 48
    assert imp.table.layers[0].output_bytes == 302592 * 4 and table.input_bytes == 150528 * 4
    assert imp.table.layers[0].param_bytes == pytest.approx(26.857472 * 2**20)
    assert table.batches("RCC-VE-C2558", "fp32") == [8]
    assert table.series("RCC-VE-C2558", "fp32", 8)[0] == pytest.approx(368.92950534820557)
    topo = imp.topology
    assert [d.id for d in topo.devices] == ["mb-0", "mb-1", "mb-2", "mb-3", "rcc-0", "rcc-1", "rcc-2", "rcc-3"]
    assert {d.device_type for d in topo.devices} == {"Minnowboard-E3845", "RCC-VE-C2558"}
    assert topo.device("rcc-0").memory_mb == 8192
    assert len(topo.links) == 28 and topo.links[0].bandwidth_ab_mbps == pytest.approx(1000 * 2**20 / 1e6)
    assert topo.workloads[0].batch_size == 8


def test_pipeedge_readme_example_imports_and_plans(tmp_path, capsys):
    t, lay, plan = tmp_path / "t.json", tmp_path / "l.json", tmp_path / "plan.json"
    rc = main(["import", "pipeedge", str(PE / "models.yml"), str(PE / "device_types.yml"), str(PE / "devices.yml"),
               "--model", VIT, "--out-topology", str(t), "--out-layers", str(lay)])
    assert rc == 0, capsys.readouterr().err
    assert load_topology(t).workloads[0].source == "mb-0"
    rc = main(["optimize", "--layers", str(lay), "--topology", str(t), "--solver", "dp", "--out", str(plan),
               "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0, out
    doc = json.loads(plan.read_text())
    assert doc["model"]["units"] == 48
    assert sorted(u for st in doc["stages"] for u in st["unit_ids"]) == list(range(48))
    assert doc["stages"][0]["unit_names"][0] == "layer1" and all(st["artifact"] is None for st in doc["stages"])
    assert {st["device"] for st in doc["stages"]} <= {f"{k}-{i}" for k in ("mb", "rcc") for i in range(4)}


def _copy_pe(tmp_path: Path) -> Path:
    for f in ("models.yml", "device_types.yml", "devices.yml"):
        shutil.copy(PE / f, tmp_path / f)
    return tmp_path


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("devices.yml", "- rcc-3", "- 'rcc 3'", "devices.yml: RCC-VE-C2558[3]: host 'rcc 3' is not an identifier"),
    ("devices.yml", "DummyDeviceType: []", "DummyDeviceType: [dummy-0]",
     "devices.yml: DummyDeviceType: 1 host(s) of type 'DummyDeviceType', but device_types.yml has no profile"),
    ("devices.yml", "RCC-VE-C2558:\n- rcc-0", "RCC-VE-C2558: rcc-0\nX:\n- rcc-9", "expected a list of hosts"),
    ("models.yml", "  parameters_in: 150528", "  parameters_in: -1", "parameters_in: expected a positive integer"),
    ("models.yml", "  layers: 48", "  layers: 47", "mem_MB: has 48 entries, expected 47"),
    ("models.yml", "  layers: 48", "  layers: 48\n  flops: 3", "unexpected key(s) flops"),
    ("device_types.yml", "      dtype: torch.float32\n      time_s: [0.368", "      dtype: torch.int8\n      time_s: [0.368",
     "RCC-VE-C2558.model_profiles.google/vit-base-patch16-224[0].dtype: 'torch.int8'"),
    ("device_types.yml", "time_s: [0.4614471435546875", "time_s: [-0.46", "time_s[0]: expected a non-negative number"),
    ("device_types.yml", "  bw_Mbps: 1000\n  mem_MB: 2048", "  bw_Mbps: fast\n  mem_MB: 2048", "bw_Mbps: expected a non-negative"),
    ("models.yml", "google/vit-base-patch16-224:\n  layers: 48", "google/vit-base-patch16-224:\n  layers: 48\n bad: [",
     "models.yml' is not valid YAML at line"),
])
def test_bad_pipeedge_files_name_the_file_and_key(tmp_path, capsys, file, old, new, expected):
    d = _copy_pe(tmp_path)
    text = (d / file).read_text()
    assert old in text
    (d / file).write_text(text.replace(old, new, 1))
    rc = main(["import", "pipeedge", str(d / "models.yml"), str(d / "device_types.yml"), str(d / "devices.yml"),
               "--model", VIT, "--out-topology", str(d / "t.json"), "--out-layers", str(d / "l.json")])
    err = capsys.readouterr().err
    assert rc == 2
    assert expected in err, err
    assert not (d / "t.json").exists() and not (d / "l.json").exists()


def test_pipeedge_unknown_model_lists_the_known_ones(tmp_path):
    with pytest.raises(LayerTableError, match="no model 'vit-huge'; it describes 'DummyModel', 'google/vit-base"):
        read_pipeedge(PE / "models.yml", PE / "device_types.yml", PE / "devices.yml", "vit-huge")
