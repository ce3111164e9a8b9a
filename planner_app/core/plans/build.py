"""Turning an optimizer placement into plan records and part files.

:func:`build_parts` cuts the model into one ONNX part per stage of the
placement, compresses each at its level (parts at a level whose record needs
calibration, int8-static, are calibrated on the activations the fp32 parts before
them produce), checks that lossless parts reproduce the model (both without graph
fusions, which differ across a cut), and measures the chained compressed parts as
deployed (graph optimization on, the placement's cut codec applied to every tensor
crossing between parts) against the fp32 model on inputs held out from the
calibration inputs: the plan records that figure.
:func:`plan_document` fills a :class:`~planner_app.core.plans.records.DeploymentPlan`
from the run, the prediction and the parts. The planning session
(:mod:`planner_app.core.planning`) calls both.
"""

from __future__ import annotations

__all__ = ["BuiltParts", "ExportError", "PlanContext", "build_parts", "figures_of", "model_info", "plan_document",
           "plan_uncertainty"]

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from planner_app.core.errors import PlannerError
from planner_app.core.plans.export import artifact_for, serialize_part
from planner_app.core.plans.records import (
    Artifact,
    Baseline,
    Constraints,
    DeploymentPlan,
    Figures,
    MeasuredFidelity,
    MeasurementBasis,
    ModelInfo,
    Objective,
    ParetoPoint,
    SolverInfo,
    Stage,
    TopologyInfo,
    Totals,
    Transfer,
    Uncertainty,
    canonical_sha256,
)
from planner_app.core.progress import CancelToken
from planner_app.core.topology.records import Topology, Workload

if TYPE_CHECKING:  # pragma: no cover
    import onnx

    from planner_app.core.compression.fidelity import Fidelity
    from planner_app.core.compression.levels import SampleSet
    from planner_app.core.models.graph import ModelGraph
    from planner_app.core.models.partition import StagePart
    from planner_app.core.models.structure import ModelStructure
    from planner_app.core.optimizer import OptimizationResult
    from planner_app.core.optimizer.cost_model import Prediction
    from planner_app.core.optimizer.problem import Placement, PlanningProblem
    from planner_app.core.profiling.timetable import TimeTable


@dataclass(frozen=True)
class PlanContext:
    """What a plan document records besides its placement: where the figures came from.

    The planning session fills it; ``model`` is the plan's model record, so the
    plan needs no ONNX graph (a layer-table model has none).
    """

    topology: Topology
    topology_path: Path | None
    workload: Workload
    model: ModelInfo
    problem: PlanningProblem
    result: OptimizationResult
    time_table: TimeTable
    notes: tuple[str, ...] = ()
    #: the clock, session and measured overheads behind the figures (None: not known)
    basis: MeasurementBasis | None = None
    #: per level, the 95 % interval of the local profile's median as shares (below, above)
    level_ci: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: per device an agent profiled, the same for its profile
    device_level_ci: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)


def model_info(mg: ModelGraph, source: str) -> ModelInfo:
    """The plan's record of an ONNX model (identity, opsets, inputs and outputs)."""
    return ModelInfo(
        name=mg.name, source=source, path=str(mg.path.resolve()) if mg.path else None,
        sha256=mg.sha256, bytes=int(mg.model_bytes), opsets={k: int(v) for k, v in mg.opsets.items()},
        input_shapes={k: list(v) for k, v in mg.inputs.items()},
        input_dtypes={k: str(np.dtype(v)) for k, v in mg.input_dtypes.items()},
        output_names=list(mg.outputs), output_shapes={k: list(v) for k, v in mg.outputs.items()},
        units=len(mg.units), total_flops=float(mg.total_flops),
    )


class ExportError(PlannerError):
    """The parts of a plan could not be made (a level that does not apply, parts that do not chain)."""


