"""Find the best placement: exact chain DP, MILP (HiGHS), brute force, and baselines.

:func:`optimize` is the entry point. The solvers are records in
:mod:`~planner_app.core.optimizer.registry` (``dp``, ``milp``, ``brute``,
``sequence``, ``pipeline`` and any you register); ``solver='auto'`` is the chooser: in pipeline mode
(``Constraints.max_stages_per_device`` set) it uses the pipeline DP; else, for a model with
branches (its latency is a critical path, see :mod:`~planner_app.core.optimizer.dataflow`), the
MILP up to ``BRANCHED_MILP_AUTO_UNITS`` units; else the chain DP when
the candidate devices form one route from the source whose messages use
distinct link directions (a path: the classic device → edge → cloud), the
MILP otherwise (exact over every placement), and the DP again when the MILP
would be too large (``MILP_AUTO_LIMIT``; the answer then says which space it
is exact over). 'auto' first runs the sequence DP
(:mod:`~planner_app.core.optimizer.sequence_dp`, milliseconds): when the best plan over every
placement ignoring the limits that add up over a plan (memory, utilization, SLO and $ caps)
meets them all, it is the exact answer (solver ``'sequence'``) and the chosen solver does not
run; with a Pareto front asked for, the front is built as for the MILP (enumerated when small,
else the chain DP's front with the proven plan). Whatever the solver, the plan
is compared with the baselines on the same cost model and is never worse than
a feasible one. Every solver minimises
:meth:`~planner_app.core.optimizer.problem.PlanningProblem.objective_key`: the objective,
then latency, link bytes and parts on ties, so a plan is never dominated by one
of equal objective. An infeasible problem still gets an answer: ``feasible=False``,
the constraint that fails first, and the closest plan.

Example
-------
>>> from planner_app.core.optimizer.problem import ModelStructure, PlanningProblem
>>> from planner_app.core.optimizer.synthetic import random_topology, time_table_from_flops
>>> import numpy as np
>>> topo = random_topology(np.random.default_rng(0), 3)
>>> model = ModelStructure.chain([2e8, 4e8, 1e8], [400_000, 100_000, 4_000], input_bytes=600_000)
>>> problem = PlanningProblem.build(topo, None, model, time_table_from_flops(model, topo, ["fp32", "int8"]),
...                                 objective="latency")
>>> result = optimize(problem, pareto=True)
>>> result.feasible, result.solver
(True, 'dp')
>>> result.prediction.latency_ms <= min(b.prediction.latency_ms for b in result.baselines)
True
"""

from __future__ import annotations

__all__ = [
    "SOLVERS",
    "Solver",
    "SolveOutcome",
    "register_solver",
    "unregister_solver",
    "get_solver",
    "solver_choices",
    "OptimizationResult",
    "ParetoEntry",
    "optimize",
    "choose_solver",
    "MILP_AUTO_LIMIT",
    "evaluate",
    "Placement",
    "Prediction",
    "PlanningProblem",
    "Constraints",
    "ModelStructure",
    "BaselineResult",
]

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from planner_app.core.optimizer.baselines import BaselineResult, compute_baselines
from planner_app.core.optimizer.brute_force import chain_routes
from planner_app.core.optimizer.chain_dp import route_is_exact
from planner_app.core.optimizer.cost_model import Prediction, evaluate
from planner_app.core.optimizer.dataflow import is_chain
from planner_app.core.optimizer.pareto import ParetoEntry, criteria_vector, nondominated
from planner_app.core.optimizer.problem import (
    CONSTRAINT_ORDER,
    Constraints,
    ModelStructure,
    Placement,
    PlanningProblem,
    ProblemError,
    lex_better,
)
from planner_app.core.optimizer.registry import (
    AUTO,
    SolveOutcome,
    Solver,
    front_for_general,
    get_solver,
    register_solver,
    sequence_outcome,
    solver_choices,
    unregister_solver,
)
from planner_app.core.progress import CancelToken, ProgressCallback, report

#: 'auto' and the built-in solvers (what SOLVERS always was); solver_choices() also has those registered later
SOLVERS: tuple[str, ...] = solver_choices()


