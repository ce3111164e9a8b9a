"""``edgeplan import``: per-layer measurements made with other tools, as layer tables (and topologies).

``edgeplan import pipeedge MODELS DEVICE_TYPES DEVICES --model NAME --out-topology T.json --out-layers L.json``
``edgeplan import onnxruntime PROFILE.json --device-type TYPE [--model M.onnx] --out-layers L.json``
``edgeplan import tflite BENCHMARK.txt --device-type TYPE --into L.json --out-layers L2.json``

Plan from the result with ``edgeplan optimize --layers L.json --topology T.json``.
The formats are in ``docs/layer_tables.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from planner_app.core.errors import PlannerError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "import",
        help="turn per-layer measurements from other tools into a layer table (and a topology)",
        description="Read per-layer measurements made with other tools (PipeEdge's scheduler files, an "
                    "onnxruntime profile, TFLite's benchmark_model op profiling) into a layer table that "
                    "`edgeplan optimize --layers` plans from. Exit 2 on a malformed input, naming the file "
                    "and the key or row.",
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    pe = kinds.add_parser("pipeedge", help="PipeEdge's models.yml, device_types.yml and devices.yml",
                          description="PipeEdge's scheduler inputs (README_Scheduler.md) as a layer table and a "
                                      "topology: one device per host, a full mesh of links.")
    pe.add_argument("models", metavar="MODELS.yml")
    pe.add_argument("device_types", metavar="DEVICE_TYPES.yml")
    pe.add_argument("devices", metavar="DEVICES.yml")
    pe.add_argument("--model", required=True, metavar="NAME", help="the model of MODELS.yml to import")
    pe.add_argument("--out-topology", required=True, metavar="T.json", help="where to write the topology")
    pe.add_argument("--out-layers", required=True, metavar="L.json", help="where to write the layer table (.json or .csv)")
    pe.set_defaults(func=_pipeedge)

    ort = kinds.add_parser("onnxruntime", help="an onnxruntime profiler JSON (per-node times of a run elsewhere)",
                           description="Per-node kernel times of an onnxruntime profile (SessionOptions."
                                       "enable_profiling) as a layer table for one device type. With --model the "
                                       "nodes are mapped onto the model's units (sizes and FLOPs from the model); "
                                       "without, each node is a layer of a chain, its sizes from the profile.")
    ort.add_argument("profile", metavar="PROFILE.json")
    ort.add_argument("--device-type", required=True, metavar="TYPE", help="the device type the profile was run on")
    ort.add_argument("--model", metavar="M.onnx", help="the profiled model (ONNX file or sample:NAME)")
    ort.add_argument("--level", default="fp32", metavar="LEVEL", help="the compression level that ran (default fp32)")
    ort.add_argument("--into", metavar="L.json", help="add the times to this layer table (same layers) instead")
    ort.add_argument("--out-layers", required=True, metavar="L.json")
    ort.set_defaults(func=_onnxruntime)

    tfl = kinds.add_parser("tflite", help="TFLite benchmark_model --enable_op_profiling output",
                           description="The op-profiling table of TFLite's benchmark_model (run order, avg ms) "
                                       "as the times of one device type, added to a layer table that has the "
                                       "sizes (matched by layer name, or in order with --by-order).")
    tfl.add_argument("benchmark", metavar="BENCHMARK.txt")
    tfl.add_argument("--device-type", required=True, metavar="TYPE")
    tfl.add_argument("--into", required=True, metavar="L.json",
                     help="the layer table to add the times to (TFLite's output has no tensor sizes)")
    tfl.add_argument("--level", default="fp32", metavar="LEVEL", help="the compression level that ran (default fp32)")
    tfl.add_argument("--by-order", action="store_true",
                     help="match ops to layers in run order (counts must agree) instead of by name")
    tfl.add_argument("--out-layers", required=True, metavar="L.json")
    tfl.set_defaults(func=_tflite)


def _check_out(path: str, suffixes: tuple[str, ...], flag: str) -> Path:
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise PlannerError(f"{flag} {path}: give a {' or '.join(suffixes)} path")
    return p


def _pipeedge(args: argparse.Namespace) -> int:
    from planner_app.core.models.layer_table import LayerTable, write_layer_table
    from planner_app.core.profiling.readers.pipeedge import read_pipeedge
    from planner_app.core.topology.io import save_topology

    layers_out = _check_out(args.out_layers, (".json", ".csv"), "--out-layers")
    topo_out = _check_out(args.out_topology, (".json",), "--out-topology")
    imp = read_pipeedge(args.models, args.device_types, args.devices, args.model)
    LayerTable(imp.table, f"the layer table of {args.model!r}")  # checked before anything is written
    write_layer_table(imp.table, layers_out)
    save_topology(imp.topology, topo_out)
    for note in imp.notes:
        print(f"note: {note}")
    print(f"wrote {layers_out} ({len(imp.table.layers)} layers) and {topo_out} "
          f"({len(imp.topology.devices)} devices); plan with:\n"
          f"  edgeplan optimize --layers {layers_out} --topology {topo_out} --objective throughput --out plan.json")
    return 0


def _onnxruntime(args: argparse.Namespace) -> int:
    from planner_app.core.models.layer_table import LayerTable, load_layer_table, write_layer_table
    from planner_app.core.profiling.readers.onnxruntime_profile import (
        layer_table_from_ort_profile,
        read_ort_profile,
    )

    out = _check_out(args.out_layers, (".json", ".csv"), "--out-layers")
    profile = read_ort_profile(args.profile)
    graph = None
    if args.model:
        from planner_app.core.models import load_model

        graph = load_model(args.model)
    into = load_layer_table(args.into) if args.into else None
    doc = layer_table_from_ort_profile(profile, args.device_type, graph=graph, level=args.level, into=into)
    LayerTable(doc, str(out))
    write_layer_table(doc, out)
    print(f"wrote {out}: {len(doc.layers)} layers, times of {args.device_type} at {args.level} from "
          f"{profile.runs} run(s) of {len(profile.node_ms)} nodes")
    return 0


def _tflite(args: argparse.Namespace) -> int:
    from planner_app.core.models.layer_table import LayerTable, load_layer_table, write_layer_table
    from planner_app.core.profiling.readers.tflite import add_tflite_times, read_tflite_benchmark

    out = _check_out(args.out_layers, (".json", ".csv"), "--out-layers")
    ops = read_tflite_benchmark(args.benchmark)
    doc = add_tflite_times(load_layer_table(args.into), ops, args.device_type, level=args.level,
                           by_order=args.by_order, where=args.benchmark)
    LayerTable(doc, str(out))
    write_layer_table(doc, out)
    print(f"wrote {out}: times of {args.device_type} at {args.level} for {len(doc.layers)} layers "
          f"from {len(ops)} ops")
    return 0