@dataclass
class BuiltParts:
    """The parts of a placement, ready to write."""

    stage_parts: list[StagePart]  # fp32
    models: list[onnx.ModelProto]  # at the stage's level
    levels: list[str]  # level actually written (fp32 when the chosen level does not apply to the part)
    blobs: list[bytes]
    fidelity: MeasuredFidelity
    equal_to_model: bool | None = None
    notes: list[str] = field(default_factory=list)


def _part_samples(stage_parts: list[StagePart], samples: SampleSet) -> list[SampleSet]:
    """Per part, the inputs it sees when the fp32 parts run on ``samples`` (int8-static calibration)."""
    from planner_app.core.compression.levels import SampleSet, open_session

    sessions = [open_session(p.model) for p in stage_parts]
    per_part: list[list[dict[str, np.ndarray]]] = [[] for _ in stage_parts]
    for sample in samples.inputs:
        env = dict(sample)
        for i, (part, sess) in enumerate(zip(stage_parts, sessions, strict=True)):
            feed = {name: env[name] for name in part.inputs}
            per_part[i].append(feed)
            names = [o.name for o in sess.get_outputs()]
            env.update(zip(names, sess.run(names, feed), strict=True))
    return [SampleSet(inputs, source=f"activations of the fp32 parts on {samples.source}") for inputs in per_part]


def build_parts(mg: ModelGraph, placement: Placement, *, fidelity_samples: int = 4, cancel: CancelToken | None = None) -> BuiltParts:
    """Split ``mg`` along ``placement``'s parts, compress each, and check the chain."""
    from planner_app.core.compression.calibration import held_out_samples
    from planner_app.core.compression.levels import compress, synthetic_samples
    from planner_app.core.compression.registry import REFERENCE_LEVEL, get_level
    from planner_app.core.models.partition import split_stages

    runs = placement.parts()
    stage_parts = split_stages(mg, [list(range(start, end)) for start, end, _, _ in runs])
    samples = synthetic_samples(mg, n=max(1, fidelity_samples))  # calibration inputs
    held_out = held_out_samples(mg, samples)  # what fidelity is measured on
    calib: list[SampleSet] | None = None
    models: list[onnx.ModelProto] = []
    levels: list[str] = []
    notes: list[str] = []
    for part, (_, _, device, level) in zip(stage_parts, runs, strict=True):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if level == REFERENCE_LEVEL:
            models.append(part.model)
            levels.append(level)
            continue
        record = get_level(level)
        if record.needs_calibration and calib is None:
            calib = _part_samples(stage_parts, samples)
        cm = compress(part.model, level, samples=calib[part.index] if record.needs_calibration and calib else None)
        if not cm.applicable:
            # the optimizer saw the whole model's level times; a small part may have nothing to compress
            notes.append(f"stage {part.index} on {device}: {level} does not apply to this part ({cm.reason}); "
                         f"written at {REFERENCE_LEVEL}")
            models.append(part.model)
            levels.append(REFERENCE_LEVEL)
            continue
        assert cm.model is not None  # an applicable level has its model
        models.append(_keep_io_types(part.model, cm.model))
        levels.append(level)
    blobs = [serialize_part(m) for m in models]
    lossless = all(get_level(lv).lossless for lv in levels)
    _, equal, worst = _run_against_model(mg, blobs, held_out, cancel)
    codec = placement.codec if len(blobs) > 1 else "none"
    fid, _, _ = _run_against_model(mg, blobs, held_out, cancel, graph_optimization="all", codec=codec)
    if lossless and not equal:
        raise ExportError(
            f"the lossless ({', '.join(dict.fromkeys(levels))}) parts of {mg.label} do not reproduce the model (max abs diff {worst:.3g}); "
            "the plan was not written")
    measured = MeasuredFidelity(
        samples=fid.n_samples or len(samples),
        max_abs_err=_nonneg(fid.max_abs_err),
        mean_abs_err=_nonneg(fid.mean_abs_err),
        cosine=float(fid.cosine) if math.isfinite(fid.cosine) else 0.0,
        sqnr_db=float(fid.sqnr_db) if math.isfinite(fid.sqnr_db) else None,
        top1_agreement=fid.top1_agreement,
        score=float(min(1.0, max(0.0, fid.score()))),
        inputs=held_out.source, as_deployed=True, codec=codec,
    )
    return BuiltParts(stage_parts, models, levels, blobs, measured, equal if lossless else None, notes)


