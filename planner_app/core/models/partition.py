"""Cut a model into stages and write one runnable ONNX file per stage; check the chain.

A *stage* is an ordered set of units (see :mod:`planner_app.core.models.graph`).
:func:`split_stages` turns stages into self-contained ONNX models: each holds
its nodes, only the weights it reads (shared weights are duplicated), the
original opsets and local functions, typed inputs and outputs, and metadata
naming the stage. A graph input may feed any stage directly; a graph output
may leave any stage. :func:`check_chain` runs the whole model and the chained
parts with onnxruntime on the same inputs and compares every graph output;
the command line and the tests call this one function.

Example
-------
>>> mg = load_model("sample:resnet18")                                  # doctest: +SKIP
>>> parts = split_stages(mg, stages_from_positions(mg, [5, 12]))       # doctest: +SKIP
>>> print(check_chain(mg, [p.model for p in parts]))                    # doctest: +SKIP
equal: 1 output(s), max abs diff 0, max rel diff 0
"""

from __future__ import annotations

__all__ = [
    "PartitionError",
    "StagePart",
    "EquivalenceReport",
    "split_stages",
    "stages_from_positions",
    "stages_from_cut_tensors",
    "write_parts",
    "check_chain",
    "run_chain",
    "part_graph_outputs",
]

import difflib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import onnx
from onnx import helper

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import atomic_write_bytes
from planner_app.core.models.analysis import node_inputs
from planner_app.core.models.graph import ModelError, ModelGraph, random_inputs
from planner_app.core.progress import CancelToken, ProgressCallback, report

#: metadata keys written into every part
META_STAGE_INDEX = "planner.stage_index"
META_STAGE_NAME = "planner.stage_name"
META_SOURCE = "planner.source_model"
META_SOURCE_SHA = "planner.source_sha256"
META_GRAPH_OUTPUTS = "planner.graph_outputs"
META_UNITS = "planner.units"


class PartitionError(PlannerError):
    """Stages or cuts that do not make a valid split; the message says why and what would."""


@dataclass
class StagePart:
    """One stage as a runnable ONNX model."""

    index: int
    name: str
    unit_ids: list[int]
    node_names: list[str]
    inputs: list[str]
    outputs: list[str]
    model: onnx.ModelProto
    #: outputs of this part that are outputs of the whole model
    graph_outputs: list[str] = field(default_factory=list)


@dataclass
class EquivalenceReport:
    """Whole model vs chained parts: per-output max absolute difference."""

    ok: bool
    max_abs_diff: float
    max_rel_diff: float
    per_output: dict[str, float]
    rtol: float = 1e-5
    atol: float = 1e-6
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = "equal" if self.ok else "MISMATCH"
        text = (f"{head}: {len(self.per_output)} output(s), max abs diff {self.max_abs_diff:.3g}, "
                f"max rel diff {self.max_rel_diff:.3g} (rtol {self.rtol:g}, atol {self.atol:g})")
        return "\n".join([text] + [f"  - {p}" for p in self.problems])


def _stage_name(unit_ids: list[int]) -> str:
    lo, hi = unit_ids[0], unit_ids[-1]
    contiguous = hi - lo + 1 == len(unit_ids)
    return f"units_{lo}-{hi}" if contiguous else f"units_{lo}-{hi}_{len(unit_ids)}"


