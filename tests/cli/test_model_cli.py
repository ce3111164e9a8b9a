"""``edgeplan model inspect|split`` end to end through the real dispatcher."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import helper

from planner_app.cli import main
from planner_app.core.models.samples import build_sample_model
from tests.core._model_helpers import dynamic_conv, init, make, vi


@pytest.fixture()
def small_resnet(tmp_path):
    path = tmp_path / "resnet_small.onnx"
    onnx.save(build_sample_model("resnet18", image_size=32, width=8), str(path))
    return path


def test_inspect_prints_summary_and_ten_cheapest_cuts(small_resnet, capsys):
    assert main(["model", "inspect", str(small_resnet), "--units"]) == 0
    out = capsys.readouterr().out
    for text in ("FLOPs", "parameters", "opsets", "ai.onnx 17", "dynamic dims  none", "not costed    none",
                 "Operators", "BatchNormalization", "Units (23)", "Cheapest cuts (10 of 22,"):
        assert text in out, text


def test_inspect_json_is_machine_readable(capsys):
    assert main(["model", "inspect", "sample:lstm_kws", "--json", "--cuts", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "lstm_kws"
    assert data["ops_by_count"]["LSTM"] == 2
    assert len(data["cheapest_cuts"]) == 2


def test_inspect_dynamic_model_with_and_without_shape(tmp_path, capsys):
    path = tmp_path / "dyn.onnx"
    onnx.save(dynamic_conv(), str(path))
    assert main(["model", "inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert "edgeplan: error:" in err and "'batch'" in err and "--shape x=" in err
    assert main(["model", "inspect", str(path), "--shape", "x=2x3x8x8"]) == 0
    assert "batch=2, H=8, W=8" in capsys.readouterr().out


def test_split_writes_parts_and_checks_them(small_resnet, tmp_path, capsys):
    out_dir = tmp_path / "parts"
    code = main(["model", "split", str(small_resnet), "--cut", "layer1.0.relu,layer1.1.1.relu",
                 "--cut", "layer3.1.relu", "--out", str(out_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "check: equal" in out
    files = sorted(p.name for p in out_dir.glob("*.onnx"))
    assert len(files) == 3 and files[0].startswith("part_00_")


def test_split_at_positions(small_resnet, tmp_path, capsys):
    assert main(["model", "split", str(small_resnet), "--at", "5", "--out", str(tmp_path / "p")]) == 0
    assert "2 parts" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cut", "layer1.1.1.relu"], "also flow"),
        (["--cut", "nonexistent"], "no tensor 'nonexistent'"),
        ([], "at least one --cut"),
        (["--at", "99"], "outside"),
    ],
)
def test_split_bad_cuts_exit_2_with_reason(small_resnet, tmp_path, capsys, argv, message):
    out_dir = tmp_path / "parts"
    assert main(["model", "split", str(small_resnet), *argv, "--out", str(out_dir)]) == 2
    assert message in capsys.readouterr().err
    assert not out_dir.exists() or not list(out_dir.iterdir())


def test_not_an_onnx_file_exits_2(tmp_path, capsys):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x00\x01garbage" * 10)
    assert main(["model", "inspect", str(path)]) == 2
    assert "model.onnx" in capsys.readouterr().err


def test_help_documents_exit_codes_and_samples(capsys):
    with pytest.raises(SystemExit):
        main(["model", "split", "--help"])
    text = capsys.readouterr().out
    assert "4 parts written but" in text and "sample:NAME" in text


def test_split_of_a_model_onnxruntime_cannot_run_says_so(tmp_path, capsys):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("Foo", ["m"], ["f"], name="foo", domain="my.ops"),
             helper.make_node("MatMul", ["f", "w"], ["y"], name="mm2")]
    path = tmp_path / "custom.onnx"
    onnx.save(make(nodes, [vi("x", [2, 8])], [vi("y", [2, 8])], [init("w", [8, 8])],
                   domains=[("my.ops", 1)]), str(path))
    assert main(["model", "inspect", str(path)]) == 0
    assert "my.ops:Foo x1" in capsys.readouterr().out
    assert main(["model", "split", str(path), "--at", "0", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "onnxruntime cannot run" in err and "my.ops:Foo" in err and "--no-check" in err
    assert main(["model", "split", str(path), "--at", "0", "--out", str(tmp_path / "q"), "--no-check"]) == 0


@pytest.mark.parametrize("bad", ["file", "proc"])
def test_split_refuses_an_unwritable_out_before_any_work(small_resnet, tmp_path, capsys, bad):
    out = tmp_path / "a_file" if bad == "file" else "/proc/edgeplan-parts"
    if bad == "file":
        out.write_text("not a folder")
    rc = main(["model", "split", str(small_resnet), "--at", "5", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(out) in err and "--out" in err and "Traceback" not in err


def test_split_again_with_fewer_parts_leaves_no_stale_part_files(small_resnet, tmp_path, capsys):
    out = tmp_path / "parts"
    (out).mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["model", "split", str(small_resnet), "--at", "5", "--at", "10", "--out", str(out)]) == 0
    assert len(list(out.glob("part_*.onnx"))) == 3
    assert main(["model", "split", str(small_resnet), "--at", "5", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(["notes.txt", *[p.name for p in out.glob("part_*.onnx")]])
    assert len(list(out.glob("part_*.onnx"))) == 2
    capsys.readouterr()


@pytest.mark.parametrize("option", ["--rtol", "--atol"])
@pytest.mark.parametrize("value", ["-1", "nan", "lots"])
def test_split_refuses_a_tolerance_below_zero(small_resnet, tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as exc:
        main(["model", "split", str(small_resnet), "--at", "5", "--out", str(tmp_path / "p"), f"{option}={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert option in err and value in err
    assert not (tmp_path / "p").exists()


def test_inspect_counts_the_model_inputs_a_cut_also_needs(capsys):
    """transformer_encoder reads `embeddings` again after the first units (the residual): a cut there sends
    it too, and `model split` lists it among the inputs of the part after the cut."""
    assert main(["model", "inspect", "sample:transformer_encoder", "--json", "--cuts", "50"]) == 0
    cuts = {c["position"]: c for c in json.loads(capsys.readouterr().out)["cheapest_cuts"]}
    first = cuts[0]
    assert first["graph_inputs_after"] == ["embeddings"]
    assert first["graph_input_bytes"] == 1 * 128 * 256 * 4
    assert first["total_bytes"] == first["bytes"] + first["graph_input_bytes"]
    assert main(["model", "inspect", "sample:transformer_encoder"]) == 0
    out = capsys.readouterr().out
    assert "+ inputs kB" in out and "total kB" in out and "KB" not in out


def test_missing_dynamic_dims_give_one_combined_suggestion(tmp_path, capsys):
    path = tmp_path / "dyn.onnx"
    onnx.save(dynamic_conv(), str(path))
    assert main(["model", "inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("--shape x=") == 1
    assert "'batch' (axis 0), 'H' (axis 2), 'W' (axis 3)" in err


def test_errors_name_a_sample_model_as_given_not_by_its_cache_file(tmp_path, capsys):
    assert main(["model", "split", "sample:resnet18", "--cut", "nonexistent", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "sample:resnet18 has no tensor 'nonexistent'" in err
    assert ".cache" not in err and ".onnx" not in err
