"""Planning as a session of typed steps: load the model, measure it, pose the problem, solve, export.

Every public name of the package is re-exported here; import from the package.
"""

from __future__ import annotations

from planner_app.core.planning.pipeline import (
    DEFAULT_LEVELS,
    QUICK_PROFILE,
    InfeasiblePlanError,
    PlanningRun,
    export_run,
    plan_deployment,
)

__all__ = [
    "DEFAULT_LEVELS",
    "QUICK_PROFILE",
    "InfeasiblePlanError",
    "PlanningRun",
    "export_run",
    "plan_deployment",
]
