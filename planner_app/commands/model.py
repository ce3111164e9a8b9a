"""``edgeplan model inspect|split``: analyse an ONNX model; cut it into runnable parts.

Other modules add actions to the ``model`` group: ``register`` calls
``planner_app.commands.model_profile.register_profile(model_sub)`` when that
module exists, and every function in :data:`MODEL_SUBCOMMAND_HOOKS` with the
same argument. :func:`add_model_argument` and :func:`load_model_from_args` give
those actions the same ``MODEL`` and ``--shape`` handling as ``inspect``.
"""

from __future__ import annotations

__all__ = [
    "register",
    "MODEL_SUBCOMMAND_HOOKS",
    "add_model_argument",
    "load_model_from_args",
    "EXIT_MISMATCH",
    "named_as_given",
]

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from planner_app.commands._model_args import (
    add_model_argument,
    load_model_from_args,
    named_as_given,
)
from planner_app.commands._options import check_number
from planner_app.commands._table import format_table
from planner_app.core.errors import PlannerError
from planner_app.core.models.graph import ModelGraph
from planner_app.core.models.partition import (
    PartitionError,
    check_chain,
    split_stages,
    stages_from_cut_tensors,
    stages_from_positions,
    write_parts,
)
from planner_app.core.plans.export import check_out_dir

#: ``edgeplan model split`` exit status when the parts were written but differ from the model
EXIT_MISMATCH = 4

#: functions ``f(model_subparsers)`` that add more ``edgeplan model`` actions
MODEL_SUBCOMMAND_HOOKS: list[Callable[[argparse._SubParsersAction], None]] = []  # type: ignore[type-arg]

def _tolerance(text: str) -> float:
    """A check tolerance: a finite number >= 0 (argparse turns the error into exit 2 with usage)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (e.g. 1e-5)") from None
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r}: a tolerance must be a finite number >= 0 (e.g. 1e-5)")
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "model", help="inspect an ONNX model or split it into runnable parts",
        description="Analyse ONNX models and cut them into parts. MODEL is an .onnx file or "
        "sample:NAME (mobilenet_v2, resnet18, transformer_encoder, yolo_detector, lstm_kws).",
    )
    model_sub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    i = model_sub.add_parser(
        "inspect", help="operators, FLOPs, parameters, sizes and the cheapest cuts",
        description="Print a model's summary: operators by count, FLOPs and MACs per request, "
        "parameters, file size, opsets, inputs and outputs, the values used for dynamic "
        "dimensions, operators without a cost formula, and the ten cut points that carry the "
        "fewest bytes. Exit 0, or 2 when the model cannot be used.",
        epilog="Example: edgeplan model inspect sample:resnet18 --units",
    )
    add_model_argument(i)
    i.add_argument("--cuts", type=int, default=10, metavar="K", help="how many cheapest cuts to list (default 10)")
    i.add_argument("--units", action="store_true", help="also list every unit (after folding trivial nodes)")
    i.add_argument("--json", action="store_true", help="print the summary as JSON instead of tables")
    i.set_defaults(func=_inspect)

    s = model_sub.add_parser(
        "split", help="write one runnable ONNX file per stage and check them against the model",
        description="Cut MODEL at the given tensors (or unit positions), write one runnable ONNX "
        "file per stage into DIR (part_00_<name>.onnx, ...), then run the whole model and the "
        "chained parts with onnxruntime on the same random inputs and compare every output.",
        epilog="Exit codes: 0 parts written and equal to the model; 2 bad input (model, shape or "
        "cut, with the reason); 4 parts written but their outputs differ from the model's. "
        "Example: edgeplan model split sample:resnet18 --cut layer2.1.relu --out parts/",
    )
    add_model_argument(s)
    s.add_argument(
        "--cut", action="append", default=[], metavar="TENSOR[,TENSOR...]",
        help="a cut: every tensor that crosses it, comma-separated (a cut inside a residual block "
        "names the skip tensor too); repeat for more stages. `model inspect` lists cut tensors.",
    )
    s.add_argument("--at", type=int, action="append", default=[], metavar="POSITION",
                   help="cut after unit POSITION instead (repeatable; positions as `inspect --units` shows)")
    s.add_argument("--out", required=True, metavar="DIR", help="folder for the part files (created)")
    s.add_argument("--no-check", action="store_true", help="write the parts without the equivalence check")
    s.add_argument("--rtol", type=_tolerance, default=1e-5,
                   help="relative tolerance of the check, a number >= 0 (default 1e-5)")
    s.add_argument("--atol", type=_tolerance, default=1e-6,
                   help="absolute tolerance of the check, a number >= 0 (default 1e-6)")
    s.set_defaults(func=_split)

    try:
        from planner_app.commands.model_profile import register_profile
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("planner_app.commands"):
            raise
    else:
        register_profile(model_sub)
    for hook in MODEL_SUBCOMMAND_HOOKS:
        hook(model_sub)


def _si(value: float, unit: str) -> str:
    """``3.64e9, "FLOPs"`` -> ``3.64 GFLOPs``: the same column reads well for 1 kB and 40 GB."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _dims(shape: list[int]) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def _inspect(args: argparse.Namespace) -> int:
    check_number("--cuts", args.cuts, 0, 1_000_000)
    mg = load_model_from_args(args)
    with named_as_given(mg, args.model):
        return _inspect_model(args, mg)