def _keep_io_types(original: onnx.ModelProto, converted: onnx.ModelProto) -> onnx.ModelProto:
    """``converted`` with the inputs and outputs typed as in ``original`` (Cast nodes added where not).

    A part is fed by the part before it and feeds the next one, so a compressed part
    must read and write the tensor types of its fp32 original. The fp16 converter
    keeps them (``keep_io_types``) except when an operator it leaves in fp32 (Resize,
    for one) produces a graph output: it then casts that output to float16 and
    declares the output float16. The next fp32 part cannot read it.
    """
    import onnx

    def types(values: Iterable[onnx.ValueInfoProto]) -> dict[str, int]:
        return {v.name: v.type.tensor_type.elem_type for v in values}

    want_in, want_out = types(original.graph.input), types(original.graph.output)
    bad_in = [v for v in converted.graph.input if v.name in want_in and v.type.tensor_type.elem_type != want_in[v.name]]
    bad_out = [v for v in converted.graph.output
               if v.name in want_out and v.type.tensor_type.elem_type != want_out[v.name]]
    if not bad_in and not bad_out:
        return converted
    fixed = onnx.ModelProto()
    fixed.CopyFrom(converted)
    g = fixed.graph
    for v in g.input:
        if v.name not in {b.name for b in bad_in}:
            continue
        inner, got = f"{v.name}__as_level", v.type.tensor_type.elem_type
        for node in g.node:
            for k, name in enumerate(node.input):
                if name == v.name:
                    node.input[k] = inner
        g.node.insert(0, onnx.helper.make_node("Cast", [v.name], [inner], to=got, name=f"{v.name}__cast_in"))
        v.type.tensor_type.elem_type = want_in[v.name]
    for v in g.output:
        if v.name not in {b.name for b in bad_out}:
            continue
        inner = f"{v.name}__as_level"
        producers = [n for n in g.node if v.name in n.output]
        if not producers:  # an input passed through: its type was fixed above
            v.type.tensor_type.elem_type = want_out[v.name]
            continue
        for node in g.node:
            for k, name in enumerate(node.output):
                if name == v.name:
                    node.output[k] = inner
            for k, name in enumerate(node.input):
                if name == v.name:
                    node.input[k] = inner
        g.node.append(onnx.helper.make_node("Cast", [inner], [v.name], to=want_out[v.name],
                                            name=f"{v.name}__cast_out"))
        v.type.tensor_type.elem_type = want_out[v.name]
    return fixed


