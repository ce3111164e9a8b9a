"""The solvers, as a registry of :class:`Solver` records.

Adding a solver is one :func:`register_solver` call (below for a built-in one).
:func:`~planner_app.core.optimizer.optimize` runs the record's ``solve``; the CLI's
``--solver`` choices and help text come from :func:`solver_choices` and
:func:`solvers_help`. ``auto`` is not a solver but the chooser
(:func:`~planner_app.core.optimizer.choose_solver`), so it cannot be registered.

A record declares what its answers are worth: ``exact`` (optimal over its space
when it finishes), ``space`` (``'chain'``: contiguous splits along routes from the
source; ``'pipeline'``: contiguous stages, at most one per device, devices and their
order chosen; ``'dag'``: any device and level per unit of any DAG), ``pareto`` (it gives
the trade-off front) and ``max_placements`` (it refuses larger problems).

Example
-------
>>> get_solver("milp").space, get_solver("dp").exact
('dag', True)
>>> solver_choices()[:3]
('auto', 'dp', 'milp')
"""

from __future__ import annotations

__all__ = [
    "AUTO",
    "SPACES",
    "Solver",
    "SolveFn",
    "SolveOutcome",
    "register_solver",
    "sequence_outcome",
    "unregister_solver",
    "get_solver",
    "solver_names",
    "solver_choices",
    "solvers",
    "solvers_help",
]

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from planner_app.core.optimizer.brute_force import MAX_BRUTE_FORCE, brute_force
from planner_app.core.optimizer.chain_dp import solve_chain
from planner_app.core.optimizer.cost_model import Prediction
from planner_app.core.optimizer.dataflow import is_chain
from planner_app.core.optimizer.pareto import ParetoEntry, criteria_vector, nondominated
from planner_app.core.optimizer.pipeline import solve_pipeline
from planner_app.core.optimizer.problem import Placement, PlanningProblem, ProblemError
from planner_app.core.optimizer.sequence_dp import applies, solve_sequence
from planner_app.core.progress import CancelToken, ProgressCallback

#: the name of the chooser (not a solver): the chain DP or the MILP, see ``choose_solver``
AUTO = "auto"
#: what a solver searches: contiguous splits along routes, pipelines over any devices, or every placement
SPACES = ("chain", "pipeline", "dag")


@dataclass(frozen=True)
class SolveOutcome:
    """What one solver run found: the best plan (None when none is feasible) and what it is worth.

    ``scope`` says in words over which space the answer is exact (shown in the plan).
    """

    best: Placement | None
    prediction: Prediction | None
    front: list[ParetoEntry] = field(default_factory=list)
    exact: bool = True
    scope: str = ""
    #: proven relative gap to the optimum over ``scope`` (0: proven optimal; None: the solver states none)
    gap: float | None = None


class SolveFn(Protocol):
    """A solver's entry point: ``time_limit_s`` is a wish a solver may ignore (None: its own)."""

    def __call__(self, problem: PlanningProblem, *, pareto: bool, progress: ProgressCallback | None,
                 cancel: CancelToken | None, time_limit_s: float | None) -> SolveOutcome: ...


@dataclass(frozen=True)
class Solver:
    """One solver and its declared capability (see the module docstring)."""

    name: str
    solve: SolveFn
    exact: bool
    space: str
    pareto: bool
    description: str
    max_placements: int | None = None

    def __post_init__(self) -> None:
        if not self.name or any(c.isspace() for c in self.name) or self.name == AUTO:
            raise ProblemError(f"solver name {self.name!r}: use a non-empty name without spaces, not '{AUTO}'")
        if self.space not in SPACES:
            raise ProblemError(f"solver '{self.name}': space {self.space!r} is not one of {', '.join(SPACES)}")
        if not callable(self.solve):
            raise ProblemError(f"solver '{self.name}': solve must be a callable")


_SOLVERS: dict[str, Solver] = {}


def register_solver(solver: Solver) -> Solver:
    """Add ``solver``; a name already taken is an error. Returns the record."""
    if not isinstance(solver, Solver):
        raise ProblemError(f"register_solver takes a Solver, got {type(solver).__name__}")
    if solver.name in _SOLVERS:
        raise ProblemError(
            f"solver '{solver.name}' is already registered ({_SOLVERS[solver.name].description}); "
            "pick another name, or unregister_solver() the old one first")
    _SOLVERS[solver.name] = solver
    return solver


