"""Reading an ONNX model safely: parse, external data, checker, opsets, shapes.

:func:`prepare_model` turns raw bytes into a checked model whose dynamic
dimensions are fixed to user-given values and whose tensors all carry static
shapes (from ONNX shape inference, or from one test run with onnxruntime for
tensors inference cannot size). Every failure a user can cause is a
:class:`ModelError` naming the model and the fix.
"""

from __future__ import annotations

__all__ = ["ModelError", "PreparedModel", "prepare_model", "random_inputs", "runtime_can_run_opset",
           "ITEMSIZE", "MAX_DIM", "available_memory_bytes", "check_input_memory", "is_anonymous_dim"]

import functools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import DTypeLike
from onnx import TensorProto, helper

from planner_app.core.errors import PlannerError, Problem


class ModelError(PlannerError):
    """A model cannot be used: the message names the model file and the problem."""


#: bytes per element of each ONNX tensor type (strings count 0: no fixed size)
ITEMSIZE: dict[int, int] = {
    TensorProto.FLOAT: 4, TensorProto.UINT8: 1, TensorProto.INT8: 1, TensorProto.UINT16: 2,
    TensorProto.INT16: 2, TensorProto.INT32: 4, TensorProto.INT64: 8, TensorProto.STRING: 0,
    TensorProto.BOOL: 1, TensorProto.FLOAT16: 2, TensorProto.DOUBLE: 8, TensorProto.UINT32: 4,
    TensorProto.UINT64: 8, TensorProto.COMPLEX64: 8, TensorProto.COMPLEX128: 16,
    TensorProto.BFLOAT16: 2,
}


#: the largest value of one dimension (ONNX stores dims as int64; onnxruntime indexes with int32 on some paths)
MAX_DIM = 2**31 - 1
#: a tensor may take at most this share of the memory available, so the rest of the run still fits
_MEMORY_SHARE = 0.8


