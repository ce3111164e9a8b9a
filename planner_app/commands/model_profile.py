"""``edgeplan model profile``: measure a model at each compression level on this host.

Prints, per level, the whole-run latency (median, p90, CV), the size (as stored and
deflated), the fidelity against fp32 (SQNR, cosine, top-1 agreement), and the share
of the run that per-unit attribution explains; then the ten slowest units. Progress
goes to stderr when it is a terminal. Ctrl-C keeps the levels already measured
(printed, written with ``--out``, and cached) and exits 130.
"""

from __future__ import annotations

__all__ = ["register_profile", "run_profile", "format_profile"]

import argparse
import sys
from pathlib import Path
from typing import Any

from planner_app.commands._model_args import add_model_argument, load_model_from_args
from planner_app.commands._options import MAX_THREADS, check_number
from planner_app.commands._table import format_table
from planner_app.core.compression.levels import CompressionError, load_samples
from planner_app.core.compression.registry import (
    VARIANT_PREFIX,
    is_known_level,
    level_names,
    levels_help,
)
from planner_app.core.errors import PlannerError
from planner_app.core.plans.export import check_out_file
from planner_app.core.profiling.runner import (
    ModelProfile,
    ProfileInterrupted,
    ProfileSettings,
    profile_model,
)

_DEFAULT_LEVELS = "fp32,fp16,int8-dynamic,int8-static"


