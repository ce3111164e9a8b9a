"""Property-based: any mutation of a sample topology, a sample plan or a profile file, given to the
command line, ends with exit 0, 2 or 3, no traceback, and nothing written outside the working folder.

The default run is sized to stay well under a minute. More examples: ``HOSTILE_LONG=1 pytest -m
hostile_long tests/test_hostile_property.py`` (the ``hostile_long`` marker is registered in
pyproject). ``--hypothesis-show-statistics`` prints how many cases each property ran.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner_app.cli import main
from planner_app.core.resources import sample_topology_paths

HOME = sample_topology_paths()["smart_home"]
LONG = bool(os.environ.get("HOSTILE_LONG"))
long_only = pytest.mark.skipif(not LONG, reason="set HOSTILE_LONG=1 to run the long property runs")

# -- mutations -----------------------------------------------------------------------------------
_OUTSIDE = "/tmp/edgeplan-hostile-outside"  # paths a mutation may name: nothing may appear there

_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -0.0, 5e-324]),
    st.text(max_size=12),
    st.sampled_from(["", "../../etc/passwd", "/etc/passwd", f"{_OUTSIDE}/x.onnx", "parts/../../x", "päßwörd",
                     "fp32", "int8-dynamic", "hub", "cloud-cpu", "sample:lstm_kws", "/dev/zero", "a" * 300]),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                       max_leaves=6)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into ``doc`` (keys and indexes), the document itself first."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_paths(v, prefix + (i,)))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for p in path[:-1]:
        doc = doc[p]
    return doc


@st.composite
def mutated(draw, original: Any, n_max: int = 3) -> Any:
    """``original`` with one to ``n_max`` edits: a value replaced, a key removed or added, a list emptied,
    duplicated or reordered."""
    doc = json.loads(json.dumps(original))
    for _ in range(draw(st.integers(1, n_max))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "replace", "remove", "add", "empty", "duplicate", "nudge"]))
        target = _parent(doc, path)[path[-1]] if path else doc
        if not path:
            if kind == "replace":
                doc = draw(_values)
            continue
        parent, key = _parent(doc, path), path[-1]
        if kind == "replace":
            parent[key] = draw(_values)
        elif kind == "remove":
            del parent[key]
        elif kind == "add" and isinstance(target, dict):
            target[draw(st.text(max_size=8))] = draw(_values)
        elif kind == "empty" and isinstance(target, (list, dict)):
            parent[key] = type(target)()
        elif kind == "duplicate" and isinstance(target, list) and target:
            target.append(json.loads(json.dumps(target[0])))
        elif kind == "nudge" and isinstance(target, (int, float)) and not isinstance(target, bool):
            factor = draw(st.sampled_from([-1, 0, 0.5, 2, 1e6, 1 + 1e-3]))
            parent[key] = target * factor if math.isfinite(target * factor) else target
    return doc


@st.composite
def file_bytes(draw, original: Any) -> bytes:
    """The JSON of a mutated document, sometimes damaged as a file: truncated, nested deep, BOM, junk."""
    text = json.dumps(draw(mutated(original)), indent=1)  # NaN/Infinity as Python writes them
    damage = draw(st.sampled_from(["none"] * 6 + ["truncate", "bom", "deep", "junk", "empty"]))
    data = text.encode()
    if damage == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    elif damage == "deep":
        depth = draw(st.sampled_from([70, 1000, 100_000]))
        data = b"[" * depth + data + b"]" * depth
    elif damage == "junk":
        data = data + draw(st.binary(min_size=1, max_size=8))
    elif damage == "empty":
        data = b""
    return data


# -- running the CLI -----------------------------------------------------------------------------
def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    if not folder.exists():
        return {}
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


#: (command, exit code) → how many runs: printed at the end of the module (with -s) for the record
RUNS: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_runs():
    yield
    if RUNS:
        lines = [f"  {cmd:<20} exit {rc}: {n}" for (cmd, rc), n in sorted(RUNS.items())]
        print(f"\nhostile property runs: {sum(RUNS.values())} CLI runs\n" + "\n".join(lines), file=sys.__stderr__)


def run_cli(args: list[str], work: Path, watched: list[Path]) -> tuple[int, str]:
    """``edgeplan ARGS`` in-process from ``work``; returns (exit code, stderr); fails on any exception
    and on any change in ``watched`` folders."""
    before = {str(w): _snapshot(w) for w in watched}
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(work)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(args)
            except SystemExit as exc:  # argparse's usage errors
                rc = int(exc.code or 0)
    finally:
        os.chdir(cwd)
    text = err.getvalue()
    RUNS[(" ".join(args[:2]) if args[0] in ("topology", "plan", "model") else args[0], rc)] += 1
    assert rc in (0, 2, 3), f"exit {rc} for {args}:\n{text[-3000:]}"
    assert "Traceback" not in text, text[-3000:]
    for w in watched:
        assert _snapshot(w) == before[str(w)], f"{args} changed files in {w}"
    return rc, text


@pytest.fixture(scope="module")
def arena(tmp_path_factory):
    """A working folder, a sentinel folder outside it, a sample plan and a profile."""
    root = tmp_path_factory.mktemp("hostile")
    outside = Path(_OUTSIDE)
    outside.mkdir(exist_ok=True)
    (outside / "keep.txt").write_text("must not change\n")
    from planner_app.core.models.graph import load_model
    from planner_app.core.planning import MeasureOptions, PoseOptions, SolveOptions, plan_deployment
    from planner_app.core.profiling.runner import ProfileSettings, profile_model

    mg = load_model("sample:lstm_kws")
    prof = profile_model(mg, ["fp32"], settings=ProfileSettings(warmup=1, runs=3, max_seconds=2.0,
                                                                fidelity_samples=2))
    prof_file = root / "kws.profile.json"
    prof.save(prof_file)
    plan_file = root / "made" / "plan.json"
    run = plan_deployment(HOME, "hub-keyword-spotting", model=mg, measure=MeasureOptions(profile=prof),
                          pose=PoseOptions(pinned_units={0: "hub", len(mg.units) - 1: "cloud-cpu"}, slo_ms=None),
                          solve=SolveOptions(), out=plan_file)
    assert run.feasible
    return {"root": root, "outside": outside, "plan": plan_file, "profile": prof_file,
            "repo": Path(__file__).resolve().parents[1]}


def _fresh(arena, name: str) -> Path:
    work = arena["root"] / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    return work


_SETTINGS = {"deadline": None, "derandomize": True, "database": None,
             "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example]}

TOPOLOGY_DOC = json.loads(HOME.read_text())


def _topology_property(arena, data: bytes) -> None:
    work = _fresh(arena, "topo")
    f = work / "t.json"
    f.write_bytes(data)
    watched = [arena["outside"], arena["plan"].parent]
    rc, _ = run_cli(["topology", "validate", str(f)], work, watched)
    run_cli(["topology", "show", str(f)], work, watched)
    if rc == 0:
        run_cli(["topology", "rename-device", str(f), "hub", "hub2", "--out", str(work / "renamed.json")], work,
                watched)
        # plan on it (from the saved profile: no profiling), and whatever plan comes out must validate
        out = work / "out" / "plan.json"
        rc, err = run_cli(["optimize", "--topology", str(f), "--workload", "hub-keyword-spotting", "--model",
                           "sample:lstm_kws", "--profile", str(arena["profile"]), "--quiet", "--levels", "fp32",
                           "--out", str(out)], work, watched)
        if rc == 0:
            rc, err = run_cli(["plan", "validate", str(out), "--no-chain"], work, watched)
            assert rc == 0, f"a plan the planner exported does not validate:\n{err[-3000:]}"


@settings(max_examples=40, **_SETTINGS)
@given(data=file_bytes(TOPOLOGY_DOC))
def test_mutated_topology(arena, data):
    _topology_property(arena, data)


@long_only
@pytest.mark.hostile_long
@settings(max_examples=1500, **_SETTINGS)
@given(data=file_bytes(TOPOLOGY_DOC))
def test_mutated_topology_long(arena, data):
    _topology_property(arena, data)


def _plan_property(arena, data: bytes, chain: bool) -> None:
    work = _fresh(arena, "plan")
    shutil.copytree(arena["plan"].parent / "parts", work / "parts")
    f = work / "plan.json"
    f.write_bytes(data)
    watched = [arena["outside"], arena["plan"].parent]
    run_cli(["plan", "validate", str(f), *([] if chain else ["--no-chain"])], work, watched)
    run_cli(["plan", "show", str(f)], work, watched)


@st.composite
def plan_bytes(draw):
    return draw(file_bytes(json.loads(PLAN_DOC[0].read_text())))


PLAN_DOC: list[Path] = []


@pytest.fixture(scope="module")
def plan_doc(arena):
    PLAN_DOC[:] = [arena["plan"]]
    return arena


@settings(max_examples=60, **_SETTINGS)
@given(data=st.data())
def test_mutated_plan(plan_doc, data):
    payload = data.draw(plan_bytes())
    _plan_property(plan_doc, payload, chain=data.draw(st.booleans()))


@long_only
@pytest.mark.hostile_long
@settings(max_examples=1000, **_SETTINGS)
@given(data=st.data())
def test_mutated_plan_long(plan_doc, data):
    _plan_property(plan_doc, data.draw(plan_bytes()), chain=data.draw(st.booleans()))


PROFILE_DOC: list[Path] = []


@pytest.fixture(scope="module")
def profile_doc(arena):
    PROFILE_DOC[:] = [arena["profile"]]
    return arena


def _profile_property(arena, data: bytes) -> None:
    work = _fresh(arena, "prof")
    f = work / "p.profile.json"
    f.write_bytes(data)
    run_cli(["optimize", "--topology", str(HOME), "--workload", "hub-keyword-spotting", "--model",
             "sample:lstm_kws", "--profile", str(f), "--quiet", "--out",
             str(work / "out" / "plan.json")], work, [arena["outside"], arena["plan"].parent])


@settings(max_examples=25, **_SETTINGS)
@given(data=st.data())
def test_mutated_profile(profile_doc, data):
    _profile_property(profile_doc, data.draw(file_bytes(json.loads(PROFILE_DOC[0].read_text()))))


@long_only
@pytest.mark.hostile_long
@settings(max_examples=500, **_SETTINGS)
@given(data=st.data())
def test_mutated_profile_long(profile_doc, data):
    _profile_property(profile_doc, data.draw(file_bytes(json.loads(PROFILE_DOC[0].read_text()))))


# -- ONNX files with damaged bytes (long runs only: each case is a fresh process, a crash must not kill pytest)
@st.composite
def damaged_model(draw) -> bytes:
    from tests.core._tiny_models import tiny_cnn

    data = bytearray(tiny_cnn().SerializeToString())
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "zero"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "zero" and at < len(data):
            data[at] = 0
        if not data:
            break
    return bytes(data)


@long_only
@pytest.mark.hostile_long
@settings(max_examples=150, **_SETTINGS)
@given(data=damaged_model())
def test_damaged_model_long(arena, data):
    import subprocess

    work = _fresh(arena, "model")
    f = work / "m.onnx"
    f.write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(arena["repo"])}
    r = subprocess.run([sys.executable, "-m", "planner_app", "model", "inspect", str(f)], capture_output=True,
                       text=True, timeout=120, env=env, cwd=work)
    RUNS[("model inspect", r.returncode)] += 1
    assert r.returncode in (0, 2), r.stderr[-3000:]
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
