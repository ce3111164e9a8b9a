"""Time tables from a real host profile: measured, estimated by roofline, agent, imported."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from planner_app.core.models.graph import load_model
from planner_app.core.models.samples import build_sample_model
from planner_app.core.profiling.device_model import (
    build_time_table,
    calibrate_host,
    host_device_record,
    is_accelerator,
    op_class,
    parallel_speedup,
)
from planner_app.core.profiling.imported import ImportedTimesError, load_imported_times
from planner_app.core.profiling.runner import ProfileError, ProfileSettings, profile_model
from planner_app.core.topology.catalog import load_catalog
from planner_app.core.topology.io import load_topology
from planner_app.core.topology.records import Device, Link, Topology

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
    # one core, the host's calibrated peak, its per-thread bandwidth and nominal int8 speed-up
    twin = host.model_copy(update={"id": "twin", "peak_gflops_fp32": max(host.peak_gflops_fp32, best / 0.9)})
    assert twin.cpu_cores == 1 and not is_accelerator(twin)
    tt = build_time_table(mg, _topology(twin, _dev("other")), prof, host_device=_dev("other"))
    for li, level in enumerate(LEVELS):
        np.testing.assert_allclose(tt.ms[:, 0, li], prof.levels[level].unit_ms, rtol=1e-9, err_msg=level)
    # the device declared to be this host carries the measurement itself
    np.testing.assert_allclose(tt.ms[:, 1, 2], prof.levels["int8-static"].unit_ms, rtol=1e-12)
    assert tt.provenance_of("other", "fp32") == "measured-local"
    assert tt.provenance_of("twin", "fp32") == "estimated"


def test_roofline_scales_compute_bound_units_with_peak_and_memory_bound_with_bandwidth(measured):
    mg, prof = measured
    # one-core devices below the 12 GB/s one thread streams; ridge points (FLOP per byte):
    # base 0.01, fastc 0.1, fastm 0.001: any conv is compute-bound on all three, a unit
    # without FLOPs memory-bound everywhere
    base = _dev("base", peak_gflops_fp32=0.01, memory_bandwidth_gb_per_s=1.0)
    fast_compute = _dev("fastc", peak_gflops_fp32=0.1, memory_bandwidth_gb_per_s=1.0)
    fast_memory = _dev("fastm", peak_gflops_fp32=0.01, memory_bandwidth_gb_per_s=10.0)
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
    # a multi-core CPU with native fp16 (a GPU would be launch-bound on this small model)
    soc = _dev("soc", precisions=["fp32", "fp16", "int8"], fp16_speedup=4.0, int8_speedup=8.0, cpu_cores=8,
               peak_gflops_fp32=200.0, memory_bandwidth_gb_per_s=20.0)
    tt = build_time_table(mg, _topology(mcu, soc), prof)
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
    # a device the topology lacks is only known when the table is built: every row naming it is listed
    (tmp_path / "ghost.csv").write_text("device,level,unit,ms\nghost,fp32,0,1\nphone,fp32,1,1\n"
                                        "# comment\nghost,fp32,1,2\ngoblin,fp32,0,1\n")
    with pytest.raises(ImportedTimesError) as err:
        build_time_table(mg, _topology(_dev("phone")), prof, imported=load_imported_times(tmp_path / "ghost.csv", mg))
    text = str(err.value)
    assert "3 row(s) name devices the topology lacks (ghost, goblin; topology devices: phone)" in text
    assert "line 2: device 'ghost'" in text and "line 5: device 'ghost'" in text and "line 6: device 'goblin'" in text
    assert "line 3" not in text


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
    # faster CPUs take less time for the whole model at fp32 (an accelerator's per-kernel launch
    # floor can make a tiny model slower there than on a CPU, so accelerators are left out)
    totals = {d.id: tt.ms[:, i, 0].sum() for i, d in enumerate(topo.devices)}
    cpus = [d for d in topo.devices if not is_accelerator(d)]
    slowest = min(cpus, key=lambda d: d.peak_gflops_fp32)
    fastest = max(cpus, key=lambda d: d.peak_gflops_fp32)
    assert fastest.peak_gflops_fp32 > slowest.peak_gflops_fp32
    assert totals[fastest.id] < totals[slowest.id]


# ---------------------------------------------------------------------------- plausibility on the catalog

CATALOG_IDS = [p.id for p in load_catalog().devices]
PIS = ("raspberry-pi-4", "raspberry-pi-5")
GPUS = ("jetson-orin-nano", "jetson-agx-orin", "aws-g4dn-xlarge", "aws-g5-xlarge", "gcp-g2-standard-4")
#: full size where the QA cases were (ResNet-18's 3.6 GFLOP, the KWS LSTM, the encoder);
#: smaller MobileNet/YOLO keep the session short
SAMPLES = {
    "resnet18": ({}, ("fp32",)),
    "lstm_kws": ({}, ("fp32", "int8-dynamic")),
    "transformer_encoder": ({}, ("fp32", "int8-dynamic")),
    "mobilenet_v2": ({"image_size": 112}, ("fp32",)),
    "yolo_detector": ({"image_size": 160}, ("fp32",)),
}


@pytest.fixture(scope="session")
def catalog_tables():
    """Every sample profiled once (few runs) and its time table on every catalog device."""
    cat = load_catalog()
    devices = [cat.device_preset(i).make_device(i) for i in CATALOG_IDS]
    topo = _topology(*devices)
    out = {}
    settings = ProfileSettings(warmup=1, runs=3, max_seconds=1.0, fidelity_samples=1)
    for name, (kw, levels) in SAMPLES.items():
        mg = load_model(build_sample_model(name, **kw).SerializeToString(), name=name)
        prof = profile_model(mg, levels=levels, settings=settings, use_cache=False)
        out[name] = (mg, prof, build_time_table(mg, topo, prof), topo)
    return out


def _total(tt, device_id, level):
    return float(tt.ms[:, tt.device_index(device_id), tt.level_index(level)].sum())


def test_accelerators_are_told_from_cpus():
    cat = load_catalog()
    found = {i for i in CATALOG_IDS if is_accelerator(cat.device_preset(i).make_device(i))}
    assert found == {"jetson-nano", *GPUS}
    # Amdahl: grows with the work, never beyond the cores (8 at most) one request can use
    assert parallel_speedup(1e6, 4) < parallel_speedup(1e8, 4) < parallel_speedup(1e9, 4) < 4
    assert parallel_speedup(1e12, 64) < 8 and parallel_speedup(1e9, 1) == 1.0


def test_a_raspberry_pi_is_not_faster_than_one_host_core(catalog_tables):
    cat = load_catalog()
    for name, (_, prof, tt, _) in catalog_tables.items():
        host_core = prof.host.peak_gflops_fp32_per_core()
        for pi in PIS:
            pi_core = cat.device_preset(pi).peak_gflops_fp32 / cat.device_preset(pi).cpu_cores
            # four Pi cores give a batch-1 request at most twice one core
            bound = min(1.0, host_core / (2 * pi_core))
            for level in tt.levels:
                host_ms = sum(prof.levels[level].unit_ms)
                assert _total(tt, pi, level) >= bound * host_ms, (name, pi, level)
    # a batch-1 LSTM does not scale over cores: the Pi 5 is slower than one host core
    _, prof, tt, _ = catalog_tables["lstm_kws"]
    assert _total(tt, "raspberry-pi-5", "fp32") > sum(prof.levels["fp32"].unit_ms)


def test_batch1_throughput_stays_below_half_of_any_peak(catalog_tables):
    for name, (mg, _, tt, topo) in catalog_tables.items():
        flops = np.asarray([float(u.flops or 0) for u in mg.units])
        for dev in topo.devices:
            for level in tt.levels:
                col = tt.ms[:, tt.device_index(dev.id), tt.level_index(level)]
                if not np.all(np.isfinite(col)):
                    continue
                prec = "int8" if level.startswith("int8") else "fp32"
                gflops = flops.sum() / (col.sum() * 1e6)
                assert gflops <= 0.5 * dev.peak_gflops(prec), (name, dev.id, level, gflops)


def test_gpus_beat_the_pi_on_resnet18_but_far_below_their_peak(catalog_tables):
    mg, _, tt, topo = catalog_tables["resnet18"]
    gflop = sum(float(u.flops or 0) for u in mg.units) / 1e9
    pi5 = _total(tt, "raspberry-pi-5", "fp32")
    for gpu in GPUS:
        t = _total(tt, gpu, "fp32")
        assert t < pi5 / 5, gpu
        # batch 1 reaches well under a third of the datasheet peak
        assert gflop / (t / 1e3) < 0.3 * topo.device(gpu).peak_gflops_fp32, gpu
        col = tt.ms[:, tt.device_index(gpu), 0]
        assert np.all(col[col > 0] >= 0.03)  # a kernel launch per unit at least
    # the AGX Orin is not the 0.1 ms (30+ TFLOPS effective) it used to be estimated at
    assert _total(tt, "jetson-agx-orin", "fp32") > 1.0
    assert _total(tt, "edge-server-2s-xeon", "fp32") > _total(tt, "aws-g4dn-xlarge", "fp32")


def test_a_device_level_speedup_is_the_host_one_times_a_bounded_factor(catalog_tables):
    for name, (_, prof, tt, topo) in catalog_tables.items():
        if "int8-dynamic" not in tt.levels:
            continue
        t32, t8 = prof.levels["fp32"].unit_ms, prof.levels["int8-dynamic"].unit_ms
        host_speedup = sum(t32) / sum(t8)
        for dev in topo.devices:
            if "int8" not in dev.precisions:
                continue
            speedup = _total(tt, dev.id, "fp32") / _total(tt, dev.id, "int8-dynamic")
            assert speedup <= 2.0 * host_speedup * (1 + 1e-9), (name, dev.id)
    # the NUC (int8 3x its fp32 peak, the host's AVX2 2x): at most sqrt(3/2) more than the host
    _, prof, tt, _ = catalog_tables["transformer_encoder"]
    host_speedup = sum(prof.levels["fp32"].unit_ms) / sum(prof.levels["int8-dynamic"].unit_ms)
    nuc = _total(tt, "intel-nuc-13-pro", "fp32") / _total(tt, "intel-nuc-13-pro", "int8-dynamic")
    if prof.host.simd == "avx2":
        assert nuc <= host_speedup * (3 / 2) ** 0.5 * (1 + 1e-9)


def test_an_imported_fp32_time_anchors_the_other_levels(catalog_tables, tmp_path):
    mg, prof, tt, topo = catalog_tables["lstm_kws"]
    hub = topo.device("raspberry-pi-5")
    est32, est8 = (tt.ms[:, tt.device_index(hub.id), tt.level_index(lv)] for lv in ("fp32", "int8-dynamic"))
    # the hub measured 11 ms at fp32, spread like the host's units; one unit left out
    host32 = np.asarray(prof.levels["fp32"].unit_ms)
    given = host32 / host32.sum() * 11.0
    rows = ["device,level,unit,ms"] + [f"{hub.id},fp32,{u.name},{given[u.id]}" for u in mg.units[:-1]]
    (tmp_path / "hub.csv").write_text("\n".join(rows) + "\n")
    imported = load_imported_times(tmp_path / "hub.csv", mg)
    anchored = build_time_table(mg, topo, prof, imported=imported)
    a32, a8 = (anchored.ms[:, anchored.device_index(hub.id), anchored.level_index(lv)]
               for lv in ("fp32", "int8-dynamic"))
    np.testing.assert_allclose(a32[:-1], given[:-1])
    assert anchored.provenance_of(hub.id, "fp32") == "imported"
    assert anchored.provenance_of(hub.id, "int8-dynamic") == "estimated"
    # each timed unit keeps the estimated int8/fp32 ratio, scaled onto the measurement
    np.testing.assert_allclose(a8[:-1], given[:-1] * est8[:-1] / est32[:-1])
    # the unit the file left out is scaled like the ones it timed
    scale = given[:-1].sum() / est32[:-1].sum()
    assert a32[-1] == pytest.approx(est32[-1] * scale) and a8[-1] == pytest.approx(est8[-1] * scale)
    assert a8.sum() > 2 * est8.sum()  # 11 ms measured vs ~3 ms estimated: int8 follows
    # other devices are untouched
    other = anchored.device_index("raspberry-pi-4")
    np.testing.assert_allclose(anchored.ms[:, other, :], tt.ms[:, other, :])


def test_an_agent_fp32_profile_anchors_levels_it_did_not_measure(catalog_tables):
    mg, prof, tt, topo = catalog_tables["lstm_kws"]
    agent = copy.deepcopy(prof)
    agent.levels = {"fp32": agent.levels["fp32"]}
    agent.levels["fp32"].unit_ms = [3 * t for t in agent.levels["fp32"].unit_ms]
    got = build_time_table(mg, topo, prof, agent_profiles={"jetson-orin-nano": agent})
    d, i8 = got.device_index("jetson-orin-nano"), got.level_index("int8-dynamic")
    assert got.provenance_of("jetson-orin-nano", "fp32") == "measured-agent"
    assert got.provenance_of("jetson-orin-nano", "int8-dynamic") == "estimated"
    np.testing.assert_allclose(got.ms[:, d, 0], agent.levels["fp32"].unit_ms)
    est = tt.ms[:, d, :]
    on = est[:, 0] > 0
    np.testing.assert_allclose(got.ms[on, d, i8], got.ms[on, d, 0] * est[on, i8] / est[on, 0])