def available_memory_bytes() -> int | None:
    """Memory the system can give this process now (``MemAvailable``), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def check_input_memory(shapes: Mapping[str, list[int]], dtypes: Mapping[str, Any], label: str) -> int:
    """The bytes the inputs of ``shapes`` take; :class:`ModelError` before anything is allocated when
    a dimension is out of range or they need more memory than is available (both sizes in GiB)."""
    total = 0
    for name, shape in shapes.items():
        try:
            itemsize = np.dtype(dtypes.get(name, np.float32)).itemsize
        except TypeError:
            raise ModelError(f"{label}: input {name!r} has dtype {dtypes.get(name)!r}, which is not a numpy "
                             "dtype name (float32, int64, ...)") from None
        if any(not 0 <= int(d) <= MAX_DIM for d in shape):
            raise ModelError(f"{label}: input {name!r} has shape {list(shape)}: every dimension must be "
                             f"between 1 and {MAX_DIM:,}")
        total += math.prod(int(d) for d in shape) * max(1, itemsize)
    _check_fits(total, f"{label}: the inputs ({', '.join(f'{k}={_dims(v)}' for k, v in shapes.items())})")
    return total


def _dims(shape: list[int]) -> str:
    return "x".join(str(d) for d in shape) or "scalar"


def _check_fits(nbytes: int, what: str) -> None:
    avail = available_memory_bytes()
    if avail is not None and nbytes > _MEMORY_SHARE * avail:
        raise ModelError(f"{what} take {_gib(nbytes)}, more than the {_gib(avail)} of memory available on this "
                         "machine: give smaller shapes with --shape (a smaller batch or image)")


def is_anonymous_dim(dim: onnx.TensorShapeProto.Dimension) -> bool:
    """True for a dynamic dimension without a real name (``'?'``, empty, or a negative value).

    Only named dimensions are shared between axes and inputs: exporters write
    ``'?'`` (or -1) for every axis they know nothing about, and two such axes
    are independent.
    """
    if dim.HasField("dim_value"):
        return dim.dim_value < 0
    return dim.dim_param.strip() in ("", "?") or dim.dim_param.startswith("unk__")


@dataclass
class PreparedModel:
    """A checked model with fixed input shapes and a static shape for (almost) every tensor."""

    model: onnx.ModelProto
    opsets: dict[str, int]
    inputs: dict[str, list[int]]
    input_dtypes: dict[str, np.dtype]
    dynamic_dims: dict[str, int]
    tensor_shapes: dict[str, list[int]]
    tensor_dtypes: dict[str, int]
    external_bytes: int = 0
    warnings: list[str] = field(default_factory=list)


def random_inputs(
    shapes: dict[str, list[int]],
    dtypes: Mapping[str, DTypeLike],
    seed: int = 0,
    int_high: dict[str, int] | None = None,
) -> dict[str, np.ndarray]:
    """Deterministic random inputs: normal floats, integers in ``[0, int_high)`` (default 8)."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        dtype = np.dtype(dtypes.get(name, np.float32))
        if dtype.kind == "f":
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            high = (int_high or {}).get(name, 8)
            feeds[name] = rng.integers(0, max(1, high), size=shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            feeds[name] = np.zeros(shape, dtype=dtype)
    return feeds


@functools.lru_cache(maxsize=64)
def runtime_can_run_opset(version: int) -> str | None:
    """None when onnxruntime accepts default-domain opset ``version``, else its complaint.

    A one-node session costs a few milliseconds and is cached, so it is cheap
    enough to run at load time.
    """
    import onnxruntime as ort

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    opset = helper.make_opsetid("", version)
    try:
        ir = helper.find_min_ir_version_for([opset], ignore_unknown=True)
    except Exception:  # an opset newer than this onnx package knows
        ir = onnx.IR_VERSION
    probe = helper.make_model(graph, opset_imports=[opset], ir_version=max(ir, 7))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # old opsets draw warnings; only a refusal matters here
    try:
        ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        text = str(exc)
        m = re.search(r"support for domain ai\.onnx is till opset \d+", text)
        return m.group(0) if m else text.strip().splitlines()[0][:200]
    return None


def _parse(data: bytes, label: str) -> onnx.ModelProto:
    if not data:
        raise ModelError(f"{label} is empty: expected an ONNX model.")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:
        raise ModelError(
            f"{label} is not a valid ONNX file: its protobuf cannot be decoded (the file is "
            "truncated or is not an ONNX model). Re-export or re-download it."
        ) from None
    if model.ir_version == 0 and not model.opset_import:
        raise ModelError(
            f"{label} is not an ONNX model (no IR version, no opset). Export the network to ONNX first."
        )
    return model


def _load_external(model: onnx.ModelProto, path: Path | None, label: str) -> int:
    from onnx.external_data_helper import (
        ExternalDataInfo,
        load_external_data_for_model,
        uses_external_data,
    )

    tensors = [t for t in model.graph.initializer if uses_external_data(t)]
    if not tensors:
        return 0
    if path is None:
        raise ModelError(
            f"{label} keeps its weights in external data files, which raw bytes cannot carry: "
            "load it from its path so the files next to it can be read."
        )
    locations = sorted({ExternalDataInfo(t).location for t in tensors})
    missing = [loc for loc in locations if not (path.parent / loc).is_file()]
    if missing:
        raise ModelError(
            f"model '{path}' needs external data file(s) {', '.join(repr(m) for m in missing)} "
            f"next to it in '{path.parent}', and they are missing: copy them there."
        )
    try:
        load_external_data_for_model(model, str(path.parent))
    except Exception as exc:
        raise ModelError(f"model '{path}': its external data cannot be read: {exc}") from None
    return sum((path.parent / loc).stat().st_size for loc in locations)


def _name_nodes(graph: onnx.GraphProto, used: set[str]) -> None:
    """Give every node a unique name: profiling and plans refer to nodes by name."""
    for i, node in enumerate(graph.node):
        base = node.name or f"{node.op_type}_{i}"
        name = base
        k = 1
        while name in used:
            name = f"{base}_{k}"
            k += 1
        node.name = name
        used.add(name)


def _static(shape_proto: onnx.TensorShapeProto) -> list[int] | None:
    dims = []
    for d in shape_proto.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(int(d.dim_value))
        elif d.HasField("dim_value") and d.dim_value == 0:
            dims.append(0)
        else:
            return None
    return dims


def _fix_inputs(
    model: onnx.ModelProto, shapes: dict[str, list[int]], label: str
) -> tuple[dict[str, list[int]], dict[str, np.dtype], dict[str, int]]:
    graph = model.graph
    init_names = {t.name for t in graph.initializer}
    real_inputs = [vi for vi in graph.input if vi.name not in init_names]
    names = [vi.name for vi in real_inputs]
    unknown = [n for n in shapes if n not in names]
    if unknown:
        raise ModelError(
            f"{label} has no input named {', '.join(repr(u) for u in unknown)}; its inputs are "
            f"{', '.join(repr(n) for n in names) or '(none)'}."
        )
    for name, given_dims in shapes.items():
        if any(not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_DIM for v in given_dims):
            raise ModelError(f"the shape given for input '{name}' of {label}, {list(given_dims)}, has a dimension "
                             f"that is not a whole number between 1 and {MAX_DIM:,}.")
    dynamic: dict[str, int] = {}
    problems: list[Problem] = []
    # a dim name given through one input fixes it for every input that uses it
    for vi in real_inputs:
        given = shapes.get(vi.name)
        if given is None or not vi.type.HasField("tensor_type"):
            continue
        dims = vi.type.tensor_type.shape.dim
        if vi.type.tensor_type.HasField("shape") and len(dims) != len(given):
            raise ModelError(
                f"--shape {vi.name}=... gives {len(given)} dimensions but input '{vi.name}' of "
                f"{label} has {len(dims)}."
            )
        for axis, (d, v) in enumerate(zip(dims, given, strict=False)):
            if d.HasField("dim_value") and d.dim_value > 0 and d.dim_value != v:
                raise ModelError(
                    f"--shape {vi.name}=...: axis {axis} of input '{vi.name}' is fixed to "
                    f"{d.dim_value} in {label}, not {v}."
                )
            if d.dim_param and not is_anonymous_dim(d):
                if dynamic.get(d.dim_param, v) != v:
                    raise ModelError(
                        f"dynamic dimension '{d.dim_param}' of {label} gets two values "
                        f"({dynamic[d.dim_param]} and {v}) from the --shape values."
                    )
                dynamic[d.dim_param] = v
    inputs: dict[str, list[int]] = {}
    dtypes: dict[str, np.dtype] = {}
    for vi in real_inputs:
        if not vi.type.HasField("tensor_type"):
            raise ModelError(f"input '{vi.name}' of {label} is not a tensor; only tensor inputs are supported.")
        tt = vi.type.tensor_type
        dtypes[vi.name] = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))
        given = shapes.get(vi.name)
        if not tt.HasField("shape") and given is None:
            problems.append(Problem(f"input '{vi.name}'", f"has no declared shape: pass --shape {vi.name}=DIMS"))
            continue
        if given is not None and not tt.HasField("shape"):
            for v in given:
                tt.shape.dim.add().dim_value = v
        fixed: list[int] = []
        unset: list[str] = []
        for axis, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                fixed.append(int(d.dim_value))
            elif given is not None:
                fixed.append(given[axis])
            elif d.dim_param and not is_anonymous_dim(d) and d.dim_param in dynamic:
                fixed.append(dynamic[d.dim_param])
            else:
                named = d.dim_param and not is_anonymous_dim(d)
                unset.append(f"'{d.dim_param}' (axis {axis})" if named else f"an unnamed one (axis {axis})")
                fixed.append(-1)
        if unset:
            dims = "x".join(str(x.dim_value) if x.dim_value > 0 else
                            (x.dim_param if x.dim_param and not is_anonymous_dim(x) else "N") for x in tt.shape.dim)
            problems.append(Problem(
                f"input '{vi.name}'",
                f"dynamic dimension{'s' if len(unset) > 1 else ''} {', '.join(unset)} "
                f"{'have' if len(unset) > 1 else 'has'} no value: pass --shape {vi.name}={dims} "
                "with a number for each name",
            ))
        for d, v in zip(tt.shape.dim, fixed, strict=True):
            if v > 0:
                d.Clear()
                d.dim_value = v
        inputs[vi.name] = fixed
    if problems:
        raise ModelError(
            f"{label} has dynamic input dimensions without values; give each input's full shape with "
            "--shape NAME=DIMS (for example --shape input=1x3x224x224):",
            problems=problems,
        )
    return inputs, dtypes, dynamic


