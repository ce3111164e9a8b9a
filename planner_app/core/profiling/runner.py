"""Profile a model at each compression level with onnxruntime on this host.

For each level: compress, measure fidelity against fp32 on the samples, then time
whole runs on a plain session (warm-up, then up to ``runs`` runs bounded by
``max_seconds``: median, p90, min, coefficient of variation; with one thread the
clock is the calling thread's CPU time, so a busy machine does not inflate the
figures, and the wall time is kept beside it) and the same runs on
a profiling session whose per-node kernel times (``cat == "Node"`` events named
``<node>_kernel_time``) are summed per run, taken at their median across runs and
mapped back to the model's units (:mod:`unit_mapping`), even where onnxruntime
fused or renamed nodes. A node's time is its kernel plus the dispatch gap since the
previous kernel ended (fences, output allocation: a per-node cost the plain run pays
too). ``attributed_share`` is the share of a profiled whole run the nodes explain
(median over runs; ``kernel_share`` the kernels alone); unit times are scaled to the
plain run so that
``sum(unit_ms) + unmapped_ms + overhead_ms == latency_ms_median``, ``overhead_ms``
being the per-call time no kernel explains.

Timing stops early once the 95 % confidence interval of the median (order statistics,
:func:`~planner_app.core.profiling.records.median_ci`) is within ``ci_target`` of the
median on each side; the interval is kept with the median. Fidelity is measured on
inputs held out from the ones int8-static calibrates on
(:func:`~planner_app.core.compression.calibration.held_out_samples`). With fp32 among
the levels, :func:`measure_part_overhead` times the fp32 model cut into 1, 2, 4 and 8
chained parts (the same session options and clock) and fits the ms each extra part
adds: the per-part overhead planning feeds the cost model. A fresh level is compared
with the last profile of the same model in the cache; a disagreement beyond both
intervals is warned about and kept in ``ModelProfile.notes``.

Each level's result is cached on disk (:mod:`profile_cache`) under a key of the
model sha256, input shapes, level, settings, samples and host fingerprint. The key
names a level, not its transform: a level you register and later change needs a new
name (or ``use_cache=False``) for its old figures not to be reused.

Example
-------
>>> prof = profile_model(load_model("sample:mobilenet_v2"), levels=("fp32", "int8-dynamic"))  # doctest: +SKIP
>>> prof.levels["fp32"].latency_ms_median                     # doctest: +SKIP
12.3
"""

from __future__ import annotations

__all__ = [
    "PROFILE_FORMAT",
    "HostInfo",
    "ProfileSettings",
    "LevelProfile",
    "ModelProfile",
    "ProfileError",
    "ProfileInterrupted",
    "profile_model",
    "profile_level",
    "measure_part_overhead",
]

import bisect
import json
import math
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from planner_app.core.compression.calibration import calibration_share, held_out_samples
from planner_app.core.compression.cut_codecs import measure_cut_codecs
from planner_app.core.compression.fidelity import measure_fidelity, run_model
from planner_app.core.compression.levels import (
    SampleSet,
    compress,
    input_specs,
    open_session,
    synthetic_samples,
)
from planner_app.core.compression.registry import get_level
from planner_app.core.errors import PlannerError
from planner_app.core.profiling import cache as profile_cache
from planner_app.core.profiling.records import (
    PROFILE_FORMAT,
    HostInfo,
    LevelProfile,
    ModelProfile,
    ProfileError,
    ProfileInterrupted,
    ProfileSettings,
    level_disagreement,
    median_ci,
)
from planner_app.core.profiling.unit_mapping import UnitMapper
from planner_app.core.progress import Cancelled, CancelToken, ProgressCallback, report

if TYPE_CHECKING:
    from planner_app.core.models.graph import ModelGraph

# ---------------------------------------------------------------------------- measuring


def _stats(ms: list[float]) -> tuple[float, float, float, float]:
    arr = np.asarray(ms)
    mean = float(arr.mean())
    cv = float(arr.std() / mean) if mean > 0 and len(arr) > 1 else 0.0
    return float(np.median(arr)), float(np.percentile(arr, 90)), float(arr.min()), cv


