"""The whole planning pipeline on the sample scenarios and sample models.

Each sample model is loaded and profiled once per session (fp32, 3 runs: the
point is the pipeline, not the timings), then planned on every sample scenario.
Exports run the real partition, compression and onnxruntime checks.
"""

from __future__ import annotations

import json
import math

import pytest

from planner_app.core.errors import PlannerError, TopologyError
from planner_app.core.models.graph import ModelError, load_model
from planner_app.core.models.samples import SAMPLE_MODELS
from planner_app.core.planning import (
    ExportOptions,
    InfeasiblePlanError,
)
from planner_app.core.plans.check import validate_plan
from planner_app.core.plans.records import load_plan
from planner_app.core.profiling.runner import (
    ModelProfile,
    ProfileError,
    ProfileSettings,
    profile_model,
)
from planner_app.core.progress import Cancelled, CancelToken
from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology.io import load_topology
from tests._planning import plan

QUICK = ProfileSettings(warmup=1, runs=3, max_seconds=2.0, fidelity_samples=2)
SCENARIOS = sample_topology_paths()


@pytest.fixture(scope="session")
def models():
    """Sample model name → (ModelGraph, fp32 profile), built on first use."""
    cache: dict[str, tuple] = {}

    def get(name: str, levels=("fp32",)):
        key = f"{name}:{','.join(levels)}"
        if key not in cache:
            mg = cache[name][0] if name in cache else load_model(f"sample:{name}")
            cache.setdefault(name, (mg, None))
            cache[key] = (mg, profile_model(mg, list(levels), settings=QUICK))
        return cache[key]

    return get


def test_the_four_sample_scenarios_are_there():
    assert {"smart_home", "autonomous_driving", "hospital_imaging", "smart_factory"} <= set(SCENARIOS)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", sorted(SAMPLE_MODELS))
def test_every_scenario_gives_a_plan_at_least_as_good_as_every_baseline(models, model_name):
    mg, profile = models(model_name)
    for scenario, path in sorted(SCENARIOS.items()):
        topo = load_topology(path)
        workload = topo.workloads[0].model_copy(update={"input_shapes": {}, "model": None})
        topo.workloads[0] = workload
        run = plan(topo, workload.name, mg, profile_path=profile, objective="latency")
        res = run.result
        assert res.baselines, f"{scenario}: no baseline computed"
        feasible_baselines = [b for b in res.baselines if b.prediction.feasible]
        if feasible_baselines:
            assert res.feasible, f"{scenario}/{model_name}: a baseline is feasible but the plan is not"
        if not res.feasible:
            continue
        mine = run.problem.objective_value(res.prediction)
        for b in feasible_baselines:
            theirs = run.problem.objective_value(b.prediction)
            assert mine <= theirs * (1 + 1e-9), f"{scenario}/{model_name}: {b.name} beats the plan"


def test_each_scenario_workload_plans_with_its_own_model(models):
    """The workloads as the scenarios define them (their model field, their SLO and budgets)."""
    seen = 0
    for scenario, path in sorted(SCENARIOS.items()):
        topo = load_topology(path)
        for w in topo.workloads[:1]:
            name = w.model.split(":", 1)[1]
            mg, profile = models(name)
            run = plan(path, w.name, profile_path=profile, objective="latency")
            assert run.source.sha256 == mg.sha256
            assert run.result.prediction.parts, scenario
            seen += 1
    assert seen == 4


def _split_plan(models, tmp_path, levels=("fp32",), name="mobilenet_v2"):
    """A plan forced to cut the model: the first unit pinned to the source, the last to the cloud."""
    mg, profile = models(name, levels)
    path = SCENARIOS["smart_factory"]
    topo = load_topology(path)
    w = topo.workloads[0]
    cloud = next(d.id for d in topo.devices if d.tier == "cloud")
    pins = {0: w.source, len(mg.units) - 1: cloud}
    return plan(path, w.name, mg, profile_path=profile, levels=list(levels),
                           constraints={"pinned_units": pins, "slo_ms": None}, out=tmp_path / "plan.json")


