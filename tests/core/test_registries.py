"""Compression levels and solvers are registry entries: one record added, and it flows everywhere.

The end-to-end test registers a throw-away level (fp32 weights rounded to a 1/64
grid) and takes it, with no other edit, through profiling on real onnxruntime,
the time table, the optimizer, the plan's parts, the exported plan and its
validation; then unregisters it.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from planner_app.core.compression import (
    CompressionError,
    CompressionLevel,
    LevelRegistryError,
    Transformed,
    compress,
    get_level,
    is_known_level,
    level_names,
    level_precision,
    register_level,
    unregister_level,
)
from planner_app.core.models.graph import load_model
from planner_app.core.optimizer import (
    SOLVERS,
    Solver,
    get_solver,
    optimize,
    register_solver,
    unregister_solver,
)
from planner_app.core.optimizer.problem import (
    Constraints,
    ModelStructure,
    PlanningProblem,
    ProblemError,
)
from planner_app.core.optimizer.synthetic import random_topology, time_table_from_flops
from planner_app.core.plans.build import PlanContext, build_parts, model_info, plan_document
from planner_app.core.plans.check import validate_plan
from planner_app.core.plans.export import export_plan
from planner_app.core.plans.records import load_plan
from planner_app.core.profiling.device_model import build_time_table
from planner_app.core.profiling.runner import ProfileSettings, profile_model
from planner_app.core.topology.records import Device, Link, Topology, Workload
from tests.core._tiny_models import tiny_cnn

QUICK = ProfileSettings(warmup=1, runs=3, max_seconds=2.0, fidelity_samples=2)
LEVEL = "rounded-64"
GRID = 64.0


def _round_weights(model: onnx.ModelProto, samples) -> Transformed:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for i, init in enumerate(out.graph.initializer):
        if init.data_type == onnx.TensorProto.FLOAT:
            w = np.round(numpy_helper.to_array(init) * GRID) / GRID
            out.graph.initializer[i].CopyFrom(numpy_helper.from_array(w.astype(np.float32), init.name))
    return Transformed(out)


@pytest.fixture
def rounded_level():
    level = register_level(CompressionLevel(
        LEVEL, "fp32", 1.0, _round_weights, "fp32 weights rounded to a 1/64 grid (test only)"))
    try:
        yield level
    finally:
        unregister_level(LEVEL)
    assert not is_known_level(LEVEL)


def _topology() -> Topology:
    return Topology(
        name="two",
        devices=[
            Device(id="cam", kind="camera", tier="device", peak_gflops_fp32=20, memory_mb=512),
            Device(id="cloud", kind="cloud", tier="cloud", peak_gflops_fp32=2000, memory_mb=16384,
                   cost_usd_per_hour=1.0),
        ],
        links=[Link(id="wifi", a="cam", b="cloud", medium="wifi", bandwidth_ab_mbps=100, bandwidth_ba_mbps=100,
                    latency_ms=5)],
        workloads=[Workload(name="w", source="cam", rate_rps=1, input_shapes={"x": [1, 3, 16, 16]})],
    )


def _is_on_grid(model: onnx.ModelProto) -> bool:
    ws = [numpy_helper.to_array(i) for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT]
    return bool(ws) and all(np.array_equal(w * GRID, np.round(w * GRID)) for w in ws)


def test_a_registered_level_flows_through_profiling_planning_and_the_exported_plan(rounded_level, tmp_path):
    model_file = tmp_path / "cnn.onnx"
    onnx.save(tiny_cnn(channels=8, hw=16), str(model_file))
    assert not _is_on_grid(onnx.load(str(model_file)))
    mg = load_model(model_file)

    # profiling: compressed by the record's transform, timed and compared with fp32 on onnxruntime
    profile = profile_model(mg, ["fp32", LEVEL], settings=QUICK, use_cache=False)
    lp = profile.levels[LEVEL]
    assert lp.applicable, lp.reason
    assert len(lp.unit_ms) == len(mg.units) and lp.latency_ms_median > 0
    # rounding changes the outputs a little, not much
    assert lp.fidelity.max_abs_err > 0 and 0.99 < lp.fidelity.cosine < 1.0

    # the time table: the level's column on both devices, its fidelity from the profile
    topo = _topology()
    tt = build_time_table(mg, topo, profile, ["fp32", LEVEL])
    col = tt.ms[:, :, tt.levels.index(LEVEL)]
    assert np.all(np.isfinite(col)) and col.sum() > 0
    assert tt.fidelity[LEVEL] == pytest.approx(lp.fidelity.score())

    # the optimizer, allowed only that level, over a plan forced to split camera → cloud
    workload = topo.workloads[0]
    pins = {0: "cam", len(mg.units) - 1: "cloud"}
    cons = Constraints.from_workload(workload, pinned_units=pins, slo_ms=None)
    problem = PlanningProblem.build(topo, workload, ModelStructure.from_model_graph(mg), tt, constraints=cons,
                                    objective="latency", levels=[LEVEL])
    result = optimize(problem)
    assert result.feasible, result.message
    parts = result.placement.parts()
    assert len(parts) >= 2 and {level for _, _, _, level in parts} == {LEVEL}

    # the plan's parts are made by the same transform, and the plan is exported and validated
    built = build_parts(mg, result.placement, fidelity_samples=2)
    assert built.levels == [LEVEL] * len(parts) and not built.notes
    assert all(_is_on_grid(m) for m in built.models)
    assert built.equal_to_model is None  # not a lossless level: fidelity is measured instead
    assert built.fidelity.max_abs_err > 0 and 0.99 < built.fidelity.cosine < 1.0
    context = PlanContext(topo, None, workload, model_info(mg, str(model_file)), problem, result, tt)
    plan = plan_document(context, result.placement, result.prediction, built)
    path = export_plan(plan, built.blobs, tmp_path / "plan.json")
    saved = load_plan(path)
    assert [s.level for s in saved.stages] == [LEVEL] * len(parts)
    report = validate_plan(path, model_path=model_file)
    assert report.ok, report.problems
    assert report.chain.compared_to_model and not report.chain.lossless

    # without the record the same plan is refused, naming the level and the fix
    unregister_level(LEVEL)
    try:
        refused = validate_plan(path, model_path=model_file)
    finally:
        register_level(rounded_level)
    assert not refused.ok
    assert any(LEVEL in p.message and "register_level" in p.message for p in refused.problems)


def test_compress_uses_the_record_and_its_applies_to_check(rounded_level):
    model = tiny_cnn(channels=4, hw=8)
    cm = compress(model, LEVEL)
    assert cm.applicable and _is_on_grid(cm.model) and cm.size_bytes > 0
    assert level_precision(LEVEL) == "fp32" and LEVEL in level_names()
    no_weights = CompressionLevel("needs-gemm", "int8", 0.25, _round_weights, "test only",
                                  why_not=lambda m: "no Gemm in this model")
    assert not no_weights.applies_to(model)
    register_level(no_weights)
    try:
        refused = compress(model, "needs-gemm")
    finally:
        unregister_level("needs-gemm")
    assert not refused.applicable and refused.reason == "no Gemm in this model"


def test_registering_a_taken_name_or_a_bad_record_is_a_clear_error(rounded_level):
    with pytest.raises(LevelRegistryError, match="'rounded-64' is already registered"):
        register_level(CompressionLevel(LEVEL, "fp32", 1.0, _round_weights, "again"))
    with pytest.raises(LevelRegistryError, match="'fp16' is already registered"):
        register_level(CompressionLevel("fp16", "fp16", 0.5, _round_weights, "again"))
    with pytest.raises(LevelRegistryError, match="variant:NAME"):
        register_level(CompressionLevel("variant:mine", "fp32", 1.0, _round_weights, "a family's name"))
    with pytest.raises(LevelRegistryError, match="precision 'int4'"):
        CompressionLevel("int4", "int4", 0.125, _round_weights, "not a precision devices offer")
    with pytest.raises(LevelRegistryError, match="not registered"):
        unregister_level("never-registered")
    # the built-ins are untouched by the failed attempts
    assert get_level("fp16").precision == "fp16" and get_level(LEVEL) is rounded_level


def test_built_in_records_say_what_the_callers_used_to_hard_code():
    assert [get_level(n).precision for n in ("fp32", "fp16", "int8-dynamic", "int8-static", "pruned-50")] == [
        "fp32", "fp16", "int8", "int8", "fp32"]
    assert [n for n in level_names() if get_level(n).needs_calibration] == ["int8-static"]
    assert [n for n in level_names() if get_level(n).lossless] == ["fp32"]
    assert get_level("variant:student").precision == "fp32" and is_known_level("variant:student")
    assert not is_known_level("variant:")
    with pytest.raises(CompressionError, match="unknown compression level 'int4'.*variant:NAME"):
        get_level("int4")


def _small_problem():
    rng = np.random.default_rng(3)
    topo = random_topology(rng, 3)
    model = ModelStructure.chain([2e8, 4e8, 1e8], [400_000, 100_000, 4_000], input_bytes=600_000)
    return PlanningProblem.build(topo, None, model, time_table_from_flops(model, topo, ["fp32", "int8"]),
                                 objective="latency")


def test_a_registered_solver_is_run_by_optimize_and_a_taken_name_is_refused():
    calls: list[str] = []
    dp = get_solver("dp")

    def first_route_dp(problem, *, pareto, progress, cancel, time_limit_s):
        calls.append(problem.objective)
        out = dp.solve(problem, pareto=False, progress=progress, cancel=cancel, time_limit_s=time_limit_s)
        return type(out)(out.best, out.prediction, [], out.exact, "test: " + out.scope)

    mine = register_solver(Solver("dp-no-front", first_route_dp, exact=True, space="chain", pareto=False,
                                  description="the chain DP without its front (test only)"))
    try:
        with pytest.raises(ProblemError, match="'dp-no-front' is already registered"):
            register_solver(Solver("dp-no-front", first_route_dp, exact=True, space="chain", pareto=False,
                                   description="again"))
        with pytest.raises(ProblemError, match="'auto'"):
            Solver("auto", first_route_dp, exact=True, space="chain", pareto=False, description="the chooser")
        problem = _small_problem()
        res = optimize(problem, solver=mine.name, pareto=True)
        reference = optimize(problem, solver="dp")
    finally:
        unregister_solver("dp-no-front")
    assert calls == ["latency"]
    assert res.feasible and res.solver == "dp-no-front" and res.exact_scope.startswith("test: ")
    assert math.isclose(res.objective_value, reference.objective_value, rel_tol=1e-9)
    assert any("gives no trade-off front" in n for n in res.notes)
    with pytest.raises(ProblemError, match="unknown solver 'dp-no-front'; use one of auto, dp, milp, brute"):
        optimize(problem, solver="dp-no-front")
    assert SOLVERS == ("auto", "dp", "milp", "brute", "sequence", "pipeline")


def test_brute_force_limit_comes_from_its_record():
    problem = _small_problem()
    limit = get_solver("brute").max_placements
    assert limit is not None
    big = ModelStructure.chain([1e8] * 12, [10_000] * 12, input_bytes=1_000)
    topo = random_topology(np.random.default_rng(1), 4)
    huge = PlanningProblem.build(topo, None, big, time_table_from_flops(big, topo, ["fp32", "int8"]))
    with pytest.raises(ProblemError, match=r"brute would evaluate .* placements \(its limit is"):
        optimize(huge, solver="brute")
    assert optimize(problem, solver="brute").feasible