def _reference_run(mg: ModelGraph, samples: SampleSet, settings: ProfileSettings) -> Any:
    """The fp32 model's outputs on the samples; :class:`ProfileError` (exit 2) when onnxruntime cannot run it."""
    try:
        return run_model(mg.model, samples, threads=settings.threads)
    except PlannerError:
        raise
    except Exception as exc:  # onnxruntime's own error types (Fail, InvalidArgument, NotImplemented)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        first = first.split(" : ", 2)[-1][:300]  # drop onnxruntime's "[ONNXRuntimeError] : 1 : FAIL" prefix
        inputs = ", ".join(f"{k} {mg.input_dtypes[k]} {'x'.join(map(str, v)) or 'scalar'}" for k, v in mg.inputs.items())
        raise ProfileError(
            f"onnxruntime cannot run this model with these inputs ({inputs}): {first}. Check the --shape values "
            "(a shape the model cannot take), that every operator is a standard one or registered with "
            "onnxruntime (custom operators need their library), and that the inputs are numbers (string inputs "
            "cannot be generated)") from None


def _timed_runs(
    sessions: list[Any], feed: dict[str, np.ndarray], settings: ProfileSettings, cancel: CancelToken | None
) -> tuple[list[tuple[list[float], list[float]]], int]:
    """(wall ms, thread-CPU ms) of each run of each session, interleaved so all see the same load,
    and how many warm-up runs each session had (warm-up stops within ``max_seconds`` too)."""
    warm_start = time.perf_counter()
    warmups = 0
    while warmups < settings.warmup and time.perf_counter() - warm_start <= settings.max_seconds:
        if cancel is not None:
            cancel.raise_if_cancelled()
        for sess in sessions:
            sess.run(None, feed)
        warmups += 1
    times: list[tuple[list[float], list[float]]] = [([], []) for _ in sessions]
    start = time.perf_counter()
    clock = 1 if settings.uses_cpu_clock() else 0
    while len(times[0][0]) < settings.runs:
        if cancel is not None:
            cancel.raise_if_cancelled()
        for sess, (wall, cpu) in zip(sessions, times, strict=True):
            c0, t0 = time.thread_time(), time.perf_counter()
            sess.run(None, feed)
            wall.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.thread_time() - c0) * 1e3)
        n = len(times[0][0])
        if n >= 3 and time.perf_counter() - start > settings.max_seconds:
            break
        if settings.ci_target > 0 and n >= max(3, settings.min_runs) and _ci_within(times[0][clock], settings.ci_target):
            break
    return times, warmups


def _ci_within(ms: list[float], target: float) -> bool:
    """True when the 95 % interval of the median of ``ms`` is within ``target`` of it on each side."""
    med = float(np.median(ms))
    lo, hi = median_ci(ms)
    return med > 0 and med - lo <= target * med and hi - med <= target * med