def _substitute_dims(model: onnx.ModelProto, dynamic: dict[str, int]) -> None:
    """Put the values used into declared outputs/value_info; clear other symbolic dims."""
    for vi in list(model.graph.output) + list(model.graph.value_info):
        if not vi.type.HasField("tensor_type"):
            continue
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param or (d.HasField("dim_value") and d.dim_value < 0):
                value = None if is_anonymous_dim(d) else dynamic.get(d.dim_param)
                d.Clear()
                if value is not None:
                    d.dim_value = value


def _collect_shapes(graph: onnx.GraphProto, shapes: dict[str, list[int]], dtypes: dict[str, int]) -> None:
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.type.HasField("tensor_type"):
            tt = vi.type.tensor_type
            if tt.elem_type:
                dtypes.setdefault(vi.name, tt.elem_type)
            if tt.HasField("shape"):
                s = _static(tt.shape)
                if s is not None:
                    shapes.setdefault(vi.name, s)
    for init in graph.initializer:
        shapes.setdefault(init.name, [int(d) for d in init.dims])
        dtypes.setdefault(init.name, init.data_type)
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _collect_shapes(attr.g, shapes, dtypes)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    _collect_shapes(g, shapes, dtypes)
            elif node.op_type == "Constant" and attr.type == onnx.AttributeProto.TENSOR:
                shapes.setdefault(node.output[0], [int(d) for d in attr.t.dims])
                dtypes.setdefault(node.output[0], attr.t.data_type)


