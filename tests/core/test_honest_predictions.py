"""Honest predictions: stable profiles with intervals, calibrated per-part overhead, held-out fidelity,
parts checked as deployed, and a plan that states its clock and the uncertainty of its figures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from planner_app.core.compression.calibration import calibration_share, held_out_samples
from planner_app.core.compression.fidelity import measure_fidelity
from planner_app.core.compression.levels import compress, load_samples, synthetic_samples
from planner_app.core.models.graph import load_model
from planner_app.core.optimizer.problem import Placement
from planner_app.core.planning import (
    MeasureOptions,
    PoseOptions,
    measured_part_overhead_ms,
    plan_deployment,
)
from planner_app.core.planning.source import QUICK_PROFILE
from planner_app.core.plans.build import build_parts
from planner_app.core.plans.check import validate_plan
from planner_app.core.plans.records import load_plan
from planner_app.core.profiling import ProfileSettings, profile_model
from planner_app.core.profiling.records import LevelProfile, median_ci, profile_disagreements
from planner_app.core.profiling.runner import measure_part_overhead
from planner_app.core.resources import sample_topology_paths
from tests.core._tiny_models import tiny_cnn

FAST = ProfileSettings(warmup=1, runs=12, max_seconds=2.0, fidelity_samples=4, ci_target=0.02, min_runs=8)


@pytest.fixture(scope="module")
def cnn():
    return load_model(tiny_cnn(channels=16, hw=16).SerializeToString(), name="tiny_cnn")


def test_median_interval_is_two_order_statistics_that_cover_the_median():
    assert median_ci([float(x) for x in range(1, 21)]) == (6.0, 15.0)  # binomial ranks for n = 20 at 95 %
    assert median_ci([3.0, 1.0, 2.0]) == (1.0, 3.0)  # too few runs for 95 %: the whole range
    rng = np.random.default_rng(0)
    # coverage: the true median (0 for a symmetric skew-free draw) falls inside at least ~95 % of the time
    hits = sum(lo <= 0.0 <= hi for lo, hi in (median_ci(list(rng.standard_normal(25))) for _ in range(400)))
    assert hits / 400 >= 0.93


def test_a_profile_reports_the_interval_of_each_median_and_stops_once_it_is_tight(cnn):
    prof = profile_model(cnn, ("fp32",), settings=FAST, use_cache=False)
    lp = prof.levels["fp32"]
    assert lp.latency_ms_ci_low <= lp.latency_ms_median <= lp.latency_ms_ci_high
    assert FAST.min_runs <= lp.runs <= FAST.runs
    below, above = lp.ci_relative()
    # it stopped early only with an interval within the target; else it ran out of runs or time
    if lp.runs < FAST.runs:
        assert max(below, above) <= FAST.ci_target
    # the interval survives the profile's JSON round trip
    again = type(prof).from_dict(json.loads(json.dumps(prof.to_dict())))
    assert again.levels["fp32"].latency_ms_ci_high == lp.latency_ms_ci_high
    # quick profiles (planning on the fly) bound the median's interval, in the deployed clock and session
    assert QUICK_PROFILE.ci_target > 0 and QUICK_PROFILE.min_runs >= 10 and QUICK_PROFILE.threads == 1
    assert QUICK_PROFILE.clock_name() == "thread-cpu" and QUICK_PROFILE.graph_optimization == "all"


def _lp(median: float, lo: float, hi: float) -> LevelProfile:
    return LevelProfile("fp32", True, latency_ms_median=median, latency_ms_ci_low=lo, latency_ms_ci_high=hi)


def test_two_profiles_disagree_only_beyond_their_noise(cnn):
    prof = profile_model(cnn, ("fp32",), settings=FAST, use_cache=False)
    same = type(prof).from_dict(prof.to_dict())
    assert profile_disagreements(prof, same) == []
    lp = prof.levels["fp32"]
    slower = type(prof).from_dict(prof.to_dict())
    s = slower.levels["fp32"]
    s.latency_ms_median, s.latency_ms_ci_low, s.latency_ms_ci_high = (
        lp.latency_ms_median * 1.3, lp.latency_ms_ci_high * 1.2, lp.latency_ms_ci_high * 1.4)
    (msg,) = profile_disagreements(prof, slower)
    assert msg.startswith("fp32: median") and "do not overlap" in msg
    # overlapping intervals are noise, however far the medians
    assert profile_disagreements(prof, prof) == []
    from planner_app.core.profiling.records import level_disagreement

    assert level_disagreement(_lp(10, 8, 13), _lp(12, 11, 14)) is None
    assert level_disagreement(_lp(10, 9.9, 10.1), _lp(10.1, 10.05, 10.15), floor=0.02) is None  # under the floor


def test_a_fresh_profile_that_disagrees_with_the_last_one_warns(cnn, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path))
    first = profile_model(cnn, ("fp32",), settings=FAST)
    assert first.notes == []
    (last,) = (tmp_path / "profiles-last").glob("*.json")
    data = json.loads(last.read_text())
    lv = data["level"]  # as if the last profile had been made on a host twice as fast
    for key in ("latency_ms_median", "latency_ms_ci_low", "latency_ms_ci_high"):
        lv[key] = lv[key] / 2
    last.write_text(json.dumps(data))
    other = ProfileSettings(**{**FAST.key(), "runs": 13})  # other run counts: a cache miss, measured again
    with pytest.warns(RuntimeWarning, match="disagrees with the last one of tiny_cnn on this host beyond noise"):
        second = profile_model(cnn, ("fp32",), settings=other)
    assert second.notes and "profile again on a quiet host" in second.notes[0]


def test_the_per_part_overhead_is_calibrated_from_chained_runs(cnn):
    feed = synthetic_samples(cnn, n=1).inputs[0]
    ms, (lo, hi), method = measure_part_overhead(cnn, FAST, feed)
    assert lo <= ms <= hi and math.isfinite(ms)
    assert "chained runs of the fp32 model cut into 1, 2, 4 parts" in method
    prof = profile_model(cnn, ("fp32",), settings=FAST, use_cache=False)
    assert prof.part_overhead_ms is not None and prof.part_overhead_ms >= 0
    assert len(prof.part_overhead_ci_ms) == 2 and prof.part_overhead_method.startswith("chained runs")
    # what planning feeds the cost model: at least a call's cost, the chained figure where it is larger
    assert measured_part_overhead_ms(prof) == max(prof.part_overhead_ms, prof.levels["fp32"].overhead_ms)
    run = plan_deployment(sample_topology_paths()["smart_home"], "hub-keyword-spotting",
                          measure=MeasureOptions(levels=("fp32",)), pose=PoseOptions(levels=("fp32",)))
    basis = run.measured.basis
    assert run.problem.overhead_ms == basis.part_overhead_ms == run.measured.part_overhead_ms
    assert basis.part_overhead_provenance.startswith("measured-local: the larger of")


def test_fidelity_is_measured_on_inputs_held_out_from_calibration(cnn, tmp_path):
    rng = np.random.default_rng(3)
    shape = list(cnn.inputs.values())[0]
    # calibration inputs in [-1, 1]; held-out inputs four times wider: int8-static clips them
    for i in range(4):
        np.save(tmp_path / f"a{i}.npy", rng.uniform(-1, 1, shape).astype(np.float32))
    for i in range(4):
        np.save(tmp_path / f"b{i}.npy", rng.uniform(-4, 4, shape).astype(np.float32))
    samples = load_samples(tmp_path, cnn)
    calib, held = calibration_share(samples), held_out_samples(cnn, samples)
    assert len(calib) == len(held) == 4 and "held out from calibration" in held.source
    prof = profile_model(cnn, ("fp32", "int8-static"), settings=FAST, samples=samples, use_cache=False)
    static = prof.levels["int8-static"]
    assert static.applicable, static.reason
    q = compress(cnn.model, "int8-static", samples=calib).model
    on_calibration = measure_fidelity(cnn, q, calib)
    on_held_out = measure_fidelity(cnn, q, held)
    assert static.fidelity.mean_abs_err == pytest.approx(on_held_out.mean_abs_err, rel=1e-6)
    assert static.fidelity.mean_abs_err > 1.5 * on_calibration.mean_abs_err  # the flattering figure is not kept
    assert prof.fidelity_samples == held.source
    # synthetic samples: held-out inputs come from another seed, never the calibration inputs
    synth = synthetic_samples(cnn, n=3)
    other = held_out_samples(cnn, synth)
    name = next(iter(cnn.inputs))
    assert not np.array_equal(other.inputs[0][name], synth.inputs[0][name])


def test_the_export_check_runs_the_parts_as_deployed_with_the_cut_codec(cnn):
    n = len(cnn.units)
    cut = n // 2
    stages = [(0, cut, "a", "fp32"), (cut, n, "b", "fp32")]
    plain = build_parts(cnn, Placement.from_stages(stages, codec="none"), fidelity_samples=3)
    coded = build_parts(cnn, Placement.from_stages(stages, codec="int8"), fidelity_samples=3)
    for built in (plain, coded):
        assert built.equal_to_model  # the lossless parts themselves still reproduce the model
        assert built.fidelity.as_deployed and "held-out" in built.fidelity.inputs
    assert plain.fidelity.codec == "none" and plain.fidelity.max_abs_err < 1e-4
    assert coded.fidelity.codec == "int8" and coded.fidelity.max_abs_err > 10 * max(plain.fidelity.max_abs_err, 1e-7)


def test_the_plan_states_its_clock_and_the_uncertainty_of_its_figures(tmp_path):
    out = tmp_path / "plan.json"
    run = plan_deployment(sample_topology_paths()["smart_home"], "hub-keyword-spotting",
                          measure=MeasureOptions(levels=("fp32",)), pose=PoseOptions(levels=("fp32",)), out=out)
    plan = load_plan(out)
    m = plan.measurement
    assert m is not None and m.clock == "thread-cpu" and "dedicated core" in m.clock_note
    assert "graph optimization all" in m.session_options and m.profile_runs["fp32"] >= QUICK_PROFILE.min_runs
    assert m.part_overhead_ms == run.problem.overhead_ms
    band = plan.uncertainty["totals.latency_ms"]
    assert band.low <= plan.totals.latency_ms <= band.high and "95 %" in band.basis
    for st in plan.stages:
        u = plan.uncertainty[f"stages[{st.index}].compute_ms"]
        assert u.basis and (u.low is None or u.low <= st.compute_ms <= u.high)
    for key in ("totals.throughput_rps", "totals.cost_usd_per_1k", "totals.bytes_on_links_per_request",
                "totals.measured_fidelity.score"):
        assert plan.uncertainty[key].basis, key
    assert "held-out" in plan.provenance["totals.measured_fidelity"]
    rep = validate_plan(out)  # what the plan now records keeps `edgeplan plan validate` passing
    assert rep.ok, rep.problems
