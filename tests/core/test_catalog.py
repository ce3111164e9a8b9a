"""The catalog: enough presets, each with a source, figures plausible for the product."""

from __future__ import annotations

import pytest

from planner_app.core.errors import PlannerError
from planner_app.core.topology.catalog import load_catalog
from planner_app.core.topology.records import Tier


def test_catalog_has_enough_presets_with_sources():
    cat = load_catalog()
    assert len(cat.devices) >= 12 and len(cat.links) >= 6
    for p in [*cat.devices, *cat.links]:
        assert len(p.source) > 20, f"{p.id} needs a real source"
    tiers = {p.tier for p in cat.devices}
    assert tiers == {Tier.device, Tier.edge, Tier.cloud}


def test_requested_products_are_present():
    ids = {p.id for p in load_catalog().devices}
    for wanted in ("raspberry-pi-4", "raspberry-pi-5", "jetson-nano", "jetson-orin-nano",
                   "phone-midrange", "phone-flagship", "intel-nuc-13-pro", "siemens-iot2050",
                   "edge-server-2s-xeon", "aws-c6i-4xlarge", "aws-g4dn-xlarge", "aws-g5-xlarge",
                   "gcp-g2-standard-4"):  # fmt: skip
        assert wanted in ids
    media = {p.medium for p in load_catalog().links}
    assert {"wifi", "lte", "5g", "ethernet", "fiber", "wan"} <= media


@pytest.mark.parametrize(
    ("preset", "gflops_range", "memory_mb"),
    [
        ("raspberry-pi-4", (20, 60), 4096),          # 4x A72 @1.5 GHz
        ("jetson-nano", (200, 260), 4096),           # 236 fp32 / 472 fp16
        ("aws-g4dn-xlarge", (7000, 9000), 16384),    # T4 8.1 TFLOPS
        ("edge-server-2s-xeon", (5000, 10000), 262144),
    ],
)
def test_figures_are_plausible_for_the_real_product(preset, gflops_range, memory_mb):
    p = load_catalog().device_preset(preset)
    assert gflops_range[0] <= p.peak_gflops_fp32 <= gflops_range[1]
    assert p.memory_mb == memory_mb


def test_cloud_costs_money_and_phones_run_on_battery():
    cat = load_catalog()
    for p in cat.devices:
        if p.tier is Tier.cloud:
            assert 0.05 < p.cost_usd_per_hour < 5
        if p.kind.value == "phone":
            assert p.battery and p.radio_power_w > 0


def test_lte_uplink_is_slower_than_downlink_and_costs_per_gb():
    lte = load_catalog().link_preset("lte")
    assert lte.bandwidth_ab_mbps < lte.bandwidth_ba_mbps
    assert lte.cost_usd_per_gb > 0 and lte.latency_ms >= 10


def test_make_device_and_link_from_presets():
    cat = load_catalog()
    d = cat.device_preset("jetson-orin-nano").make_device("j1", x=5, y=6)
    assert d.preset == "jetson-orin-nano" and d.position.x == 5 and d.peak_gflops("int8") > d.peak_gflops("fp32")
    lk = cat.link_preset("wifi6").make_link("w", "a", "b")
    assert lk.medium == "wifi" and lk.preset == "wifi6"


def test_unknown_preset_lists_the_choices():
    with pytest.raises(PlannerError, match="raspberry-pi-5"):
        load_catalog().device_preset("raspberry-pi-9")
