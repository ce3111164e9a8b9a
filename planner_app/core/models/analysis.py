"""Analysis of a shaped ONNX graph: node costs, the operator DAG, units and their DAG.

Units
-----
The optimizer places *units*, not single ONNX nodes. A unit is one main
operator plus the nodes folded into it:

- trivial nodes (Reshape, Transpose, Cast, Identity, Flatten, Dropout, Shape and
  other shape arithmetic whose outputs are tiny integer tensors) and
  runtime-fused epilogues (BatchNormalization, activations, elementwise ops such
  as bias and residual adds) join the unit of their latest producer, which is
  what onnxruntime's fusions do;
- such nodes with no producing unit (they read only graph inputs or constants)
  join the earliest unit that consumes them; ``Constant`` nodes too.

Every unit-to-unit edge therefore goes from an earlier-created unit to a
later-created one, so the unit DAG is acyclic by construction; units are then
numbered in a topological order.
"""

from __future__ import annotations

__all__ = ["Unit", "Cut", "AnalysisResult", "analyse", "outer_scope_inputs", "node_inputs",
           "FOLD_ALWAYS", "FOLD_EPILOGUE", "all_graphs"]

import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import onnx
from onnx import numpy_helper

from planner_app.core.models.flops import ELEMENTWISE_FLOPS, NodeCost, node_cost
from planner_app.core.models.loading import ITEMSIZE, subgraphs

#: nodes that always fold into a neighbour
FOLD_ALWAYS = frozenset(
    {
        "Reshape", "Transpose", "Cast", "CastLike", "Shape", "Size", "Unsqueeze", "Squeeze",
        "Identity", "Flatten", "Dropout", "ConstantOfShape", "Range", "Expand", "Constant",
    }
)
#: nodes a runtime fuses into the operator producing their input
FOLD_EPILOGUE = frozenset(set(ELEMENTWISE_FLOPS) | {"BatchNormalization"})
#: outputs at most this many integer elements are shape metadata, not activations
_TINY_METADATA_ELEMENTS = 64


@dataclass
class Unit:
    """A meaningful unit of work: one main operator and the trivial nodes folded into it.

    ``id`` is the position in topological order; ``node_names`` lists every
    ONNX node folded in (for profiling attribution); ``param_bytes`` counts the
    initializers it reads (a shared initializer counts in each unit reading it);
    ``inputs``/``outputs`` are activation tensors crossing the unit boundary
    (graph inputs included, initializers not).
    """

    id: int
    name: str
    op_types: list[str]
    node_names: list[str]
    flops: float
    macs: float
    param_bytes: int
    output_bytes: int
    inputs: list[str]
    outputs: list[str]
    has_subgraph: bool = False
    costed: bool = True


@dataclass
class Cut:
    """A cut after ``units[0..position]``: the tensors that cross it and their bytes.

    Graph inputs consumed after the cut do not cross (the source feeds them
    directly); graph outputs produced before it do not cross either (they go to
    whoever consumes the result).
    """

    position: int
    tensors: list[str]
    bytes: int


@dataclass
class AnalysisResult:
    graph: nx.DiGraph
    units: list[Unit]
    unit_graph: nx.DiGraph
    tensor_bytes: dict[str, int]
    tensor_producer: dict[str, int]
    tensor_consumers: dict[str, list[int]]
    node_to_unit: dict[str, int]
    not_costed: dict[str, int]
    total_param_bytes: int
    tensor_shapes: dict[str, list[int]]
    graph_outputs: list[str]
    unknown_shapes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _graph_outer_refs(graph: onnx.GraphProto) -> list[str]:
    defined = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    refs: dict[str, None] = {}
    for node in graph.node:
        for name in list(node.input) + outer_scope_inputs(node):
            if name and name not in defined:
                refs[name] = None
        defined.update(o for o in node.output if o)
    return list(refs)


def outer_scope_inputs(node: onnx.NodeProto) -> list[str]:
    """Names that ``node``'s subgraphs (If/Loop/Scan bodies) read from the enclosing graph."""
    refs: dict[str, None] = {}
    for g in subgraphs(node):
        for name in _graph_outer_refs(g):
            refs[name] = None
    return list(refs)


