"""Issue 14, one test per numbered item: hostile files, tampered plans, interrupts, absurd options.

Real files, real plans exported by the planner, real processes (signals, kill -9), no mocks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from planner_app.cli import main
from planner_app.core.models.graph import load_model
from planner_app.core.planning import MeasureOptions, PoseOptions, SolveOptions, plan_deployment
from planner_app.core.profiling.runner import ProfileSettings, profile_model
from planner_app.core.resources import sample_topology_paths

REPO = Path(__file__).resolve().parents[1]
HOME = str(sample_topology_paths()["smart_home"])


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A two-stage keyword-spotting plan: the first unit on the hub, the last in the cloud."""
    mg = load_model("sample:lstm_kws")
    prof = profile_model(mg, ["fp32"], settings=ProfileSettings(warmup=1, runs=3, max_seconds=2.0, fidelity_samples=2))
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    run = plan_deployment(
        HOME, "hub-keyword-spotting", model=mg, measure=MeasureOptions(profile=prof),
        pose=PoseOptions(pinned_units={0: "hub", len(mg.units) - 1: "cloud-cpu"}, slo_ms=None),
        solve=SolveOptions(), out=out)
    assert run.feasible and len(run.plan.stages) == 2 and len(run.plan.transfers) == 2
    return out


@pytest.fixture
def plan_copy(exported, tmp_path) -> Path:
    shutil.copytree(exported.parent, tmp_path / "copy")
    return tmp_path / "copy" / "plan.json"


def _edit(plan: Path, change) -> None:
    doc = json.loads(plan.read_text())
    change(doc)
    plan.write_text(json.dumps(doc))


def _validate(plan: Path, capsys, *extra: str) -> tuple[int, str, str]:
    rc = main(["plan", "validate", str(plan), "--no-chain", *extra])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# -- 1: never read outside the plan's folder -----------------------------------------------------
def test_1_symlinked_part_leading_out_is_refused(plan_copy, tmp_path, capsys):
    part = plan_copy.parent / "parts" / "stage_00_hub.onnx"
    outside = tmp_path / "elsewhere.onnx"
    shutil.copy(part, outside)  # the same bytes: only where it lies is wrong
    part.unlink()
    part.symlink_to(outside)
    rc, _, err = _validate(plan_copy, capsys)
    assert rc == 2 and "stages[0].artifact.path" in err and "outside the plan's folder" in err


def test_1_symlinked_parts_folder_is_refused(plan_copy, tmp_path, capsys):
    parts = plan_copy.parent / "parts"
    shutil.move(parts, tmp_path / "stolen-parts")
    parts.symlink_to(tmp_path / "stolen-parts", target_is_directory=True)
    rc, _, err = _validate(plan_copy, capsys)
    assert rc == 2 and err.count("outside the plan's folder") == 2
    assert main(["plan", "show", str(plan_copy)]) == 0
    assert "NOT VALID" in capsys.readouterr().out


def test_1_paths_recorded_in_the_plan_are_never_opened(plan_copy, tmp_path, capsys):
    """model.path / model.source / topology.path name real, matching files: the checker must not use them."""
    model_copy = tmp_path / "kws.onnx"
    shutil.copy(load_model("sample:lstm_kws").path, model_copy)
    topo_copy = tmp_path / "topo.json"
    topo_copy.write_text('{"schema_version": 2, "devices": "not a list"}')  # would warn if it were read

    def point_elsewhere(doc):
        doc["model"]["path"] = doc["model"]["source"] = str(model_copy)
        doc["topology"]["path"] = str(topo_copy)

    _edit(plan_copy, point_elsewhere)
    assert main(["plan", "validate", str(plan_copy)]) == 0
    cap = capsys.readouterr()
    assert "not compared" in cap.out and "give it with --model" in cap.err
    assert "topo.json" not in cap.err
    # given on the command line, they are used
    assert main(["plan", "validate", str(plan_copy), "--model", str(model_copy)]) == 0
    assert "chain: equals the model" in capsys.readouterr().out
    assert main(["plan", "validate", str(plan_copy), "--no-chain", "--topology", str(topo_copy)]) == 2
    assert "--topology" in capsys.readouterr().err


