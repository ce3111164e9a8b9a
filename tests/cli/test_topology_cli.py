"""`edgeplan topology|catalog`, --version and --help, run as a user would (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from planner_app import __version__
from planner_app.cli import build_parser, main
from planner_app.core.resources import sample_topology_paths

SAMPLES = sample_topology_paths()


def edgeplan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "planner_app", *args], capture_output=True, text=True, timeout=120)


def test_version():
    r = edgeplan("--version")
    assert r.returncode == 0 and __version__ in r.stdout


def _all_command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(parser, prefix):
        for action in parser._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, sub in action.choices.items():
                    paths.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return paths


def test_help_on_every_command(capsys):
    # in-process (a subprocess per command would cost seconds each); one real process below
    paths = _all_command_paths()
    assert ["topology", "validate"] in paths and ["catalog"] in paths
    for path in paths:
        with pytest.raises(SystemExit) as info:
            main([*path, "--help"])
        assert info.value.code == 0, path
        out = capsys.readouterr().out
        assert out.startswith("usage: edgeplan " + " ".join(path)), (path, out[:200])
        assert len(out.splitlines()) > 3, f"{path} needs a description"


def test_help_in_a_real_process():
    r = edgeplan("topology", "show", "--help")
    assert r.returncode == 0 and "--payload-kb" in r.stdout


def test_validate_good_files_exit_0():
    r = edgeplan("topology", "validate", *map(str, SAMPLES.values()))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": valid") == len(SAMPLES)


def test_validate_bad_file_exit_2_with_one_line_per_problem(tmp_path):
    data = json.loads(SAMPLES["smart_home"].read_text())
    data["links"][0]["bandwidth_ab_mbps"] = -10
    data["links"][1]["b"] = "ghost"
    data["devices"][0]["colour"] = "red"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    r = edgeplan("topology", "validate", str(bad))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "links[0].bandwidth_ab_mbps" in r.stderr and "-10" in r.stderr
    assert "'ghost'" in r.stderr and "unknown key 'colour'" in r.stderr
    assert "bad.json" in r.stderr


@pytest.mark.parametrize("content", ['{"devices": [', "not json at all", '{"schema_version": 7}'])
def test_validate_broken_files_exit_2_without_traceback(tmp_path, content):
    f = tmp_path / "broken.json"
    f.write_text(content)
    r = edgeplan("topology", "validate", str(f))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "broken.json" in r.stderr


def test_show_on_directory_is_a_clear_error(tmp_path):
    r = edgeplan("topology", "show", str(tmp_path))
    assert r.returncode == 2 and "is a directory" in r.stderr and "Traceback" not in r.stderr


def test_show_prints_devices_links_and_routes():
    r = edgeplan("topology", "show", str(SAMPLES["hospital_imaging"]))
    assert r.returncode == 0, r.stderr
    assert "Devices (4)" in r.stdout and "Links (3)" in r.stdout
    assert "Routes from ultrasound" in r.stdout and "ultrasound → hospital-edge → cloud-gpu" in r.stdout


def test_catalog_lists_presets_with_sources():
    r = edgeplan("catalog", "--sources")
    assert r.returncode == 0
    assert "raspberry-pi-5" in r.stdout and "wifi6" in r.stdout and "datasheet" in r.stdout


def test_unknown_command_is_a_usage_error():
    r = edgeplan("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr


@pytest.mark.parametrize("payload", ["-5", "nan", "inf", "lots"])
def test_show_refuses_a_bad_payload(capsys, payload):
    with pytest.raises(SystemExit) as info:
        main(["topology", "show", str(SAMPLES["smart_home"]), "--payload-kb", payload])
    assert info.value.code == 2
    assert "--payload-kb" in capsys.readouterr().err


def test_warnings_print_as_one_plain_line(capsys):
    from planner_app.cli import show_warning

    show_warning(UserWarning("cache entry x is corrupted; rebuilt"), UserWarning, "/some/file.py", 3)
    err = capsys.readouterr().err
    assert err == "edgeplan: warning: cache entry x is corrupted; rebuilt\n"