def test_exported_parts_chain_to_the_full_models_outputs(models, tmp_path):
    run = _split_plan(models, tmp_path)
    assert run.feasible, run.result.message
    plan = load_plan(run.plan_path)
    assert len(plan.stages) >= 2
    assert plan.stages[0].device == run.workload.source
    files = sorted(p.name for p in (tmp_path / "parts").iterdir())
    assert files == sorted(s.artifact.path.split("/")[-1] for s in plan.stages)
    assert [t.from_stage for t in plan.transfers if t.from_stage is not None]
    mf = plan.totals.measured_fidelity
    assert mf is not None and mf.as_deployed and mf.codec == run.result.placement.codec
    assert "held-out" in mf.inputs
    # fp32 parts: only the cut codec on the tensors between them (as deployed) moves the outputs
    assert mf.max_abs_err < 1e-3 if mf.codec == "none" else mf.cosine > 0.99
    rep = validate_plan(run.plan_path, model_path="sample:mobilenet_v2")  # a plan's own paths are never opened
    assert rep.ok, rep.problems
    assert rep.chain.compared_to_model and rep.chain.lossless and rep.chain.equal
    # what the plan says matches what the optimizer chose
    assert [(s.device, s.unit_ids[0], s.unit_ids[-1]) for s in plan.stages] == [
        (d, a, b - 1) for a, b, d, _ in run.result.placement.parts()]
    doc = json.loads(run.plan_path.read_text())
    assert {b["name"] for b in doc["baselines"]} >= {"all-on-source", "best-single-split"}
    assert doc["provenance"]["totals.measured_fidelity"].startswith("measured")
    for key in ("latency_ms", "throughput_rps", "cost_usd_per_1k", "energy_j_per_request", "predicted_fidelity",
                "memory_bytes_per_device", "bandwidth_mbps_per_link"):  # every headline figure says where it came from
        assert f"totals.{key}" in doc["provenance"] and key in doc["totals"], key


@pytest.mark.slow
def test_compressed_plan_reports_measured_fidelity(models, tmp_path):
    run = _split_plan(models, tmp_path, levels=("fp32", "int8-dynamic"), name="transformer_encoder")
    assert run.feasible, run.result.message
    plan = run.plan
    levels = {s.level for s in plan.stages}
    mf = plan.totals.measured_fidelity
    assert mf is not None and 0 < mf.cosine <= 1.0 + 1e-9
    if levels != {"fp32"}:
        assert mf.max_abs_err > 0, "compressed parts cannot be bit-exact"
    rep = validate_plan(run.plan_path)
    assert rep.ok, rep.problems
    assert rep.chain.lossless == (levels == {"fp32"})


def test_pareto_front_is_exported_with_the_chosen_point(models, tmp_path):
    mg, profile = models("lstm_kws")
    run = plan(SCENARIOS["smart_home"], "hub-keyword-spotting", mg, profile_path=profile,
                          pareto=True, out=tmp_path / "plan.json")
    front = run.plan.pareto

    def crit(f):  # the front's criteria, all minimised (as the optimizer defines them)
        return (f.latency_ms, f.cost_usd_per_1k, f.bytes_on_links_per_request, -(f.predicted_fidelity or 0.0))

    def no_worse(a, b):
        return all(x <= y + 1e-9 * max(abs(x), abs(y), 1.0) for x, y in zip(a, b, strict=True))

    assert front and sum(p.chosen for p in front) <= 1
    if not any(p.chosen for p in front):
        # the chosen plan was dropped from the front: a point no worse on every criterion stands for it
        assert any(no_worse(crit(p.figures), crit(run.plan.totals)) for p in front)
    lat = [p.figures.latency_ms for p in front]
    assert lat == sorted(lat)
    for p in front:  # no point is dominated by another
        for q in front:
            if p is not q:
                a, b = crit(q.figures), crit(p.figures)
                dominated = all(x <= y for x, y in zip(a, b, strict=True)) and a != b
                assert not dominated, f"{q.placement} dominates {p.placement}"
    # the window exports the point a user clicks: any feasible point of the front
    other = next(e for e in run.result.pareto_front
                 if e.placement != run.result.placement and e.prediction.feasible)
    run.export(ExportOptions(out=tmp_path / "other" / "plan.json"), other.placement)
    exported = load_plan(run.plan_path)
    assert [(s.device, s.unit_ids[0]) for s in exported.stages] == [(d, a) for a, _, d, _ in other.placement.parts()]
    assert exported.totals.latency_ms == pytest.approx(other.prediction.latency_ms)
    assert [p.chosen for p in exported.pareto].count(True) == 1 and validate_plan(run.plan_path).ok
    assert len({p.placement for p in exported.pareto}) == len(exported.pareto), "a placement is listed twice"


