"""Checking an exported plan against its parts and its model.

:func:`validate_plan` re-reads a plan file and checks, in order: the schema and
the plan's own consistency; that every part file is present and hashes to the
sha256 the plan names; that each part reads and writes the tensors its stage
declares; then that the parts, run one after another with onnxruntime on
random inputs of the declared shapes, produce the model's outputs. With the
original model at hand, plans whose levels are all lossless (fp32) must match it
within ``rtol``/``atol`` (1e-5); compressed plans report their fidelity instead of
equality. Levels are read from the registry
(:mod:`~planner_app.core.compression.registry`), so a level of your own must be
registered before its plans are checked.

Each problem names the field or the part and how to fix it; the command line
prints them all and exits 2.
"""

from __future__ import annotations

__all__ = ["ChainCheck", "PlanReport", "JointPlanReport", "run_parts", "validate_plan", "validate_joint_plan"]

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from planner_app.core.errors import PlannerError, Problem
from planner_app.core.fileio import (
    MAX_MODEL_BYTES,
    first_non_finite,
    inside_folder,
    read_bytes,
    read_json,
    sha256_bytes,
    sha256_file,
)
from planner_app.core.plans.records import DeploymentPlan, PlanError, has_parts, plan_from_dict
from planner_app.core.progress import CancelToken, ProgressCallback, report

_P = TypeVar("_P")

if TYPE_CHECKING:
    import onnx

    from planner_app.core.plans.joint import JointPlan


@dataclass
class ChainCheck:
    """What running the chained parts showed."""

    samples: int
    outputs: list[str]
    compared_to_model: bool
    lossless: bool
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    cosine: float | None = None
    top1_agreement: float | None = None
    equal: bool | None = None