def _run_against_model(mg: ModelGraph, blobs: list[bytes], samples: SampleSet,
                       cancel: CancelToken | None, rtol: float = 1e-5, atol: float = 1e-6, *,
                       graph_optimization: str = "disable", codec: str = "none") -> tuple[Fidelity, bool, float]:
    """Run the whole model and the chained parts on every sample, one session each.

    By default both sides run without graph fusions (fusions differ across a cut and
    would reorder sums), so fp32 parts are expected to match the model to rounding:
    equal means ``|chain - whole| <= atol + rtol * max|whole|`` for each output,
    as :func:`planner_app.core.models.partition.check_chain` defines it. With
    ``graph_optimization="all"`` and a ``codec``, the parts run as the agents run them:
    every float tensor handed from one part to the next is encoded and decoded with the
    cut codec (as ``agent.frames.encode_cut`` does on each hop) and the reference is the
    whole model as deployed. Returns the fidelity
    (:func:`planner_app.core.compression.fidelity.compare_outputs`), equality, and the
    largest absolute difference.
    """
    from planner_app.core.compression.cut_codecs import decode_tensor, encode_tensor
    from planner_app.core.compression.fidelity import compare_outputs
    from planner_app.core.compression.levels import open_session

    whole = open_session(mg.model, graph_optimization=graph_optimization)
    names = [o.name for o in whole.get_outputs()]
    parts = [open_session(b, graph_optimization=graph_optimization) for b in blobs]
    reference: list[dict[str, np.ndarray]] = []
    candidate: list[dict[str, np.ndarray]] = []
    equal, worst = True, 0.0
    for sample in samples.inputs:
        if cancel is not None:
            cancel.raise_if_cancelled()
        ref = dict(zip(names, whole.run(names, sample), strict=True))
        env = dict(sample)
        for k, sess in enumerate(parts):
            if k > 0 and codec != "none":  # the hop into part k: what crosses is encoded on the wire
                env = {n: decode_tensor(encode_tensor(v, codec)) if np.asarray(v).dtype.kind == "f" else v
                       for n, v in env.items()}
            outs = [o.name for o in sess.get_outputs()]
            feed = {i.name: env[i.name] for i in sess.get_inputs()}
            env.update(zip(outs, sess.run(outs, feed), strict=True))
        missing = [n for n in names if n not in env]
        if missing:
            raise ExportError(f"the parts of {mg.label} never produce the model output(s) {missing}")
        got = {n: env[n] for n in names}
        for n in names:
            a, b = np.asarray(ref[n], np.float64), np.asarray(got[n], np.float64)
            if a.shape != b.shape:
                raise ExportError(f"output {n!r} of the parts has shape {list(b.shape)}, the model {list(a.shape)}")
            diff = float(np.abs(a - b).max(initial=0.0))
            worst = max(worst, diff)
            equal = equal and diff <= atol + rtol * float(np.abs(a).max(initial=0.0))
        reference.append(ref)
        candidate.append(got)
    return compare_outputs(reference, candidate, labels=samples.labels), equal, worst


def _nonneg(x: float) -> float:
    return float(x) if math.isfinite(x) and x >= 0 else 0.0