@dataclass
class OptimizationResult:
    """What :func:`optimize` found.

    ``placement``/``prediction`` is the best plan, or when ``feasible`` is False
    the closest one (least total normalised violation). ``solver`` names what
    produced it (``'dp'``, ``'milp'``, ``'brute'``, or ``'baseline:<name>'``
    when a baseline outside the solver's space was better); ``exact_scope``
    says over which space the answer is exact.
    """

    feasible: bool
    placement: Placement
    prediction: Prediction
    objective_value: float
    solver: str
    exact: bool
    exact_scope: str
    solve_ms: float
    pareto_front: list[ParetoEntry] = field(default_factory=list)
    baselines: list[BaselineResult] = field(default_factory=list)
    failing_constraint: str | None = None
    message: str = ""
    notes: list[str] = field(default_factory=list)
    #: the solver's proven relative gap to the optimum over ``exact_scope`` (0 = proven optimal;
    #: None when the solver states none, e.g. a DP, exact by construction, or a baseline)
    gap: float | None = None

    def improvement_over(self, baseline: BaselineResult, problem: PlanningProblem) -> float | None:
        """How many times better the plan is than ``baseline`` on the objective (>1 = better)."""
        mine = problem.objective_value(self.prediction)
        theirs = problem.objective_value(baseline.prediction)
        if not (math.isfinite(mine) and math.isfinite(theirs)) or mine <= 0:
            return None
        return theirs / mine


#: above this many message variables (boundaries x devices²) 'auto' prefers the DP to the MILP
MILP_AUTO_LIMIT = 40_000

#: a model with branches goes to the MILP (the only solver that models its critical path) up to this
#: many units; beyond, its big-M timing rows make it slow and 'auto' takes the DP, whose answer then
#: says it is not proven optimal
BRANCHED_MILP_AUTO_UNITS = 100
#: seconds HiGHS gets per solve when 'auto' picked the MILP: an interactive answer within
#: a minute, flagged "not proven optimal" when the limit cuts it short ('milp' asked for
#: explicitly keeps the solver's own, longer limit)
AUTO_MILP_TIME_LIMIT_S = 8.0


def choose_solver(problem: PlanningProblem) -> str:
    """What ``solver='auto'`` picks (see the module docstring)."""
    if problem.constraints.max_stages_per_device is not None:
        return "pipeline"
    if (not is_chain(problem.structure) and problem.n_units <= BRANCHED_MILP_AUTO_UNITS
            and problem.n_units * len(problem.devices) ** 2 <= MILP_AUTO_LIMIT):
        return "milp"  # branches: only the MILP models the critical path and the tensors' own messages
    routes = chain_routes(problem)
    single = len(routes) == 1 and set(routes[0]) == set(problem.devices) and route_is_exact(problem, routes[0])
    if single:
        return "dp"
    if problem.n_units * len(problem.devices) ** 2 <= MILP_AUTO_LIMIT:
        return "milp"
    return "dp"


def _solve(problem: PlanningProblem, solver: str, pareto: bool, progress: ProgressCallback | None,
           cancel: CancelToken | None, time_limit_s: float | None = None) -> SolveOutcome:
    """Run one registered solver (the time limit is a wish a solver may ignore)."""
    return get_solver(solver).solve(problem, pareto=pareto, progress=progress, cancel=cancel,
                                    time_limit_s=time_limit_s)


def _rank(problem: PlanningProblem, pred: Prediction) -> tuple[int, float, float]:
    return (0 if pred.feasible else 1, pred.total_violation, problem.objective_value(pred))


def _diagnose(problem: PlanningProblem, solver: str, cancel: CancelToken | None) -> tuple[str, list[Placement]]:
    """The constraint that fails first (adding them in CONSTRAINT_ORDER), and plans of the relaxed problems."""
    toggles = [k for k in CONSTRAINT_ORDER if k != "runnable"]
    plans: list[Placement] = []
    for i, kind in enumerate(["runnable", *toggles]):
        off = toggles[i:]  # constraints after (and including) the next one are off
        relaxed = problem.with_changes(constraints=problem.constraints.without(*off))
        best = _solve(relaxed, solver, False, None, cancel).best
        if best is None:
            return kind, plans
        plans.append(best)
    return "unknown", plans  # pragma: no cover - the full problem was infeasible, so some step fails