# -- 2: tampered plans are named by their first wrong field -----------------------------------------
@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["stages"][0]["artifact"].update(bytes=12), "stages[0].artifact.bytes"),
    (lambda d: d["stages"][0]["artifact"].update(bytes=1e30), "stages[0].artifact.bytes"),
    (lambda d: d["stages"][1].update(level="int8-dynamic"), "stages[1].level"),
    (lambda d: d["totals"].update(latency_ms=float("inf")), "totals.latency_ms"),
    (lambda d: d["totals"].update(latency_ms=1.0), "totals.latency_ms"),
    (lambda d: d.update(transfers=[]), "transfers"),
    (lambda d: d["workload"].update(source="ghost"), "workload.source"),
    (lambda d: d["stages"][1].update(device="cloud-gpu"), "transfers[0].to_device"),
    (lambda d: d["transfers"][0].update(transfer_ms=0.1), "transfers[0].transfer_ms"),
    # a stage made faster, with the totals made to agree: its recorded unit times still give it away
    (lambda d: (d["totals"].update(compute_ms=d["totals"]["compute_ms"] - d["stages"][0]["compute_ms"] / 2,
                                   latency_ms=d["totals"]["latency_ms"] - d["stages"][0]["compute_ms"] / 2),
                d["stages"][0].update(compute_ms=d["stages"][0]["compute_ms"] / 2)), "stages[0].compute_ms"),
    (lambda d: d["transfers"][0].update(route_links=["hub-lan", "cloud-dc", "home-uplink"]), "transfers[0].route_links"),
], ids=["bytes-12", "bytes-1e30", "level", "latency-inf", "latency", "no-transfers", "source", "moved-stage",
        "transfer-ms", "stage-compute", "route"])
def test_2_tampered_plan_names_the_field(plan_copy, capsys, change, field):
    _edit(plan_copy, change)
    rc, _, err = _validate(plan_copy, capsys)
    assert rc == 2, err
    assert f"  - {field}" in err, err
    assert "Traceback" not in err
    assert main(["plan", "show", str(plan_copy)]) in (0, 2)
    out = capsys.readouterr()
    assert "NOT VALID" in out.out or "edgeplan: error" in out.err


def test_2_a_genuine_plan_rederives_exactly(exported, capsys):
    from planner_app.core.plans.records import load_plan
    from planner_app.core.plans.rederive import derived_problems

    assert derived_problems(load_plan(exported)) == []


