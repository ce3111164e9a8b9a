"""``edgeplan model profile`` end to end on real ONNX files."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from planner_app.cli import main
from planner_app.core.profiling.runner import ModelProfile
from tests.core._tiny_models import tiny_cnn

ARGS = ["--runs", "4", "--warmup", "1"]


@pytest.fixture()
def model_file(tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx.save(tiny_cnn(channels=16, hw=16), str(path))
    return path


def test_profile_prints_levels_fidelity_and_slowest_units_and_writes_json(model_file, tmp_path, capsys):
    out_file = tmp_path / "cnn.profile.json"
    rc = main(["model", "profile", str(model_file), "--levels", "fp32,fp16,int8-static,pruned-75",
               *ARGS, "--out", str(out_file)])
    out = capsys.readouterr().out
    assert rc == 0
    for text in ("median ms", "CV %", "SQNR dB", "cosine", "top-1", "int8-static", "pruned-75",
                 "calibrated on synthetic inputs", "slowest units at fp32", "conv2", "cut codec"):
        assert text in out, text
    prof = ModelProfile.load(out_file)
    assert list(prof.levels) == ["fp32", "fp16", "int8-static", "pruned-75"]
    assert prof.settings.runs == 4 and len(prof.levels["fp32"].unit_ms) == len(prof.unit_names)


def test_profile_with_user_samples_and_a_variant(model_file, tmp_path, capsys):
    samples = tmp_path / "samples"
    samples.mkdir()
    for i in range(3):
        np.savez(samples / f"{i}.npz", x=np.random.default_rng(i).standard_normal((1, 3, 16, 16)).astype(np.float32),
                 label=np.array(i))
    student = tmp_path / "student.onnx"
    onnx.save(tiny_cnn(channels=4, hw=16, seed=7), str(student))
    rc = main(["model", "profile", str(model_file), "--levels", "fp32,int8-static", "--samples", str(samples),
               "--variant", f"small={student}", *ARGS])
    out = capsys.readouterr().out
    assert rc == 0
    assert f"user samples from {samples}" in out and "variant:small" in out
    assert "accuracy" in out and "(fp32 " in out  # the samples carry labels


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--levels", "fp32,int4"], "unknown level(s) ['int4']"),
        (["--levels", "variant:kd"], "--variant NAME=FILE"),
        (["--runs", "0"], "--runs is 0: give a number at least 1"),
        (["--samples", "/nonexistent/dir"], "does not exist or is not a folder"),
    ],
)
def test_bad_input_exits_2_with_a_message(model_file, extra, message, capsys):
    assert main(["model", "profile", str(model_file), *extra]) == 2
    assert message in capsys.readouterr().err


def test_wrong_sample_shape_is_reported(model_file, tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((1, 3, 8, 8), np.float32))
    assert main(["model", "profile", str(model_file), "--samples", str(tmp_path), *ARGS]) == 2
    err = capsys.readouterr().err
    assert "bad.npy" in err and "[1, 3, 16, 16]" in err


def test_profile_refuses_a_folder_as_out_before_measuring(model_file, tmp_path, capsys):
    folder = tmp_path / "t_dir.json"
    folder.mkdir()
    rc = main(["model", "profile", str(model_file), "--levels", "fp32", *ARGS, "--out", str(folder)])
    captured = capsys.readouterr()
    assert rc == 2
    assert "is a folder" in captured.err and str(folder) in captured.err
    assert "median ms" not in captured.out  # refused before the profile ran


def test_identical_outputs_read_exact_not_200_db(model_file, capsys):
    assert main(["model", "profile", str(model_file), "--levels", "fp32", *ARGS]) == 0
    out = capsys.readouterr().out
    fp32_row = next(line for line in out.splitlines() if line.startswith("fp32 "))
    assert "exact" in fp32_row and "200" not in fp32_row
