"""Time tables from a real host profile: measured, estimated by roofline, agent, imported."""

from __future__ import annotations

import numpy as np
import pytest

from planner_app.core.device_model import (
    build_time_table,
    calibrate_host,
    host_device_record,
    op_class,
)
from planner_app.core.imported import ImportedTimesError, load_imported_times
from planner_app.core.model_graph import load_model
from planner_app.core.profiling import ProfileError, ProfileSettings, profile_model
from planner_app.core.samples import build_sample_model
from planner_app.core.topology import Device, Link, Topology
from planner_app.core.topology_io import load_topology

LEVELS = ("fp32", "fp16", "int8-static")


@pytest.fixture(scope="module")
def measured():
    mg = load_model(build_sample_model("mobilenet_v2", image_size=64, width_mult=0.5, num_classes=100)
                    .SerializeToString(), name="mobilenet_v2")
    prof = profile_model(mg, levels=LEVELS, settings=ProfileSettings(warmup=1, runs=6, fidelity_samples=3),
                         use_cache=False)
    return mg, prof


def _dev(id_: str, **kw) -> Device:
    base = {"kind": "edge_server", "tier": "edge", "peak_gflops_fp32": 100.0, "memory_mb": 4096,
            "memory_bandwidth_gb_per_s": 20.0, "precisions": ["fp32", "int8"]}
    return Device(id=id_, **{**base, **kw})


def _topology(*devices: Device) -> Topology:
    links = [Link(id=f"l{i}", a=devices[0].id, b=d.id, bandwidth_ab_mbps=100, bandwidth_ba_mbps=100)
             for i, d in enumerate(devices[1:])]
    return Topology(name="t", devices=list(devices), links=links)


def test_a_device_equal_to_the_host_gets_the_host_measurement(measured):
    mg, prof = measured
    host = host_device_record(prof.host, prof.settings.threads)
    cal = calibrate_host(mg, prof, host)
    best = max(cal.effective_gflops.get("conv", 0), cal.effective_gflops.get("matmul", 0))
    twin = host.model_copy(update={"id": "twin", "peak_gflops_fp32": max(host.peak_gflops_fp32, best / 0.9),
                                   "int8_speedup": cal.int8_speedup})
    tt = build_time_table(mg, _topology(twin, _dev("other")), prof, host_device=_dev("other"))
    np.testing.assert_allclose(tt.ms[:, 0, 0], prof.levels["fp32"].unit_ms, rtol=1e-9)
    # the device declared to be this host carries the measurement itself
    np.testing.assert_allclose(tt.ms[:, 1, 2], prof.levels["int8-static"].unit_ms, rtol=1e-12)
    assert tt.provenance_of("other", "fp32") == "measured-local"
    assert tt.provenance_of("twin", "fp32") == "estimated"


def test_roofline_scales_compute_bound_units_with_peak_and_memory_bound_with_bandwidth(measured):
    mg, prof = measured
    # ridge points (FLOP per byte): base 0.01, fastc 0.1, fastm 0.001; any conv is
    # compute-bound on all three, a unit without FLOPs memory-bound everywhere
    base = _dev("base", peak_gflops_fp32=1.0, memory_bandwidth_gb_per_s=100.0)
    fast_compute = _dev("fastc", peak_gflops_fp32=10.0, memory_bandwidth_gb_per_s=100.0)
    fast_memory = _dev("fastm", peak_gflops_fp32=1.0, memory_bandwidth_gb_per_s=1000.0)
    tt = build_time_table(mg, _topology(base, fast_compute, fast_memory), prof, ["fp32"])
    t = tt.ms[:, :, 0]
    on = t[:, 0] > 0
    ratio_c, ratio_m = t[on, 1] / t[on, 0], t[on, 2] / t[on, 0]
    assert np.all((ratio_c >= 0.1 - 1e-9) & (ratio_c <= 1 + 1e-9))
    assert np.all((ratio_m >= 0.1 - 1e-9) & (ratio_m <= 1 + 1e-9))
    units = [u for u, keep in zip(mg.units, on, strict=True) if keep]
    convs = [i for i, u in enumerate(units) if op_class(u.op_types) == "conv"]
    assert convs
    for i in convs:
        assert ratio_c[i] == pytest.approx(0.1) and ratio_m[i] == pytest.approx(1.0)
    for i, u in enumerate(units):
        if u.flops == 0:
            assert ratio_m[i] == pytest.approx(0.1) and ratio_c[i] == pytest.approx(1.0), u.name
    assert t[:, 1].sum() < t[:, 0].sum()