def _inspect_model(args: argparse.Namespace, mg: ModelGraph) -> int:
    summary = mg.summary()
    cuts = []
    for c in mg.cuts():
        later_inputs = _inputs_read_after(mg, c.position)
        extra = sum(mg.tensor_bytes.get(t, 0) for t in later_inputs)
        cuts.append({
            "position": c.position, "after_unit": mg.units[c.position].name, "bytes": c.bytes, "tensors": c.tensors,
            "graph_inputs_after": later_inputs, "graph_input_bytes": extra, "total_bytes": c.bytes + extra,
        })
    # cheapest by what the part after the cut must receive: the crossing tensors and the model inputs it reads
    cuts.sort(key=lambda c: (c["total_bytes"], c["position"]))
    summary["cheapest_cuts"] = cuts[: max(0, args.cuts)]
    if args.json:
        if args.units:
            summary["unit_list"] = [
                {"id": u.id, "name": u.name, "op_types": u.op_types, "nodes": u.node_names, "flops": u.flops,
                 "param_bytes": u.param_bytes, "output_bytes": u.output_bytes, "outputs": u.outputs}
                for u in mg.units
            ]
        print(json.dumps(summary, indent=2))
        return 0
    where = args.model if not mg.path or args.model == str(mg.path) else f"{args.model}, file {mg.path}"
    out = [f"Model {mg.name} ({where})", f"  sha256        {mg.sha256}"]
    out.append("  opsets        " + ", ".join(f"{d} {v}" for d, v in mg.opsets.items()))
    for name, shape in mg.inputs.items():
        out.append(f"  input         {name}: {mg.input_dtypes[name]} {_dims(shape)}")
    for name, shape in mg.outputs.items():
        out.append(f"  output        {name}: {_dims(shape)}")
    dyn = ", ".join(f"{k}={v}" for k, v in mg.dynamic_dims.items()) or "none"
    out.append(f"  dynamic dims  {dyn}")
    out.append(f"  nodes         {summary['nodes']:,} in {summary['units']:,} units")
    out.append(f"  FLOPs         {_si(mg.total_flops, 'FLOPs')} per request ({_si(mg.total_macs, 'MACs')})")
    out.append(f"  parameters    {_si(mg.total_params, '').strip()} ({_si(mg.total_param_bytes, 'B')})")
    out.append(f"  model size    {_si(mg.model_bytes, 'B')}")
    nc = ", ".join(f"{k} x{v}" for k, v in mg.not_costed.items()) or "none"
    out.append(f"  not costed    {nc}")
    for w in mg.warnings:
        out.append(f"  note          {w}")
    out.append("")
    out.append(format_table(["op", "count"], list(summary["ops_by_count"].items()), title="Operators"))
    if args.units:
        out.append("")
        out.append(format_table(
            ["unit", "name", "ops", "MFLOPs", "param kB", "out kB"],
            [[u.id, u.name, "+".join(u.op_types[:4]) + ("+..." if len(u.op_types) > 4 else ""),
              u.flops / 1e6, u.param_bytes / 1e3, u.output_bytes / 1e3] for u in mg.units],
            title=f"Units ({len(mg.units)})"))  # fmt: skip
    out.append("")
    cuts = summary["cheapest_cuts"]
    out.append(format_table(
        ["after unit", "name", "cut kB", "+ inputs kB", "total kB", "tensors (--cut)", "+ graph inputs"],
        [[c["position"], c["after_unit"], c["bytes"] / 1e3, c["graph_input_bytes"] / 1e3, c["total_bytes"] / 1e3,
          ",".join(c["tensors"]), ",".join(c["graph_inputs_after"]) or "-"] for c in cuts],
        title=f"Cheapest cuts ({len(cuts)} of {max(0, len(mg.units) - 1)}, by total bytes sent across)"))  # fmt: skip
    if any(c["graph_input_bytes"] for c in cuts):
        out.append("  + inputs: model inputs that the part after the cut reads too (sent from the source "
                   "alongside the cut tensors); `model split` lists them among the part's inputs")
    print("\n".join(out))
    return 0


def _inputs_read_after(mg: ModelGraph, position: int) -> list[str]:
    """The model inputs that a unit after ``position`` reads (the part after a cut there needs them too)."""
    return [name for name in mg.inputs if any(u > position for u in mg.tensor_consumers.get(name, []))]


def _split(args: argparse.Namespace) -> int:
    if not args.cut and not args.at:
        raise PartitionError("model split needs at least one --cut TENSOR[,TENSOR...] or --at POSITION.")
    if args.cut and args.at:
        raise PartitionError("give cuts either as --cut tensors or as --at positions, not both.")
    check_out_dir(args.out, "the parts", "--out")  # before loading and cutting the model
    mg = load_model_from_args(args)
    with named_as_given(mg, args.model):
        return _split_model(args, mg)


def _split_model(args: argparse.Namespace, mg: ModelGraph) -> int:
    if args.cut:
        stages = stages_from_cut_tensors(mg, [c.split(",") for c in args.cut])
    else:
        stages = stages_from_positions(mg, args.at)
    parts = split_stages(mg, stages)
    paths = write_parts(parts, Path(args.out))
    print(format_table(
        ["part", "file", "units", "inputs", "outputs", "kB"],
        [[p.index, path.name, f"{p.unit_ids[0]}-{p.unit_ids[-1]}", ",".join(p.inputs), ",".join(p.outputs),
          path.stat().st_size / 1e3] for p, path in zip(parts, paths, strict=True)],
        title=f"{len(parts)} parts of {mg.name} in {args.out}"))  # fmt: skip
    if args.no_check:
        return 0
    try:
        report = check_chain(mg, paths, rtol=args.rtol, atol=args.atol)
    except PlannerError as exc:
        raise type(exc)(
            f"the parts are written to {args.out}, but the equivalence check cannot run: {exc.message}. "
            "Rerun with --no-check to skip the check.", problems=exc.problems,
        ) from None
    print(f"check: {report}")
    if not report.ok:
        print("edgeplan: the chained parts differ from the model (exit 4)", file=sys.stderr)
        return EXIT_MISMATCH
    return 0


