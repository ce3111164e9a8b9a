"""One way for tests to plan in a single call: the session's steps composed as ``edgeplan optimize`` does."""

from __future__ import annotations

from planner_app.core.planning import MeasureOptions, PoseOptions, SolveOptions, plan_deployment

__all__ = ["plan"]

def plan(topology, workload=None, model=None, *, profile_path=None, levels=None, objective="latency",
         constraints=None, pareto=False, out=None, imported=None, host_device=None, profile_settings=None,
         progress=None, cancel=None):
    """The session's steps composed as ``edgeplan optimize`` composes them."""
    return plan_deployment(
        topology, workload, model=model,
        measure=MeasureOptions(profile=profile_path, levels=tuple(levels) if levels else None,
                               imported=(imported,) if imported else (), host_device=host_device,
                               settings=profile_settings),
        pose=PoseOptions(objective=objective, levels=tuple(levels) if levels else None, **(constraints or {})),
        solve=SolveOptions(pareto=pareto), out=out, progress=progress, cancel=cancel)
