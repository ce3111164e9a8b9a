"""The safe reader (planner_app.core.fileio) on its own: limits, special files, paths leaving a folder."""

from __future__ import annotations

import os

import pytest

from planner_app.core.errors import InputFileError
from planner_app.core.fileio import (
    first_non_finite,
    inside_folder,
    json_depth,
    parse_json,
    read_bytes,
    read_json,
)


def test_depth_ignores_brackets_inside_strings():
    assert json_depth(b'{"a": "[[[[", "b": [[1]]}') == 3
    assert parse_json(b'["' + b"[" * 500 + b'"]', "x") == ["[" * 500]


def test_nesting_is_bounded_before_parsing():
    with pytest.raises(InputFileError, match="65 deep, above the limit of 64"):
        parse_json(b"[" * 65 + b"]" * 65, "doc")
    assert parse_json(b"[" * 64 + b"]" * 64, "doc") is not None


def test_size_cap_names_the_limit(tmp_path):
    f = tmp_path / "big.json"
    f.write_bytes(b" " * 2048)
    with pytest.raises(InputFileError, match="above the limit of 1 KiB"):
        read_bytes(f, "big", max_bytes=1024)


def test_fifo_and_devices_are_not_opened(tmp_path):
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    for p in (fifo, "/dev/zero"):
        with pytest.raises(InputFileError, match="not a regular file"):
            read_json(p, "file")


def test_inside_folder_resolves_symlinks(tmp_path):
    (tmp_path / "plan").mkdir()
    (tmp_path / "secret").write_text("x")
    (tmp_path / "plan" / "ok.onnx").write_text("x")
    (tmp_path / "plan" / "link.onnx").symlink_to(tmp_path / "secret")
    (tmp_path / "plan" / "loop").symlink_to(tmp_path / "plan" / "loop")
    assert inside_folder(tmp_path / "plan", "ok.onnx") == (tmp_path / "plan" / "ok.onnx").resolve()
    assert inside_folder(tmp_path / "plan", "link.onnx") is None
    assert inside_folder(tmp_path / "plan", "../secret") is None
    assert inside_folder(tmp_path / "plan", "loop") is None


def test_first_non_finite_names_the_field():
    assert first_non_finite({"a": [1.0, {"b": float("nan")}]}) == "a[1].b"
    assert first_non_finite({"a": [1, 2.5]}) is None
