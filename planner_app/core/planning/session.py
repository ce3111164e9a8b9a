"""Planning as a session of typed steps: load → measure → pose → solve → export.

A :class:`PlanningSession` holds one topology and one workload, and what each
step produced. Every step is callable alone, takes its options as a frozen
record (:mod:`~planner_app.core.planning.options`) and, where it is long,
``progress`` and ``cancel``. A step needs the ones before it; running a step
again drops what the later ones made from the old input. ``edgeplan optimize``
runs them all (:func:`~planner_app.core.planning.pipeline.plan_deployment`); the
window's planning panels, agent measurements and layer-table models (still to
come) each plug into one step:

- :meth:`~PlanningSession.load_model` loads an ONNX file or ``sample:NAME`` (or
  :meth:`~PlanningSession.use_model` takes any :class:`ModelSource`);
- :meth:`~PlanningSession.measure` builds the time table from a local profile
  (saved, or measured now), imported times and agent profiles, in any mix
  (or :meth:`~PlanningSession.use_time_table` takes one made elsewhere);
- :meth:`~PlanningSession.pose` sets the objective, the constraints and the
  allowed levels, and checks they fit the topology;
- :meth:`~PlanningSession.solve` runs the optimizer with its baselines and,
  when asked, the Pareto front;
- :meth:`~PlanningSession.export` cuts, compresses, checks and writes the plan
  (or another placement, e.g. a point of the front) with one part per stage.

An infeasible problem is not an exception: ``solve`` returns a result with
``feasible`` False, the failing constraint and the closest plan; ``export``
of an infeasible placement raises :class:`InfeasiblePlanError` (exit code 3).

Example
-------
>>> s = PlanningSession.open("sample_topologies/smart_home.json", "hub-keyword-spotting")  # doctest: +SKIP
>>> s.load_model(LoadOptions())                                        # doctest: +SKIP
>>> s.measure(MeasureOptions(levels=("fp32", "fp16")))                 # doctest: +SKIP
>>> s.pose(PoseOptions(objective="latency", slo_ms=50))                # doctest: +SKIP
>>> s.solve(SolveOptions(pareto=True)).feasible                        # doctest: +SKIP
True
>>> s.export(ExportOptions(out=Path("out/plan.json"))).stages[0].device  # doctest: +SKIP
'hub'
"""

from __future__ import annotations

__all__ = ["PlanningSession", "InfeasiblePlanError", "StepOrderError"]

import os
import time
from pathlib import Path

from planner_app.core.errors import PlannerError, ProblemError, TopologyError
from planner_app.core.models import SAMPLE_MODELS, ModelError, ModelGraph, load_model
from planner_app.core.models.layer_table import LAYER_TABLE_FORMAT, load_layer_table
from planner_app.core.optimizer import OptimizationResult, evaluate, optimize
from planner_app.core.optimizer.problem import Constraints, Placement, PlanningProblem
from planner_app.core.planning.layer_source import LayerTableSource
from planner_app.core.planning.options import (
    ExportOptions,
    LoadOptions,
    MeasureOptions,
    PoseOptions,
    SolveOptions,
)
from planner_app.core.planning.source import Measured, ModelSource, OnnxModelSource
from planner_app.core.plans import (
    DeploymentPlan,
    ExportError,
    PlanContext,
    check_out_path,
    export_plan,
)
from planner_app.core.plans import plan_document as build_plan_document
from planner_app.core.profiling import TimeTable
from planner_app.core.progress import CancelToken, ProgressCallback, report
from planner_app.core.topology import Topology, Workload, load_topology


def _is_layer_table(source: str) -> bool:
    """A ``.csv`` file, or a ``.json`` file whose ``format`` names the layer-table format."""
    path = Path(source)
    if path.suffix.lower() == ".csv":
        return True
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        head = path.read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        return False
    return f'"{LAYER_TABLE_FORMAT}"' in head


class InfeasiblePlanError(PlannerError):
    """No plan meets every constraint; :attr:`session` holds the closest plan in its result."""

    exit_code = 3

    def __init__(self, message: str, session: PlanningSession) -> None:
        super().__init__(message)
        self.session = session


class StepOrderError(PlannerError):
    """A step was called before the step it needs (e.g. ``solve`` before ``pose``)."""