def _fin(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def figures_of(pred: Prediction) -> dict[str, Any]:
    """The :class:`Figures` fields of a cost-model ``Prediction`` (infinities become None)."""
    return {
        "latency_ms": _fin(pred.latency_ms),
        "latency_at_rate_ms": _fin(pred.latency_at_rate_ms),
        "throughput_rps": _fin(pred.throughput_rps),
        "cost_usd_per_1k": _fin(pred.cost_usd_per_1k),
        "cost_usd_per_month": _fin(pred.cost_usd_per_month),
        "energy_j_per_request": _fin(pred.energy_j_per_request),
        "bytes_on_links_per_request": _fin(pred.link_bytes_per_request),
        "predicted_fidelity": _fin(min(1.0, max(0.0, pred.fidelity))),
        "bottleneck": pred.bottleneck,
        "feasible": bool(pred.feasible),
        "violations": list(pred.violations),
    }


def _objective(objective: str | Mapping[str, float]) -> Objective:
    if isinstance(objective, str):
        return Objective(name=objective)
    weights = {k: float(v) for k, v in dict(objective).items()}
    return Objective(name="weighted", weights=weights)


def _stage_io(structure: ModelStructure, units: Sequence[int]) -> tuple[list[str], list[str]]:
    """The tensors a run of units reads from outside it, and those it hands on (or outputs)."""
    inside = set(units)
    inputs = [t.name for t in structure.tensors if t.producer not in inside and inside & set(t.consumers)]
    outputs = [t.name for t in structure.tensors if t.producer in inside
               and (t.is_output or any(c not in inside for c in t.consumers))]
    return inputs, outputs


def plan_document(run: PlanContext, placement: Placement, prediction: Prediction,
                  built: BuiltParts | None) -> DeploymentPlan:
    """The plan record for ``placement`` in ``run``'s context, with its built parts.

    ``built`` is None for a model without runnable parts (described by measurements
    only): its stages name units and the tensors of the unit structure, and carry no
    part file.
    """
    problem, result = run.problem, run.result
    structure = problem.structure
    unit_names = structure.unit_names
    doc = run.topology.to_dict()
    stages = []
    table = run.time_table
    for k, pp in enumerate(prediction.parts):
        d, li = table.device_index(pp.device), table.level_index(pp.level)
        unit_ms = [_nonneg(float(table.ms[u, d, li])) for u in pp.unit_ids]
        weights = int(round(pp.weights_bytes))
        act = int(round(pp.peak_activation_bytes))
        if built is not None:
            part = built.stage_parts[k]
            level, nodes, inputs, outputs = built.levels[k], list(part.node_names), list(part.inputs), list(part.outputs)
            artifact: Artifact | None = artifact_for(pp.index, pp.device, built.blobs[k])
        else:
            level, nodes, artifact = pp.level, [unit_names[u] for u in pp.unit_ids], None
            inputs, outputs = _stage_io(structure, pp.unit_ids)
        stages.append(Stage(
            index=pp.index, device=pp.device, level=level, unit_ids=list(pp.unit_ids),
            unit_names=[unit_names[u] for u in pp.unit_ids], node_names=nodes,
            inputs=inputs, outputs=outputs, artifact=artifact,
            compute_ms=_nonneg(pp.compute_ms), unit_ms=unit_ms, overhead_ms=_nonneg(pp.overhead_ms),
            weights_bytes=weights, peak_activation_bytes=act, memory_bytes=weights + act, provenance=pp.provenance,
        ))
    transfers = [
        Transfer(
            from_stage=t.from_part, to_stage=t.to_part, from_device=t.from_device, to_device=t.to_device,
            tensors=list(t.tensors), bytes=int(t.bytes), wire_bytes=int(round(t.wire_bytes)), codec=t.codec,
            route_devices=list(t.route_devices), route_links=list(t.route_links), transfer_ms=_nonneg(t.transfer_ms),
            queue_ms=_nonneg(t.queue_ms),
        )
        for t in prediction.transfers if len(t.route_devices) >= 2 and t.route_links
    ]
    totals = Totals(
        **figures_of(prediction),
        compute_ms=_nonneg(prediction.compute_ms), transfer_ms=_nonneg(prediction.transfer_ms),
        queueing_ms=_fin(prediction.queueing_ms),
        bandwidth_mbps_per_link={k: _nonneg(v) for k, v in prediction.link_mbps.items()},
        utilization_per_device={k: _nonneg(v) for k, v in prediction.device_utilization.items()},
        utilization_per_link={k: _nonneg(v) for k, v in prediction.link_utilization.items()},
        memory_bytes_per_device={k: _nonneg(v) for k, v in prediction.memory_bytes.items()},
        measured_fidelity=built.fidelity if built is not None else None,
    )
    chosen_is_result = placement == result.placement
    baselines = [
        Baseline(name=b.name, description=b.description, placement=b.placement.summary(),
                 figures=Figures(**figures_of(b.prediction)),
                 improvement_factor=_fin(_improvement(problem, prediction, b.prediction)))
        for b in result.baselines
    ]
    pareto: list[ParetoPoint] | None = None
    if result.pareto_front:
        pareto, seen = [], set()
        for e in result.pareto_front:
            if e.placement in seen:  # the solver's plan may also be one of its front's labels
                continue
            seen.add(e.placement)
            pareto.append(ParetoPoint(placement=e.placement.summary(), figures=Figures(**figures_of(e.prediction)),
                                      chosen=e.placement == placement))
    c = problem.constraints
    constraints = Constraints(
        slo_ms=c.slo_ms, max_cost_usd_per_1k=c.max_cost_usd_per_1k, min_fidelity=c.min_fidelity,
        levels=list(problem.levels), privacy=c.privacy, private_tensors=list(c.private_tensors),
        pinned_units={str(u): d for u, d in c.pinned_units.items()},
        max_stages_per_device=c.max_stages_per_device,
    )
    renamed = {"energy_mj_per_request": "energy_j_per_request", "memory_bytes": "memory_bytes_per_device",
               "fidelity": "predicted_fidelity"}  # the cost model's names -> the plan's keys
    provenance = {f"totals.{renamed.get(k, k)}": v for k, v in prediction.provenance.items()}
    provenance.setdefault("totals.bytes_on_links_per_request", "computed: wire bytes × hops of every message")
    provenance.setdefault("totals.bandwidth_mbps_per_link", "computed: wire bytes per link × the workload rate")
    provenance.setdefault("totals.cost_usd_per_month", "computed: cost per 1k × the workload rate × 30 days")
    provenance.setdefault("transfers[].transfer_ms", "computed from the route (latency + wire bytes / bottleneck)")
    provenance["stages[].compute_ms"] = "per stage: see stages[].provenance (time table per device and level)"
    for (dev, lvl), prov in sorted(run.time_table.provenance.items()):
        if lvl in problem.levels:
            provenance[f"time_table.{dev}.{lvl}"] = prov
    if built is not None:
        f = built.fidelity
        provenance["totals.measured_fidelity"] = (
            f"measured at export: the exported parts chained with onnxruntime "
            f"{'as deployed (graph optimization on, cut codec ' + repr(f.codec) + ' on every hop)' if f.as_deployed else ''}"
            f" vs the fp32 model on {f.samples} inputs: {f.inputs or 'synthetic inputs'}")
    provenance["baselines[].figures"] = "same cost model and time table as the plan"
    solver_note = result.exact_scope if chosen_is_result else "a point of the Pareto front chosen by the user"
    notes = list(run.notes) + (list(built.notes) if built is not None else [
        "no part files: the model is described by measurements only, so nothing was cut or measured at "
        "export"]) + list(prediction.warnings)
    floor = problem.constraints.min_fidelity
    if built is not None and floor is not None and built.fidelity.score < floor:
        notes.append(
            f"WARNING: the exported parts measure fidelity {built.fidelity.score:.4f} on "
            f"{built.fidelity.samples} held-out inputs, below the floor {floor:.4f} the plan was made for "
            "(the prediction used whole-model measurements per level): check with your own samples")
    if built is not None and built.equal_to_model:
        notes.append("the fp32 parts chained reproduce the model's outputs (checked at export)")
    uncertainty = plan_uncertainty(run, prediction, stages, transfers, built)
    return DeploymentPlan(
        topology=TopologyInfo(name=run.topology.name, path=str(run.topology_path) if run.topology_path else None,
                              sha256=canonical_sha256(doc), document=doc),
        model=run.model,
        workload=run.workload,
        objective=_objective(problem.objective),
        constraints=constraints,
        stages=stages,
        transfers=transfers,
        totals=totals,
        baselines=baselines,
        solver=SolverInfo(name=result.solver, exact=bool(result.exact), solve_ms=_nonneg(result.solve_ms),
                          note=solver_note),
        pareto=pareto,
        provenance=provenance,
        measurement=run.basis,
        uncertainty=uncertainty,
        notes=notes,
    )


def _wilson(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson interval of a proportion ``share`` seen on ``n`` trials."""
    if n <= 0:
        return 0.0, 1.0
    den = 1 + z * z / n
    centre = (share + z * z / (2 * n)) / den
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def plan_uncertainty(run: PlanContext, prediction: Prediction, stages: Sequence[Stage],
                     transfers: Sequence[Transfer], built: BuiltParts | None) -> dict[str, Uncertainty]:
    """The interval of every figure the plan states, and what it covers.

    Stage compute: the 95 % interval of the profile's median at the stage's level
    (as shares of it, carried to the device's time) plus the per-part overhead's own
    interval; stages timed elsewhere (agents, imported files) carry no interval. The
    latency adds the stages' intervals (parts run one after another); transfers are
    computed from the topology's figures and carry none. Measured fidelity: the Wilson
    interval of the top-1 agreement on its samples.
    """
    basis = run.basis
    out: dict[str, Uncertainty] = {}
    oh = basis.part_overhead_ms if basis is not None else None
    oh_ci = basis.part_overhead_ci_ms if basis is not None and len(basis.part_overhead_ci_ms) == 2 else None
    clock = basis.clock if basis is not None else "unknown"
    lo_sum = hi_sum = 0.0
    bounded = True
    for st in stages:
        agent = st.provenance.startswith("measured-agent")
        ci = run.device_level_ci.get(st.device, {}).get(st.level) if agent else run.level_ci.get(st.level)
        local = agent or st.provenance.startswith(("measured-local", "estimated"))
        if ci is None or not local or not all(math.isfinite(c) for c in ci):
            bounded = False
            out[f"stages[{st.index}].compute_ms"] = Uncertainty(basis=(
                f"{st.provenance}: no interval known for this source (runs not kept)" if not local else
                f"no interval: the profile of {st.level} kept none"))
            continue
        overhead = oh if oh is not None else 0.0
        units = max(0.0, st.compute_ms - overhead)
        lo = units * (1 - ci[0]) + (oh_ci[0] if oh_ci else overhead)
        hi = units * (1 + ci[1]) + (oh_ci[1] if oh_ci else overhead)
        lo_sum += st.compute_ms - lo
        hi_sum += hi - st.compute_ms
        what = (f"the 95 % interval of the {'agent' if agent else 'local'} profile's median"
                + (" and of the per-part overhead" if oh_ci else ""))
        caveat = ("" if st.provenance.startswith(("measured-local", "measured-agent")) else
                  "; scaled to this device by the device model, whose own error is not included")
        out[f"stages[{st.index}].compute_ms"] = Uncertainty(low=lo, high=hi, basis=f"{what} ({clock} clock){caveat}")
    lat = prediction.latency_ms
    if bounded and math.isfinite(lat):
        out["totals.latency_ms"] = Uncertainty(
            low=max(0.0, lat - lo_sum), high=lat + hi_sum,
            basis=f"the stages' 95 % compute intervals added ({clock} clock); transfers are computed from the "
                  "topology's link figures and the per-message overhead, whose error is not included")
        out["totals.compute_ms"] = Uncertainty(low=max(0.0, prediction.compute_ms - lo_sum),
                                               high=prediction.compute_ms + hi_sum,
                                               basis="the stages' compute intervals added")
    else:
        out["totals.latency_ms"] = Uncertainty(basis="not bounded: a stage's time has no interval")
    if transfers:
        out["transfers[].transfer_ms"] = Uncertainty(basis=(
            "computed from the topology's latency, bandwidth and per-message overhead: exact for links that keep "
            "their figures, no measured interval"))
    for key in ("throughput_rps", "latency_at_rate_ms", "cost_usd_per_1k", "energy_j_per_request"):
        out[f"totals.{key}"] = Uncertainty(basis=(
            "derived from the stages' compute times (see their intervals) and the topology's figures; "
            "no separate interval"))
    out["totals.bytes_on_links_per_request"] = Uncertainty(
        basis="counted from the tensor shapes and the codec's wire ratio: exact for fixed shapes")
    if built is not None:
        f = built.fidelity
        if f.top1_agreement is not None:
            lo, hi = _wilson(f.top1_agreement, f.samples)
            out["totals.measured_fidelity.score"] = Uncertainty(
                low=lo, high=hi, basis=f"95 % Wilson interval of top-1 agreement on {f.samples} held-out inputs")
        else:
            out["totals.measured_fidelity.score"] = Uncertainty(
                basis=f"cosine similarity on {f.samples} held-out inputs; no interval (a continuous score)")
    pf = prediction.fidelity
    if math.isfinite(pf):
        out["totals.predicted_fidelity"] = Uncertainty(basis=(
            "from whole-model measurements per level on the profile's held-out inputs; the parts' measured "
            "figure (totals.measured_fidelity) is the one to trust"))
    return out


def _improvement(problem: PlanningProblem, mine: Prediction, theirs: Prediction) -> float | None:
    """How many times better ``mine`` is than ``theirs`` on the objective (>1 = better)."""
    a = problem.objective_value(mine)
    b = problem.objective_value(theirs)
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    if a <= 0:
        return 1.0 if b <= 0 else None
    return b / a
