"""The planning session's steps, each called alone, with typed options.

Real sample models, real onnxruntime profiles, real files: the window, the
agent and layer tables will each drive one of these steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from planner_app.cli import main
from planner_app.core.errors import PlannerError
from planner_app.core.models import ModelStructure, load_model
from planner_app.core.planning import (
    ExportOptions,
    LoadOptions,
    Measured,
    MeasureOptions,
    ModelSource,
    OnnxModelSource,
    OptionsError,
    PlanningSession,
    PoseOptions,
    SolveOptions,
    StepOrderError,
)
from planner_app.core.plans import validate_plan
from planner_app.core.profiling import ProfileSettings, TimeTable, profile_model
from planner_app.core.resources import sample_topology_paths

HOME = sample_topology_paths()["smart_home"]
KWS = "hub-keyword-spotting"
QUICK = ProfileSettings(warmup=1, runs=3, max_seconds=2.0, fidelity_samples=2)


@pytest.fixture(scope="module")
def kws():
    mg = load_model("sample:lstm_kws")
    return mg, profile_model(mg, ["fp32"], settings=QUICK)


def test_load_model_follows_the_workload_and_is_a_model_source():
    s = PlanningSession.open(HOME, KWS)
    source = s.load_model(LoadOptions())
    assert isinstance(source, ModelSource) and isinstance(source, OnnxModelSource)
    assert source.label == "sample:lstm_kws"
    structure = source.structure()
    assert isinstance(structure, ModelStructure) and structure.n_units == len(source.graph.units)
    assert source.model_info().sha256 == source.sha256
    assert s.measured is None and s.problem is None


def test_measure_from_a_saved_profile_file(kws, tmp_path):
    mg, profile = kws
    path = profile.save(tmp_path / "kws.json")
    s = PlanningSession.open(HOME, KWS)
    s.use_model(mg)
    measured = s.measure(MeasureOptions(profile=path, profile_now=False))
    assert not measured.profiled_now and measured.profile is not None
    tt = measured.time_table
    assert tt.levels == ["fp32"] and tt.ms.shape == (len(mg.units), 6, 1)
    assert np.all(np.isfinite(tt.ms)) and tt.provenance_of("hub", "fp32") == "estimated"
    assert any(str(path) in n for n in s.notes)


def test_time_table_from_imported_times_only(kws, tmp_path):
    """No local profile: only the imported (device, level) pairs can run, and the plan uses only them."""
    mg, _ = kws
    csv = tmp_path / "times.csv"
    rows = [f"{dev},fp32,{u.name},{ms}\n" for dev, ms in (("hub", 2.0), ("home-server", 0.5))
            for u in mg.units]
    csv.write_text("device,level,unit,ms\n" + "".join(rows))
    s = PlanningSession.open(HOME, KWS)
    s.use_model(mg)
    measured = s.measure(MeasureOptions(imported=(csv,), profile_now=False, levels=("fp32",)))
    tt = measured.time_table
    assert measured.profile is None
    assert tt.provenance_of("hub", "fp32") == "imported" and tt.time(0, "hub", "fp32") == 2.0
    assert tt.provenance_of("cloud-gpu", "fp32") == "not measured"
    assert np.all(np.isinf(tt.ms[:, tt.device_index("cloud-gpu"), 0]))
    s.pose(PoseOptions(slo_ms=None))
    result = s.solve()
    assert result.feasible
    assert {p.device for p in result.prediction.parts} <= {"hub", "home-server"}
    assert any("run nothing at the levels no measurement covers" in n for n in s.notes)


def test_nothing_to_measure_with_is_a_clear_error(kws):
    s = PlanningSession.open(HOME, KWS)
    s.use_model(kws[0])
    with pytest.raises(PlannerError, match="nothing to measure"):
        s.measure(MeasureOptions(profile_now=False))


def test_solve_with_a_given_time_table(kws):
    """A time table made elsewhere (a window panel, a layer table): the hub is made 1000x faster."""
    mg, _ = kws
    s = PlanningSession.open(HOME, KWS)
    s.use_model(mg)
    topo = s.topology
    n, ids = len(mg.units), [d.id for d in topo.devices]
    ms = np.full((n, len(ids), 1), 50.0)
    ms[:, ids.index("hub"), 0] = 0.05
    tt = TimeTable(device_ids=ids, levels=["fp32"], ms=ms, param_bytes=np.zeros((n, 1)),
                   fidelity={"fp32": 1.0})
    s.use_time_table(Measured(tt))
    s.pose(PoseOptions(objective="latency", slo_ms=None))
    result = s.solve(SolveOptions(solver="dp"))
    assert result.feasible and result.solver == "dp"
    assert {p.device for p in result.prediction.parts} == {"hub"}


def test_steps_need_the_steps_before_them_and_redoing_one_drops_the_later(kws, tmp_path):
    mg, profile = kws
    s = PlanningSession.open(HOME, KWS)
    with pytest.raises(StepOrderError, match="load_model"):
        s.measure()
    s.use_model(mg)
    with pytest.raises(StepOrderError, match="measure"):
        s.pose()
    s.measure(MeasureOptions(profile=profile))
    with pytest.raises(StepOrderError, match="pose"):
        s.solve()
    s.pose(PoseOptions(slo_ms=None))
    with pytest.raises(StepOrderError, match="solve"):
        s.export(ExportOptions(out=tmp_path / "plan.json"))
    s.solve()
    plan = s.export(ExportOptions(out=tmp_path / "plan.json"))
    assert validate_plan(tmp_path / "plan.json").ok and plan.model.sha256 == mg.sha256
    s.pose(PoseOptions(objective="cost", slo_ms=None))  # posing again drops the old result and plan
    assert s.result is None and s.plan is None and s.measured is not None


@pytest.mark.parametrize(("make", "field"), [
    (lambda: SolveOptions(paretto=True), "paretto"),
    (lambda: SolveOptions(solver="simplex"), "solver"),
    (lambda: PoseOptions(objective="fastest"), "objective"),
    (lambda: PoseOptions(min_fidelity=1.5), "min_fidelity"),
    (lambda: MeasureOptions(levels=("int4",)), "levels"),
    (lambda: ExportOptions(out="p.json", fidelity_samples=0), "fidelity_samples"),
    (lambda: LoadOptions(modle="x.onnx"), "modle"),
])
def test_a_misspelt_or_bad_option_is_exit_2_naming_the_field(make, field):
    with pytest.raises(OptionsError) as info:
        make()
    assert info.value.exit_code == 2
    assert repr(field) in info.value.message


def test_options_are_frozen():
    opts = SolveOptions()
    with pytest.raises(Exception, match="frozen"):
        opts.pareto = True  # type: ignore[misc]


def test_cli_plans_from_imported_times_only(kws, tmp_path, capsys):
    mg, _ = kws
    csv = tmp_path / "times.csv"
    csv.write_text("device,level,unit,ms\n" + "".join(
        f"{dev},fp32,{u.name},1.0\n" for dev in ("hub", "home-server") for u in mg.units))
    out = tmp_path / "plan.json"
    rc = main(["optimize", "--topology", str(HOME), "--workload", KWS, "--imported", str(csv),
               "--no-local-profile", "--levels", "fp32", "--out", str(out), "--quiet"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert validate_plan(out).ok
    rc = main(["optimize", "--topology", str(HOME), "--workload", KWS, "--agent-profile", "nohost",
               "--out", str(out), "--quiet"])
    assert rc == 2 and "DEVICE=PROFILE.json" in capsys.readouterr().err


class MeasuredOnlySource:
    """A second ModelSource, built only from the protocol: a unit structure and a time table, no ONNX.

    It stands in for the layer-table source (a later issue) to show that nothing in
    planning, the cost model or the plan needs ONNX; it is not a mock of a component.
    """

    def __init__(self, structure: ModelStructure, table: TimeTable) -> None:
        self._structure, self._table = structure, table

    name = "four-layer-net"
    label = "layers.csv"
    sha256 = "ab" * 32
    input_shapes = {"input": [1, 64]}
    part_builder = None

    def structure(self) -> ModelStructure:
        return self._structure

    def model_info(self):
        from planner_app.core.plans import ModelInfo

        s = self._structure
        return ModelInfo(name=self.name, source=self.label, sha256=self.sha256, bytes=0, opsets={},
                         input_shapes={t.name: [1, t.size_bytes // 4] for t in s.tensors if t.producer < 0},
                         output_names=[t.name for t in s.tensors if t.is_output], units=s.n_units)

    def measure(self, topology, options, *, progress=None, cancel=None) -> Measured:
        return Measured(self._table, notes=("times from layers.csv",))


def test_a_model_without_onnx_plans_and_exports_a_plan_without_part_files(tmp_path):
    structure = ModelStructure.chain([1e9, 2e9, 2e9, 1e8], [200_000, 100_000, 50_000, 400], input_bytes=600_000,
                                     param_bytes=[4e6, 8e6, 8e6, 1e6])
    s = PlanningSession.open(HOME, "photo-tagging")
    ids = [d.id for d in s.topology.devices]
    ms = np.full((4, len(ids), 1), 5.0)
    tt = TimeTable(device_ids=ids, levels=["fp32"], ms=ms, param_bytes=structure.param_bytes.reshape(4, 1),
                   fidelity={"fp32": 1.0}, provenance={(d, "fp32"): "imported" for d in ids})
    source = MeasuredOnlySource(structure, tt)
    assert isinstance(source, ModelSource)
    s.workload = s.workload.model_copy(update={"input_shapes": {}})
    s.use_model(source)
    s.measure()
    s.pose(PoseOptions(slo_ms=None, pinned_units={0: s.workload.source, 3: "cloud-cpu"}))
    assert s.solve().feasible
    plan = s.export(ExportOptions(out=tmp_path / "plan.json"))
    assert len(plan.stages) >= 2 and all(st.artifact is None for st in plan.stages)
    assert plan.stages[0].inputs == ["input"] and plan.stages[-1].outputs == ["t3"]
    assert not (tmp_path / "parts").exists()
    rep = validate_plan(tmp_path / "plan.json")
    assert rep.ok, rep.problems
    assert any("no part files" in w for w in rep.warnings)


def test_a_plan_with_two_stages_on_one_device_and_per_link_overheads_validates(tmp_path):
    """Two consecutive parts on one device (a level change), a skip tensor that arrived at the first of
    them, and a link with its own per-message overhead: the exported plan re-derives exactly."""
    from planner_app.core.models.structure import TensorInfo
    from planner_app.core.optimizer.problem import Placement

    tensors = [TensorInfo("input", 40_000, -1, (0,)), TensorInfo("a", 20_000, 0, (1, 2)),
               TensorInfo("b", 10_000, 1, (2,)), TensorInfo("out", 400, 2, (), True)]
    structure = ModelStructure("skip-net", ["u0", "u1", "u2"], np.array([1e8, 2e8, 1e8]),
                               np.array([1e6, 2e6, 1e6]), tensors)
    s = PlanningSession.open(HOME, "photo-tagging")
    up = s.topology.link("home-uplink")
    s.topology.replace_link(up.model_copy(update={"message_overhead_ms": 3.0}))
    ids = [d.id for d in s.topology.devices]
    tt = TimeTable(device_ids=ids, levels=["fp32", "fp16"], ms=np.full((3, len(ids), 2), 2.0),
                   param_bytes=np.array([[1e6, 5e5], [2e6, 1e6], [1e6, 5e5]]), fidelity={"fp32": 1.0, "fp16": 1.0},
                   provenance={(d, lv): "imported" for d in ids for lv in ("fp32", "fp16")})
    source = MeasuredOnlySource(structure, tt)
    s.workload = s.workload.model_copy(update={"input_shapes": {}})
    s.use_model(source)
    s.measure()
    s.pose(PoseOptions(slo_ms=None, min_fidelity=None))
    s.solve(SolveOptions(solver="dp"))
    placement = Placement(("hub", "cloud-cpu", "cloud-cpu"), ("fp32", "fp32", "fp16"))
    plan = s.export(ExportOptions(out=tmp_path / "plan.json"), placement)
    assert [st.device for st in plan.stages] == ["hub", "cloud-cpu", "cloud-cpu"]
    up_transfer = next(t for t in plan.transfers if "home-uplink" in t.route_links)
    assert up_transfer.transfer_ms > 3.0  # the uplink's own overhead, not the 0.5 ms default
    rep = validate_plan(tmp_path / "plan.json")
    assert rep.ok, rep.problems


def test_a_batched_workload_scales_figures_measured_at_batch_1(kws):
    """The workload runs batches of 4 and the model was loaded for one request: compute and
    tensor sizes are scaled 4x (no batching speed-up), and the pose step says so."""
    mg, _ = kws
    n, problems = len(mg.units), {}
    for batch in (1, 4):
        s = PlanningSession.open(HOME, KWS)
        wl = s.topology.workload(KWS).model_copy(update={"batch_size": batch})
        s.topology.replace_workload(next(i for i, w in enumerate(s.topology.workloads) if w.name == KWS), wl)
        s = PlanningSession(s.topology, KWS)
        s.use_model(mg)
        ids = [d.id for d in s.topology.devices]
        tt = TimeTable(device_ids=ids, levels=["fp32"], ms=np.full((n, len(ids), 1), 2.0),
                       param_bytes=np.zeros((n, 1)), fidelity={"fp32": 1.0})
        s.use_time_table(Measured(tt))
        problems[batch] = s.pose(PoseOptions(objective="latency", slo_ms=None))
        notes = [x for x in s.notes if "batches of" in x]
        assert (notes == []) if batch == 1 else ("scaled 4x" in notes[0] and "batch 1" in notes[0])
    one, four = problems[1], problems[4]
    assert np.allclose(four.structure.cut_bytes, 4 * one.structure.cut_bytes)
    assert four.batch_scale == 4.0 and one.batch_scale == 1.0
    assert np.allclose(four.ms, 4 * one.ms)