def optimize(
    problem: PlanningProblem,
    solver: str = "auto",
    pareto: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    baselines: bool = True,
    time_limit_s: float | None = None,
) -> OptimizationResult:
    """Best placement for ``problem`` (see the module docstring).

    ``solver``: 'auto' or a registered solver (:mod:`~planner_app.core.optimizer.registry`:
    'dp' chain DP, 'milp' HiGHS, 'sequence' the sequence DP (else the MILP), 'pipeline' pipeline DP,
    'brute' small problems only, and any
    you register).
    ``pareto``: also return the latency / cost / link-bytes (/ fidelity) front.
    ``time_limit_s``: seconds the solver may take (the MILP stops there and states its gap);
    default: ``AUTO_MILP_TIME_LIMIT_S`` when 'auto' picked the MILP, else the solver's own.
    """
    if time_limit_s is not None and not (time_limit_s > 0 and math.isfinite(time_limit_s)):
        raise ProblemError(f"time limit {time_limit_s!r} s: give a positive number of seconds")
    if solver != AUTO:
        record = get_solver(solver)
        size = (len(problem.devices) * len(problem.levels)) ** problem.n_units * len(problem.codecs)
        if record.max_placements is not None and size > record.max_placements:
            others = [s for s in solver_choices() if s != solver]
            raise ProblemError(f"{solver} would evaluate {size:,} placements (its limit is "
                               f"{record.max_placements:,}); use {', '.join(repr(s) for s in others)}")
    t0 = time.perf_counter()
    used = choose_solver(problem) if solver == AUTO else solver
    report(progress, 0.0, f"solving with {used}")
    inner = None if progress is None else (lambda f, m: report(progress, 0.7 * f, m))
    limit = time_limit_s if time_limit_s is not None else (AUTO_MILP_TIME_LIMIT_S if solver == AUTO else None)
    quick = None
    if solver == AUTO and used in ("dp", "milp"):
        # the sequence DP answers most problems exactly over every placement in milliseconds; when
        # a limit that adds up over a plan binds it cannot prove its plan, and the chosen solver runs
        quick = sequence_outcome(problem, cancel)
        if quick is not None and pareto:  # the front as the MILP path builds it, around the proven plan
            quick = replace(quick, front=front_for_general(problem, quick.best, quick.prediction, cancel))
    if quick is not None:
        outcome, used = quick, "sequence"
    else:
        outcome = _solve(problem, used, pareto, inner, cancel, limit)
    best, pred, front, exact, scope = outcome.best, outcome.prediction, list(outcome.front), outcome.exact, outcome.scope
    solve_ms = (time.perf_counter() - t0) * 1000.0
    notes: list[str] = []
    if not exact:
        gap_text = (f"; proven gap {outcome.gap:.2%}" if outcome.gap is not None and math.isfinite(outcome.gap)
                    else "; no bound proven")
        notes.append(f"the {used} answer is not proven optimal (see exact_scope and the solver's notes){gap_text}")
        if used == "milp" and problem.constraints.max_stages_per_device is None and len(problem.devices) > 2:
            # the general MILP did not finish: the pipeline space is exact and fast when it fits the use
            notes.append("the problem is too large for the general MILP to prove within its time limit: give "
                         "it more time (--time-limit S), or plan a pipeline (--pipeline: one contiguous stage per "
                         "device, devices and order chosen by the planner), which is solved exactly in milliseconds")
    if pareto and not get_solver(used).pareto:
        notes.append(f"the {used} solver gives no trade-off front: only the chosen plan is on it")
    report(progress, 0.75, "baselines")
    base = compute_baselines(problem, cancel) if baselines else []
    failing: str | None = None
    message = ""
    if best is None or pred is None:
        report(progress, 0.85, "no feasible plan: finding the constraint that fails first")
        failing, relaxed_plans = _diagnose(problem, used, cancel)
        pool = [(p, evaluate(p, problem)) for p in relaxed_plans] + [(b.placement, b.prediction) for b in base]
        if not pool:  # nothing runs anywhere: report the all-on-source plan with its violations
            p0 = Placement.uniform(problem.n_units, problem.devices[0], problem.levels[0])
            pool = [(p0, evaluate(p0, problem))]
        best, pred = min(pool, key=lambda x: (x[1].total_violation, problem.objective_value(x[1])))
        message = (f"no plan meets every constraint; '{failing}' is the first that cannot be met "
                   f"(constraints added in the order {', '.join(CONSTRAINT_ORDER)}). Closest plan: "
                   f"{best.summary()} — {'; '.join(pred.violations[:3])}")
        report(progress, 1.0, "done (infeasible)")
        return OptimizationResult(False, best, pred, problem.objective_value(pred), used, exact, scope, solve_ms,
                                  front, base, failing, message, notes, outcome.gap)
    value = problem.objective_value(pred)
    for b in base:
        bv = problem.objective_value(b.prediction)
        # ties on the objective go to the lower latency, then fewer bytes, then fewer parts
        if b.prediction.feasible and lex_better(problem.objective_key(b.prediction), problem.objective_key(pred)):
            how = ("ties the objective with less latency, fewer link bytes or fewer parts than"
                   if lex_better((bv,), (value,)) is False else "beat")
            notes.append(f"baseline {b.name} ({bv:.6g}) {how} the {used} plan ({value:.6g}), which searched "
                         f"{scope}; the baseline's plan is returned")
            best, pred, value, used = b.placement, b.prediction, bv, f"baseline:{b.name}"
    if pareto and front:
        pts = [(e.placement, e.prediction) for e in front] + [(best, pred)]
        keep = nondominated(np.array([criteria_vector(pr) for _, pr in pts]))
        front = sorted((ParetoEntry(*pts[i]) for i in keep), key=lambda e: e.prediction.latency_ms)
    report(progress, 1.0, "done")
    return OptimizationResult(True, best, pred, value, used, exact, scope, solve_ms, front, base, None,
                              f"best plan by {used}: {best.summary()}", notes, outcome.gap)