def unregister_solver(name: str) -> Solver:
    """Remove the solver ``name`` (e.g. one a test registered) and return it."""
    try:
        return _SOLVERS.pop(name)
    except KeyError:
        raise ProblemError(f"solver '{name}' is not registered") from None


def get_solver(name: str) -> Solver:
    """The record of solver ``name``; an unknown name raises :class:`ProblemError` listing the choices."""
    try:
        return _SOLVERS[name]
    except KeyError:
        raise ProblemError(f"unknown solver {name!r}; use one of {', '.join(solver_choices())}") from None


def solvers() -> tuple[Solver, ...]:
    """Every registered solver, in registration order."""
    return tuple(_SOLVERS.values())


def solver_names() -> tuple[str, ...]:
    """The registered solvers' names (without ``auto``)."""
    return tuple(_SOLVERS)


def solver_choices() -> tuple[str, ...]:
    """What a user may ask for: ``auto`` then every registered solver."""
    return (AUTO, *_SOLVERS)


def solvers_help() -> str:
    """One ``name: description`` entry per choice, for help texts."""
    entries = [f"{AUTO}: the pipeline DP in pipeline mode, else the chain DP when the devices form one route, "
               "else the MILP (default)"]
    entries += [f"{s.name}: {s.description}" for s in _SOLVERS.values()]
    return "; ".join(entries)


# ------------------------------------------------------------------------------ the built-ins


def _solve_dp(problem: PlanningProblem, *, pareto: bool, progress: ProgressCallback | None,
              cancel: CancelToken | None, time_limit_s: float | None) -> SolveOutcome:
    res = solve_chain(problem, pareto=pareto, progress=progress, cancel=cancel)
    scope = "contiguous splits along " + "; ".join(" → ".join(r) for r in res.routes)
    exact = res.exact
    if not is_chain(problem.structure):
        # the DP adds messages and times along the chain of parts; a DAG's messages go straight to their
        # readers and its branches overlap, so the plans it ranks are re-evaluated but not proven best
        exact = False
        scope += ("; the model has branches: the DP ranks plans by relayed cut sets and summed times, "
                  "not the critical path, so its pick is not proven best")
    front = [ParetoEntry(p, pr) for p, pr in res.front]
    return SolveOutcome(res.best, res.best_prediction, front, exact, scope)


def front_for_general(problem: PlanningProblem, best: Placement | None, best_pred: Prediction | None,
                       cancel: CancelToken | None) -> list[ParetoEntry]:
    """The front for a MILP run: enumerated when small, else the chain DP's front plus the MILP plan."""
    size = (len(problem.devices) * len(problem.levels)) ** problem.n_units * len(problem.codecs)
    if size <= 20_000:
        return [ParetoEntry(p, pr) for p, pr in brute_force(problem, "general", pareto=True, cancel=cancel).front]
    pts = [(p, pr) for p, pr in solve_chain(problem, pareto=True, cancel=cancel).front]
    if best is not None and best_pred is not None:
        pts.append((best, best_pred))
    if not pts:
        return []
    keep = nondominated(np.array([criteria_vector(pr) for _, pr in pts]))
    return sorted((ParetoEntry(*pts[i]) for i in keep), key=lambda e: e.prediction.latency_ms)


def _solve_milp(problem: PlanningProblem, *, pareto: bool, progress: ProgressCallback | None,
                cancel: CancelToken | None, time_limit_s: float | None) -> SolveOutcome:
    from planner_app.core.optimizer.milp import solve_milp

    res = (solve_milp(problem, progress=progress, cancel=cancel) if time_limit_s is None
           else solve_milp(problem, time_limit_s, progress=progress, cancel=cancel))
    if res.best is None and not res.exact:
        # HiGHS stopped (time limit) before finding any plan: that proves nothing, so fall back
        # to the chain DP rather than call the problem infeasible
        dp = _solve_dp(problem, pareto=pareto, progress=progress, cancel=cancel, time_limit_s=None)
        return SolveOutcome(dp.best, dp.prediction, dp.front, False,
                            f"{dp.scope} (the MILP stopped: {res.status}, no plan, no bound)", None)
    front = front_for_general(problem, res.best, res.best_prediction, cancel) if pareto else []
    scope = "every placement (any device and level per unit)"
    if not res.exact:
        gap = "no bound" if res.gap is None or not np.isfinite(res.gap) else f"proven gap {res.gap:.2%}"
        scope += f"; the MILP stopped early ({res.status}), best found so far, {gap}"
    else:
        scope += "; proven optimal (gap 0)" + (f": {res.proof}" if res.proof else "")
    return SolveOutcome(res.best, res.best_prediction, front, res.exact, scope, res.gap)


