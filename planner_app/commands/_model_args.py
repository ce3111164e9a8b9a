"""The ``MODEL`` argument every ``edgeplan model`` action shares, and naming the model as given."""

from __future__ import annotations

__all__ = ["add_model_argument", "load_model_from_args", "named_as_given"]

import argparse
import contextlib
from collections.abc import Iterator

from planner_app.core.errors import PlannerError, Problem
from planner_app.core.models import SAMPLE_MODELS
from planner_app.core.models.graph import ModelGraph, load_model, parse_shape_args

_MODEL_HELP = (
    "an .onnx file (external weight files are read from its folder), or sample:NAME for a "
    f"generated sample model ({', '.join(SAMPLE_MODELS)})"
)


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """Add the ``MODEL`` positional and the repeatable ``--shape NAME=DIMS`` option."""
    parser.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    parser.add_argument(
        "--shape", action="append", default=[], metavar="NAME=DIMS",
        help="value of an input's dynamic dimensions, e.g. --shape input=1x3x224x224 (repeatable)",
    )


def load_model_from_args(args: argparse.Namespace) -> ModelGraph:
    """Load ``args.model`` with ``args.shape``; errors are :class:`ModelError` (exit 2)."""
    return load_model(args.model, parse_shape_args(args.shape))


@contextlib.contextmanager
def named_as_given(mg: ModelGraph, given: str) -> Iterator[None]:
    """Errors inside name the model as the user gave it (``sample:resnet18``), not by its cache file."""
    try:
        yield
    except PlannerError as exc:
        cached = str(mg.path) if mg.path else ""
        if not cached or given == cached:
            raise
        if cached not in str(exc):
            raise

        def fix(text: str) -> str:
            return text.replace(cached, given)

        exc.message = fix(exc.message)
        exc.args = (exc.message,)
        exc.problems = [Problem(fix(p.location), fix(p.message)) for p in exc.problems]
        raise