def node_inputs(node: onnx.NodeProto) -> list[str]:
    """Every tensor ``node`` reads: its inputs and what its subgraphs read from outside."""
    names = dict.fromkeys(n for n in node.input if n)
    for name in outer_scope_inputs(node):
        names[name] = None
    return list(names)


def all_graphs(graph: onnx.GraphProto) -> list[onnx.GraphProto]:
    """``graph`` and every subgraph nested in it (If branches, Loop and Scan bodies), outermost first."""
    out = [graph]
    for node in graph.node:
        for sub in subgraphs(node):
            out.extend(all_graphs(sub))
    return out


def _subgraph_weight_bytes(node: onnx.NodeProto) -> dict[str, int]:
    """Initializers (and Constant tensors) inside ``node``'s subgraphs, by name: the weights of its branches."""
    found: dict[str, int] = {}
    for sub in subgraphs(node):
        for g in all_graphs(sub):
            for t in g.initializer:
                found[f"{node.name}/{g.name}/{t.name}"] = _tensor_nbytes(t)
            for n in g.node:
                if n.op_type == "Constant":
                    for attr in n.attribute:
                        if attr.type == onnx.AttributeProto.TENSOR:
                            found[f"{node.name}/{g.name}/{n.output[0]}"] = _tensor_nbytes(attr.t)
    return found


def _tensor_nbytes(t: onnx.TensorProto) -> int:
    n: int = math.prod(t.dims)
    return n * ITEMSIZE.get(t.data_type, 4)


def analyse(
    model: onnx.ModelProto,
    shapes: dict[str, list[int]],
    dtypes: dict[str, int],
    label: str,
) -> AnalysisResult:
    """Cost every node, fold nodes into units, and build the node and unit DAGs."""
    g = model.graph
    nodes = list(g.node)
    graph_outputs = [o.name for o in g.output]
    output_set = set(graph_outputs)

    const_bytes: dict[str, int] = {t.name: _tensor_nbytes(t) for t in g.initializer}
    small_values: dict[str, np.ndarray] = {
        t.name: numpy_helper.to_array(t) for t in g.initializer if math.prod(t.dims) <= 16
    }
    constant_nodes: set[int] = set()
    for i, node in enumerate(nodes):
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output[0] not in output_set:
            constant_nodes.add(i)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    const_bytes[node.output[0]] = _tensor_nbytes(attr.t)
                    if math.prod(attr.t.dims) <= 16:
                        small_values[node.output[0]] = numpy_helper.to_array(attr.t)
                else:  # value_float(s)/value_int(s): a handful of numbers
                    const_bytes[node.output[0]] = 8

    def shape_of(name: str) -> list[int] | None:
        return shapes.get(name)

    def subgraph_cost(sub: onnx.GraphProto) -> NodeCost:
        flops = macs = 0.0
        costed = True
        for n in sub.node:
            c = node_cost(n, shape_of, small_values, subgraph_cost)
            flops += c.flops
            macs += c.macs
            costed = costed and c.costed
        return NodeCost(flops, macs, costed)

    unknown: list[str] = []

    def nbytes(name: str) -> int:
        s = shapes.get(name)
        if s is None:
            unknown.append(name)
            return 0
        return math.prod(s) * ITEMSIZE.get(dtypes.get(name, 1), 4)

    init_names = {t.name for t in g.initializer}
    graph_inputs = [vi.name for vi in g.input if vi.name not in init_names]
    tensor_bytes: dict[str, int] = {name: nbytes(name) for name in graph_inputs}
    producer_node: dict[str, int] = {}
    consumers: dict[str, list[int]] = {}
    act_inputs: list[list[str]] = []
    const_inputs: list[list[str]] = []
    costs: list[NodeCost] = []
    not_costed: dict[str, int] = {}
    nxg = nx.DiGraph()
    for i, node in enumerate(nodes):
        reads = node_inputs(node)
        act_inputs.append([t for t in reads if t not in const_bytes])
        const_inputs.append([t for t in reads if t in const_bytes])
        # a branch's own weights belong to the node that holds the branch (named apart: not graph tensors)
        inner = _subgraph_weight_bytes(node)
        const_bytes.update(inner)
        const_inputs[-1].extend(inner)
        for t in reads:
            consumers.setdefault(t, []).append(i)
        if i not in constant_nodes:
            for o in node.output:
                if o:
                    producer_node[o] = i
                    tensor_bytes[o] = nbytes(o)
        cost = node_cost(node, shape_of, small_values, subgraph_cost)
        costs.append(cost)
        if not cost.costed:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}:{node.op_type}"
            not_costed[key] = not_costed.get(key, 0) + 1
        nxg.add_node(
            node.name, op_type=node.op_type, domain=node.domain or "ai.onnx", index=i,
            flops=cost.flops, macs=cost.macs, costed=cost.costed,
            param_bytes=sum(const_bytes[t] for t in const_inputs[i]),
            output_bytes=sum(tensor_bytes.get(o, 0) for o in node.output if o),
        )
    for i, node in enumerate(nodes):
        for t in act_inputs[i]:
            p = producer_node.get(t)
            if p is None:
                continue
            src = nodes[p].name
            if nxg.has_edge(src, node.name):
                nxg.edges[src, node.name]["tensors"].append(t)
                nxg.edges[src, node.name]["bytes"] += tensor_bytes.get(t, 0)
            else:
                nxg.add_edge(src, node.name, tensors=[t], bytes=tensor_bytes.get(t, 0))

    unit_of = _fold_units(nodes, shapes, dtypes, act_inputs, producer_node, consumers, constant_nodes)
    return _build_units(
        nodes, unit_of, costs, act_inputs, const_inputs, const_bytes, producer_node, consumers,
        tensor_bytes, graph_inputs, graph_outputs, nxg, not_costed, shapes, unknown, constant_nodes,
    )