# -- bad input --------------------------------------------------------------------------
def test_no_feasible_plan_says_why_and_writes_nothing(models, tmp_path):
    mg, profile = models("lstm_kws")
    run = plan(SCENARIOS["smart_home"], "hub-keyword-spotting", mg, profile_path=profile,
                          constraints={"slo_ms": 1e-4}, out=tmp_path / "plan.json")
    assert not run.feasible
    assert run.result.failing_constraint == "slo"
    assert "slo" in run.result.message and run.result.prediction.violations
    assert run.result.placement is not None  # the closest plan
    assert not (tmp_path / "plan.json").exists() and not (tmp_path / "parts").exists()
    with pytest.raises(InfeasiblePlanError) as info:
        run.raise_if_infeasible()
    assert info.value.exit_code == 3


def test_model_inputs_that_do_not_match_the_workload(models):
    topo = load_topology(SCENARIOS["smart_home"])
    i = next(k for k, w in enumerate(topo.workloads) if w.model == "sample:mobilenet_v2")
    topo.workloads[i] = topo.workloads[i].model_copy(update={"input_shapes": {"input": [1, 3, 96, 96]}})
    with pytest.raises(ModelError, match="workload") as info:
        plan(topo, topo.workloads[i].name)
    assert info.value.exit_code == 2
    mg, profile = models("mobilenet_v2")
    with pytest.raises(ModelError, match="96"):
        plan(topo, topo.workloads[i].name, mg, profile_path=profile)
    topo.workloads[i] = topo.workloads[i].model_copy(update={"input_shapes": {"pixels": [1, 3, 224, 224]}})
    with pytest.raises(ModelError, match="pixels"):
        plan(topo, topo.workloads[i].name)


def test_source_that_reaches_no_other_device():
    topo = load_topology(SCENARIOS["smart_home"])
    w = topo.workloads[0]
    for link in list(topo.links_of(w.source)):
        topo.remove_link(link.id)
    with pytest.raises(TopologyError, match="reaches no other device"):
        plan(topo, w.name)


def test_workload_without_a_model_asks_for_one():
    topo = load_topology(SCENARIOS["smart_home"])
    topo.workloads[0] = topo.workloads[0].model_copy(update={"model": None})
    with pytest.raises(PlannerError, match="--model"):
        plan(topo, topo.workloads[0].name)


def test_profile_of_another_model_is_refused(models, tmp_path):
    _, kws_profile = models("lstm_kws")
    path = tmp_path / "kws.json"
    kws_profile.save(path)
    mg, _ = models("mobilenet_v2")
    with pytest.raises(ProfileError, match="not mobilenet_v2"):
        plan(SCENARIOS["smart_home"], "photo-tagging", mg, profile_path=path)
    assert ModelProfile.load(path).model_sha256 == kws_profile.model_sha256