# -- 3 and 4: nesting, special and huge files ----------------------------------------------------
def test_3_deeply_nested_json_is_refused_before_parsing(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    assert main(["topology", "validate", str(deep)]) == 2
    assert "nests arrays and objects 200000 deep, above the limit of 64" in capsys.readouterr().err
    assert main(["plan", "show", str(deep)]) == 2
    assert main(["optimize", "--topology", HOME, "--workload", "hub-keyword-spotting", "--profile", str(deep),
                 "--out", str(tmp_path / "p.json")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_4_devices_fifos_and_huge_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:
        fh.truncate(65 * 1024 * 1024)  # sparse: costs no disk
    for args, needle in ((["topology", "validate", "/dev/zero"], "not a regular file"),
                         (["plan", "validate", str(fifo)], "not a regular file"),
                         (["topology", "show", str(huge)], "above the limit of 64 MiB")):
        r = subprocess.run([sys.executable, "-m", "planner_app", *args], capture_output=True, text=True,
                           timeout=60, env=_env())
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


# -- 5: absurd shapes ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dynamic_model(tmp_path_factory) -> Path:
    """Relu over x[N, 3, H, W] with named dims, and PaddleOCR-style anonymous ones on y[-1, 3, ?, ?]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 3, "?", "?"])
    out = [helper.make_tensor_value_info("rx", TensorProto.FLOAT, ["N", 3, "H", "W"]),
           helper.make_tensor_value_info("ry", TensorProto.FLOAT, [-1, 3, "?", "?"])]
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["rx"], name="rx"),
                           helper.make_node("Relu", ["y"], ["ry"], name="ry")], "dyn", [x, y], out)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path_factory.mktemp("dyn") / "dyn.onnx"
    onnx.save(m, path)
    return path


def test_5_absurd_shapes_are_refused_before_allocating(dynamic_model, capsys):
    y = "--shape=y=1x3x8x8"
    assert main(["model", "inspect", str(dynamic_model), "--shape", "x=1x3x1000000x1000000", y]) == 2
    err = capsys.readouterr().err
    assert "GiB" in err and "memory available" in err
    assert main(["model", "inspect", str(dynamic_model), "--shape", "x=1x3x100000000000000000000x1", y]) == 2
    assert "above 2,147,483,647" in capsys.readouterr().err
    assert main(["model", "profile", str(dynamic_model), "--shape", "x=1x3x1000000x1000000", y]) == 2
    assert "GiB" in capsys.readouterr().err


def test_5_absurd_shapes_written_in_a_plan_are_refused(plan_copy, capsys):
    _edit(plan_copy, lambda d: d["model"].update(input_shapes={"mfcc": [1, 98, 2_000_000_000]}))
    assert main(["plan", "validate", str(plan_copy)]) == 2
    err = capsys.readouterr().err
    assert "model.input_shapes" in err and "GiB" in err


# -- 7: numeric options --------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [["--warmup", "1000000000"], ["--threads", "100000"], ["--max-seconds", "nan"],
                                   ["--max-seconds", "-1"], ["--top", "-1"], ["--runs", "-3"], ["--levels", ""],
                                   ["--levels", " , "]])
def test_7_numeric_and_list_options_are_bounded(extra, capsys):
    assert main(["model", "profile", "sample:lstm_kws", *extra]) == 2
    err = capsys.readouterr().err
    assert extra[0] in err and "Traceback" not in err


@pytest.mark.parametrize("extra", [["--slo-ms", "nan"], ["--slo-ms", "inf"], ["--max-cost-usd-per-1k", "nan"],
                                   ["--min-fidelity", "nan"], ["--levels", ""]])
def test_7_optimize_options(extra, tmp_path, capsys):
    assert main(["optimize", "--topology", HOME, *extra, "--out", str(tmp_path / "p.json")]) == 2
    assert extra[0] in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def test_7_warmup_stops_at_max_seconds():
    from tests.core._tiny_models import tiny_cnn

    mg = load_model(tiny_cnn().SerializeToString())
    t0 = time.monotonic()
    profile_model(mg, ["fp32"], settings=ProfileSettings(warmup=10_000_000, runs=3, max_seconds=0.3,
                                                         fidelity_samples=1), use_cache=False)
    assert time.monotonic() - t0 < 20


# -- 8: Ctrl-C at any moment ---------------------------------------------------------------------
@pytest.mark.parametrize("delay_s", [0.1, 0.3, 0.6, 1.0, 1.5, 2.5])
def test_8_interrupt_at_any_moment_is_one_line_and_130(delay_s, tmp_path):
    """From the moment planner_app runs (the interpreter's own first ~20 ms, importing site, are Python's)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "planner_app", "model", "profile", "sample:mobilenet_v2", "--runs", "1000",
         "--no-cache"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**_env(), "PLANNER_CACHE_DIR": str(tmp_path / "cache")})
    time.sleep(delay_s)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:  # finished before the signal: nothing to check
        return
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "PanicException" not in err, err
    assert err.strip().splitlines()[-1].startswith("edgeplan: interrupted"), err


# -- 9: the cache is best-effort -----------------------------------------------------------------
def test_9_unusable_cache_folder_warns_once_and_goes_on(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = subprocess.run([sys.executable, "-m", "planner_app", "model", "profile", "sample:lstm_kws", "--levels",
                        "fp32,fp16", "--runs", "3", "--warmup", "0"], capture_output=True, text=True, timeout=300,
                       env={**_env(), "PLANNER_CACHE_DIR": str(blocker / "cache")})
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("cannot be used") == 1 and "Traceback" not in r.stderr


# -- 10: stale staging folders of a killed export ------------------------------------------------
def test_10_staging_left_by_a_killed_export_is_cleaned(exported, tmp_path):
    out = tmp_path / "fresh" / "plan.json"
    script = textwrap.dedent(f"""
        import sys, time
        from planner_app.core.plans.export import export_plan
        from planner_app.core.plans.records import load_plan
        from pathlib import Path
        src = Path({str(exported)!r})
        plan = load_plan(src)
        blobs = [(src.parent / s.artifact.path).read_bytes() for s in plan.stages]
        def progress(fraction, message):
            print("STAGED", flush=True)
            time.sleep(600)  # killed here, the staging folder written
        export_plan(plan, blobs, {str(out)!r}, progress=progress)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=_env())
    assert proc.stdout.readline().strip() == "STAGED"
    proc.kill()
    proc.wait(timeout=30)
    left = [p.name for p in out.parent.iterdir() if p.name.startswith(".plan.export-")]
    assert left, "the killed export should have left its staging folder"
    shutil.copytree(exported.parent / "parts", out.parent / "parts")
    shutil.copy(exported, out)
    assert main(["plan", "validate", "--no-chain", str(out)]) == 0
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".plan.export-")]


def test_10_a_live_exports_staging_is_left_alone(exported, tmp_path):
    from planner_app.core.plans.export import clean_stale_staging

    live = tmp_path / ".plan.export-live"
    live.mkdir()
    (live / ".owner").write_text(f"{os.getpid()} {__import__('socket').gethostname()}\n")
    assert clean_stale_staging(tmp_path / "plan.json") == [] and live.exists()


# -- 11: strict types ------------------------------------------------------------------------------
@pytest.mark.parametrize(("doc", "needle"), [
    ({"schema_version": 2, "devices": [{"id": "a", "kind": "camera", "tier": "device", "peak_gflops_fp32": True,
                                        "memory_mb": 64}]}, "devices[0].peak_gflops_fp32: expected a number"),
    ({"schema_version": 2, "devices": [{"id": "a", "kind": "camera", "tier": "device", "peak_gflops_fp32": "5",
                                        "memory_mb": 64}]}, "devices[0].peak_gflops_fp32: expected a number"),
    ({"schema_version": 2, "devices": [{"id": "a", "kind": "camera", "tier": "device", "peak_gflops_fp32": 5,
                                        "memory_mb": 64, "precisions": []}]}, "devices[0].precisions"),
    ({}, "not a topology"),
    ({"name": "x"}, "not a topology"),
])
def test_11_loose_topologies_are_refused(doc, needle, tmp_path, capsys):
    f = tmp_path / "t.json"
    f.write_text(json.dumps(doc))
    assert main(["topology", "validate", str(f)]) == 2
    assert needle in capsys.readouterr().err


def test_11_split_of_a_one_unit_model(tmp_path, capsys):
    from tests.core._tiny_models import relu_only

    f = tmp_path / "relu.onnx"
    onnx.save(relu_only(), f)
    assert main(["model", "split", str(f), "--at", "0", "--out", str(tmp_path / "parts")]) == 2
    err = capsys.readouterr().err
    assert "single unit" in err and "0..-1" not in err


# -- 12: anonymous dynamic dimensions ---------------------------------------------------------------
def test_12_anonymous_dims_are_independent_per_axis(dynamic_model, capsys):
    assert main(["model", "inspect", str(dynamic_model), "--shape", "x=1x3x8x8", "--shape", "y=1x3x48x192"]) == 0
    out = capsys.readouterr().out
    assert "y: float32 1x3x48x192" in out
    mg = load_model(dynamic_model, {"x": [2, 3, 4, 5], "y": [1, 3, 48, 192]})
    assert mg.dynamic_dims == {"N": 2, "H": 4, "W": 5}
    # named dims stay shared: one name, two values is refused
    from planner_app.core.models.loading import ModelError

    with pytest.raises(ModelError, match="two values"):
        _shared_name_conflict()


def _shared_name_conflict():
    x = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 4])
    g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["c"], name="add")], "g", [x, y],
                          [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    load_model(m.SerializeToString(), {"a": [2, 4], "b": [3, 4]})


# -- 13: control flow is costed ------------------------------------------------------------------
def _if_model() -> onnx.ModelProto:
    """A VAD-like model: the whole network (a MatMul) inside the branches of an If, reshaped by a shape
    computed outside the branch, so static shape inference cannot size anything inside."""
    rng = np.random.default_rng(0)

    def branch(name: str, width: int) -> onnx.GraphProto:
        w = numpy_helper.from_array(rng.standard_normal((64, width)).astype(np.float32), f"{name}_w")
        nodes = [helper.make_node("Reshape", ["x", "s"], [f"{name}_r"], name=f"{name}_reshape"),
                 helper.make_node("MatMul", [f"{name}_r", f"{name}_w"], [f"{name}_out"], name=f"{name}_mm")]
        out = helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, [None, None])
        return helper.make_graph(nodes, name, [], [out], initializer=[w])

    nodes = [helper.make_node("Shape", ["x"], ["s0"], name="shape"),
             helper.make_node("Identity", ["s0"], ["s"], name="ident"),
             helper.make_node("ReduceSum", ["x"], ["sum"], name="sum", keepdims=0),
             helper.make_node("Greater", ["sum", "zero"], ["cond"], name="gt"),
             helper.make_node("If", ["cond"], ["y"], name="if", then_branch=branch("then", 64),
                              else_branch=branch("else", 128))]
    g = helper.make_graph(nodes, "vad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])],
                          initializer=[numpy_helper.from_array(np.zeros((), np.float32), "zero")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 16)])
    m.ir_version = 8
    return m


def _loop_model() -> onnx.ModelProto:
    """A Loop whose trip count is a model input: its cost cannot be known."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep"),
         helper.make_node("Relu", ["v_in"], ["v_out"], name="relu")], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1, 8])])
    g = helper.make_graph(
        [helper.make_node("Loop", ["n", "", "v"], ["v_final"], name="loop", body=body)], "looped",
        [helper.make_tensor_value_info("n", TensorProto.INT64, []),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("v_final", TensorProto.FLOAT, [1, 8])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 16)])
    m.ir_version = 8
    return m