def split_stages(mg: ModelGraph, stages: list[list[int]]) -> list[StagePart]:
    """One runnable sub-model per stage.

    ``stages`` are ordered lists of unit ids covering every unit once; stage
    ``i`` may read only graph inputs and tensors of stages before it. Raises
    :class:`PartitionError` naming the offending unit or tensor otherwise.
    """
    n = len(mg.units)
    stage_of: dict[int, int] = {}
    for si, stage in enumerate(stages):
        if not stage:
            raise PartitionError(f"stage {si} of the split of {mg.label} is empty: every stage needs a unit.")
        for u in stage:
            if not isinstance(u, (int, np.integer)) or not 0 <= u < n:
                raise PartitionError(f"stage {si} names unit {u!r}; {mg.label} has units 0..{n - 1}.")
            if u in stage_of:
                raise PartitionError(f"unit {u} ({mg.units[u].name}) is in stages {stage_of[u]} and {si}.")
            stage_of[int(u)] = si
    missing = [u for u in range(n) if u not in stage_of]
    if missing:
        raise PartitionError(
            f"the stages leave out unit(s) {missing[:10]} of {mg.label}: every unit must be in one stage."
        )

    g = mg.model.graph
    nodes = list(g.node)
    index_of = {node.name: i for i, node in enumerate(nodes)}
    initializers = {t.name: t for t in g.initializer}
    outputs_set = {o.name for o in g.output}
    graph_inputs = set(mg.inputs)
    constant_node = {
        node.output[0]: i for i, node in enumerate(nodes)
        if node.op_type == "Constant" and node.output[0] not in outputs_set
    }
    value_info = {vi.name: vi for vi in g.value_info}
    stage_producer = {t: stage_of[u] for t, u in mg.tensor_producer.items()}
    parts: list[StagePart] = []
    for si, stage in enumerate(stages):
        unit_ids = sorted(int(u) for u in stage)
        idxs = {index_of[name] for u in unit_ids for name in mg.units[u].node_names}
        reads: dict[str, None] = {}
        for i in sorted(idxs):
            for t in node_inputs(nodes[i]):
                reads[t] = None
        # Constant nodes are weights: copy them into every stage that reads them
        idxs |= {constant_node[t] for t in reads if t in constant_node}
        ordered = sorted(idxs)
        produced = {o for i in ordered for o in nodes[i].output if o}
        inputs: list[str] = []
        for t in reads:
            if t in produced or t in initializers or t in constant_node:
                continue
            src = stage_producer.get(t)
            if t not in graph_inputs and src is None:
                raise PartitionError(f"stage {si} reads tensor '{t}', which no node of {mg.label} produces.")
            if src is not None and src > si:
                raise PartitionError(
                    f"stage {si} reads tensor '{t}' produced by unit {mg.tensor_producer[t]} "
                    f"({mg.units[mg.tensor_producer[t]].name}) in later stage {src}: stages must be "
                    "in dependency order."
                )
            inputs.append(t)
        later = {t for t, cons in mg.tensor_consumers.items() if any(stage_of[c] > si for c in cons)}
        outs = [o for i in ordered for o in nodes[i].output
                if o and o not in constant_node and (o in outputs_set or o in later)]
        outs = list(dict.fromkeys(outs))
        if not outs:
            raise PartitionError(
                f"stage {si} ({_stage_name(unit_ids)}) of {mg.label} produces nothing that a later stage "
                "or the result uses: merge it into a neighbouring stage."
            )
        name = _stage_name(unit_ids)
        graph = helper.make_graph(
            [nodes[i] for i in ordered],
            f"{mg.name}_{name}",
            [_value_info(mg, t) for t in inputs],
            [_value_info(mg, t) for t in outs],
            [initializers[t] for t in reads if t in initializers],
            value_info=[value_info[t] for t in produced if t in value_info and t not in outs],
        )
        model = helper.make_model(graph, opset_imports=list(mg.model.opset_import),
                                  ir_version=mg.model.ir_version, producer_name="planner_app.partition")
        model.functions.extend(mg.model.functions)
        graph_outs = [o for o in outs if o in outputs_set]
        helper.set_model_props(model, {
            META_STAGE_INDEX: str(si), META_STAGE_NAME: name, META_SOURCE: mg.name,
            META_SOURCE_SHA: mg.sha256, META_GRAPH_OUTPUTS: json.dumps(graph_outs),
            META_UNITS: json.dumps(unit_ids),
        })
        parts.append(StagePart(si, name, unit_ids, [nodes[i].name for i in ordered], inputs, outs,
                               model, graph_outs))
    return parts


def _value_info(mg: ModelGraph, tensor: str) -> onnx.ValueInfoProto:
    elem = mg.tensor_elem_types.get(tensor, onnx.TensorProto.FLOAT)
    return helper.make_tensor_value_info(tensor, elem, mg.tensor_shapes.get(tensor))


def stages_from_positions(mg: ModelGraph, positions: list[int]) -> list[list[int]]:
    """Cut positions (cut after unit ``p``) -> contiguous unit ranges.

    >>> # 10 units cut after 2 and 6: [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]
    """
    n = len(mg.units)
    pos = sorted(set(int(p) for p in positions))
    bad = [p for p in pos if not 0 <= p < n - 1]
    if bad and n < 2:
        raise PartitionError(f"{mg.label} has a single unit: there is no place to cut it (a cut goes between "
                             "two units); use the whole model as one part.")
    if bad:
        raise PartitionError(
            f"cut position(s) {bad} are outside 0..{n - 2}: {mg.label} has {n} units, and a cut after "
            "the last unit would leave an empty stage."
        )
    bounds = [-1] + pos + [n - 1]
    return [list(range(a + 1, b + 1)) for a, b in zip(bounds, bounds[1:], strict=False)]


