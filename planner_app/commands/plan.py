"""``edgeplan plan validate|show``: check and print exported deployment plans."""

from __future__ import annotations

import argparse
import sys

from planner_app.commands._plan_view import plan_text
from planner_app.core.plan import load_plan
from planner_app.core.plan_check import validate_plan


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "plan",
        help="validate or show an exported deployment plan",
        description="Work with deployment plans written by `edgeplan optimize`.",
    )
    psub = p.add_subparsers(dest="plan_command", metavar="ACTION", required=True)

    v = psub.add_parser(
        "validate",
        help="check a plan, its part files and their chain; exit 0 when valid, 2 otherwise",
        description="Check a plan: the JSON Schema and every field, each part's presence and sha256, "
        "that each part reads and writes the tensors its stage declares, and that the parts run in a "
        "chain on random inputs of the declared shapes and give the model's outputs (equal within "
        "1e-5 for fp32 plans; for compressed levels the fidelity is reported instead). "
        "Exit 0 when valid, 2 otherwise.",
    )
    v.add_argument("file", metavar="PLAN.json", help="the plan file (its parts/ folder sits next to it)")
    v.add_argument("--model", metavar="M.onnx", default=None,
                   help="the original model, when it is no longer where the plan says")
    v.add_argument("--no-chain", action="store_true", help="check schema and hashes only (fast)")
    v.add_argument("--samples", type=int, default=2, metavar="N", help="random inputs to run (default 2)")
    v.set_defaults(func=_validate)

    s = psub.add_parser("show", help="print the plan's stages, transfers, figures and baselines",
                        description="Print a validated plan as tables (no part is run).")
    s.add_argument("file", metavar="PLAN.json")
    s.set_defaults(func=_show)


def _validate(args: argparse.Namespace) -> int:
    if args.samples < 1:
        print("edgeplan: error: --samples must be at least 1", file=sys.stderr)
        return 2
    rep = validate_plan(args.file, check_chain=not args.no_chain, model_path=args.model, samples=args.samples)
    for w in rep.warnings:
        print(f"warning: {w}", file=sys.stderr)
    rep.raise_for_problems()  # the dispatcher prints each problem and exits 2
    plan = rep.plan
    assert plan is not None
    print(f"{args.file}: valid plan, schema_version {plan.schema_version}, {len(plan.stages)} stages, "
          f"{rep.checked_parts} parts with matching sha256")  # fmt: skip
    c = rep.chain
    if c is None:
        print("chain: not run (--no-chain)")
    elif not c.compared_to_model:
        print(f"chain: the parts run and produce {', '.join(c.outputs)} on {c.samples} random inputs "
              "(not compared: the original model was not found)")  # fmt: skip
    elif c.lossless:
        print(f"chain: equals the model on {c.samples} random inputs (max abs diff {c.max_abs_diff:.3g})")
    else:
        top1 = "" if c.top1_agreement is None else f", top-1 agreement {c.top1_agreement:.3f}"
        print(f"chain: compressed parts vs the fp32 model on {c.samples} random inputs: cosine "
              f"{c.cosine:.6f}, max abs diff {c.max_abs_diff:.3g}{top1}")  # fmt: skip
    return 0


def _show(args: argparse.Namespace) -> int:
    print(plan_text(load_plan(args.file)))
    return 0