@dataclass
class PlanReport:
    """The outcome of :func:`validate_plan`: problems (errors) and warnings."""

    path: Path
    plan: DeploymentPlan | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked_parts: int = 0
    chain: ChainCheck | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise :class:`PlanError` listing every problem (exit code 2)."""
        if self.problems:
            n = len(self.problems)
            raise PlanError(f"plan '{self.path}' is invalid ({n} problem{'s' if n != 1 else ''})", problems=self.problems)


def _int_highs(models: list[onnx.ModelProto], inputs: list[str]) -> dict[str, int]:
    """Vocabulary size of each integer model input that indexes an embedding table (Gather)."""
    highs: dict[str, int] = {}
    for m in models:
        inits = {t.name: list(t.dims) for t in m.graph.initializer}
        for node in m.graph.node:
            if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] in inputs:
                dims = inits.get(node.input[0])
                axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
                if dims:
                    highs[node.input[1]] = min(highs.get(node.input[1], 1 << 30), int(dims[axis]))
    return highs


def _session(source: str | bytes) -> Any:  # an onnxruntime.InferenceSession (onnxruntime is untyped)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # small checks: threads only add noise on a busy machine
    opts.log_severity_level = 3
    # no fusions on either side: fusions differ across a cut and would reorder sums
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])


def run_parts(part_files: list[Path | bytes], inputs: dict[str, np.ndarray], labels: list[str] | None = None) -> dict[str, np.ndarray]:
    """Run parts in order, each reading what the model inputs or earlier parts produced."""
    tensors = dict(inputs)
    for i, part in enumerate(part_files):
        label = labels[i] if labels else f"part {i}"
        sess = _session(part if isinstance(part, bytes) else str(part))
        feed = {}
        for inp in sess.get_inputs():
            if inp.name not in tensors:
                raise PlanError(f"{label} reads tensor {inp.name!r}, which no model input or earlier part produces")
            feed[inp.name] = tensors[inp.name]
        names = [o.name for o in sess.get_outputs()]
        tensors.update(zip(names, sess.run(names, feed), strict=True))
    return tensors


def _reference_model(plan: DeploymentPlan, model_path: Path | None, warnings: list[str]) -> Path | None:
    """The original ONNX file to compare with: the one given on the command line (already
    checked against the plan's sha256), or the generated sample the plan names.

    The paths a plan records (``model.path``, ``model.source``) are never opened:
    a plan is untrusted and must not make the checker read a file the user did
    not name.
    """
    if model_path is not None:
        return model_path
    if plan.model.source.startswith("sample:"):
        try:
            from planner_app.core.models.samples import sample_model_path

            sample = Path(sample_model_path(plan.model.source.split(":", 1)[1]))
        except (ImportError, PlannerError, KeyError):
            sample = None
        if sample is not None and sample.is_file():
            if sha256_file(sample) == plan.model.sha256:
                return sample
            warnings.append(f"sample model {plan.model.source} has a different sha256 than the plan's model "
                            "(made by another version): not compared")
            return None
    where = f" (the plan says it was {plan.model.source})" if plan.model.source else ""
    warnings.append(
        f"the original model was not found{where}: the parts were run but not compared with it; "
        "give it with --model (a plan's own paths are never opened)")
    return None


def _check_given_model(plan: DeploymentPlan, model_path: str | os.PathLike[str], problems: list[Problem]) -> Path | None:
    """The file of the model given explicitly (``sample:NAME`` allowed); a problem when it is not the plan's model."""
    text = str(model_path)
    where = plan.model.source if plan.model.source and plan.model.source != plan.model.name else ""
    made_from = f"{plan.model.name} ({where + ', ' if where else ''}sha256 {plan.model.sha256[:12]}…)"
    if text.startswith("sample:"):
        try:
            from planner_app.core.models.samples import sample_model_path

            path = Path(sample_model_path(text.split(":", 1)[1]))
        except (PlannerError, KeyError) as exc:
            problems.append(Problem("--model", f"{text} is not a sample model: {getattr(exc, 'message', exc)}"))
            return None
    else:
        path = Path(text)
    try:
        data = read_bytes(path, "model file", suffix=".onnx", max_bytes=MAX_MODEL_BYTES)
    except PlannerError as exc:
        problems.append(Problem("--model", f"{exc.message} The plan was made from {made_from}"))
        return None
    digest = sha256_bytes(data)
    if digest != plan.model.sha256:
        problems.append(Problem(
            "--model", f"the plan was made from model {made_from}, but you gave {text} (sha256 {digest[:12]}…): "
            "give the model the plan was made from, or run `edgeplan optimize` again for this model"))
        return None
    return path


def _check_topology_file(plan: DeploymentPlan, topology_path: str | os.PathLike[str], problems: list[Problem],
                         warnings: list[str]) -> None:
    """Compare the topology file given on the command line with the plan's embedded copy.

    ``topology.path`` in the plan is only a note of where it came from: it is never opened.
    """
    from planner_app.core.plans.records import canonical_sha256
    from planner_app.core.topology.io import load_topology

    try:
        now = canonical_sha256(load_topology(topology_path).to_dict())
    except PlannerError as exc:
        problems.append(Problem("--topology", exc.message))
        return
    if now != plan.topology.sha256:
        warnings.append(
            f"topology file {topology_path} differs from the topology the plan was made for: the plan's figures "
            "are for its embedded copy; run `edgeplan optimize` again to plan for this topology")


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _compare(ref: dict[str, np.ndarray], got: dict[str, np.ndarray], names: list[str], rtol: float, atol: float) -> dict[str, float | bool | None]:
    max_abs = 0.0
    max_rel = 0.0
    cos_min = 1.0
    top1: list[float] = []
    equal = True
    for n in names:
        a = np.asarray(ref[n], dtype=np.float64)
        b = np.asarray(got[n], dtype=np.float64)
        if a.shape != b.shape:
            raise PlanError(f"output {n!r} has shape {list(b.shape)} from the parts but {list(a.shape)} from the model")
        diff = np.abs(a - b)
        worst = float(diff.max(initial=0.0))
        scale = float(np.abs(a).max(initial=0.0))
        max_abs = max(max_abs, worst)
        max_rel = max(max_rel, worst / scale if scale > 0 else (0.0 if worst == 0 else math.inf))
        # relative to the output's scale: element-wise relative error is meaningless near zero
        equal = equal and worst <= atol + rtol * scale
        na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
        cos = 1.0 if na == nb == 0 else float(a.ravel() @ b.ravel()) / max(na * nb, 1e-30)
        cos_min = min(cos_min, cos)
        if a.ndim == 2 and a.shape[1] > 1:
            top1.append(float(np.mean(a.argmax(1) == b.argmax(1))))
    return {
        "max_abs": max_abs,
        "max_rel": max_rel,
        "cosine": cos_min,
        "top1": min(top1) if top1 else None,
        "equal": equal,
    }


def _read_plan_file(plan_file: Path, problems: list[Problem], warnings: list[str],
                    parse: Callable[[Any, str], _P]) -> _P | None:
    """Read a plan file as untrusted input: stale export staging removed (a warning), non-finite
    numbers and record errors as problems (None then); else the parsed record."""
    from planner_app.core.plans.export import clean_stale_staging

    data = read_json(plan_file, "plan file")
    for removed in clean_stale_staging(plan_file):
        warnings.append(f"removed {removed}, left by an export that was interrupted")
    bad = first_non_finite(data)
    if bad is not None:
        problems.append(Problem(bad, "is NaN or infinite: a plan records finite numbers (an unbounded figure "
                                "is null); the file was edited after export"))
        return None
    try:
        return parse(data, f"plan file '{plan_file}'")
    except PlanError as exc:
        problems.extend(exc.problems or [Problem("", exc.message)])
        return None


def validate_plan(
    path: str | os.PathLike[str],
    *,
    check_chain: bool = True,
    model_path: str | os.PathLike[str] | None = None,
    topology_path: str | os.PathLike[str] | None = None,
    samples: int = 2,
    seed: int = 0,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PlanReport:
    """Check a plan file, its parts and their chain; never raises for a bad plan.

    A plan is untrusted input: only files inside the plan's own folder are read
    (a part, or its folder, that is a symlink leading out is refused), and the
    paths a plan records for its model and topology are never opened: give
    those files with ``model_path`` / ``topology_path``. Figures are
    re-derived (:mod:`~planner_app.core.plans.rederive`), part sizes, hashes and
    levels checked against the files. Stale staging folders that an
    interrupted export left next to the plan are removed.

    A missing or unreadable plan file raises :class:`InputFileError`; everything
    else wrong is a :class:`Problem` in the returned :class:`PlanReport`.
    """
    plan_file = Path(path)
    rep = PlanReport(path=plan_file)
    plan = _read_plan_file(plan_file, rep.problems, rep.warnings, plan_from_dict)
    if plan is None:
        return rep
    rep.plan = plan
    if topology_path is not None:
        _check_topology_file(plan, topology_path, rep.problems, rep.warnings)
    given_model = _check_given_model(plan, model_path, rep.problems) if model_path is not None else None
    _check_contents(rep, plan, plan_file.parent, given_model, check_chain=check_chain, samples=samples, seed=seed,
                    rtol=rtol, atol=atol, progress=progress, cancel=cancel)
    return rep


def _check_contents(rep: PlanReport, plan: DeploymentPlan, folder: Path, given_model: Path | None, *,
                    check_chain: bool, samples: int, seed: int, rtol: float, atol: float,
                    progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
    """Figures re-derived, parts present, hashed and of their level, and (``check_chain``) run in a chain:
    what :func:`validate_plan` checks after the document reads, for one plan or one section of a joint plan."""
    from planner_app.core.plans.rederive import derived_problems

    rep.problems.extend(derived_problems(plan))
    if not has_parts(plan):
        rep.warnings.append("the plan has no part files (its model is described by measurements only): "
                            "the records were checked, there are no parts to chain")
        return
    blobs: list[bytes] = []
    for i, s in enumerate(plan.stages):
        assert s.artifact is not None  # has_parts
        where = f"stages[{i}].artifact"
        f = inside_folder(folder, s.artifact.path)
        if f is None:
            rep.problems.append(Problem(f"{where}.path", f"part {s.artifact.path} (stage {i} on {s.device}) leads "
                                        f"outside the plan's folder {str(folder.resolve())!r} (a symlink): refused; "
                                        "copy the part into the plan's folder"))
            continue
        if not (f.exists() or f.is_symlink()):
            rep.problems.append(Problem(where, f"part {s.artifact.path} (stage {i} on {s.device}) is missing: re-export the plan"))
            continue
        try:
            blob = read_bytes(f, f"part {s.artifact.path} (stage {i} on {s.device})", error=PlanError,
                              suffix=".onnx", max_bytes=MAX_MODEL_BYTES)
        except PlannerError as exc:
            rep.problems.append(Problem(where, exc.message))
            continue
        digest = sha256_bytes(blob)
        if digest != s.artifact.sha256:
            rep.problems.append(Problem(
                where, f"part {s.artifact.path} (stage {i} on {s.device}) has sha256 {digest[:12]}…, the plan says "
                f"{s.artifact.sha256[:12]}…: the file was changed or replaced; re-export the plan"))
            continue
        if len(blob) != s.artifact.bytes:
            rep.problems.append(Problem(f"{where}.bytes", f"is {s.artifact.bytes}, but part {s.artifact.path} has "
                                        f"{len(blob)} bytes: the plan was edited after export; re-export it"))
            continue
        blobs.append(blob)
        rep.checked_parts += 1
    report(progress, 0.2, f"checked {rep.checked_parts} of {len(plan.stages)} parts")
    if rep.problems:
        return

    import onnx

    from planner_app.core.compression.registry import get_level, is_known_level, level_names
    from planner_app.core.plans.rederive import level_content_problem

    protos = []
    for i, (s, blob) in enumerate(zip(plan.stages, blobs, strict=True)):
        assert s.artifact is not None  # has_parts
        try:
            m = onnx.load_from_string(blob)
        except Exception as exc:  # a corrupt protobuf: onnx raises several types
            rep.problems.append(Problem(f"stages[{i}].artifact", f"part {s.artifact.path} is not a readable ONNX model: {exc}"))
            continue
        protos.append(m)
        meta = {p.key: p.value for p in m.metadata_props}
        # parts cut by planner_app say which model and units they hold: catch a part of another plan
        if meta.get("planner.source_sha256") not in (None, plan.model.sha256):
            rep.problems.append(Problem(f"stages[{i}].artifact", f"part {s.artifact.path} was cut from another model (sha256 {meta['planner.source_sha256'][:12]}…)"))
        if "planner.units" in meta and _json_or_none(meta["planner.units"]) != s.unit_ids:
            rep.problems.append(Problem(f"stages[{i}].unit_ids", f"the plan says {s.unit_ids}, part {s.artifact.path} holds units {meta['planner.units'][:200]}"))
        if not is_known_level(s.level):
            rep.problems.append(Problem(f"stages[{i}].level", f"unknown compression level {s.level!r} (levels: "
                                        f"{', '.join(level_names(True))}); a level of your own must be registered "
                                        "(register_level) before the plan is checked"))
        else:
            why = level_content_problem(m, get_level(s.level).precision)
            if why:
                rep.problems.append(Problem(f"stages[{i}].level", f"is {s.level!r}, but {why} ({s.artifact.path})"))
        inits = {t.name for t in m.graph.initializer}
        ins = [x.name for x in m.graph.input if x.name not in inits]
        outs = [x.name for x in m.graph.output]
        if sorted(ins) != sorted(s.inputs):
            rep.problems.append(Problem(f"stages[{i}].inputs", f"the plan says {s.inputs}, part {s.artifact.path} reads {ins}"))
        if sorted(outs) != sorted(s.outputs):
            rep.problems.append(Problem(f"stages[{i}].outputs", f"the plan says {s.outputs}, part {s.artifact.path} writes {outs}"))
    if rep.problems or not check_chain:
        return
    from planner_app.core.models.loading import ModelError, check_input_memory

    try:
        check_input_memory(plan.model.input_shapes, plan.model.input_dtypes, "the plan's model.input_shapes")
    except ModelError as exc:
        rep.problems.append(Problem("model.input_shapes", exc.message))
        return
    present: list[Path | bytes] = list(blobs)
    model_path = given_model
    ref_path = _reference_model(plan, model_path, rep.warnings)
    # parts at lossless levels (the record says so) must reproduce the model exactly
    lossless = all(get_level(s.level).lossless for s in plan.stages)
    names = list(plan.model.output_names)
    labels = [f"stage {s.index} ({s.artifact.path if s.artifact else '-'})" for s in plan.stages]
    ref_sess = _session(str(ref_path)) if ref_path is not None else None
    from planner_app.core.models.graph import random_inputs

    highs = _int_highs(protos, list(plan.model.input_shapes))
    agg: dict[str, Any] = {"max_abs": 0.0, "max_rel": 0.0, "cosine": 1.0, "top1": None, "equal": True}
    for k in range(samples):
        if cancel is not None:
            cancel.raise_if_cancelled()
        inputs = random_inputs(plan.model.input_shapes, plan.model.input_dtypes, seed + k, highs)
        try:
            got = run_parts(list(present), inputs, labels)
        except PlanError as exc:
            rep.problems.append(Problem("stages", exc.message))
            return
        except Exception as exc:  # onnxruntime failures carry their own text
            rep.problems.append(Problem("stages", f"the parts do not run in a chain: {str(exc)[:300]}"))
            return
        missing = [n for n in names if n not in got]
        if missing:
            rep.problems.append(Problem("stages", f"the parts never produce the model output(s) {missing}"))
            return
        for n in names:
            want = plan.model.output_shapes.get(n)
            if want and list(got[n].shape) != list(want):
                rep.problems.append(Problem(f"model.output_shapes.{n}", f"the plan says {want}, the parts give {list(got[n].shape)}"))
        if ref_sess is None:
            continue
        ref = dict(zip(names, ref_sess.run(names, inputs), strict=True))
        c = _compare(ref, got, names, rtol, atol)
        agg["max_abs"] = max(agg["max_abs"], c["max_abs"])
        agg["max_rel"] = max(agg["max_rel"], c["max_rel"])
        agg["cosine"] = min(agg["cosine"], c["cosine"])
        if c["top1"] is not None:
            agg["top1"] = c["top1"] if agg["top1"] is None else min(agg["top1"], c["top1"])
        agg["equal"] = agg["equal"] and c["equal"]
        report(progress, 0.2 + 0.8 * (k + 1) / samples, f"ran the chain on sample {k + 1} of {samples}")
    rep.chain = ChainCheck(samples=samples, outputs=names, compared_to_model=ref_sess is not None, lossless=lossless)
    if ref_sess is not None:
        rep.chain.max_abs_diff = agg["max_abs"]
        rep.chain.max_rel_diff = agg["max_rel"]
        rep.chain.cosine = agg["cosine"]
        rep.chain.top1_agreement = agg["top1"]
        rep.chain.equal = agg["equal"]
        if lossless and not agg["equal"]:
            rep.problems.append(Problem(
                "stages", f"the fp32 parts differ from the model by up to {agg['max_abs']:.3g} "
                f"(allowed {atol:g} + {rtol:g} × the output's largest value): the parts do not compute the model"))


@dataclass
class JointPlanReport:
    """The outcome of :func:`validate_joint_plan`: problems (errors), warnings, and each section's report."""

    path: Path
    plan: JointPlan | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sections: list[PlanReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def checked_parts(self) -> int:
        return sum(r.checked_parts for r in self.sections)

    def raise_for_problems(self) -> None:
        """Raise :class:`PlanError` listing every problem (exit code 2)."""
        if self.problems:
            n = len(self.problems)
            raise PlanError(f"joint plan '{self.path}' is invalid ({n} problem{'s' if n != 1 else ''})",
                            problems=self.problems)


def validate_joint_plan(
    path: str | os.PathLike[str],
    *,
    check_chain: bool = True,
    topology_path: str | os.PathLike[str] | None = None,
    samples: int = 2,
    seed: int = 0,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> JointPlanReport:
    """Check a joint plan as :func:`validate_plan` checks one plan, section by section (each section's
    problems are named ``workloads[k].…``), then the joint figures: the load of every device and link
    direction re-derived from the sections and below 100 %, and the memory of every device summed over
    the workloads within what it has (:func:`~planner_app.core.plans.joint.joint_load_problems`)."""
    from planner_app.core.plans.joint import joint_load_problems, joint_plan_from_dict

    plan_file = Path(path)
    rep = JointPlanReport(path=plan_file)
    plan = _read_plan_file(plan_file, rep.problems, rep.warnings, joint_plan_from_dict)
    if plan is None:
        return rep
    rep.plan = plan
    if topology_path is not None:
        _check_topology_file(plan.workloads[0], topology_path, rep.problems, rep.warnings)
    n = len(plan.workloads)
    for k, section in enumerate(plan.workloads):
        sub = PlanReport(path=plan_file, plan=section)
        inner = None if progress is None else (lambda f, m, k=k: report(progress, (k + f) / n, m))
        _check_contents(sub, section, plan_file.parent, None, check_chain=check_chain, samples=samples, seed=seed,
                        rtol=rtol, atol=atol, progress=inner, cancel=cancel)
        name = section.workload.name
        rep.problems.extend(Problem(f"workloads[{k}].{p.location}" if p.location else f"workloads[{k}]",
                                    f"({name}) {p.message}") for p in sub.problems)
        rep.warnings.extend(f"workload {name}: {w}" for w in dict.fromkeys(sub.warnings))
        rep.sections.append(sub)
    rep.problems.extend(joint_load_problems(plan))
    return rep