#: 'auto' tries the sequence DP first up to this many (units x (devices x levels)² x codecs)
SEQUENCE_AUTO_LIMIT = 2_000_000


def sequence_outcome(problem: PlanningProblem, cancel: CancelToken | None) -> SolveOutcome | None:
    """The sequence DP's answer when it proves its plan the best over every placement, else None."""
    states = len(problem.devices) * len(problem.levels)
    if problem.n_units * states * states * len(problem.codecs) > SEQUENCE_AUTO_LIMIT:
        return None
    seq = solve_sequence(problem, cancel)
    if not (seq.proven and seq.best is not None and seq.prediction is not None):
        return None
    return SolveOutcome(seq.best, seq.prediction, [], True,
                        f"every placement (any device and level per unit); proven optimal (gap 0) by the sequence DP: "
                        f"{seq.reason}", 0.0)


def _solve_sequence(problem: PlanningProblem, *, pareto: bool, progress: ProgressCallback | None,
                    cancel: CancelToken | None, time_limit_s: float | None) -> SolveOutcome:
    quick = sequence_outcome(problem, cancel)
    if quick is not None:
        return quick
    # a limit that adds up over a plan binds (or throughput, or a huge problem): the MILP decides
    why = applies(problem) or "the best plan ignoring memory, utilization and caps breaks one of them"
    out = _solve_milp(problem, pareto=pareto, progress=progress, cancel=cancel, time_limit_s=time_limit_s)
    return SolveOutcome(out.best, out.prediction, out.front, out.exact,
                        f"{out.scope} (by the MILP: the sequence DP cannot prove this problem: {why})", out.gap)


def _solve_brute(problem: PlanningProblem, *, pareto: bool, progress: ProgressCallback | None,
                 cancel: CancelToken | None, time_limit_s: float | None) -> SolveOutcome:
    res = brute_force(problem, "general", pareto=pareto, cancel=cancel)
    front = [ParetoEntry(p, pr) for p, pr in res.front]
    return SolveOutcome(res.best, res.best_prediction, front, True, "every placement (enumerated)")


def _solve_pipeline(problem: PlanningProblem, *, pareto: bool, progress: ProgressCallback | None,
                    cancel: CancelToken | None, time_limit_s: float | None) -> SolveOutcome:
    res = solve_pipeline(problem, progress=progress, cancel=cancel)
    k = problem.constraints.max_stages_per_device or 1
    scope = (f"pipelines: contiguous stages, at most {k} per device, over every choice and order of devices "
             f"({len(res.classes)} classes of interchangeable devices)")
    if res.notes:
        scope += "; " + "; ".join(res.notes)
    front = [ParetoEntry(res.best, res.best_prediction)] if pareto and res.best and res.best_prediction else []
    return SolveOutcome(res.best, res.best_prediction, front, res.exact, scope)


register_solver(Solver(
    "dp", _solve_dp, exact=True, space="chain", pareto=True,
    description="chain DP, exact over contiguous splits along routes from the source"))
register_solver(Solver(
    "milp", _solve_milp, exact=True, space="dag", pareto=True,
    description="MILP (HiGHS), exact over every placement of any DAG"))
register_solver(Solver(
    "brute", _solve_brute, exact=True, space="dag", pareto=True,
    description="enumerates every placement (small problems only)", max_placements=MAX_BRUTE_FORCE))
register_solver(Solver(
    "sequence", _solve_sequence, exact=True, space="dag", pareto=False,
    description="sequence DP: exact over every placement in milliseconds when memory, utilization and "
                "caps do not bind; else the MILP answers (the scope says so)"))
register_solver(Solver(
    "pipeline", _solve_pipeline, exact=True, space="pipeline", pareto=False,
    description="pipeline DP, exact over pipelines: one contiguous stage per device, devices and order chosen"))