class PlanningSession:
    """One topology, one workload, and what each planning step made (see the module docstring)."""

    def __init__(self, topology: Topology, workload: str | None = None, *,
                 topology_path: Path | None = None) -> None:
        topology.validate_references()
        self.topology = topology
        self.topology_path = topology_path
        self.workload: Workload = topology.workload(workload)
        self._check_reach()
        self.source: ModelSource | None = None
        self.measured: Measured | None = None
        self.problem: PlanningProblem | None = None
        self.result: OptimizationResult | None = None
        self.plan: DeploymentPlan | None = None
        self.plan_path: Path | None = None
        self.timings_s: dict[str, float] = {}
        self._notes: dict[str, list[str]] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str], workload: str | None = None) -> PlanningSession:
        """A session on the topology file ``path`` (validated, migrated)."""
        return cls(load_topology(path), workload, topology_path=Path(path))

    # -- state ----------------------------------------------------------------------
    @property
    def notes(self) -> list[str]:
        """What each step did that a user should know, in step order."""
        return [n for step in ("load", "measure", "pose", "solve", "export") for n in self._notes.get(step, [])]

    @property
    def time_table(self) -> TimeTable | None:
        """The measured time table, or None before :meth:`measure`."""
        return self.measured.time_table if self.measured is not None else None

    def raise_if_infeasible(self) -> None:
        """Raise :class:`InfeasiblePlanError` (exit code 3) when no plan meets the constraints."""
        self._need("result", self.result, "solve")
        if not self.feasible:
            assert self.result is not None
            raise InfeasiblePlanError(self.result.message or "no feasible plan", self)

    def add_note(self, step: str, text: str) -> None:
        """Record what a step (``load``, ``measure``, ``pose``, ``solve``, ``export``) did."""
        self._notes.setdefault(step, []).append(text)

    @property
    def feasible(self) -> bool:
        return self.result is not None and self.result.feasible

    def _drop_after(self, step: str) -> None:
        order = ("load", "measure", "pose", "solve", "export")
        for later in order[order.index(step):]:
            self._notes.pop(later, None)
        if step == "load":
            self.measured = None
        if step in ("load", "measure"):
            self.problem = None
        if step in ("load", "measure", "pose"):
            self.result = None
        self.plan = self.plan_path = None

    def _need(self, what: str, value: object, step: str) -> None:
        if value is None:
            raise StepOrderError(f"call {step} before this step: the session has no {what} yet")

    def _check_reach(self) -> None:
        topo, w = self.topology, self.workload
        others = [d.id for d in topo.devices if d.id != w.source]
        if not others:
            return  # a one-device topology: the only plan runs everything on the source
        reach = topo.routes_from(w.source)
        if not any(d in reach for d in others):
            raise TopologyError(
                f"workload {w.name!r}: its source device {w.source!r} reaches no other device "
                f"of topology {topo.name!r} (no link touches it, or its links lead nowhere). Add a link "
                f"from {w.source!r} to an edge or cloud device."
            )

    # -- load -----------------------------------------------------------------------
    def _workload_model(self) -> str | None:
        """The workload's model field as a loadable source: relative paths are relative to the
        topology file, and a bare sample name means ``sample:NAME``."""
        text = self.workload.model
        if not text or text.startswith("sample:"):
            return text
        if not Path(text).is_absolute() and not Path(text).exists() and self.topology_path is not None:
            beside = self.topology_path.parent / text
            if beside.exists():
                return str(beside)
        if not Path(text).exists() and text in SAMPLE_MODELS:
            return f"sample:{text}"
        return text

    def load_model(self, options: LoadOptions | None = None, *, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> ModelSource:
        """Load the model (``options.model``, else the workload's) with the workload's input shapes.

        An ONNX file or ``sample:NAME`` becomes an :class:`OnnxModelSource`; a layer table
        (``.csv``, or ``.json`` in the layer-table format) a ``LayerTableSource``.
        """
        options = options or LoadOptions()
        t0 = time.perf_counter()
        w = self.workload
        source = str(options.model) if options.model is not None else self._workload_model()
        if not source:
            raise PlannerError(
                f"workload {w.name!r} names no model: give one with --model M.onnx (or sample:NAME), "
                "or set the workload's model field."
            )
        given = {k: list(v) for k, v in options.shapes.items()}
        declared = {k: list(v) for k, v in w.input_shapes.items()}
        for name, dims in given.items():
            if name in declared and declared[name] != dims:
                raise ModelError(
                    f"--shape {name}={'x'.join(map(str, dims))} differs from workload {w.name!r}, which "
                    f"declares {name}={'x'.join(map(str, declared[name]))}: drop --shape or fix the workload."
                )
        if _is_layer_table(source):
            if given:
                raise PlannerError(f"--shape does not apply to the layer table {source}: its sizes are in the file.")
            self.use_model(LayerTableSource(load_layer_table(source), batch_size=w.batch_size, given_as=source))
            self.timings_s["load_s"] = time.perf_counter() - t0
            assert self.source is not None
            return self.source
        merged = {**declared, **given}
        report(progress, 0.0, f"loading model {source}")
        try:
            mg = load_model(source, merged or None, progress=progress, cancel=cancel)
        except ModelError as exc:
            if declared and not given:
                raise ModelError(
                    f"model {source} does not match workload {w.name!r}, which declares input shapes "
                    f"{declared}: {exc.message}"
                ) from None
            raise
        self.use_model(OnnxModelSource(mg, source))
        self.timings_s["load_s"] = time.perf_counter() - t0
        assert self.source is not None
        return self.source

    def use_model(self, source: ModelSource | ModelGraph) -> None:
        """Plan with a model loaded elsewhere (the window, a layer table); it must fit the workload."""
        if isinstance(source, ModelGraph):
            source = OnnxModelSource(source, str(source.path) if source.path else source.name)
        declared = {k: list(v) for k, v in self.workload.input_shapes.items()}
        wrong = {k: v for k, v in declared.items() if source.input_shapes.get(k) != v}
        if wrong:
            raise ModelError(
                f"model {source.label} has inputs {source.input_shapes}, but workload {self.workload.name!r} "
                f"declares {wrong}: fix the workload's input_shapes or give the matching model."
            )
        self._drop_after("load")
        self.source = source

    # -- measure --------------------------------------------------------------------
    def measure(self, options: MeasureOptions | None = None, *, progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> Measured:
        """The time table of the model on every device (see :class:`MeasureOptions`)."""
        options = options or MeasureOptions()
        self._need("model", self.source, "load_model")
        assert self.source is not None
        if options.host_device is not None and not self.topology.has_device(options.host_device):
            raise TopologyError(
                f"--host-device {options.host_device!r} is not a device of topology {self.topology.name!r}: "
                f"the devices are {', '.join(d.id for d in self.topology.devices)}."
            )
        t0 = time.perf_counter()
        measured = self.source.measure(self.topology, options, progress=progress, cancel=cancel)
        self.use_time_table(measured)
        self.timings_s["profile_s"] = time.perf_counter() - t0
        return measured

    def use_time_table(self, measured: Measured) -> None:
        """Plan with a time table made elsewhere (a window panel, a test, a layer table)."""
        self._need("model", self.source, "load_model")
        self._drop_after("measure")
        self.measured = measured
        self._notes["measure"] = list(measured.notes)

    # -- pose -----------------------------------------------------------------------
    def pose(self, options: PoseOptions | None = None) -> PlanningProblem:
        """The planning problem: objective, constraints (the workload's, overridden), levels."""
        options = options or PoseOptions()
        self._need("model", self.source, "load_model")
        self._need("time table", self.measured, "measure")
        assert self.source is not None and self.measured is not None
        overrides: dict[str, object] = {}
        for key in ("slo_ms", "min_fidelity"):
            value = getattr(options, key)
            if value != "workload":
                overrides[key] = value
        if options.max_cost_usd_per_1k is not None:
            overrides["max_cost_usd_per_1k"] = options.max_cost_usd_per_1k
        if options.pinned_units:
            overrides["pinned_units"] = dict(options.pinned_units)
        if options.max_stages_per_device is not None:
            overrides["max_stages_per_device"] = options.max_stages_per_device
        constraints = Constraints.from_workload(self.workload, **overrides)
        measured = self.measured
        figures_batch, batch_note = self._figures_batch_size()
        try:
            problem = PlanningProblem.build(
                self.topology, self.workload, self.source.structure(), measured.time_table,
                codecs=dict(measured.codecs) if measured.codecs else None, constraints=constraints,
                objective=options.objective, levels=list(options.levels) if options.levels else None,
                part_overhead_ms=measured.part_overhead_ms, figures_batch_size=figures_batch)
        except ProblemError as exc:
            raise self._actionable(exc) from None
        self._drop_after("pose")
        if batch_note:
            self.add_note("pose", batch_note)
        self.problem = problem
        return problem

    def _figures_batch_size(self) -> tuple[int | None, str | None]:
        """The batch the model's times and tensor sizes were measured at, when it is not the
        workload's (``PlanningProblem.build``'s ``figures_batch_size``), and a note saying so.

        A layer table gives its figures per batch of the workload already. An ONNX model's
        figures are per call of the model as loaded: when every input's leading dimension is
        the workload's batch they are per batch; when it is 1 (a model loaded for one request)
        they are scaled linearly to the batch (no batching speed-up: a conservative estimate);
        otherwise which dimension is the batch cannot be told, and the figures stay per call.
        """
        assert self.source is not None
        batch = int(self.workload.batch_size)
        if batch == 1 or isinstance(self.source, LayerTableSource):
            return None, None
        leading = {shape[0] for shape in self.source.input_shapes.values() if shape}
        if leading == {batch}:
            return None, None
        name = self.workload.name
        if leading == {1}:
            return 1, (f"workload {name!r} runs batches of {batch}, but model {self.source.label} was measured "
                       f"with batch 1: its times and tensor sizes are scaled {batch}x (no batching speed-up "
                       "assumed); give the workload input_shapes with the batch as the leading dimension to "
                       "measure a real batch")
        return None, (f"workload {name!r} runs batches of {batch}, but the leading dimensions of model "
                      f"{self.source.label}'s inputs are {sorted(leading)}: the batch dimension cannot be told, so "
                      "its figures are taken as per call of the model as loaded; give the workload input_shapes "
                      f"with {batch} as the leading dimension")

    def _actionable(self, exc: PlannerError) -> PlannerError:
        """The problem builder's message, reworded where it suggests what no option does."""
        text = exc.message
        advice = "link it or drop those devices from the candidates"
        if advice in text:
            where = f"topology file {str(self.topology_path)!r}" if self.topology_path else "the topology"
            text = text.replace(advice, (
                f"add a link from those devices toward {self.workload.result_device!r} in {where} (or in the "
                f"window), or set the consumer of workload {self.workload.name!r} to a device they reach"))
        return type(exc)(text, problems=exc.problems)

    # -- solve ----------------------------------------------------------------------
    def solve(self, options: SolveOptions | None = None, *, progress: ProgressCallback | None = None,
              cancel: CancelToken | None = None) -> OptimizationResult:
        """The best placement, its baselines and (when asked) the Pareto front."""
        options = options or SolveOptions()
        self._need("problem", self.problem, "pose")
        assert self.problem is not None
        t0 = time.perf_counter()
        result = optimize(self.problem, solver=options.solver, pareto=options.pareto, progress=progress,
                          cancel=cancel, baselines=options.baselines, time_limit_s=options.time_limit_s)
        self._drop_after("solve")
        self.result = result
        self._notes["solve"] = list(result.notes)
        self.timings_s["optimize_s"] = time.perf_counter() - t0
        return result

    # -- export ---------------------------------------------------------------------
    def export(self, options: ExportOptions, placement: Placement | None = None, *,
               progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> DeploymentPlan:
        """Cut, compress, check and write the plan (or ``placement``, e.g. a Pareto point)."""
        self._need("result", self.result, "solve")
        assert self.result is not None and self.problem is not None
        assert self.source is not None and self.measured is not None
        out = options.out
        check_out_path(out)
        if placement is None:
            placement, prediction = self.result.placement, self.result.prediction
        else:
            prediction = evaluate(placement, self.problem)
        if not prediction.feasible:
            raise InfeasiblePlanError(
                f"the placement {placement.summary()} breaks constraints: {'; '.join(prediction.violations[:3])}",
                self)
        builder = self.source.part_builder
        t0 = time.perf_counter()
        report(progress, 0.0, "cutting the model into parts and compressing each")
        try:
            # a model without runnable parts (measurements only) exports the plan without part files
            built = builder(placement, fidelity_samples=options.fidelity_samples, cancel=cancel) if builder else None
            context = PlanContext(self.topology, self.topology_path, self.workload, self.source.model_info(),
                                  self.problem, self.result, self.measured.time_table,
                                  tuple(n for n in self.notes if n not in self._notes.get("export", [])),
                                  basis=self.measured.basis, level_ci=self.measured.level_ci,
                                  device_level_ci=self.measured.device_level_ci)
            plan = build_plan_document(context, placement, prediction, built)
            inner = None if progress is None else (lambda f, m: report(progress, 0.5 + 0.5 * f, m))
            path = export_plan(plan, built.blobs if built else [], out, progress=inner, cancel=cancel)
        except PlannerError:
            raise
        except OSError as exc:
            raise ExportError(
                f"cannot write the plan {str(out)!r}: {exc.strerror or exc} ({exc.filename or out}); "
                "choose a writable folder with --out. Nothing was written."
            ) from exc
        except Exception as exc:  # onnxruntime, onnx, the converters: never a traceback after the solve
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
            err = ExportError(
                f"the plan {placement.summary()} was found, but its parts could not be built and checked: "
                f"{type(exc).__name__}: {first}. Nothing was written to {out}; try again with --levels fp32 "
                "to export without compression, and please report this."
            )
            err.exit_code = 1  # a bug of ours, not of the input (README: exit 1)
            raise err from exc
        self.plan, self.plan_path = plan, path
        self.timings_s["export_s"] = time.perf_counter() - t0
        return plan
