"""The plan document: schema, export with parts (atomic), and validation of hand edits.

These tests build a tiny two-layer network and cut it by hand into two ONNX
parts, so they exercise the plan writer and checker on real files and real
onnxruntime sessions without depending on the optimizer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import read_json, sha256_bytes
from planner_app.core.plans.check import validate_plan
from planner_app.core.plans.export import artifact_for, export_plan, serialize_part
from planner_app.core.plans.records import (
    PLAN_SCHEMA_PATH,
    Constraints,
    DeploymentPlan,
    ModelInfo,
    Objective,
    PlanError,
    SolverInfo,
    Stage,
    TopologyInfo,
    Totals,
    Transfer,
    canonical_sha256,
    load_plan,
    plan_json_schema,
)
from planner_app.core.progress import Cancelled, CancelToken
from planner_app.core.resources import resource_path
from planner_app.core.topology.records import Device, Link, Topology, Workload

RNG = np.random.default_rng(7)
W1 = RNG.standard_normal((8, 16)).astype(np.float32)
W2 = RNG.standard_normal((16, 4)).astype(np.float32)


def _graph_model(nodes, inputs, outputs, inits, name):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def tiny_model():
    """x[1,8] → MatMul → Relu → h[1,16] → MatMul → y[1,4], and its two parts."""
    w1, w2 = numpy_helper.from_array(W1, "w1"), numpy_helper.from_array(W2, "w2")
    n1 = helper.make_node("MatMul", ["x", "w1"], ["a"], name="mm1")
    n2 = helper.make_node("Relu", ["a"], ["h"], name="relu")
    n3 = helper.make_node("MatMul", ["h", "w2"], ["y"], name="mm2")
    whole = _graph_model([n1, n2, n3], [_vi("x", [1, 8])], [_vi("y", [1, 4])], [w1, w2], "tiny")
    p0 = _graph_model([n1, n2], [_vi("x", [1, 8])], [_vi("h", [1, 16])], [w1], "part0")
    p1 = _graph_model([n3], [_vi("h", [1, 16])], [_vi("y", [1, 4])], [w2], "part1")
    return whole, [p0, p1]


def tiny_topology() -> Topology:
    return Topology(
        name="tiny",
        devices=[
            Device(id="cam", kind="camera", tier="device", peak_gflops_fp32=5, memory_mb=256),
            Device(id="cloud", kind="cloud", tier="cloud", peak_gflops_fp32=500, memory_mb=8192, cost_usd_per_hour=1.0),
        ],
        links=[Link(id="lte", a="cam", b="cloud", medium="lte", bandwidth_ab_mbps=10, bandwidth_ba_mbps=40, latency_ms=20)],
        workloads=[Workload(name="w", source="cam", rate_rps=2, input_shapes={"x": [1, 8]})],
    )


def make_plan(model_file: Path, parts, levels=("fp32", "fp32")) -> tuple[DeploymentPlan, list[bytes]]:
    """A plan for the tiny model: stage 0 on the camera, stage 1 in the cloud."""
    topo = tiny_topology()
    doc = topo.to_dict()
    blobs = [serialize_part(p) for p in parts]
    data = model_file.read_bytes()
    stages = []
    for i, (dev, blob, level) in enumerate(zip(["cam", "cloud"], blobs, levels, strict=True)):
        m = onnx.load_from_string(blob)
        stages.append(Stage(
            index=i, device=dev, level=level, unit_ids=[i], unit_names=[f"u{i}"],
            node_names=[n.name for n in m.graph.node],
            inputs=[x.name for x in m.graph.input], outputs=[x.name for x in m.graph.output],
            artifact=artifact_for(i, dev, blob), compute_ms=1.0 + i, provenance="estimated",
        ))
    # figures as the cost model gives them: a checked plan's totals must add up (plans/rederive.py)
    up_ms = 20 + 0.5 + 64 * 8 / 10e3
    down_ms = 20 + 0.5 + 16 * 8 / 40e3
    totals = Totals(latency_ms=3.0 + up_ms + down_ms, throughput_rps=40.0, cost_usd_per_1k=0.01,
                    compute_ms=3.0, transfer_ms=up_ms + down_ms, bandwidth_mbps_per_link={"lte": 0.001})
    plan = DeploymentPlan(
        topology=TopologyInfo(name=topo.name, path=None, sha256=canonical_sha256(doc), document=doc),
        model=ModelInfo(
            name="tiny", source=str(model_file), path=str(model_file), sha256=sha256_bytes(data), bytes=len(data),
            opsets={"": 17}, input_shapes={"x": [1, 8]}, input_dtypes={"x": "float32"},
            output_names=["y"], output_shapes={"y": [1, 4]}, units=2,
        ),
        workload=topo.workloads[0],
        objective=Objective(name="latency"),
        constraints=Constraints(levels=sorted(set(levels))),
        stages=stages,
        transfers=[Transfer(
            from_stage=0, to_stage=1, from_device="cam", to_device="cloud", tensors=["h"], bytes=64,
            wire_bytes=64, route_devices=["cam", "cloud"], route_links=["lte"], transfer_ms=up_ms,
        ), Transfer(
            from_stage=1, to_stage=None, from_device="cloud", to_device="cam", tensors=["y"], bytes=16,
            wire_bytes=16, route_devices=["cloud", "cam"], route_links=["lte"], transfer_ms=down_ms,
        )],
        totals=totals,
        solver=SolverInfo(name="hand", exact=True),
    )
    return plan, blobs


@pytest.fixture
def exported(tmp_path) -> Path:
    whole, parts = tiny_model()
    model_file = tmp_path / "tiny.onnx"
    model_file.write_bytes(whole.SerializeToString())
    plan, blobs = make_plan(model_file, parts)
    return export_plan(plan, blobs, tmp_path / "out" / "plan.json")


def test_shipped_schema_is_up_to_date():
    shipped = read_json(resource_path(PLAN_SCHEMA_PATH), "plan schema")
    assert shipped == plan_json_schema(), "resources/plan.schema.json is stale: run `make schemas`"


def test_export_writes_plan_and_one_part_per_stage_that_chain_to_the_model(exported):
    parts = sorted(p.name for p in (exported.parent / "parts").iterdir())
    assert parts == ["stage_00_cam.onnx", "stage_01_cloud.onnx"]
    assert not [p for p in exported.parent.iterdir() if p.name.startswith(".")], "staging folder left behind"
    plan = load_plan(exported)
    assert [s.device for s in plan.stages] == ["cam", "cloud"]
    rep = validate_plan(exported, model_path=plan.model.path)  # a plan's own paths are never opened
    assert rep.ok, rep.problems
    assert rep.checked_parts == 2
    assert rep.chain is not None and rep.chain.compared_to_model and rep.chain.equal
    assert rep.chain.max_abs_diff <= 1e-5


def test_plan_json_has_stable_keys_with_units(exported):
    doc = json.loads(exported.read_text())
    assert list(doc)[:4] == ["schema_version", "tool", "topology", "model"]
    assert {"latency_ms", "throughput_rps", "cost_usd_per_1k", "bandwidth_mbps_per_link"} <= set(doc["totals"])
    assert set(doc["stages"][0]["artifact"]) == {"path", "sha256", "bytes"}


def test_edited_part_is_named_with_hash_mismatch(exported):
    part = exported.parent / "parts" / "stage_01_cloud.onnx"
    data = bytearray(part.read_bytes())
    data[-5] ^= 0xFF
    part.write_bytes(bytes(data))
    rep = validate_plan(exported)
    assert not rep.ok
    text = " ".join(str(p) for p in rep.problems)
    assert "stage_01_cloud.onnx" in text and "sha256" in text
    with pytest.raises(PlanError) as info:
        rep.raise_for_problems()
    assert info.value.exit_code == 2


def test_missing_part_is_named(exported):
    (exported.parent / "parts" / "stage_00_cam.onnx").unlink()
    rep = validate_plan(exported)
    assert [p.location for p in rep.problems] == ["stages[0].artifact"]
    assert "missing" in rep.problems[0].message


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["totals"].__setitem__("latency_ms", "fast"), "totals.latency_ms"),
        (lambda d: d["stages"][1].__setitem__("gpu", True), "stages[1]"),
        (lambda d: d["stages"][0]["artifact"].__setitem__("sha256", "abc"), "stages[0].artifact.sha256"),
        (lambda d: d["stages"][0]["artifact"].__setitem__("path", "../../etc/passwd"), "stages[0].artifact.path"),
        (lambda d: d["stages"][1].__setitem__("index", 5), "stages[1].index"),
        (lambda d: d["stages"][1].__setitem__("device", "mars"), "stages[1].device"),
        (lambda d: d["topology"]["document"]["devices"][0].__setitem__("memory_mb", 1), "topology.sha256"),
        (lambda d: d.pop("totals"), "(document)"),
    ],
)
def test_hand_edited_plan_names_the_field(exported, edit, field):
    doc = json.loads(exported.read_text())
    edit(doc)
    exported.write_text(json.dumps(doc))
    rep = validate_plan(exported)
    assert not rep.ok
    assert any(p.location == field for p in rep.problems), rep.problems


def test_unknown_schema_version_is_refused(exported):
    doc = json.loads(exported.read_text())
    doc["schema_version"] = 99
    exported.write_text(json.dumps(doc))
    rep = validate_plan(exported)
    assert "schema_version" in str(rep.problems[0])


def test_not_json_plan_raises_input_error(tmp_path):
    bad = tmp_path / "plan.json"
    bad.write_text("{ not json")
    with pytest.raises(PlannerError, match="not valid JSON"):
        validate_plan(bad)


def test_parts_that_do_not_compute_the_model_are_caught(tmp_path):
    whole, parts = tiny_model()
    model_file = tmp_path / "tiny.onnx"
    model_file.write_bytes(whole.SerializeToString())
    wrong = onnx.ModelProto()
    wrong.CopyFrom(parts[1])
    wrong.graph.initializer[0].CopyFrom(numpy_helper.from_array(W2 * 1.01, "w2"))
    plan, blobs = make_plan(model_file, [parts[0], wrong])
    out = export_plan(plan, blobs, tmp_path / "plan.json")
    rep = validate_plan(out, model_path=model_file)
    assert not rep.ok
    assert "differ from the model" in str(rep.problems[0])


def test_compressed_parts_report_fidelity_instead_of_equality(tmp_path):
    whole, parts = tiny_model()
    model_file = tmp_path / "tiny.onnx"
    model_file.write_bytes(whole.SerializeToString())
    lossy = onnx.ModelProto()
    lossy.CopyFrom(parts[1])
    w2_rounded = W2.astype(np.float16).astype(np.float32)  # what fp16 weights do
    lossy.graph.initializer[0].CopyFrom(numpy_helper.from_array(w2_rounded, "w2"))
    # weights changed in place, kept in fp32: a lossy fp32-precision level (an fp16 part holds fp16 weights)
    plan, blobs = make_plan(model_file, [parts[0], lossy], levels=("fp32", "pruned-50"))
    out = export_plan(plan, blobs, tmp_path / "plan.json")
    rep = validate_plan(out, model_path=model_file)
    assert rep.ok, rep.problems
    assert rep.chain.lossless is False and rep.chain.equal is False
    assert 0 < rep.chain.max_abs_diff < 0.05
    assert rep.chain.cosine > 0.999


def test_without_the_model_the_chain_still_runs_with_a_warning(exported, tmp_path):
    (tmp_path / "tiny.onnx").unlink()
    rep = validate_plan(exported)
    assert rep.ok, rep.problems
    assert rep.chain is not None and not rep.chain.compared_to_model
    assert any("not found" in w for w in rep.warnings)


def test_export_refuses_parts_that_do_not_match_and_writes_nothing(tmp_path):
    whole, parts = tiny_model()
    model_file = tmp_path / "tiny.onnx"
    model_file.write_bytes(whole.SerializeToString())
    plan, blobs = make_plan(model_file, parts)
    out_dir = tmp_path / "out"
    with pytest.raises(PlanError, match="does not match its parts"):
        export_plan(plan, [blobs[1], blobs[0]], out_dir / "plan.json")
    assert not out_dir.exists() or not list(out_dir.iterdir())


def test_cancelled_export_leaves_the_previous_plan_intact(exported):
    before = {p.relative_to(exported.parent): p.read_bytes() for p in exported.parent.rglob("*") if p.is_file()}
    whole, parts = tiny_model()
    plan, blobs = make_plan(Path(load_plan(exported).model.path), parts)
    plan = plan.model_copy(update={"notes": ["second export"]})
    token = CancelToken()
    calls = []

    def progress(fraction, message):
        calls.append(message)
        token.cancel()  # cancel after the first part is written

    with pytest.raises(Cancelled):
        export_plan(plan, blobs, exported, progress=progress, cancel=token)
    after = {p.relative_to(exported.parent): p.read_bytes() for p in exported.parent.rglob("*") if p.is_file()}
    assert calls and after == before


def test_export_refuses_a_plan_that_contradicts_itself(exported):
    before = exported.read_bytes()
    whole, parts = tiny_model()
    plan, blobs = make_plan(Path(load_plan(exported).model.path), parts)
    one = plan.model_copy(update={"stages": plan.stages[:1], "transfers": []})  # unit 1 is lost
    with pytest.raises(PlanError, match="contradicts itself"):
        export_plan(one, blobs[:1], exported)
    assert exported.read_bytes() == before


def test_reexport_replaces_the_parts_folder(exported):
    stale = exported.parent / "parts" / "stage_07_old.onnx"
    stale.write_bytes(b"old")
    whole, parts = tiny_model()
    plan, blobs = make_plan(Path(load_plan(exported).model.path), parts)
    export_plan(plan, blobs, exported)
    assert not stale.exists()
    assert validate_plan(exported).ok


def test_changed_topology_file_is_a_warning(tmp_path):
    from planner_app.core.topology.io import save_topology

    whole, parts = tiny_model()
    model_file = tmp_path / "tiny.onnx"
    model_file.write_bytes(whole.SerializeToString())
    topo_file = tmp_path / "tiny_topology.json"
    save_topology(tiny_topology(), topo_file)
    plan, blobs = make_plan(model_file, parts)
    plan = plan.model_copy(update={"topology": plan.topology.model_copy(update={"path": str(topo_file)})})
    out = export_plan(plan, blobs, tmp_path / "plan.json")
    # the topology file is compared only when given: the path the plan records is never opened
    assert validate_plan(out, model_path=model_file, topology_path=topo_file).warnings == []
    topo = tiny_topology()
    topo.links[0] = topo.links[0].model_copy(update={"bandwidth_ab_mbps": 1.0})
    save_topology(topo, topo_file)
    assert validate_plan(out, model_path=model_file).warnings == []
    rep = validate_plan(out, model_path=model_file, topology_path=topo_file)
    assert rep.ok and any("differs from the topology the plan was made for" in w for w in rep.warnings)


def test_failure_while_moving_into_place_rolls_back(exported, monkeypatch):
    """The disk fails on the last rename (the plan file): the parts folder moved before is restored."""
    import os

    from planner_app.core.plans import export as plan_export

    before = {p.relative_to(exported.parent): p.read_bytes() for p in exported.parent.rglob("*") if p.is_file()}
    whole, parts = tiny_model()
    other = onnx.ModelProto()
    other.CopyFrom(parts[1])
    other.graph.initializer[0].CopyFrom(numpy_helper.from_array(W2 * 2, "w2"))  # new bytes for stage 1
    plan, blobs = make_plan(Path(load_plan(exported).model.path), [parts[0], other])
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(dst) == exported:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(plan_export.os, "replace", failing_replace)
    with pytest.raises(PlanError, match="No space"):  # exit 2 naming the path, not a traceback
        export_plan(plan, blobs, exported)
    monkeypatch.undo()
    after = {p.relative_to(exported.parent): p.read_bytes() for p in exported.parent.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in exported.parent.iterdir() if p.name.startswith(".")]
    assert validate_plan(exported).ok


def test_parts_may_sit_beside_the_plan(tmp_path):
    """A hand-made plan whose parts are files directly next to it is exported and valid too."""
    from planner_app.core.plans.records import Artifact

    whole, parts = tiny_model()
    model_file = tmp_path / "tiny.onnx"
    model_file.write_bytes(whole.SerializeToString())
    plan, blobs = make_plan(model_file, parts)
    stages = [s.model_copy(update={"artifact": Artifact(path=f"part{i}.onnx", sha256=s.artifact.sha256,
                                                        bytes=s.artifact.bytes)})
              for i, s in enumerate(plan.stages)]
    out = export_plan(plan.model_copy(update={"stages": stages}), blobs, tmp_path / "flat" / "plan.json")
    assert sorted(p.name for p in out.parent.iterdir()) == ["part0.onnx", "part1.onnx", "plan.json"]
    assert validate_plan(out).ok


def test_fp16_part_ending_in_an_fp32_operator_keeps_float32_io():
    """yolo's upsampling (Resize) is left in fp32 by the fp16 converter, which then cast the part's
    output to float16: the next fp32 part could not read it and the export crashed."""
    from planner_app.core.models.graph import load_model
    from planner_app.core.optimizer.problem import Placement
    from planner_app.core.plans.build import build_parts

    mg = load_model("sample:yolo_detector")
    resize = next(u.id for u in mg.units if "Resize" in u.op_types)
    levels = ["fp32"] * len(mg.units)
    levels[resize] = "fp16"
    built = build_parts(mg, Placement(("cam",) * len(mg.units), tuple(levels)), fidelity_samples=1)
    float32 = TensorProto.FLOAT
    for model in built.models:
        assert {v.type.tensor_type.elem_type for v in [*model.graph.input, *model.graph.output]} == {float32}
    assert built.fidelity.cosine > 0.99