def test_profiles_when_no_profile_is_given_and_can_be_cancelled(tmp_path):
    messages: list[str] = []
    run = plan(SCENARIOS["smart_home"], "hub-keyword-spotting", levels=["fp32"],
                          profile_settings=QUICK, progress=lambda f, m: messages.append(m))
    assert run.measured.profiled_now and "fp32" in run.measured.profile.levels
    assert any("no profile given: profiling" in m for m in messages)
    assert all(0 <= p.compute_ms < math.inf for p in run.result.prediction.parts)

    token = CancelToken()

    def cancel_on_optimize(fraction, message):
        if message.startswith("solving"):
            token.cancel()

    with pytest.raises(Cancelled):
        plan(SCENARIOS["smart_home"], "hub-keyword-spotting", levels=["fp32"],
                        profile_settings=QUICK, progress=cancel_on_optimize, cancel=token,
                        out=tmp_path / "plan.json")
    assert not (tmp_path / "plan.json").exists()


def test_imported_times_and_the_host_device_change_the_time_table(models, tmp_path):
    mg, profile = models("lstm_kws")
    base = plan(SCENARIOS["smart_home"], "hub-keyword-spotting", mg, profile_path=profile)
    used = {p.device for p in base.result.prediction.parts}
    assert "hub" in used  # the source computes something in the plan without imported times
    csv = tmp_path / "times.csv"
    csv.write_text("device,level,unit,ms\n" + "".join(f"hub,fp32,{u.name},5000\n" for u in mg.units))
    run = plan(SCENARIOS["smart_home"], "hub-keyword-spotting", mg, profile_path=profile,
                          imported=csv, host_device="home-server", constraints={"slo_ms": None})
    assert run.time_table.provenance_of("hub", "fp32") == "imported"
    assert run.time_table.provenance_of("home-server", "fp32") == "measured-local"
    assert run.time_table.time(0, "hub", "fp32") == 5000
    assert "hub" not in {p.device for p in run.result.prediction.parts}, "5 s per unit on the hub is never best"


def test_levels_asked_for_are_the_only_ones_considered(models):
    mg, profile = models("lstm_kws", ("fp32", "int8-dynamic"))
    run = plan(SCENARIOS["smart_home"], "hub-keyword-spotting", mg, profile_path=profile,
                          levels=["int8-dynamic"])
    assert run.problem.levels == ["int8-dynamic"]
    assert {p.level for p in run.result.prediction.parts} == {"int8-dynamic"}
    both = plan(SCENARIOS["smart_home"], "hub-keyword-spotting", mg, profile_path=profile)
    assert both.problem.levels == ["fp32", "int8-dynamic"]  # no --levels: every level of the profile


def test_workload_model_path_is_relative_to_the_topology_file(models, tmp_path, monkeypatch):
    mg, profile = models("lstm_kws")
    folder = tmp_path / "project"
    (folder / "models").mkdir(parents=True)
    (folder / "models" / "kws.onnx").write_bytes(mg.path.read_bytes())
    doc = json.loads(SCENARIOS["smart_home"].read_text())
    w = next(w for w in doc["workloads"] if w["name"] == "hub-keyword-spotting")
    w["model"] = "models/kws.onnx"
    (folder / "topo.json").write_text(json.dumps(doc))
    monkeypatch.chdir(tmp_path)  # not the project folder: the path must resolve next to the topology
    run = plan(folder / "topo.json", "hub-keyword-spotting", profile_path=profile)
    assert run.source.sha256 == mg.sha256
    assert run.source.label == str(folder / "models" / "kws.onnx")


def test_an_unexpected_failure_while_building_the_parts_is_a_clear_error(models, tmp_path, monkeypatch):
    import onnxruntime

    from planner_app.core.plans.build import ExportError

    mg, profile = models("lstm_kws")
    run = plan(SCENARIOS["smart_home"], "hub-keyword-spotting", mg, profile_path=profile)
    assert run.feasible

    def broken(self, *args, **kwargs):
        raise RuntimeError("simulated onnxruntime failure")

    monkeypatch.setattr(onnxruntime.InferenceSession, "run", broken)
    with pytest.raises(ExportError) as err:
        run.export(ExportOptions(out=tmp_path / "plan.json"))
    assert err.value.exit_code == 1
    assert "simulated onnxruntime failure" in err.value.message and "Nothing was written" in err.value.message
    assert not any(tmp_path.iterdir())
