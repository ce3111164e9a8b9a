"""The import-linter contracts fail on an upward import (tested on a scratch copy, not just present).

Each case copies the package and ``pyproject.toml`` into a temporary folder,
adds one import that breaks a layer, and runs the real ``lint-imports`` there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tmp_path: Path, file: str | None = None, line: str = "") -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "planner_app", tmp_path / "planner_app",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if file is not None:
        target = tmp_path / "planner_app" / file
        target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed in this environment")
def test_the_copy_as_it_is_keeps_every_contract(tmp_path):
    res = _lint(tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "BROKEN" not in res.stdout


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed in this environment")
@pytest.mark.parametrize(("file", "line", "expected"), [
    ("core/topology/records.py", "import planner_app.core.planning",
     "planner_app.core.topology.records -> planner_app.core.planning"),
    ("core/errors.py", "import planner_app.core.topology",
     "planner_app.core.errors -> planner_app.core.topology"),
    ("core/optimizer/problem.py", "import planner_app.core.plans",
     "planner_app.core.optimizer.problem -> planner_app.core.plans"),
    ("core/models/graph.py", "import planner_app.core.profiling",
     "planner_app.core.models.graph -> planner_app.core.profiling"),
    ("commands/catalog.py", "import planner_app.ui.style",
     "planner_app.commands.catalog -> planner_app.ui.style"),
    ("core/fileio.py", "import PySide6.QtCore", "planner_app.core.fileio -> PySide6"),
])
def test_an_upward_import_breaks_a_contract(tmp_path, file, line, expected):
    res = _lint(tmp_path, file, line)
    assert res.returncode != 0
    assert "BROKEN" in res.stdout and expected in res.stdout, res.stdout