def _foldable(node: onnx.NodeProto, shapes: dict[str, list[int]], dtypes: dict[str, int]) -> bool:
    if node.domain not in ("", "ai.onnx") or subgraphs(node):
        return False
    if node.op_type in FOLD_ALWAYS or node.op_type in FOLD_EPILOGUE:
        return True
    outs = [o for o in node.output if o]
    # shape arithmetic (Gather/Concat/Slice on shape vectors): tiny integer outputs
    return bool(outs) and all(
        o in shapes
        and dtypes.get(o) in (onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.BOOL)
        and math.prod(shapes[o]) <= _TINY_METADATA_ELEMENTS
        for o in outs
    )


def _fold_units(
    nodes: list[onnx.NodeProto], shapes: dict[str, list[int]], dtypes: dict[str, int], act_inputs: list[list[str]],
    producer_node: dict[str, int], consumers: dict[str, list[int]], constant_nodes: set[int],
) -> list[int]:
    """Unit (creation index) of every node; edges only ever go to a later-created unit."""
    unit_of = [-1] * len(nodes)
    n_units = 0
    pending: list[int] = []
    for i, node in enumerate(nodes):
        if i in constant_nodes:
            pending.append(i)
            continue
        preds = {unit_of[producer_node[t]] for t in act_inputs[i] if t in producer_node}
        preds.discard(-1)
        if _foldable(node, shapes, dtypes):
            if preds:
                unit_of[i] = max(preds)
            else:
                pending.append(i)
        else:
            unit_of[i] = n_units
            n_units += 1
    # reverse order: a pending node's consumers are resolved before it
    for i in reversed(pending):
        cons = {unit_of[c] for o in nodes[i].output if o for c in consumers.get(o, [])}
        cons.discard(-1)
        if cons:
            unit_of[i] = min(cons)
        else:
            unit_of[i] = n_units
            n_units += 1
    return unit_of