def _explain_tensor(mg: ModelGraph, t: str) -> str | None:
    """Why ``t`` cannot be named in a cut, or None when it can."""
    if t in mg.inputs:
        return (f"'{t}' is a graph input: the source feeds it to every stage that needs it, so it is "
                "never cut")
    producer = mg.tensor_producer.get(t)
    if producer is None:
        if t in mg.tensor_elem_types:
            return f"'{t}' is a weight (initializer or constant): weights are copied into the parts"
        close = difflib.get_close_matches(t, list(mg.tensor_producer), n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        return f"{mg.label} has no tensor '{t}'{hint}; `edgeplan model inspect` lists cut tensors"
    unit = mg.units[producer]
    if t not in unit.outputs:
        return (f"'{t}' is inside unit {producer} ({'+'.join(unit.op_types[:4])}: {unit.name}), whose "
                f"nodes run together; cut at its output {', '.join(repr(o) for o in unit.outputs)} instead")
    if not mg.tensor_consumers.get(t):
        return f"'{t}' is a graph output that no later unit reads: cutting there leaves nothing after it"
    return None


def stages_from_cut_tensors(mg: ModelGraph, cuts: list[list[str]]) -> list[list[int]]:
    """The CLI's ``--cut TENSOR[,TENSOR...]`` -> stages.

    A cut is the set of tensors crossing it. Everything upstream of those
    tensors forms the part before the cut; the cut is valid when exactly these
    tensors flow from that part to the rest (so a cut inside a residual block
    must name the skip tensor too). A tensor set that ``ModelGraph.cuts()``
    lists for a position is always valid: there the part before the cut is the
    units up to that position (parallel branches included). Several cuts must
    be nested.
    """
    all_units = set(range(len(mg.units)))
    befores: list[tuple[frozenset[int], list[str]]] = []
    for cut in cuts:
        tensors = list(dict.fromkeys(t.strip() for t in cut if t.strip()))
        if not tensors:
            raise PartitionError("an empty --cut: name at least one tensor, e.g. --cut relu_3")
        for t in tensors:
            why = _explain_tensor(mg, t)
            if why:
                raise PartitionError(f"--cut {','.join(tensors)} is not a valid cut: {why}.")
        # a set `cuts()` lists for a position of the unit order (what `model inspect` prints):
        # the part before it is the units up to there, parallel branches included
        position = next((c.position for c in mg.cuts() if set(c.tensors) == set(tensors)), None)
        if position is not None:
            before = set(range(position + 1))
            crossing = set(tensors)
        else:
            # any other DAG cut: the tensors' producers and all their ancestors come before it
            producers = {mg.tensor_producer[t] for t in tensors}
            before = set(producers)
            for p in producers:
                before |= nx.ancestors(mg.unit_graph, p)
            crossing = _crossing(mg, before)
        extra = [t for t in tensors if t not in crossing]
        if extra:
            raise PartitionError(
                f"--cut {','.join(tensors)} is not a valid cut: {', '.join(repr(e) for e in extra)} "
                "is only read before the cut (everything that reads it depends on the other cut tensors)."
            )
        need = sorted(crossing - set(tensors), key=lambda t: mg.tensor_producer[t])
        if need:
            raise PartitionError(
                f"--cut {','.join(tensors)} is not a valid cut: tensor(s) {', '.join(repr(t) for t in need)} "
                f"also flow from before the cut to after it (skip connections or parallel branches). "
                f"Use --cut {','.join(sorted(crossing, key=lambda t: mg.tensor_producer[t]))}."
            )
        if before == all_units:
            raise PartitionError(f"--cut {','.join(tensors)} leaves nothing after it in {mg.label}.")
        befores.append((frozenset(before), tensors))
    befores.sort(key=lambda b: len(b[0]))
    for (a, ta), (b, tb) in zip(befores, befores[1:], strict=False):
        if not a < b:
            raise PartitionError(
                f"--cut {','.join(ta)} and --cut {','.join(tb)} "
                + ("are the same cut." if a == b else "cross each other: each cut must lie wholly before the next.")
            )
    stages: list[list[int]] = []
    prev: frozenset[int] = frozenset()
    for before, _ in befores:
        stages.append(sorted(before - prev))
        prev = before
    stages.append(sorted(all_units - prev))
    return stages


def _crossing(mg: ModelGraph, before: set[int]) -> set[str]:
    """Tensors produced in ``before`` and read by a unit outside it."""
    return {t for t, cons in mg.tensor_consumers.items()
            if mg.tensor_producer.get(t, -1) in before and any(c not in before for c in cons)}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]