def _check_tensor_sizes(shapes: dict[str, list[int]], dtypes: dict[str, int], label: str) -> None:
    """Refuse input shapes that make one tensor of the model larger than the memory available."""
    if not shapes:
        return
    name, size = max(((n, math.prod(max(0, d) for d in s) * max(1, ITEMSIZE.get(dtypes.get(n, 1), 4)))
                      for n, s in shapes.items()), key=lambda x: x[1])
    _check_fits(size, f"with these input shapes, {label}'s tensor '{name}' ({_dims(shapes[name])}) would")


def _shapes_by_running(
    model: onnx.ModelProto, missing: list[str], inputs: dict[str, list[int]],
    dtypes: dict[str, np.dtype[Any]], shapes: dict[str, list[int]], elem: dict[str, int],
) -> str | None:
    """Size tensors inference left unknown by one onnxruntime run; None on success."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in missing:
        probe.graph.output.append(onnx.ValueInfoProto(name=name))
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        values = sess.run(names, random_inputs(inputs, dtypes))
    except Exception as exc:
        return str(exc).splitlines()[0][:200]
    for name, value in zip(names, values, strict=True):
        if name in missing and isinstance(value, np.ndarray):
            shapes[name] = list(value.shape)
            elem.setdefault(name, helper.np_dtype_to_tensor_dtype(value.dtype))
    return None


def subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    """The graphs a node's attributes hold (If branches, Loop and Scan bodies)."""
    out: list[onnx.GraphProto] = []
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            out.append(attr.g)
        elif attr.type == onnx.AttributeProto.GRAPHS:
            out.extend(attr.graphs)
    return out


def _outer_refs(graph: onnx.GraphProto) -> list[str]:
    """Names a subgraph (and the subgraphs inside it) reads from the scopes around it."""
    defined = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    refs: dict[str, None] = {}
    for node in graph.node:
        for name in list(node.input) + [r for sub in subgraphs(node) for r in _outer_refs(sub)]:
            if name and name not in defined:
                refs[name] = None
        defined.update(o for o in node.output if o)
    return list(refs)


