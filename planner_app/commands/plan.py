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
    v.add_argument("file", metavar="PLAN.json", help="the plan file (its parts/ folder sits next to it); a joint plan "
                   "(optimize --workload all) is checked section by section, then its load on every shared device "
                   "and link is re-derived and must stay below 100 %%, and memory summed within each device's")
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


def _is_joint(path: str) -> bool:
    """Whether the file is a joint plan (``edgeplan optimize --workload all``); unreadable files are not
    (the single-plan checker then names what is wrong with them)."""
    from planner_app.core.errors import PlannerError
    from planner_app.core.fileio import read_json
    from planner_app.core.plans.joint import is_joint_document

    try:
        return is_joint_document(read_json(path, "plan file"))
    except PlannerError:
        return False


def _validate_joint(args: argparse.Namespace) -> int:
    from planner_app.core.errors import PlannerError
    from planner_app.core.plans.check import validate_joint_plan

    if args.model is not None:
        raise PlannerError(f"--model does not apply to the joint plan {args.file}: each workload has its own model "
                           "(sample models are found by themselves); drop --model")
    rep = validate_joint_plan(args.file, check_chain=not args.no_chain, topology_path=args.topology,
                              samples=args.samples)
    for w in rep.warnings:
        print(f"warning: {w}", file=sys.stderr)
    rep.raise_for_problems()
    plan = rep.plan
    assert plan is not None
    busiest = max(plan.load, key=lambda r: r.utilization, default=None)
    print(f"{args.file}: valid joint plan, schema_version {plan.schema_version}, {len(plan.workloads)} workloads, "
          f"{sum(len(w.stages) for w in plan.workloads)} stages, {rep.checked_parts} parts with matching sha256")
    if busiest is not None:
        print(f"load: every device and link below 100 % with all workloads at their rates (busiest: "
              f"{busiest.resource} at {100 * busiest.utilization:.1f} %); memory within every device's")
    chained = [s for s in rep.sections if s.chain is not None]
    if args.no_chain:
        print("chain: not run (--no-chain)")
    else:
        print(f"chain: the parts of {len(chained)} workload(s) run in a chain on {args.samples} random inputs each")
    return 0


def _show_joint(args: argparse.Namespace) -> int:
    from planner_app.commands._joint_view import joint_text
    from planner_app.core.plans.check import validate_joint_plan

    rep = validate_joint_plan(args.file, check_chain=False)
    if rep.plan is None:
        rep.raise_for_problems()
    assert rep.plan is not None
    for w in rep.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if rep.problems:
        n = len(rep.problems)
        print("\n".join([f"WARNING: this joint plan is NOT VALID ({n} problem{'s' if n != 1 else ''}):",
                         *[f"  - {p}" for p in rep.problems],
                         "Plan again with `edgeplan optimize --workload all`; `edgeplan plan validate` gives the "
                         "full check.", ""]))
        print(f"edgeplan: warning: plan '{args.file}' is not valid ({n} problem{'s' if n != 1 else ''})",
              file=sys.stderr)
    print(joint_text(rep.plan))
    return 0


def _validate(args: argparse.Namespace) -> int:
    check_number("--samples", args.samples, 1, 1000)
    if _is_joint(args.file):
        return _validate_joint(args)
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
    if _is_joint(args.file):
        return _show_joint(args)
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