def test_13_if_branches_are_costed_and_their_weights_counted():
    mg = load_model(_if_model().SerializeToString())
    assert mg.total_params >= 64 * 64 + 64 * 128  # both branches' weights are parameters
    assert mg.total_flops >= 2 * 64 * 128  # the most expensive branch (else: 64 -> 128)
    assert mg.not_costed == {}
    assert any("inside control flow" in w for w in mg.warnings)


def test_13_loop_without_a_known_trip_count_says_so(capsys):
    mg = load_model(_loop_model().SerializeToString())
    assert mg.not_costed == {"Loop": 1}


# -- 6: models and levels onnxruntime rejects -------------------------------------------------------
def _custom_op_model(path: Path) -> Path:
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                           helper.make_node("MyOp", ["r"], ["y"], name="custom", domain="com.acme")], "c",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.acme", 1)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def _string_input_model(path: Path) -> Path:
    g = helper.make_graph([helper.make_node("Identity", ["s"], ["t"], name="id")], "s",
                          [helper.make_tensor_value_info("s", TensorProto.STRING, [1])],
                          [helper.make_tensor_value_info("t", TensorProto.STRING, [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


@pytest.mark.parametrize("make", [_custom_op_model, _string_input_model])
def test_6_a_model_onnxruntime_cannot_run_is_exit_2(make, tmp_path, capsys):
    f = make(tmp_path / "m.onnx")
    assert main(["model", "profile", str(f), "--levels", "fp32", "--runs", "3"]) == 2
    err = capsys.readouterr().err
    assert "onnxruntime cannot run this model with these inputs" in err and "Check the --shape" in err


def test_6_a_level_whose_transform_fails_is_skipped_with_a_note():
    from planner_app.core.compression.levels import compress
    from planner_app.core.compression.registry import (
        CompressionLevel,
        register_level,
        unregister_level,
    )
    from tests.core._tiny_models import tiny_cnn

    def refuses(model, samples):
        raise ValueError("quantize_static: this model is beyond me")

    register_level(CompressionLevel(name="test-refuses", precision="int8", weight_size_factor=0.25,
                                    transform=refuses, description="a quantizer that raises"))
    try:
        cm = compress(tiny_cnn(), "test-refuses")
    finally:
        unregister_level("test-refuses")
    assert not cm.applicable and "ValueError: quantize_static: this model is beyond me" in cm.reason


def test_9_a_write_that_fails_is_exit_2_naming_the_path(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["topology", "rename-device", HOME, "hub", "hub2", "--out", str(blocker / "t.json")]) == 2
    assert str(blocker) in capsys.readouterr().err


def test_4_a_fifo_among_the_samples_does_not_block(tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    os.mkfifo(samples / "x.npy")
    r = subprocess.run([sys.executable, "-m", "planner_app", "model", "profile", "sample:lstm_kws", "--levels",
                        "fp32", "--runs", "3", "--samples", str(samples)], capture_output=True, text=True,
                       timeout=120, env={**_env(), "PLANNER_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 2 and "not a regular file" in r.stderr, r.stderr


def test_5_shapes_from_a_workload_are_bounded_too(dynamic_model):
    """A topology's workload gives shapes without the --shape parser: the loader bounds them itself."""
    from planner_app.core.models.loading import ModelError

    with pytest.raises(ModelError, match="between 1 and 2,147,483,647"):
        load_model(dynamic_model, {"x": [1, 3, 10**20, 1], "y": [1, 3, 8, 8]})