def _outer_values(model: onnx.ModelProto, inputs: dict[str, list[int]], input_dtypes: dict[str, np.dtype[Any]],
                  names: list[str]) -> dict[str, np.ndarray]:
    """The values of main-graph tensors ``names`` in one run of the model on random inputs ({} on failure)."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    declared = {o.name for o in probe.graph.output}
    for name in names:
        if name not in declared:
            probe.graph.output.append(onnx.ValueInfoProto(name=name))
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 4
        sess = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        values = sess.run(names, random_inputs(inputs, input_dtypes))
    except Exception:  # onnxruntime's own error types: the branches get random inputs instead
        return {}
    return {n: v for n, v in zip(names, values, strict=True) if isinstance(v, np.ndarray)}


def _subgraph_shapes_by_running(
    model: onnx.ModelProto, shapes: dict[str, list[int]], elem: dict[str, int],
    inputs: dict[str, list[int]], input_dtypes: dict[str, np.dtype[Any]],
) -> tuple[int, list[str]]:
    """Size the tensors inside control flow (If branches, Loop/Scan bodies) that static inference
    left unknown, by running each such subgraph once as a model of its own, fed with the values
    its outer-scope tensors take in one run of the whole model on random inputs.

    Returns how many tensors were sized, and why the subgraphs that could not run did not.
    """
    import onnxruntime as ort

    sized = 0
    failures: list[str] = []
    pending = [(node, g) for node in model.graph.node for g in subgraphs(node)]
    main_tensors = set(inputs) | {o for n in model.graph.node for o in n.output if o}
    wanted = sorted({r for _, g in pending for r in _outer_refs(g) if r in main_tensors}
                    | {i for n in model.graph.node if subgraphs(n) for i in n.input if i in main_tensors})
    known = _outer_values(model, inputs, input_dtypes, wanted) if any(
        o not in shapes for _, g in pending for n in g.node for o in n.output if o) else {}
    while pending:
        node, g = pending.pop(0)
        pending.extend((n, sub) for n in g.node for sub in subgraphs(n))
        missing = [o for n in g.node for o in n.output if o and o not in shapes]
        if not missing:
            continue
        feeds: dict[str, list[int]] = {}
        kinds: dict[str, np.dtype[Any]] = {}
        refs = [vi.name for vi in g.input] + _outer_refs(g)
        if any(r not in shapes or r not in elem for r in refs):
            failures.append(f"{node.op_type} '{node.name}': the shapes of its inputs are unknown")
            continue
        for r in refs:
            feeds[r] = shapes[r]
            kinds[r] = np.dtype(helper.tensor_dtype_to_np_dtype(elem[r]))
        graph = helper.make_graph(
            list(g.node), f"{g.name or node.name}_alone",
            [helper.make_tensor_value_info(r, elem[r], shapes[r]) for r in refs],
            [onnx.ValueInfoProto(name=o) for o in missing], initializer=list(g.initializer))
        alone = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
        alone.functions.extend(model.functions)
        feed = random_inputs(feeds, kinds)
        feed.update({r: known[r] for r in refs if r in known})
        try:
            opts = ort.SessionOptions()
            opts.log_severity_level = 4
            sess = ort.InferenceSession(alone.SerializeToString(), opts, providers=["CPUExecutionProvider"])
            values = sess.run(missing, feed)
        except Exception as exc:  # onnxruntime's own error types
            failures.append(f"{node.op_type} '{node.name}': {str(exc).splitlines()[0][:160]}")
            continue
        for name, value in zip(missing, values, strict=True):
            if isinstance(value, np.ndarray):
                shapes[name] = list(value.shape)
                elem.setdefault(name, helper.np_dtype_to_tensor_dtype(value.dtype))
                sized += 1
    return sized, failures


#: initializers up to this many elements stay in the skeleton: shape arithmetic reads their values
_SKELETON_KEEP_ELEMENTS = 4096


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model without its large weights, which become typed graph inputs.

    Shape inference only needs the weights' shapes (and the values of small
    constants such as Reshape targets); sending a 50 MB model through it means
    serializing and parsing all of it twice, which dominated loading time.
    """
    sk = onnx.ModelProto()
    sk.ir_version = max(model.ir_version, 4)  # initializers need not be inputs from IR 4
    sk.opset_import.extend(model.opset_import)
    sk.functions.extend(model.functions)
    g = sk.graph
    g.name = model.graph.name
    g.node.extend(model.graph.node)
    g.input.extend(model.graph.input)
    g.output.extend(model.graph.output)
    g.value_info.extend(model.graph.value_info)
    declared = {vi.name for vi in model.graph.input}
    for t in model.graph.initializer:
        if math.prod(t.dims) <= _SKELETON_KEEP_ELEMENTS:
            g.initializer.append(t)
        elif t.name not in declared:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    g.sparse_initializer.extend(model.graph.sparse_initializer)
    return sk