def write_parts(parts: list[StagePart], out_dir: Path) -> list[Path]:
    """Write ``part_00_<name>.onnx`` ... into ``out_dir`` as one set; returns the paths in stage order.

    Every part is serialized and written into a hidden staging folder inside
    ``out_dir`` first; only then are the ``part_*.onnx`` files of an earlier split
    moved aside and the new ones moved in (rolled back if a move fails), so the
    folder never mixes parts of two splits. Other files in ``out_dir`` are left
    alone. A file system error becomes a :class:`PartitionError` naming the path.
    """
    import contextlib
    import os
    import shutil
    import tempfile

    out_dir = Path(out_dir)
    blobs = [(f"part_{p.index:02d}_{_safe(p.name)}.onnx", p.model.SerializeToString()) for p in parts]
    staging: Path | None = None
    moved: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".split-", dir=out_dir))
        for name, data in blobs:
            atomic_write_bytes(staging / name, data)
        parked = staging / ".previous"
        parked.mkdir()
        for old in sorted(out_dir.glob("part_*.onnx")):
            os.replace(old, parked / old.name)
            moved.append((old, parked / old.name))
        for name, _ in blobs:
            os.replace(staging / name, out_dir / name)
            placed.append(out_dir / name)
        placed.clear()
        moved.clear()
    except BaseException as exc:
        for p in placed:
            with contextlib.suppress(OSError):
                p.unlink()
        for old, parked_at in moved:
            with contextlib.suppress(OSError):
                os.replace(parked_at, old)
        if isinstance(exc, OSError):
            where = exc.filename or out_dir
            raise PartitionError(
                f"cannot write the parts into {str(out_dir)!r}: {exc.strerror or exc} ({where}); "
                "give a writable folder with --out"
            ) from None
        raise
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name, _ in blobs]


def _session(model: onnx.ModelProto | Path | str | bytes, what: str, error: type[Exception] = PartitionError,
             optimize: bool = False) -> Any:  # an onnxruntime.InferenceSession (onnxruntime is untyped)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if not optimize:
        # the same unfused kernels on both sides of a cut: the check can then be exact
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if isinstance(model, onnx.ModelProto):
        data: bytes | str = model.SerializeToString()
    elif isinstance(model, bytes):
        data = model
    else:
        data = str(model)
    try:
        return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:400]
        raise error(f"onnxruntime cannot run {what}: {first}") from None


def part_graph_outputs(model: onnx.ModelProto) -> list[str] | None:
    """The whole-model outputs a part produces, from its metadata (None if absent)."""
    for prop in model.metadata_props:
        if prop.key == META_GRAPH_OUTPUTS:
            return list(json.loads(prop.value))
    return None


def run_chain(parts: Sequence[onnx.ModelProto | Path], inputs: dict[str, np.ndarray], *,
              optimize: bool = True) -> dict[str, np.ndarray]:
    """Run the parts one after another, feeding each what earlier parts and the inputs produced.

    Returns every whole-model output (named in each part's metadata; for parts
    without it, the outputs no later part reads). ``optimize`` False turns off
    onnxruntime's graph optimizations (fusions), as :func:`check_chain` does.
    """
    protos = [p if isinstance(p, onnx.ModelProto) else onnx.load(str(p), load_external_data=False)
              for p in parts]
    env: dict[str, np.ndarray] = dict(inputs)
    produced_by: dict[str, int] = {}
    declared: list[str] = []
    fallback = False
    for i, (part, proto) in enumerate(zip(parts, protos, strict=True)):
        what = f"part {i}" + (f" ('{part}')" if not isinstance(part, onnx.ModelProto) else "")
        sess = _session(part if not isinstance(part, onnx.ModelProto) else proto, what, optimize=optimize)
        feed = {}
        for inp in sess.get_inputs():
            if inp.name not in env:
                raise PartitionError(
                    f"{what} needs tensor '{inp.name}', which neither the inputs nor an earlier part provide."
                )
            feed[inp.name] = env[inp.name]
        names = [o.name for o in sess.get_outputs()]
        for name, value in zip(names, sess.run(names, feed), strict=True):
            env[name] = value
            produced_by[name] = i
        meta = part_graph_outputs(proto)
        if meta is None:
            fallback = True
        else:
            declared.extend(meta)
    if fallback:
        read_later = {inp.name for proto in protos for inp in proto.graph.input}
        declared.extend(n for n in produced_by if n not in read_later and n not in declared)
    return {name: env[name] for name in dict.fromkeys(declared)}


