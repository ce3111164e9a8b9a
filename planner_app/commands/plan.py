"""``edgeplan plan validate|show``: check and print exported deployment plans."""

from __future__ import annotations

import argparse
import sys

from planner_app.commands._options import check_number
from planner_app.commands._plan_view import plan_text
from planner_app.core.plans.check import validate_plan


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
        description="Check a plan: the JSON Schema and every field; that its figures agree with each other "
        "and with its embedded topology (stages, transfers, routes, totals); each part's presence inside the "
        "plan's folder (symlinks leading out are refused), size and sha256, and that its contents match its "
        "level; "
        "that each part reads and writes the tensors its stage declares, and that the parts run in a "
        "chain on random inputs of the declared shapes and give the model's outputs (equal within "
        "1e-5 for fp32 plans; for compressed levels the fidelity is reported instead). "
        "Exit 0 when valid, 2 otherwise.",
    )
    v.add_argument("file", metavar="PLAN.json", help="the plan file (its parts/ folder sits next to it)")
    v.add_argument("--model", metavar="M.onnx", default=None,
                   help="the original model (a file or sample:NAME), when it is no longer where the plan says; "
                        "it must be the model the plan was made from (same sha256), else exit 2")
    v.add_argument("--topology", metavar="T.json", default=None,
                   help="the topology file to compare with the plan's embedded copy (the path the plan records "
                        "is never opened)")
    v.add_argument("--no-chain", action="store_true", help="check schema and hashes only (fast)")
    v.add_argument("--samples", type=int, default=2, metavar="N",
                   help="random inputs to run, 1 to 1000 (default 2)")
    v.set_defaults(func=_validate)

    s = psub.add_parser("show", help="print the plan's stages, transfers, figures and baselines",
                        description="Print a plan as tables. The cheap checks of `plan validate` run first "
                        "(schema, fields, figures re-derived, each part's presence inside the plan's folder, size, "
                        "sha256 and level; no part is run): a plan that cannot be read exits 2; a readable plan "
                        "with problems (a part changed or missing, a figure edited) "
                        "is printed under a NOT VALID banner listing them, and exits 0. Run `edgeplan plan "
                        "validate` for the full check, including the chain.")
    s.add_argument("file", metavar="PLAN.json")
    s.set_defaults(func=_show)


def _validate(args: argparse.Namespace) -> int:
    check_number("--samples", args.samples, 1, 1000)
    rep = validate_plan(args.file, check_chain=not args.no_chain, model_path=args.model,
                        topology_path=args.topology, samples=args.samples)
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
    rep = validate_plan(args.file, check_chain=False)
    if rep.plan is None:
        rep.raise_for_problems()  # not readable as a plan: nothing to show (exit 2)
    assert rep.plan is not None  # an unreadable plan always has problems
    for w in rep.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if rep.problems:
        n = len(rep.problems)
        banner = [f"WARNING: this plan is NOT VALID ({n} problem{'s' if n != 1 else ''}); what it records "
                  "does not match its parts, its topology or its own figures:",
                  *[f"  - {p}" for p in rep.problems],
                  "Re-export it with `edgeplan optimize`; `edgeplan plan validate` gives the full check.", ""]
        print("\n".join(banner))
        print(f"edgeplan: warning: plan '{args.file}' is not valid ({n} problem{'s' if n != 1 else ''})",
              file=sys.stderr)
    print(plan_text(rep.plan))
    return 0