def _merge_inferred(model: onnx.ModelProto, shaped: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` (weights in place) with the shapes inference found on its skeleton."""
    g = model.graph
    del g.value_info[:]
    g.value_info.extend(shaped.graph.value_info)
    del g.output[:]
    g.output.extend(shaped.graph.output)
    # nodes come back with their subgraphs' inferred value_info
    del g.node[:]
    g.node.extend(shaped.graph.node)
    return model


def prepare_model(data: bytes, path: Path | None, label: str, shapes: dict[str, list[int]]) -> PreparedModel:
    """Parse, check and shape ``data``; see :func:`planner_app.core.models.graph.load_model`."""
    model = _parse(data, label)
    external_bytes = _load_external(model, path, label)
    opsets = {("ai.onnx" if o.domain in ("", "ai.onnx") else o.domain): int(o.version) for o in model.opset_import}
    default_opset = opsets.get("ai.onnx")
    if default_opset is not None and default_opset > onnx.defs.onnx_opset_version():
        raise ModelError(
            f"{label} uses opset {default_opset}, newer than this onnx package knows "
            f"({onnx.defs.onnx_opset_version()}): upgrade onnx/onnxruntime or re-export at a lower opset."
        )
    if default_opset is not None:
        complaint = runtime_can_run_opset(default_opset)
        if complaint:
            import onnxruntime as ort

            raise ModelError(
                f"{label} uses opset {default_opset}, which onnxruntime {ort.__version__} cannot run "
                f"({complaint}); convert it with onnx.version_converter to opset 13-17."
            )
    if len(model.graph.node) == 0:
        raise ModelError(f"{label} has no nodes: there is nothing to place. Export the model with its operators.")
    try:
        # full_check would rerun shape inference with the file's own (maybe dynamic) shapes;
        # the original bytes spare one serialization when no external data was merged in
        onnx.checker.check_model(data if external_bytes == 0 else model)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{label} fails the ONNX checker: {first}") from None
    except ValueError as exc:  # > 2 GB protos
        raise ModelError(f"{label} cannot be checked: {exc}") from None

    _name_nodes(model.graph, set())
    inputs, input_dtypes, dynamic = _fix_inputs(model, shapes, label)
    # before shape inference and any run: absurd shapes must not reach an allocation
    check_input_memory(inputs, input_dtypes, label)
    _substitute_dims(model, dynamic)
    skeleton = _skeleton(model)
    try:
        try:
            shaped = onnx.shape_inference.infer_shapes(skeleton, check_type=False, strict_mode=False, data_prop=True)
        except Exception:
            # data propagation is the fragile part: retry without it before blaming the shapes
            shaped = onnx.shape_inference.infer_shapes(skeleton, check_type=False, strict_mode=False)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300]
        raise ModelError(
            f"shape inference failed on {label} with input shapes {inputs}: {first}. "
            "Check the --shape values."
        ) from None
    inferred = _merge_inferred(model, shaped)

    tensor_shapes: dict[str, list[int]] = {}
    tensor_dtypes: dict[str, int] = {}
    _collect_shapes(inferred.graph, tensor_shapes, tensor_dtypes)
    warnings: list[str] = []
    if default_opset is not None and default_opset < 7:
        warnings.append(f"opset {default_opset} is older than onnxruntime supports for certain (7); "
                        "convert it with onnx.version_converter if parts fail to run")
    _check_tensor_sizes(tensor_shapes, tensor_dtypes, label)
    missing = [o for n in inferred.graph.node for o in n.output if o and o not in tensor_shapes]
    if missing:
        err = _shapes_by_running(inferred, missing, inputs, input_dtypes, tensor_shapes, tensor_dtypes)
        if err is None:
            warnings.append(
                f"{len(missing)} tensor shape(s) were not inferable and were measured by one "
                "onnxruntime run on random inputs"
            )
        else:
            warnings.append(f"{len(missing)} tensor shape(s) are unknown and count 0 bytes ({err})")
    if any(subgraphs(n) for n in inferred.graph.node):
        sized, failures = _subgraph_shapes_by_running(inferred, tensor_shapes, tensor_dtypes, inputs, input_dtypes)
        if sized:
            warnings.append(f"{sized} tensor shape(s) inside control flow (If/Loop/Scan) were not inferable and "
                            "were measured by running each branch once on random inputs")
        for why in failures[:3]:
            warnings.append(f"inside {why}: the shapes there are unknown and those operators count 0 FLOPs")
    return PreparedModel(
        model=inferred,
        opsets=opsets,
        inputs=inputs,
        input_dtypes=input_dtypes,
        dynamic_dims=dynamic,
        tensor_shapes=tensor_shapes,
        tensor_dtypes=tensor_dtypes,
        external_bytes=external_bytes,
        warnings=warnings,
    )
