"""Planning as a session of typed steps: load the model, measure it, pose the problem, solve, export.

:class:`PlanningSession` runs one step at a time; :func:`plan_deployment`
composes the steps for ``edgeplan optimize``, the one caller today. The
window's planning panels and the edge agent (neither built yet) are to drive
single steps. A model enters through the :class:`ModelSource` seam.
Every public name of the package is re-exported here; import from the package.
"""

from __future__ import annotations

from planner_app.core.planning.joint import (
    JOINT_WORKLOAD,
    JointInfeasibleError,
    JointPlanning,
    JointSection,
    plan_jointly,
)
from planner_app.core.planning.layer_source import LayerTableSource
from planner_app.core.planning.options import (
    ExportOptions,
    LoadOptions,
    MeasureOptions,
    OptionsError,
    PoseOptions,
    SolveOptions,
)
from planner_app.core.planning.pipeline import plan_deployment
from planner_app.core.planning.session import InfeasiblePlanError, PlanningSession, StepOrderError
from planner_app.core.planning.source import (
    DEFAULT_LEVELS,
    QUICK_PROFILE,
    Measured,
    ModelSource,
    OnnxModelSource,
    PartBuilder,
    measured_part_overhead_ms,
)

__all__ = [
    "PlanningSession",
    "plan_deployment",
    "plan_jointly",
    "JointPlanning",
    "JointSection",
    "JointInfeasibleError",
    "JOINT_WORKLOAD",
    "LoadOptions",
    "MeasureOptions",
    "PoseOptions",
    "SolveOptions",
    "ExportOptions",
    "OptionsError",
    "InfeasiblePlanError",
    "StepOrderError",
    "ModelSource",
    "OnnxModelSource",
    "LayerTableSource",
    "PartBuilder",
    "Measured",
    "DEFAULT_LEVELS",
    "QUICK_PROFILE",
    "measured_part_overhead_ms",
]