def _build_units(
    nodes: list[onnx.NodeProto], unit_of: list[int], costs: list[NodeCost], act_inputs: list[list[str]],
    const_inputs: list[list[str]], const_bytes: dict[str, int], producer_node: dict[str, int],
    consumers: dict[str, list[int]], tensor_bytes: dict[str, int], graph_inputs: list[str], graph_outputs: list[str],
    nxg: nx.DiGraph, not_costed: dict[str, int], shapes: dict[str, list[int]], unknown: list[str],
    constant_nodes: set[int],
) -> AnalysisResult:
    n_created = max(unit_of) + 1 if unit_of else 0
    members: list[list[int]] = [[] for _ in range(n_created)]
    for i, u in enumerate(unit_of):
        members[u].append(i)
    # order units topologically, breaking ties by their first node (the file's order)
    created_dag = nx.DiGraph()
    created_dag.add_nodes_from(range(n_created))
    for t, p in producer_node.items():
        for c in consumers.get(t, []):
            if unit_of[c] != unit_of[p]:
                created_dag.add_edge(unit_of[p], unit_of[c])
    order = list(nx.lexicographical_topological_sort(created_dag, key=lambda u: members[u][0]))
    renumber = {old: new for new, old in enumerate(order)}
    unit_of = [renumber[u] for u in unit_of]
    members = [members[old] for old in order]

    output_set = set(graph_outputs)
    tensor_producer = {t: unit_of[p] for t, p in producer_node.items()}
    tensor_consumers: dict[str, list[int]] = {}
    for t in list(tensor_producer) + graph_inputs:
        cons = sorted({unit_of[c] for c in consumers.get(t, [])} - {tensor_producer.get(t, -1)})
        if cons:
            tensor_consumers[t] = cons

    units: list[Unit] = []
    node_to_unit: dict[str, int] = {}
    for uid, idxs in enumerate(members):
        idxs.sort()
        inside = {o for i in idxs for o in nodes[i].output if o}
        main = next((i for i in idxs if i not in constant_nodes and not _is_folded_kind(nodes[i])), idxs[0])
        ordered = [main] + [i for i in idxs if i != main]
        ins: dict[str, None] = {}
        params: dict[str, None] = {}
        for i in idxs:
            for t in act_inputs[i]:
                if t not in inside:
                    ins[t] = None
            for t in const_inputs[i]:
                params[t] = None
        outs = [o for i in idxs if i not in constant_nodes for o in nodes[i].output
                if o and (o in output_set or any(c != uid for c in tensor_consumers.get(o, [])))]
        for i in idxs:
            node_to_unit[nodes[i].name] = uid
        units.append(Unit(
            id=uid,
            name=nodes[main].name,
            op_types=[nodes[i].op_type for i in ordered],
            node_names=[nodes[i].name for i in idxs],
            flops=float(sum(costs[i].flops for i in idxs)),
            macs=float(sum(costs[i].macs for i in idxs)),
            param_bytes=int(sum(const_bytes[t] for t in params)),
            output_bytes=int(sum(tensor_bytes.get(o, 0) for o in outs)),
            inputs=list(ins),
            outputs=outs,
            has_subgraph=any(subgraphs(nodes[i]) for i in idxs),
            costed=all(costs[i].costed for i in idxs),
        ))

    unit_graph = nx.DiGraph()
    for u in units:
        unit_graph.add_node(u.id, name=u.name, flops=u.flops, param_bytes=u.param_bytes)
    for t, p in tensor_producer.items():
        for c in tensor_consumers.get(t, []):
            if unit_graph.has_edge(p, c):
                unit_graph.edges[p, c]["tensors"].append(t)
                unit_graph.edges[p, c]["bytes"] += tensor_bytes.get(t, 0)
            else:
                unit_graph.add_edge(p, c, tensors=[t], bytes=tensor_bytes.get(t, 0))

    all_params = set(const_bytes)
    return AnalysisResult(
        graph=nxg,
        units=units,
        unit_graph=unit_graph,
        tensor_bytes=tensor_bytes,
        tensor_producer=tensor_producer,
        tensor_consumers=tensor_consumers,
        node_to_unit=node_to_unit,
        not_costed=not_costed,
        total_param_bytes=int(sum(const_bytes[t] for t in all_params)),
        tensor_shapes={t: shapes[t] for t in tensor_bytes if t in shapes},
        graph_outputs=graph_outputs,
        unknown_shapes=sorted(set(unknown)),
    )


def _is_folded_kind(node: onnx.NodeProto) -> bool:
    return node.domain in ("", "ai.onnx") and (node.op_type in FOLD_ALWAYS or node.op_type in FOLD_EPILOGUE)