def _node_ms_per_run(
    profile_file: str, warmup: int
) -> tuple[list[dict[str, float]], list[dict[str, float]], list[str]]:
    """Per measured run (runs told apart by model_run spans): each node's kernel ms, each
    node's span ms (its kernel plus the dispatch gap since the previous kernel ended:
    fences, output allocation), and the nodes in execution order."""
    with open(profile_file, encoding="utf-8") as fh:
        events = json.load(fh)
    runs = sorted(
        ((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
    )
    starts = [r[0] for r in runs]
    in_run: list[list[tuple[int, int, str]]] = [[] for _ in runs]
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        i = bisect.bisect_right(starts, e["ts"]) - 1
        if i < 0 or e["ts"] > runs[i][1]:
            continue
        in_run[i].append((e["ts"], e["dur"], e["name"][: -len("_kernel_time")]))
    kernel: list[dict[str, float]] = []
    span: list[dict[str, float]] = []
    order: dict[str, int] = {}
    for (run_start, _), nodes in zip(runs, in_run, strict=True):
        k: dict[str, float] = {}
        sp: dict[str, float] = {}
        prev_end: int | None = None
        for ts, dur, node in sorted(nodes):
            k[node] = k.get(node, 0.0) + dur / 1e3
            gap = max(0, ts - prev_end) if prev_end is not None else 0
            sp[node] = sp.get(node, 0.0) + (dur + gap) / 1e3
            prev_end = ts + dur
            order.setdefault(node, ts - run_start)
        kernel.append(k)
        span.append(sp)
    return kernel[warmup:], span[warmup:], sorted(order, key=order.__getitem__)


def profile_level(
    mg: ModelGraph,
    level: str,
    *,
    settings: ProfileSettings,
    samples: SampleSet,
    reference: list[dict[str, np.ndarray]],
    mapper: UnitMapper | None = None,
    variant_path: str | Path | None = None,
    cancel: CancelToken | None = None,
    held_out: SampleSet | None = None,
) -> LevelProfile:
    """Compress ``mg`` to ``level``, measure fidelity, whole-run and per-unit times.

    ``samples`` calibrate the level (int8-static); fidelity is measured on ``held_out``
    (``reference`` holds fp32's outputs on them); without ``held_out`` both use ``samples``.
    """
    mapper = mapper or UnitMapper(mg)
    n_units = len(mg.units)
    # the sessions below are the runnability check: no need for compress() to open one too
    cm = compress(mg.model, level, samples=samples, variant_path=variant_path, check_runs=False)
    if not cm.applicable:
        return LevelProfile(level, False, cm.reason, calibration=cm.calibration)
    assert cm.model is not None  # an applicable level has its model
    if cancel is not None:
        cancel.raise_if_cancelled()
    try:
        fid = measure_fidelity(mg, cm.model, held_out if held_out is not None else samples, reference=reference)
    except Exception as exc:  # onnxruntime's own error types: the level cannot run here
        msg = str(exc).splitlines()[0][:300]
        return LevelProfile(level, False, f"onnxruntime cannot run this level: {msg}", calibration=cm.calibration)
    feed = samples.inputs[0]
    with tempfile.TemporaryDirectory(prefix="planner-prof-") as tmp:
        opt_path = os.path.join(tmp, "optimized.onnx")
        common: dict[str, Any] = {"threads": settings.threads, "graph_optimization": settings.graph_optimization,
                  "provider": settings.execution_provider}
        plain = open_session(cm.model, **common)
        prof = open_session(cm.model, **common, profile_prefix=os.path.join(tmp, "ort"),
                            optimized_model_path=opt_path)
        ((plain_wall, plain_cpu), (prof_wall, _)), warmups = _timed_runs([plain, prof], feed, settings, cancel)
        kernel_runs, per_run, order = _node_ms_per_run(prof.end_profiling(), warmups)
        del plain, prof
        optimized = onnx.load(opt_path, load_external_data=False)
    node_unit = mapper.map_graph(optimized.graph)
    # nodes the runtime creates after optimization (a function body it inlines, e.g.
    # Softmax in fp16 expanded to ReduceMax/Exp/...) belong with their neighbour in
    # execution order
    last: int | None = None
    for node in order:
        unit = node_unit.get(node)
        if unit is None:
            unit = mapper.lookup(node)
        if unit is None and last is not None:
            unit = last
        node_unit[node] = unit
        last = unit if unit is not None else last
    node_median = {n: float(np.median([run.get(n, 0.0) for run in per_run])) for n in order}
    unit_prof = [0.0] * n_units
    unmapped = 0.0
    for node, ms in node_median.items():
        unit = node_unit.get(node)
        if unit is None:
            unmapped += ms
        else:
            unit_prof[unit] += ms
    plain_ms = plain_cpu if settings.uses_cpu_clock() else plain_wall
    median, p90, mn, cv = _stats(plain_ms)
    ci_low, ci_high = median_ci(plain_ms)
    # Share of a profiled run the nodes explain, run by run (a run's node spans, i.e.
    # kernels plus their dispatch gaps, against its own wall time), then the median:
    # robust when another process preempts us mid-run. What no node explains is
    # per-call overhead (bindings, session run set-up, copying outputs).
    ratios = [sum(run.values()) / w for run, w in zip(per_run, prof_wall, strict=False) if w > 0]
    share = min(1.0, float(np.median(ratios))) if ratios else 0.0
    k_ratios = [sum(run.values()) / w for run, w in zip(kernel_runs, prof_wall, strict=False) if w > 0]
    kernel_share = min(1.0, float(np.median(k_ratios))) if k_ratios else 0.0
    # Per-unit times keep the proportions of the per-node medians and are scaled to the
    # explained part of the plain run: sum(unit_ms) + unmapped_ms + overhead_ms == median.
    kernel_ms = sum(unit_prof) + unmapped
    scale = share * median / kernel_ms if kernel_ms > 0 else 0.0
    unit_ms = [u * scale for u in unit_prof]
    overhead = median - sum(unit_ms) - unmapped * scale
    return LevelProfile(
        level=level, applicable=True, size_bytes=cm.size_bytes, stored_size_bytes=cm.stored_size_bytes,
        latency_ms_median=median, latency_ms_p90=p90, latency_ms_min=mn, latency_cv=cv,
        latency_ms_ci_low=ci_low, latency_ms_ci_high=ci_high,
        unit_ms=unit_ms, overhead_ms=overhead, attributed_share=min(share, 1.0), kernel_share=kernel_share,
        profiled_latency_ms_median=float(np.median(prof_wall)), wall_ms_median=float(np.median(plain_wall)),
        clock="thread-cpu" if settings.uses_cpu_clock() else "wall",
        unit_param_bytes=mapper.param_bytes_per_unit(cm.model, n_units),
        fidelity=fid, runs=len(plain_ms), calibration=cm.calibration, unmapped_ms=unmapped * scale,
        node_ms={n: ms * scale for n, ms in node_median.items()}, node_unit={n: node_unit.get(n) for n in order},
    )


def _cut_activations(mg: ModelGraph, samples: SampleSet, k: int = 3) -> list[np.ndarray]:
    """Real activations to time the cut codecs on: the ``k`` largest float unit outputs
    that are not model outputs, on the first sample (empty when none qualifies)."""
    from onnx import helper

    elem = getattr(mg, "tensor_elem_types", {}) or {}
    shapes = getattr(mg, "tensor_shapes", {}) or {}
    graph_outputs = {o.name for o in mg.model.graph.output}
    candidates = {
        t for u in mg.units for t in getattr(u, "outputs", []) or []
        if t not in graph_outputs and elem.get(t) == onnx.TensorProto.FLOAT and t in shapes
    }
    sizes = getattr(mg, "tensor_bytes", {}) or {}
    chosen = sorted(candidates, key=lambda t: -sizes.get(t, 0))[:k]
    if not chosen:
        return []
    probe = onnx.ModelProto()
    probe.CopyFrom(mg.model)
    probe.graph.output.extend(helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, shapes[t]) for t in chosen)
    try:
        sess = open_session(probe, graph_optimization="basic")
        feed = {i.name: samples.inputs[0][i.name] for i in sess.get_inputs()}
        return [np.asarray(a) for a in sess.run(chosen, feed)]
    except Exception:  # noqa: BLE001 - the synthetic stand-in tensor still measures the codecs
        return []


#: the chain lengths timed to calibrate the per-part overhead (those up to the number of units)
CHAIN_PARTS: tuple[int, ...] = (1, 2, 4, 8)

#: with ``ci_target`` set, chained runs stop once the slope's 95 % interval is this tight (± ms)
SLOPE_CI_MS = 0.02


def measure_part_overhead(
    mg: ModelGraph, settings: ProfileSettings, feed: dict[str, np.ndarray], cancel: CancelToken | None = None,
) -> tuple[float, tuple[float, float], str] | None:
    """The ms each extra part adds, from chained runs of the fp32 model.

    The model is cut into k = 1, 2, 4, 8 contiguous parts (as many units as allow),
    each part one session with the profile's options; every round runs every chain
    once (in the profile's clock) and fits the time against the number of extra parts
    by least squares. The median slope over the rounds and its 95 % interval come back
    with a description, or None for a model of one unit. The slope holds what a cut
    costs when the parts run one after another: the session call, binding the inputs,
    copying the outputs, and fusions lost across the cut.
    """
    from planner_app.core.models.partition import split_stages

    n_units = len(mg.units)
    ks = [k for k in CHAIN_PARTS if k <= n_units]
    if len(ks) < 2:
        return None
    common: dict[str, Any] = {"threads": settings.threads, "graph_optimization": settings.graph_optimization,
                              "provider": settings.execution_provider}
    chains: dict[int, list[tuple[Any, list[str], list[str]]]] = {}
    for k in ks:
        groups = [[int(u) for u in g] for g in np.array_split(np.arange(n_units), k)]
        models = [mg.model] if k == 1 else [p.model for p in split_stages(mg, groups)]
        chain = []
        for m in models:
            sess = open_session(m, **common)
            chain.append((sess, [i.name for i in sess.get_inputs()], [o.name for o in sess.get_outputs()]))
        chains[k] = chain
    use_cpu = settings.uses_cpu_clock()

    def run(chain: list[tuple[Any, list[str], list[str]]]) -> float:
        c0, t0 = time.thread_time(), time.perf_counter()
        env = dict(feed)
        for sess, ins, outs in chain:
            env.update(zip(outs, sess.run(outs, {name: env[name] for name in ins}), strict=True))
        return ((time.thread_time() - c0) if use_cpu else (time.perf_counter() - t0)) * 1e3

    warm_start = time.perf_counter()
    for _ in range(max(1, min(settings.warmup, 3))):  # warm-up stops within max_seconds too
        if cancel is not None:
            cancel.raise_if_cancelled()
        for k in ks:
            run(chains[k])
        if time.perf_counter() - warm_start > settings.max_seconds:
            break
    x = np.asarray([k - 1 for k in ks], float)
    xc = x - x.mean()
    slopes: list[float] = []
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    while len(slopes) < settings.runs:
        if cancel is not None:
            cancel.raise_if_cancelled()
        order = rng.permutation(len(ks))  # no chain always runs first (or after the biggest)
        t = np.zeros(len(ks))
        for i in order:
            t[i] = run(chains[ks[int(i)]])
        slopes.append(float(xc @ (t - t.mean()) / (xc @ xc)))
        if len(slopes) >= 5 and time.perf_counter() - start > settings.max_seconds:
            break
        if settings.ci_target > 0 and len(slopes) >= max(5, settings.min_runs):
            lo, hi = median_ci(slopes)
            if hi - lo <= 2 * SLOPE_CI_MS:  # tight enough: planning stays interactive
                break
    lo, hi = median_ci(slopes)
    method = (f"chained runs of the fp32 model cut into {', '.join(map(str, ks))} parts ({len(slopes)} rounds, "
              f"{settings.clock_name()} clock, {settings.session_options()}): least-squares ms per extra part, "
              "median over rounds")
    return float(np.median(slopes)), (float(lo), float(hi)), method


#: cache folders of the last profile of each level and of the chained-run overheads
_HISTORY, _OVERHEADS = "profiles-last", "part-overheads"

#: two profiles of one level whose intervals do not overlap are warned about beyond this share apart
DISAGREEMENT_FLOOR = 0.05


def _history_key(mg: ModelGraph, shapes: dict[str, list[int]], level: str, settings: ProfileSettings,
                 host: HostInfo, variant: str | Path | None) -> str:
    """The cache key of the last profile of one level, whatever the run counts (for the disagreement warning)."""
    how = {"clock": settings.clock_name(), "threads": settings.threads, "ep": settings.execution_provider,
           "opt": settings.graph_optimization}
    return profile_cache.level_key(model_sha256=mg.sha256, input_shapes=shapes, level=f"last:{level}",
                                   settings=how, host=host.fingerprint, samples="",
                                   variant_sha256=profile_cache.file_sha(variant))


def _compare_with_last(key: str, lp: LevelProfile, profile: ModelProfile) -> None:
    """Warn (and note in ``profile``) when ``lp`` disagrees beyond noise with the last profile of its level."""
    last = profile_cache.get(key, _HISTORY)
    if last:
        try:
            before = LevelProfile.from_dict(last)
        except (TypeError, KeyError, ValueError):
            before = None
        msg = level_disagreement(before, lp, floor=DISAGREEMENT_FLOOR) if before is not None and before.applicable and lp.applicable else None
        if msg:
            note = (f"{lp.level}: this profile disagrees with the last one of {profile.model_name} on this host "
                    f"beyond noise: {msg}; the host was probably busy during one of them: profile again on a quiet "
                    "host, or with more runs (--runs)")
            profile.notes.append(note)
            warnings.warn(note, RuntimeWarning, stacklevel=3)
    profile_cache.put(key, lp.to_dict(), _HISTORY)


def _part_overhead(mg: ModelGraph, profile: ModelProfile, settings: ProfileSettings, samples: SampleSet,
                   host: HostInfo, use_cache: bool, cancel: CancelToken | None) -> None:
    """Fill ``profile.part_overhead_*`` from the cache or :func:`measure_part_overhead`."""
    key = profile_cache.level_key(model_sha256=mg.sha256, input_shapes=profile.input_shapes,
                                  level="part-overhead-chain", settings=settings.key(), host=host.fingerprint,
                                  samples=samples.fingerprint())
    cached = profile_cache.get(key, _OVERHEADS) if use_cache else None
    got: tuple[float, tuple[float, float], str] | None = None
    ci = cached.get("ci") if cached else None
    if cached and isinstance(cached.get("ms"), (int, float)) and isinstance(ci, list) and len(ci) == 2 \
            and all(isinstance(c, (int, float)) for c in ci):
        got = float(cached["ms"]), (float(ci[0]), float(ci[1])), str(cached.get("method", ""))
    else:
        try:
            got = measure_part_overhead(mg, settings, samples.inputs[0], cancel)
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own errors: a model whose cuts do not run keeps the default
            profile.notes.append(f"the per-part overhead could not be timed in chained runs ({str(exc)[:200]}); "
                                 "planning uses the per-call time of whole runs instead")
        if got is not None and use_cache:
            profile_cache.put(key, {"ms": got[0], "ci": list(got[1]), "method": got[2]}, _OVERHEADS)
    if got is not None and math.isfinite(got[0]):
        # a negative slope is noise around zero: no part costs less than none
        profile.part_overhead_ms = max(0.0, got[0])
        profile.part_overhead_ci_ms = [max(0.0, got[1][0]), max(0.0, got[1][1])]
        profile.part_overhead_method = got[2]


def _input_shapes(mg: ModelGraph) -> dict[str, list[int]]:
    shapes = getattr(mg, "inputs", None)
    if isinstance(shapes, dict) and shapes:
        return {k: list(v) for k, v in shapes.items()}
    return {k: v[0] for k, v in input_specs(mg.model).items()}


def profile_model(
    mg: ModelGraph,
    levels: tuple[str, ...] | list[str] = ("fp32",),
    settings: ProfileSettings | None = None,
    samples: SampleSet | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    use_cache: bool = True,
    variants: dict[str, str | Path] | None = None,
) -> ModelProfile:
    """Profile ``mg`` at each of ``levels`` on this host (cached per level).

    ``variants`` maps ``variant:NAME`` levels to their ONNX files. Ctrl-C or
    ``cancel`` raise :class:`ProfileInterrupted` whose ``partial`` profile keeps the
    finished levels (which are also in the cache); a level is written to the cache
    only once complete, atomically, so an interruption never corrupts it.
    """
    settings = settings or ProfileSettings()
    levels = list(dict.fromkeys(levels))
    for level in levels:
        get_level(level)  # an unknown name fails now (listing the registry's levels), not minutes in
    host = HostInfo.detect()
    if samples is None:
        samples = synthetic_samples(mg, n=settings.fidelity_samples)
    held_out = held_out_samples(mg, samples)
    calibration = calibration_share(samples)
    profile = ModelProfile(
        model_name=getattr(mg, "name", "model"), model_sha256=mg.sha256, input_shapes=_input_shapes(mg),
        host=host, settings=settings, unit_names=[u.name for u in mg.units], samples=samples.source,
        fidelity_samples=held_out.source,
    )
    mapper = UnitMapper(mg)
    reference: list[dict[str, np.ndarray]] | None = None
    try:
        for i, level in enumerate(levels):
            if cancel is not None:
                cancel.raise_if_cancelled()
            report(progress, i / max(1, len(levels)), f"profiling {profile.model_name} at {level}")
            variant = (variants or {}).get(level)
            key = profile_cache.level_key(
                model_sha256=mg.sha256, input_shapes=profile.input_shapes, level=level,
                settings=settings.key(), host=host.fingerprint,
                samples=samples.fingerprint() + held_out.fingerprint(),
                variant_sha256=profile_cache.file_sha(variant),
            )
            cached = profile_cache.get(key) if use_cache else None
            lp = None
            if cached:
                try:
                    lp = LevelProfile.from_dict(cached)
                except (TypeError, KeyError, ValueError) as exc:
                    warnings.warn(
                        f"profile cache entry {profile_cache.entry_path(key)} is corrupted "
                        f"(its {level} profile does not load: {exc}); ignored and rebuilt",
                        RuntimeWarning, stacklevel=2,
                    )
            if lp is None or len(lp.unit_ms) not in (0, len(mg.units)):
                if reference is None:
                    reference = _reference_run(mg, held_out, settings)
                lp = profile_level(mg, level, settings=settings, samples=calibration, reference=reference,
                                   mapper=mapper, variant_path=variant, cancel=cancel, held_out=held_out)
                if use_cache:
                    profile_cache.put(key, lp.to_dict())
                    _compare_with_last(_history_key(mg, profile.input_shapes, level, settings, host, variant),
                                       lp, profile)
            profile.levels[level] = lp
        if "fp32" in profile.levels and profile.levels["fp32"].applicable:
            report(progress, 0.95, "timing chained parts (the per-part overhead)")
            _part_overhead(mg, profile, settings, samples, host, use_cache, cancel)
        report(progress, 0.98, "measuring cut codecs")
        profile.cut_codecs = measure_cut_codecs(_cut_activations(mg, samples) or None)
    except (KeyboardInterrupt, Cancelled) as exc:
        done = ", ".join(profile.levels) or "none"
        raise ProfileInterrupted(
            f"profiling interrupted ({type(exc).__name__}); finished levels kept: {done}", profile
        ) from None
    report(progress, 1.0, "done")
    return profile