def _int_ranges(mg: ModelGraph) -> dict[str, int]:
    """Upper bounds for integer inputs used as Gather indices (embedding ids), so random ids are valid."""
    highs: dict[str, int] = {}
    inits = {t.name: list(t.dims) for t in mg.model.graph.initializer}
    for node in mg.model.graph.node:
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] in mg.inputs:
            dims = inits.get(node.input[0]) or mg.tensor_shapes.get(node.input[0])
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            if dims:
                highs[node.input[1]] = min(highs.get(node.input[1], 1 << 30), int(dims[axis]))
    return highs


def check_chain(
    mg: ModelGraph,
    parts: list[onnx.ModelProto] | list[Path],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    seed: int = 0,
    inputs: dict[str, np.ndarray] | None = None,
    optimize: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> EquivalenceReport:
    """Run the whole model and the chained parts on the same inputs; compare every graph output.

    Inputs default to deterministic random values of the declared shapes
    (integer ids within the embedding table they index). By default both sides
    run without onnxruntime's fusions, so a correct split is usually bit-exact;
    with ``optimize=True`` fusions differ across a cut and sums are reordered.
    Equal means ``|chain - whole| <= atol + rtol * max|whole|`` for each output
    (relative to the output's scale: an element-wise relative test is
    meaningless for elements near zero).
    """
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if not (tol >= 0 and math.isfinite(tol)):
            raise PartitionError(f"{name} must be a finite number >= 0, got {tol!r}")
    feeds = inputs if inputs is not None else random_inputs(mg.inputs, mg.input_dtypes, seed, _int_ranges(mg))
    report(progress, 0.0, "running the whole model")
    whole = _session(mg.model, mg.label, ModelError, optimize=optimize)
    names = [o.name for o in whole.get_outputs()]
    expected = dict(zip(names, whole.run(names, feeds), strict=True))
    if cancel is not None:
        cancel.raise_if_cancelled()
    report(progress, 0.5, f"running {len(parts)} chained parts")
    got = run_chain(list(parts), feeds, optimize=optimize)
    report(progress, 1.0, "comparing outputs")
    per_output: dict[str, float] = {}
    problems: list[str] = []
    max_abs = max_rel = 0.0
    ok = True
    for name, ref in expected.items():
        if name not in got:
            problems.append(f"output '{name}' is produced by no part")
            per_output[name] = float("inf")
            ok = False
            continue
        value = got[name]
        if value.shape != ref.shape or value.dtype != ref.dtype:
            problems.append(f"output '{name}': parts give {value.dtype}{list(value.shape)}, "
                            f"the model {ref.dtype}{list(ref.shape)}")
            per_output[name] = float("inf")
            ok = False
            continue
        if ref.dtype.kind not in "fc":
            diff = float(np.count_nonzero(value != ref))
            per_output[name] = diff
            ok = ok and diff == 0
            continue
        a, b = value.astype(np.float64), ref.astype(np.float64)
        d = np.abs(a - b)
        both_nan = np.isnan(a) & np.isnan(b)
        d[both_nan] = 0.0
        scale = float(np.nanmax(np.abs(b), initial=0.0)) if b.size else 0.0
        abs_diff = float(np.max(d, initial=0.0)) if d.size else 0.0
        if np.isnan(d).any():  # NaN on one side only
            abs_diff = float("inf")
        rel_diff = abs_diff / max(scale, atol)
        per_output[name] = abs_diff
        max_abs, max_rel = max(max_abs, abs_diff), max(max_rel, rel_diff)
        if not abs_diff <= atol + rtol * scale:
            ok = False
            problems.append(f"output '{name}' differs by up to {abs_diff:.3g} (relative {rel_diff:.3g})")
    return EquivalenceReport(ok, max_abs, max_rel, per_output, rtol, atol, problems)
