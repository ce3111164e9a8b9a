"""The window's profiling step as a task for a worker process (no Qt here: the worker imports it).

:func:`profile_in_child` loads the model from its file (kept loaded in the warm
worker for the next profile of the same model), checks it is the model the window
loaded (same sha256), then profiles one level at a time, handing each level's
:class:`~planner_app.core.profiling.ModelProfile` back as a partial result. The
profile cache is on disk, so levels measured in any process are reused.
"""

from __future__ import annotations

__all__ = ["ProfileRequest", "profile_in_child"]

from dataclasses import dataclass, field

from planner_app.core.models import ModelError, ModelGraph, load_model
from planner_app.core.profiling import ProfileSettings, profile_model
from planner_app.core.profiling.records import ProfileInterrupted
from planner_app.core.progress import Cancelled
from planner_app.ui.subprocess_jobs import ChildContext


@dataclass(frozen=True)
class ProfileRequest:
    """What the worker needs to profile a model the window loaded."""

    #: the model file (absolute path) or ``sample:NAME``
    model: str
    name: str
    sha256: str
    shapes: dict[str, list[int]]
    levels: tuple[str, ...]
    settings: ProfileSettings = field(default_factory=ProfileSettings)


#: the worker's last loaded model: (model, shapes as text) -> graph
_LOADED: dict[tuple[str, str], ModelGraph] = {}


def _graph(req: ProfileRequest, ctx: ChildContext) -> ModelGraph:
    key = (req.model, repr(sorted(req.shapes.items())))
    mg = _LOADED.get(key)
    if mg is None or mg.sha256 != req.sha256:
        mg = load_model(req.model, req.shapes or None, name=req.name,
                        progress=lambda f, m: ctx.progress(0.0, m), cancel=ctx.cancel)
        _LOADED.clear()  # one model kept: a worker does not grow with every model opened
        _LOADED[key] = mg
    if mg.sha256 != req.sha256:
        raise ModelError(f"model {req.model} changed on disk since the window loaded it: load it again "
                         "(Planning ▸ Load Model), then profile.")
    return mg


def profile_in_child(req: ProfileRequest, ctx: ChildContext) -> None:
    """Profile ``req.levels`` one at a time; each finished level goes back as ``(level, profile)``."""
    mg = _graph(req, ctx)
    n = len(req.levels)
    for i, level in enumerate(req.levels):
        def step(f: float, m: str, i: int = i) -> None:
            ctx.progress((i + f) / n, m)
        try:
            one = profile_model(mg, [level], settings=req.settings, progress=step, cancel=ctx.cancel)
        except ProfileInterrupted as exc:  # the parent keeps the levels it already received
            raise Cancelled(str(exc)) from None  # (its partial profile would not pickle back)
        ctx.partial((level, one))