def test_precision_rules_int8_needs_support_fp16_runs_without_speedup(measured):
    mg, prof = measured
    mcu = _dev("mcu", precisions=["fp32"], peak_gflops_fp32=5.0, memory_bandwidth_gb_per_s=2.0)
    gpu = _dev("gpu", precisions=["fp32", "fp16", "int8"], fp16_speedup=4.0, int8_speedup=8.0,
               peak_gflops_fp32=1000.0, memory_bandwidth_gb_per_s=200.0)
    tt = build_time_table(mg, _topology(mcu, gpu), prof)
    i16, i8 = tt.level_index("fp16"), tt.level_index("int8-static")
    assert np.all(np.isinf(tt.ms[:, 0, i8])) and np.all(np.isfinite(tt.ms[:, 1, i8]))
    assert np.all(np.isfinite(tt.ms[:, 0, i16]))
    assert tt.ms[:, 1, i16].sum() < tt.ms[:, 1, tt.level_index("fp32")].sum()
    assert tt.param_bytes[:, i16].sum() < 0.55 * tt.param_bytes[:, 0].sum()
    assert tt.param_bytes[:, i8].sum() < 0.35 * tt.param_bytes[:, 0].sum()
    assert tt.activation_bytes.shape == (len(mg.units),) and tt.activation_bytes.min() > 0
    assert tt.fidelity["fp32"] == 1.0 and 0 <= tt.fidelity["int8-static"] <= 1


def test_agent_measurements_win_over_estimates(measured):
    mg, prof = measured
    tt = build_time_table(mg, _topology(_dev("edge"), _dev("cloud")), prof, agent_profiles={"edge": prof})
    assert tt.provenance_of("edge", "fp16") == "measured-agent"
    np.testing.assert_allclose(tt.ms[:, 0, 1], prof.levels["fp16"].unit_ms)
    assert tt.provenance_of("cloud", "fp16") == "estimated"


def test_an_imported_profile_is_used_in_place_of_measurement(measured, tmp_path):
    mg, prof = measured
    rows = ["device,level,unit,ms"] + [f"phone,fp32,{u.name},{0.5 + u.id}" for u in mg.units]
    rows.append(f"phone,int8-static,{mg.units[0].node_names[0]},7.0")
    (tmp_path / "phone.csv").write_text("\n".join(rows) + "\n")
    imported = load_imported_times(tmp_path / "phone.csv", mg)
    tt = build_time_table(mg, _topology(_dev("phone"), _dev("edge")), prof, imported=imported)
    np.testing.assert_allclose(tt.ms[:, 0, 0], [0.5 + u.id for u in mg.units])
    assert tt.provenance_of("phone", "fp32") == "imported"
    i8 = tt.level_index("int8-static")
    assert tt.ms[0, 0, i8] == 7.0 and tt.provenance_of("phone", "int8-static") == "imported"
    # units the file does not time keep their estimate
    assert np.all(np.isfinite(tt.ms[1:, 0, i8]))
    assert tt.provenance_of("edge", "fp32") == "estimated"
    (tmp_path / "ghost.csv").write_text("device,level,unit,ms\nghost,fp32,0,1\n")
    with pytest.raises(ImportedTimesError, match="ghost"):
        build_time_table(mg, _topology(_dev("phone")), prof, imported=load_imported_times(tmp_path / "ghost.csv", mg))


def test_wrong_profile_or_missing_level_is_a_clear_error(measured):
    mg, prof = measured
    other = load_model(build_sample_model("lstm_kws", frames=10).SerializeToString(), name="kws")
    with pytest.raises(ProfileError, match="not of kws"):
        build_time_table(other, _topology(_dev("a")), prof)
    with pytest.raises(ProfileError, match=r"\['pruned-50'\] were not profiled"):
        build_time_table(mg, _topology(_dev("a")), prof, ["fp32", "pruned-50"])


def test_sample_scenario_time_table_is_finite_where_it_should_be(measured):
    mg, prof = measured
    topo = load_topology("sample_topologies/smart_home.json")
    tt = build_time_table(mg, topo, prof)
    assert tt.ms.shape == (len(mg.units), len(topo.devices), len(LEVELS))
    assert np.all(np.isfinite(tt.ms[:, :, 0])) and np.all(tt.ms[:, :, 0] >= 0)
    # faster devices take less time for the whole model at fp32
    totals = {d.id: tt.ms[:, i, 0].sum() for i, d in enumerate(topo.devices)}
    slowest = min(topo.devices, key=lambda d: d.peak_gflops_fp32)
    fastest = max(topo.devices, key=lambda d: d.peak_gflops_fp32)
    assert totals[fastest.id] < totals[slowest.id]
