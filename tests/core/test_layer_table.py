"""The layer-table model format: round trips, bad input, and planning from a table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planner_app.cli import main
from planner_app.core.fileio import read_json
from planner_app.core.models.layer_table import (
    LAYER_TABLE_SCHEMA_PATH,
    LayerTable,
    LayerTableError,
    layer_table_csv_text,
    layer_table_from_structure,
    layer_table_json_schema,
    load_layer_table,
    parse_layer_table_csv,
    parse_layer_table_json,
    write_layer_table,
)
from planner_app.core.planning import (
    LayerTableSource,
    Measured,
    MeasureOptions,
    ModelSource,
    PlanningSession,
    PoseOptions,
)
from planner_app.core.plans import validate_plan
from planner_app.core.profiling import TimeTable
from planner_app.core.resources import resource_path

DATA = Path(__file__).resolve().parents[1] / "data" / "layer_tables"
HOME = Path(__file__).resolve().parents[2] / "sample_topologies" / "smart_home.json"


def test_shipped_schema_is_up_to_date():
    shipped = read_json(resource_path(LAYER_TABLE_SCHEMA_PATH), "layer table schema")
    assert shipped == layer_table_json_schema(), "resources/layer_table.schema.json is stale: run `make schemas`"


def test_csv_json_round_trip_keeps_the_document(tmp_path):
    table = load_layer_table(DATA / "vision_chain.csv")
    as_json = write_layer_table(table.document, tmp_path / "t.json")
    back = load_layer_table(as_json)
    assert back.document == table.document
    as_csv = write_layer_table(back.document, tmp_path / "t.csv")
    again = load_layer_table(as_csv)
    assert again.document == table.document
    assert np.array_equal(again.structure().cut_bytes, table.structure().cut_bytes)
    # both forms are one model: the source's identity does not depend on the file format
    assert LayerTableSource(again).sha256 == LayerTableSource(table).sha256


def test_a_dag_round_trips_and_keeps_its_edges(tmp_path):
    table = load_layer_table(DATA / "two_branch_dag.json")
    s = table.structure()
    assert table.order == ["stem", "left", "right", "merge", "head"]
    assert s.edges() == [(0, 1, 8000), (0, 2, 8000), (1, 3, 4000), (2, 3, 2000), (3, 4, 1000)]
    back = parse_layer_table_csv(layer_table_csv_text(table.document), "t.csv")
    assert back.document == table.document
    assert back.series("jetson-orin-nano", "fp16", 1).tolist() == [0.4, 0.9, 0.7, 0.2, 0.1]


def test_times_in_seconds_become_milliseconds_and_batches_are_kept_apart():
    text = "# time_unit: s\n# input_bytes: 100\nname,output_bytes,time:pi:fp32:1,time:pi:fp32:8\na,10,0.002,0.010\nb,4,0.001,0.004\n"
    t = parse_layer_table_csv(text)
    assert t.series("pi", "fp32", 1).tolist() == [2.0, 1.0]
    assert t.series("pi", "fp32", 8).tolist() == [10.0, 4.0]
    assert t.batches("pi", "fp32") == [1, 8]


@pytest.mark.parametrize(("text", "expected"), [
    ("# input_bytes: 10\nname,output_bytes,time:pi\na,4,1.0\n", "do not say their unit"),
    ("# time_unit: ms\n# input_bytes: 10\nname,output_bytes,time_s:pi\na,4,1.0\n", "ambiguous"),
    ("# input_bytes: 10\nname,output_bytes,time_s:pi,time_ms:nuc\na,4,1.0,2\n", "both ms and s"),
    ("# time_unit: ms\n# input_bytes: 10\nname,output_bytes,time:pi\na,4,-1.0\n", "greater than or equal to 0"),
    ("# time_unit: ms\n# input_bytes: 10\nname,output_bytes,time:pi\na,4,\n", "line 4 (a), column 'time:pi'"),
    ("# time_unit: ms\n# input_bytes: 10\nname,time:pi\na,1.0\n", "no output_bytes"),
    ("# time_unit: ms\nname,output_bytes,time:pi\na,4,1.0\n", "input: no bytes"),
    ("# time_unit: ms\n# input_bytes: 10\nname,successors,output_bytes\na,c,4\nb,,4\n", "unknown layer(s) 'c'"),
    ("# time_unit: ms\n# input_bytes: 10\nname,successors,output_bytes\na,b,4\nb,a,4\n", "cycle (a -> b -> a)"),
    ("# time_unit: ms\n# input_bytes: 10\nname,output_bytes,speed\na,4,1\n", "unknown column"),
])
def test_bad_csv_is_a_clear_error(text, expected):
    with pytest.raises(LayerTableError) as err:
        parse_layer_table_csv(text, "layer table 'bad.csv'")
    assert expected in str(err.value)
    assert "bad.csv" in str(err.value)


def test_bad_json_names_the_key(tmp_path):
    good = json.loads((DATA / "two_branch_dag.json").read_text())
    del good["time_unit"]
    with pytest.raises(LayerTableError, match="no time_unit"):
        parse_layer_table_json(good, "t.json")
    good["time_unit"] = "us"
    with pytest.raises(LayerTableError, match=r"time_unit.*'ms' or 's'"):
        parse_layer_table_json(good, "t.json")
    good["time_unit"] = "ms"
    good["times"][0]["values"] = [1.0, 2.0]
    with pytest.raises(LayerTableError, match=r"times\[0\].*has 2 values for 5 layers"):
        parse_layer_table_json(good, "t.json")
    bad = tmp_path / "cycle.json"
    data = json.loads((DATA / "two_branch_dag.json").read_text())
    data["layers"][4]["successors"] = ["stem"]
    bad.write_text(json.dumps(data))
    assert main(["optimize", "--layers", str(bad), "--topology", str(HOME), "--out", str(tmp_path / "p.json")]) == 2


def _mobilenet_session_and_times():
    s = PlanningSession.open(HOME, "photo-tagging")
    src = s.load_model()
    st = src.structure()
    # a phone fast on the first layers and slow on the rest: the best plan splits the model
    n = st.n_units
    phone = np.where(np.arange(n) < n // 3, 0.2, 20.0)
    ms = np.stack([st.flops / (d.peak_gflops_fp32 * 1e6) * (phone if d.id == "phone" else 1.0) + 0.01
                   for d in s.topology.devices], axis=1)[:, :, None]
    return s, st, ms


def test_a_plan_from_a_layer_table_equals_the_plan_from_the_onnx_model(tmp_path):
    onnx_session, st, ms = _mobilenet_session_and_times()
    ids = [d.id for d in onnx_session.topology.devices]
    tt = TimeTable(device_ids=ids, levels=["fp32"], ms=ms, param_bytes=st.param_bytes.reshape(-1, 1),
                   fidelity={"fp32": 1.0}, provenance={(d, "fp32"): "imported" for d in ids},
                   activation_bytes=st.activation_bytes)
    onnx_session.use_time_table(Measured(tt))
    onnx_session.pose(PoseOptions())
    expected = onnx_session.solve()

    doc = layer_table_from_structure(st, {(d.type_name, "fp32", 1): ms[:, i, 0]
                                          for i, d in enumerate(onnx_session.topology.devices)})
    path = write_layer_table(doc, tmp_path / "mobilenet.csv")
    table = load_layer_table(path)
    assert np.array_equal(table.structure().cut_bytes, st.cut_bytes)
    source = LayerTableSource(table)
    assert isinstance(source, ModelSource)
    s = PlanningSession.open(HOME, "photo-tagging")
    s.use_model(source)
    s.measure(MeasureOptions(levels=("fp32",)))
    s.pose(PoseOptions())
    got = s.solve()
    assert len({d for d in expected.placement.devices}) > 1, "the case must split the model to mean anything"
    assert got.placement.devices == expected.placement.devices
    assert got.placement.levels == expected.placement.levels
    assert got.prediction.latency_ms == pytest.approx(expected.prediction.latency_ms, rel=1e-9)


def test_devices_without_times_are_estimated_from_flops_or_ruled_out():
    table = load_layer_table(DATA / "vision_chain.csv")
    s = PlanningSession.open(HOME, "photo-tagging")
    s.use_model(LayerTableSource(table))
    m = s.measure()
    tt = m.time_table
    assert tt.provenance_of("hub", "fp32") == "imported"
    assert tt.time(1, "hub", "fp32") == 31.0
    assert tt.provenance_of("cloud-gpu", "fp32") == "estimated"  # no column: a roofline from FLOPs
    assert np.isfinite(tt.ms[:, tt.device_index("cloud-gpu"), 0]).all()
    assert any("roofline" in n for n in s.notes)

    no_flops = table.document.model_copy(deep=True)
    for row in no_flops.layers:
        row.flops = None
    s.use_model(LayerTableSource(LayerTable(no_flops, "layer table 'x.csv'")))
    tt = s.measure().time_table
    assert tt.provenance_of("cloud-gpu", "fp32") == "not measured"
    assert np.isinf(tt.ms[:, tt.device_index("cloud-gpu"), 0]).all()
    assert any("cloud-gpu (type aws-g4dn-xlarge) at fp32" in n and "run nothing" in n for n in s.notes)

    nobody = no_flops.model_copy(update={"times": []})
    s.use_model(LayerTableSource(LayerTable(nobody, "layer table 'x.csv'")))
    with pytest.raises(LayerTableError, match="no device of topology 'Smart home' can run"):
        s.measure()


def test_optimize_with_layers_exports_a_plan_without_part_files(tmp_path, capsys):
    out = tmp_path / "plan.json"
    rc = main(["optimize", "--layers", str(DATA / "vision_chain.csv"), "--topology", str(HOME),
               "--workload", "photo-tagging", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "no part files" in text
    assert not (tmp_path / "parts").exists()
    plan = json.loads(out.read_text())
    assert plan["model"]["name"] == "vision-chain" and plan["model"]["units"] == 7
    assert validate_plan(out).ok


def test_optimize_with_layers_refuses_a_model_too(tmp_path, capsys):
    rc = main(["optimize", "--layers", str(DATA / "vision_chain.csv"), "--model", "sample:resnet18",
               "--topology", str(HOME), "--out", str(tmp_path / "p.json"), "--quiet"])
    assert rc == 2
    assert "drop --model" in capsys.readouterr().err


def test_the_workloads_batch_picks_its_series_or_scales_the_nearest():
    text = ("# time_unit: ms\n# input_bytes: 1000\n"
            "name,output_bytes,working_bytes,time:raspberry-pi-5:fp32:1,time:raspberry-pi-5:fp32:4,time:aws-c7g-xlarge\n"
            "a,100,50,2.0,6.0,0.5\nb,10,0,1.0,3.0,0.25\n")
    table = parse_layer_table_csv(text, "layer table 'b.csv'")
    s = PlanningSession.open(HOME, "photo-tagging")
    s.use_model(LayerTableSource(table, batch_size=4))
    tt = s.measure().time_table
    assert tt.time(0, "hub", "fp32") == 6.0 and tt.provenance_of("hub", "fp32") == "imported"
    assert tt.time(0, "cloud-cpu", "fp32") == 2.0 and tt.provenance_of("cloud-cpu", "fp32") == "estimated"
    assert any("cloud-cpu at fp32 (batch 1 scaled to 4)" in n for n in s.notes)
    structure = s.source.structure()
    assert structure.cut_bytes.tolist() == [4000, 400, 40]  # sizes per request × the batch
    assert tt.activation_bytes[0] == 4000 + 400 + 50 * 4  # input, output and working memory of the batch


def test_times_at_an_unknown_level_are_refused():
    text = "# time_unit: ms\n# input_bytes: 10\nname,output_bytes,time:pi:int3\na,4,1.0\n"
    with pytest.raises(LayerTableError, match="unknown level\\(s\\) 'int3'"):
        LayerTableSource(parse_layer_table_csv(text, "layer table 'l.csv'"))


def test_example_and_written_files_validate_against_the_shipped_schema(tmp_path):
    import jsonschema

    schema = read_json(resource_path(LAYER_TABLE_SCHEMA_PATH), "layer table schema")
    jsonschema.validate(json.loads((DATA / "two_branch_dag.json").read_text()), schema)
    written = write_layer_table(load_layer_table(DATA / "vision_chain.csv").document, tmp_path / "v.json")
    jsonschema.validate(json.loads(written.read_text()), schema)
    broken = json.loads(written.read_text())
    broken["time_unit"] = "minutes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_a_workload_whose_model_is_a_layer_table_loads_it_beside_the_topology(tmp_path):
    """The session's load step takes a layer table the workload names (relative to the topology file)."""
    import shutil

    from planner_app.core.planning import LayerTableSource, PlanningSession

    doc = json.loads(HOME.read_text())
    w = next(w for w in doc["workloads"] if w["name"] == "photo-tagging")
    w["model"], w["input_shapes"] = "tables/vision.csv", {}
    (tmp_path / "tables").mkdir()
    shutil.copy(DATA / "vision_chain.csv", tmp_path / "tables" / "vision.csv")
    (tmp_path / "topo.json").write_text(json.dumps(doc))
    s = PlanningSession.open(tmp_path / "topo.json", "photo-tagging")
    source = s.load_model()
    assert isinstance(source, LayerTableSource) and source.structure().n_units == 7
    s.measure()
    s.pose(PoseOptions(slo_ms=None))
    assert s.solve().feasible