def register_profile(model_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``profile`` to the ``edgeplan model`` actions."""

    p = model_sub.add_parser(
        "profile", help="measure latency, size and fidelity per compression level on this host",
        description="Compress MODEL to each level, check its outputs against fp32 on sample inputs, "
        "and time it with onnxruntime (warm-up, then N runs, one thread by default); per-unit "
        "times come from onnxruntime's profiler, mapped back to the model's units. Results are "
        "cached per level (model hash, level, settings, samples, host). Exit 0; 2 bad input; "
        "130 interrupted (levels already measured are kept).",
        epilog="Example: edgeplan model profile sample:mobilenet_v2 --levels fp32,int8-static "
        "--runs 20 --out mobilenet.profile.json",
    )
    add_model_argument(p)
    p.add_argument("--levels", default=_DEFAULT_LEVELS, metavar="L1,L2,...",
                   help=f"levels to measure, comma-separated (default: {_DEFAULT_LEVELS}). {_escape(levels_help())}")
    p.add_argument("--runs", type=int, default=30, help="timed runs per level, 1 to 100000 (default 30)")
    p.add_argument("--warmup", type=int, default=3,
                   help="untimed runs first, 0 to 10000; they stop at --max-seconds too (default 3)")
    p.add_argument("--max-seconds", type=float, default=20.0,
                   help="time bound per level for the warm-up and for the timed runs, above 0 (default 20)")
    p.add_argument("--threads", type=int, default=1,
                   help=f"onnxruntime intra-op threads, 1 to {MAX_THREADS} (default 1)")
    p.add_argument("--samples", type=Path, metavar="DIR",
                   help="folder of .npy/.npz inputs for calibration and fidelity (default: synthetic inputs)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=FILE",
                   help=f"a user model (e.g. a distilled student) measured as level {VARIANT_PREFIX}NAME")
    p.add_argument("--out", type=Path, metavar="PROFILE.json", help="write the profile as JSON")
    p.add_argument("--top", type=int, default=10, help="slowest units to list, 0 or more (default 10)")
    p.add_argument("--no-cache", action="store_true", help="measure again even when cached")
    p.add_argument("--agent", metavar="URL", help="profile on the edge agent at URL (`edgeplan agent`) instead of here")
    p.add_argument("--token", help="the agent's bearer token (prefer --token-file)")
    p.add_argument("--token-file", type=Path, metavar="F", help="file whose first line is the agent's token")
    p.set_defaults(func=run_profile)


def _escape(text: str) -> str:
    """``text`` as argparse help (which %-formats it: "50%" would break ``--help``)."""
    return text.replace("%", "%%")


def _parse_levels(text: str, variants: dict[str, str]) -> list[str]:
    levels = list(dict.fromkeys(lv.strip() for lv in text.split(",") if lv.strip()))
    levels += [f"{VARIANT_PREFIX}{n}" for n in variants if f"{VARIANT_PREFIX}{n}" not in levels]
    bad = [lv for lv in levels if not is_known_level(lv)]
    if bad or not levels:
        raise CompressionError(
            f"--levels: unknown level(s) {bad or '(none given)'}; choose from {', '.join(level_names(True))}."
        )
    missing = [lv for lv in levels if lv.startswith(VARIANT_PREFIX) and lv[len(VARIANT_PREFIX):] not in variants]
    if missing:
        raise CompressionError(f"--levels names {missing}: give each file with --variant NAME=FILE.")
    return levels


def _parse_variants(values: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise CompressionError(f"--variant '{v}': expected NAME=FILE, e.g. --variant student=student.onnx.")
        if not Path(path).is_file():
            raise CompressionError(f"--variant '{v}': file '{path}' does not exist.")
        out[name] = path
    return out


def _fmt_bytes(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def _sqnr(db: float) -> float | str:
    """The SQNR column: identical outputs (the fidelity module's 200 dB placeholder) read ``exact``."""
    from planner_app.core.compression.fidelity import SQNR_IDENTICAL_DB

    return "exact" if db >= SQNR_IDENTICAL_DB else round(float(db), 1)


def _clock_words(profile: ModelProfile) -> str:
    return "thread CPU time (a dedicated core)" if profile.settings.uses_cpu_clock() else "wall time"


def format_profile(profile: ModelProfile, top: int = 10) -> str:
    """The tables the command prints: levels, slowest units, cut codecs."""
    rows: list[list[Any]] = []
    for level, lp in profile.levels.items():
        if not lp.applicable:
            rows.append([level, None, None, None, None, None, None, None, None, None, f"not applicable: {lp.reason}"])
            continue
        f = lp.fidelity
        rows.append([
            level, lp.latency_ms_median, lp.latency_ms_p90, 100 * lp.latency_cv,
            _fmt_bytes(lp.size_bytes), _fmt_bytes(lp.stored_size_bytes),
            _sqnr(f.sqnr_db) if f else None, f"{f.cosine:.5f}" if f else None,
            f.top1_agreement if f else None, 100 * lp.attributed_share,
            "; ".join(filter(None, [
                f.accuracy is not None and f"accuracy {100 * f.accuracy:.1f} % (fp32 {100 * f.reference_accuracy:.1f} %)",  # type: ignore[list-item, operator]
                lp.calibration and f"calibrated on {lp.calibration}",
            ])) if f else "",
        ])
    out = [format_table(
        ["level", "median ms", "p90 ms", "CV %", "size", "deflated", "SQNR dB", "cosine", "top-1",
         "attributed %", "note"],
        rows,
        title=(f"{profile.model_name}: {profile.settings.runs} runs, {profile.settings.threads} thread(s), "
               f"latency as {_clock_words(profile)}, "
               f"graph optimization '{profile.settings.graph_optimization}', on {profile.host.cpu_model} "
               f"(onnxruntime {profile.host.onnxruntime_version}); fidelity on {profile.samples}"),
    )]
    ref = next((lp for lp in profile.levels.values() if lp.applicable and lp.unit_ms), None)
    if ref is not None and top > 0:
        order = sorted(range(len(ref.unit_ms)), key=lambda i: -ref.unit_ms[i])[:top]
        total = ref.latency_ms_median
        urows = [[i, profile.unit_names[i] if i < len(profile.unit_names) else str(i), ref.unit_ms[i],
                  100 * ref.unit_ms[i] / total if total else None] for i in order]
        urows.append(["-", "per-call overhead (no kernel)", ref.overhead_ms, 100 * ref.overhead_ms / total if total else None])
        out.append(format_table(["unit", "name", "ms", "% of run"], urows,
                                title=f"\nslowest units at {ref.level}"))
    if profile.cut_codecs:
        crows = [[c.name, c.wire_ratio, c.encode_ms_per_mb, c.decode_ms_per_mb, c.fidelity]
                 for c in profile.cut_codecs.values()]
        out.append(format_table(["cut codec", "wire ratio", "encode ms/MB", "decode ms/MB", "cosine"], crows,
                                title="\ncompressed tensors on a cut (measured on this host)"))
    return "\n".join(out)


def _progress_printer():
    if not sys.stderr.isatty():
        return None

    def show(fraction: float, message: str) -> None:
        sys.stderr.write(f"\r\033[K[{100 * fraction:3.0f}%] {message}")
        if fraction >= 1.0:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _save(profile: ModelProfile, out: Path) -> None:
    try:
        profile.save(out)
    except OSError as exc:
        raise PlannerError(
            f"the profile was measured (printed above) but cannot be written to {str(out)!r}: "
            f"{exc.strerror or exc}; run again with a writable --out path (measured levels are cached)."
        ) from None


def run_profile(args: argparse.Namespace) -> int:
    """Profile the model and print (and optionally write) the result."""
    check_number("--runs", args.runs, 1, 100_000)
    check_number("--warmup", args.warmup, 0, 10_000)
    check_number("--max-seconds", args.max_seconds, 0, 86_400, low_open=True)
    check_number("--threads", args.threads, 1, MAX_THREADS)
    check_number("--top", args.top, 0, 1_000_000)

    variants = _parse_variants(args.variant)
    levels = _parse_levels(args.levels, variants)
    if args.out:
        check_out_file(args.out, "the profile", "--out")  # before minutes of profiling, not after
    mg = load_model_from_args(args)
    samples = load_samples(args.samples, mg) if args.samples else None
    settings = ProfileSettings(threads=args.threads, warmup=args.warmup, runs=args.runs, max_seconds=args.max_seconds)
    if getattr(args, "agent", None):  # measured on an edge agent: see planner_app/commands/agent.py
        from planner_app.commands.agent import profile_with_agent

        return profile_with_agent(args, mg, levels, settings, format_profile, _save)
    try:
        profile = profile_model(mg, levels, settings=settings, samples=samples, progress=_progress_printer(),
                                use_cache=not args.no_cache,
                                variants={f"{VARIANT_PREFIX}{n}": f for n, f in variants.items()})
    except ProfileInterrupted as exc:
        if exc.partial.levels:
            print(format_profile(exc.partial, args.top))
            if args.out:
                _save(exc.partial, args.out)
                print(f"\npartial profile written to {args.out}")
        raise
    print(format_profile(profile, args.top))
    if args.out:
        _save(profile, args.out)
        print(f"\nprofile written to {args.out}")
    return 0
