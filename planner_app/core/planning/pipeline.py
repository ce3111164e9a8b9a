"""From topology + model to an exported plan in one call: the session's steps composed.

:func:`plan_deployment` is what ``edgeplan optimize`` runs: it opens a
:class:`~planner_app.core.planning.session.PlanningSession` and calls
``load_model → measure → pose → solve → export`` with the options the command
line gathered, mapping each step's progress onto one bar. It returns the
session, so the caller reads the result, the plan and the notes from it.

An infeasible problem is not an exception: the session's ``feasible`` is False,
its result holds the failing constraint and the closest plan, and nothing is
written.

Example
-------
>>> s = plan_deployment("sample_topologies/smart_home.json", "photo-tagging",
...                     measure=MeasureOptions(levels=("fp32",)), out="out/plan.json")  # doctest: +SKIP
>>> s.plan.totals.latency_ms, [st.device for st in s.plan.stages]  # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["plan_deployment"]

import os
from pathlib import Path

from planner_app.core.models import ModelGraph
from planner_app.core.planning.options import (
    ExportOptions,
    LoadOptions,
    MeasureOptions,
    PoseOptions,
    SolveOptions,
)
from planner_app.core.planning.session import PlanningSession
from planner_app.core.planning.source import ModelSource
from planner_app.core.plans import check_out_path
from planner_app.core.progress import CancelToken, ProgressCallback, report
from planner_app.core.topology import Topology


def _span(progress: ProgressCallback | None, lo: float, hi: float) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda f, m: report(progress, lo + (hi - lo) * f, m)


def plan_deployment(
    topology: Topology | str | os.PathLike[str],
    workload: str | None = None,
    *,
    model: ModelSource | ModelGraph | None = None,
    load: LoadOptions | None = None,
    measure: MeasureOptions | None = None,
    pose: PoseOptions | None = None,
    solve: SolveOptions | None = None,
    out: str | os.PathLike[str] | None = None,
    fidelity_samples: int = 4,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PlanningSession:
    """Plan where each part of a model runs, and export the plan when ``out`` is given and a plan
    is feasible. ``model`` is a model loaded already (else ``load`` says what to load)."""
    export = ExportOptions(out=Path(out), fidelity_samples=fidelity_samples) if out is not None else None
    if export is not None:
        check_out_path(export.out)  # before minutes of profiling, not after
    if isinstance(topology, Topology):
        session = PlanningSession(topology, workload)
    else:
        session = PlanningSession.open(topology, workload)
    if model is not None:
        session.use_model(model)
    else:
        session.load_model(load, progress=_span(progress, 0.0, 0.05), cancel=cancel)
    session.measure(measure, progress=_span(progress, 0.05, 0.6), cancel=cancel)
    report(progress, 0.6, "posing the problem")
    session.pose(pose)
    session.solve(solve, progress=_span(progress, 0.62, 0.8), cancel=cancel)
    if export is not None and session.feasible:
        session.export(export, progress=_span(progress, 0.8, 1.0), cancel=cancel)
    elif export is not None:
        session.add_note("export", f"no plan written to {export.out}: no plan meets every constraint")
    report(progress, 1.0, "done" if session.feasible else "done: no feasible plan")
    return session
