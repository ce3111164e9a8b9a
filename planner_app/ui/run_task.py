"""The window's Run step as a task for a worker process (no Qt here: the worker imports it).

A run's link relays are threads of the process that runs it. In the window's process they
would share Python's lock with the GUI thread, and a message waiting for its relay would
wait for the window's drawing: the screenshot run showed hops 10-30 times their prediction.
In a worker process the relays have its lock to themselves, as under ``edgeplan run``.
The agents the run starts stop with it (``--parent-pid``), even when the worker is ended.
"""

from __future__ import annotations

__all__ = ["RunRequest", "run_in_child"]

from dataclasses import dataclass
from typing import Any

from planner_app.ui.subprocess_jobs import ChildContext


@dataclass(frozen=True)
class RunRequest:
    """What the worker needs to run an exported plan with local emulation."""

    #: the exported plan (absolute path)
    plan: str
    requests: int
    warmup: int
    #: the share of the job's progress bar done before the run (the export)
    progress_from: float = 0.3


def run_in_child(req: RunRequest, ctx: ChildContext) -> dict[str, Any]:
    """Run the plan (:func:`planner_app.agent.plan_runner.run_local`); its report (JSON-ready)."""
    from planner_app.agent.plan_runner import run_local
    from planner_app.core.execute import execution_spec

    def progress(fraction: float, message: str) -> None:
        ctx.cancel.raise_if_cancelled()  # raised inside run_local: its cleanup stops the agents
        ctx.progress(req.progress_from + (1.0 - req.progress_from) * fraction, message)

    return run_local(execution_spec(req.plan), requests=req.requests, warmup=req.warmup, progress=progress)
