"""The CLI's level and solver lists come from the registries: a registered entry shows up in --help."""

from __future__ import annotations

import re

import pytest

from planner_app.cli import main
from planner_app.core.compression import (
    CompressionLevel,
    Transformed,
    level_names,
    register_level,
    unregister_level,
)
from planner_app.core.optimizer import (
    Solver,
    get_solver,
    register_solver,
    solver_choices,
    unregister_solver,
)


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    # argparse wraps lines: compare with the words joined by single spaces
    return re.sub(r"\s+", " ", capsys.readouterr().out)


def test_model_profile_help_lists_every_registered_level_with_its_description(capsys):
    level = register_level(CompressionLevel(
        "halved-test", "fp32", 1.0, lambda model, samples: Transformed(model),
        "weights at 50% of nothing (test only)"))
    try:
        text = _help(capsys, "model", "profile")
    finally:
        unregister_level(level.name)
    for name in (*level_names(), "variant:NAME"):
        assert f"{name}:" in text
    assert "halved-test: weights at 50% of nothing (test only)" in text
    assert "int8-static: int8 QDQ per channel, calibrated on samples" in text


def test_model_profile_rejects_an_unregistered_level_naming_the_registered_ones(tmp_path, capsys):
    rc = main(["model", "profile", "sample:lstm_kws", "--levels", "fp32,halved-test"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "unknown level(s) ['halved-test']" in err and "int8-static" in err and "variant:NAME" in err


def test_optimize_help_lists_every_registered_solver_with_its_capability(capsys):
    dp = get_solver("dp")
    mine = register_solver(Solver("dp-test", dp.solve, exact=True, space="chain", pareto=True,
                                  description="the chain DP under another name (test only)"))
    try:
        text = _help(capsys, "optimize")
    finally:
        unregister_solver(mine.name)
    assert "--solver {" + ",".join((*solver_choices(), "dp-test")) + "}" in text
    assert "dp-test: the chain DP under another name (test only)" in text
    assert "milp: MILP (HiGHS), exact over every placement of any DAG" in text
    assert ("auto: the pipeline DP in pipeline mode, else the chain DP when the devices form one route, "
            "else the MILP (default)") in text
    assert "pipeline: pipeline DP, exact over pipelines" in text
