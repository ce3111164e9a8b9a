"""Generated planning problems: random models, topologies and time tables.

For the solver tests (small random instances checked against brute force) and
the benchmark (50 to 1,000 units, 3 to 50 devices). Also a FLOPs-only time
table (:func:`time_table_from_flops`) for when no profile exists.

Example
-------
>>> import numpy as np
>>> p = random_problem(np.random.default_rng(1), n_units=4, n_devices=3, n_levels=2)
>>> p.n_units, len(p.devices)
(4, 3)
"""

from __future__ import annotations

__all__ = [
    "LEVEL_SPEEDUP",
    "random_structure",
    "random_topology",
    "random_time_table",
    "time_table_from_flops",
    "random_problem",
    "fleet_problem",
]

from collections.abc import Sequence

import numpy as np

from planner_app.core.optimizer.problem import (
    Constraints,
    ModelStructure,
    PlanningProblem,
    TensorInfo,
)
from planner_app.core.profiling.timetable import TimeTable
from planner_app.core.topology.records import Device, Link, Topology, Workload

#: level -> (precision used on the device, weight bytes factor, fidelity)
LEVEL_SPEEDUP: dict[str, tuple[str, float, float]] = {
    "fp32": ("fp32", 1.0, 1.0),
    "fp16": ("fp16", 0.5, 0.9995),
    "int8": ("int8", 0.25, 0.99),
    "int8-static": ("int8", 0.25, 0.985),
}


def _from_registry(level: str) -> tuple[str, float, float]:
    """A registered level's precision and nominal weight size (fidelity 1: nothing measured); fp32 if unknown."""
    from planner_app.core.compression.registry import get_level, is_known_level

    if not is_known_level(level):
        return ("fp32", 1.0, 1.0)
    record = get_level(level)
    return (record.precision, record.weight_size_factor, 1.0)


def random_structure(rng: np.random.Generator, n_units: int, dag: bool = True, name: str = "random") -> ModelStructure:
    """A chain, or with ``dag`` a DAG with skip connections and sometimes a second output."""
    flops = rng.uniform(1e6, 5e8, n_units)
    params = rng.uniform(0, 4e6, n_units)
    out_bytes = rng.integers(1_000, 2_000_000, n_units)
    consumers: list[list[int]] = [[] for _ in range(n_units)]
    input_consumers = [0]
    for i in range(1, n_units):
        consumers[i - 1].append(i)
        if dag and i >= 2 and rng.random() < 0.35:
            j = int(rng.integers(0, i - 1))
            consumers[j].append(i)
        if dag and rng.random() < 0.1:
            input_consumers.append(i)
    extra_out = dag and n_units >= 3 and rng.random() < 0.2
    tensors = [TensorInfo("input", int(rng.integers(10_000, 3_000_000)), -1, tuple(sorted(set(input_consumers))))]
    for i in range(n_units):
        is_out = i == n_units - 1 or (extra_out and i == n_units // 2)
        tensors.append(TensorInfo(f"t{i}", int(out_bytes[i]), i, tuple(sorted(set(consumers[i]))), is_out))
    return ModelStructure(name, [f"u{i}" for i in range(n_units)], flops, params, tensors)


def random_topology(
    rng: np.random.Generator,
    n_devices: int,
    shape: str = "chain",
    battery_source: bool = True,
    zones: bool = False,
) -> Topology:
    """Devices ``d0`` (the source, device tier) .. edges .. a cloud last.

    ``shape``: 'chain' (d0 - d1 - ... - cloud), 'star' (every device linked to
    d0, the cloud behind d1), or 'mesh' (chain plus random shortcuts).
    """
    devices = []
    for i in range(n_devices):
        if i == 0:
            tier, kind, gf = "device", "camera", rng.uniform(5, 50)
        elif i == n_devices - 1 and n_devices > 1:
            tier, kind, gf = "cloud", "cloud", rng.uniform(500, 5000)
        else:
            tier, kind, gf = "edge", "edge_server", rng.uniform(50, 500)
        devices.append(Device(
            id=f"d{i}", kind=kind, tier=tier, peak_gflops_fp32=float(gf),
            fp16_speedup=float(rng.uniform(1, 2)), int8_speedup=float(rng.uniform(1, 4)),
            memory_mb=float(rng.choice([64, 256, 1024, 8192, 65536])),
            power_active_w=float(rng.uniform(1, 10)), power_idle_w=0.5,
            radio_power_w=float(rng.uniform(0.5, 3)),
            battery=bool(battery_source and i == 0),
            cost_usd_per_hour=float(0 if tier == "device" else rng.uniform(0.05, 3)),
            precisions=["fp32", "fp16", "int8"],
            privacy_zone="home" if zones and i < max(1, n_devices // 2) else "",
        ))
    links: list[Link] = []

    def link(a: int, b: int) -> None:
        links.append(Link(
            id=f"l{len(links)}", a=f"d{a}", b=f"d{b}", medium="ethernet",
            bandwidth_ab_mbps=float(rng.uniform(5, 1000)), bandwidth_ba_mbps=float(rng.uniform(5, 1000)),
            latency_ms=float(rng.uniform(0.5, 40)), cost_usd_per_gb=float(rng.choice([0.0, 0.0, 0.05, 0.09])),
        ))

    if shape == "star":
        for i in range(1, n_devices):
            if i == n_devices - 1 and n_devices > 2:
                link(1, i)
            else:
                link(0, i)
    else:
        for i in range(1, n_devices):
            link(i - 1, i)
        if shape == "mesh":
            for _ in range(n_devices // 2):
                a, b = sorted(rng.choice(n_devices, 2, replace=False).tolist())
                if b > a + 1:
                    link(a, b)
    wl = Workload(name="w", source="d0", rate_rps=float(rng.uniform(0.5, 20)))
    return Topology(name=f"random-{shape}-{n_devices}", devices=devices, links=links, workloads=[wl])


def time_table_from_flops(
    structure: ModelStructure,
    topology: Topology,
    levels: Sequence[str] = ("fp32",),
    overhead_ms: float = 0.02,
) -> TimeTable:
    """Unit time = FLOPs / the device's peak at the level's precision + a per-unit overhead.

    A stand-in for a measured profile ("estimated" provenance), e.g. in the benchmark.
    """
    n = structure.n_units
    ids = [d.id for d in topology.devices]
    ms = np.empty((n, len(ids), len(levels)))
    pb = np.empty((n, len(levels)))
    fid = {}
    for li, lv in enumerate(levels):
        prec, wfac, f = LEVEL_SPEEDUP.get(lv) or _from_registry(lv)
        pb[:, li] = structure.param_bytes * wfac
        fid[lv] = f
        for di, d in enumerate(topology.devices):
            if prec not in [str(p) for p in d.precisions]:
                ms[:, di, li] = np.inf
            else:
                ms[:, di, li] = structure.flops / (d.peak_gflops(prec) * 1e6) + overhead_ms
    return TimeTable(ids, list(levels), ms, pb, {(d, lv): "estimated" for d in ids for lv in levels}, fid)


def random_time_table(
    rng: np.random.Generator, structure: ModelStructure, topology: Topology, n_levels: int
) -> TimeTable:
    """FLOPs-based times with ±30 % noise per unit and device; some levels missing on some devices."""
    levels = list(LEVEL_SPEEDUP)[:n_levels]
    tt = time_table_from_flops(structure, topology, levels)
    noise = rng.uniform(0.7, 1.3, tt.ms.shape)
    ms = tt.ms * noise
    for di in range(len(tt.device_ids)):
        for li in range(1, n_levels):
            if rng.random() < 0.15:
                ms[:, di, li] = np.inf
    fid = {lv: float(f) for lv, f in zip(levels, np.sort(rng.uniform(0.95, 1.0, n_levels))[::-1], strict=True)}
    fid[levels[0]] = 1.0
    return TimeTable(tt.device_ids, levels, ms, tt.param_bytes, tt.provenance, fid)


def random_problem(
    rng: np.random.Generator,
    n_units: int,
    n_devices: int,
    n_levels: int = 1,
    *,
    dag: bool = True,
    shape: str = "chain",
    objective: str | dict[str, float] = "latency",
    codecs: Sequence[str] = ("none",),
    memory: bool = False,
    privacy: bool = False,
    slo: bool = False,
    capacity: bool = False,
) -> PlanningProblem:
    """A random problem; the flags switch constraints on (tight enough to bind sometimes)."""
    s = random_structure(rng, n_units, dag)
    topo = random_topology(rng, n_devices, shape, zones=privacy)
    if memory:  # devices below the cloud hold between a third of the model and all of it
        need_mib = (float(s.param_bytes.sum()) + float(s.activation_bytes.max())) / 2**20
        for d in list(topo.devices):
            if str(d.tier) != "cloud":
                topo.replace_device(d.model_copy(update={"memory_mb": float(rng.uniform(0.3, 1.3) * need_mib)}))
    tt = random_time_table(rng, s, topo, n_levels)
    cons = Constraints(
        memory=memory,
        capacity=capacity,
        privacy="raw_input_in_zone" if privacy else "none",
    )
    p = PlanningProblem.build(topo, None, s, tt, codecs=list(codecs), constraints=cons, objective=objective)
    if slo:
        # a limit between the fastest unit placement and the all-local latency binds often
        local = float(np.nansum(np.where(np.isfinite(p.ms[:, 0, 0]), p.ms[:, 0, 0], 0)))
        p = p.with_changes(constraints=Constraints(
            memory=memory, capacity=capacity, privacy=cons.privacy, slo_ms=float(rng.uniform(0.3, 1.0) * local + 1)))
    return p


def fleet_problem(
    rng: np.random.Generator,
    n_units: int,
    type_counts: Sequence[int],
    n_levels: int = 1,
    *,
    objective: str | dict[str, float] = "throughput",
    codecs: Sequence[str] = ("none",),
    memory: bool = False,
    max_stages_per_device: int | None = 1,
    chain: bool = True,
    noise: float = 0.0,
) -> PlanningProblem:
    """A pipeline fleet: ``type_counts[k]`` identical devices of type ``k`` behind one switch.

    The source ``src`` (a camera, not a candidate) and every device hang off the switch
    ``sw``; a device type sets speed, memory and its link's bandwidth (PipeEdge's
    ``device_types.yml`` picture). With ``memory`` a device of the slowest types holds
    only part of the model. ``noise``: times vary by up to ± that fraction per unit, type
    and level (devices of one type keep equal times), so no level is faster everywhere.
    """
    s = random_structure(rng, n_units, dag=not chain)
    need_mib = (float(s.param_bytes.sum()) + float(s.activation_bytes.max())) / 2**20
    devices = [
        Device(id="src", kind="camera", tier="device", peak_gflops_fp32=5.0, memory_mb=256),
        Device(id="sw", kind="gateway", tier="edge", peak_gflops_fp32=1.0, memory_mb=64),
    ]
    links = [Link(id="l-src", a="src", b="sw", bandwidth_ab_mbps=float(rng.uniform(50, 1000)),
                  bandwidth_ba_mbps=float(rng.uniform(50, 1000)), latency_ms=float(rng.uniform(0.2, 5)))]
    ids: list[str] = []
    for k, count in enumerate(type_counts):
        gf = float(rng.uniform(20, 2000))
        mem = float(rng.uniform(0.2, 1.2) * need_mib) if memory else 65536.0
        bw = float(rng.uniform(20, 2000))
        lat = float(rng.uniform(0.1, 3))
        usd = float(rng.uniform(0.0, 2.0))
        for i in range(count):
            dev_id = f"t{k}-{i}"
            ids.append(dev_id)
            devices.append(Device(id=dev_id, kind="edge_server", tier="edge", device_type=f"type{k}",
                                  peak_gflops_fp32=gf, fp16_speedup=1.6, int8_speedup=2.5, memory_mb=mem,
                                  cost_usd_per_hour=usd, precisions=["fp32", "fp16", "int8"]))
            links.append(Link(id=f"l-{dev_id}", a=dev_id, b="sw", bandwidth_ab_mbps=bw, bandwidth_ba_mbps=bw,
                              latency_ms=lat))
    topo = Topology(name=f"fleet-{'-'.join(map(str, type_counts))}", devices=devices, links=links,
                    workloads=[Workload(name="w", source="src", rate_rps=1.0)])
    levels = list(LEVEL_SPEEDUP)[:n_levels]
    tt = time_table_from_flops(s, topo, levels)
    if noise:
        factor = {f"type{k}": rng.uniform(1 - noise, 1 + noise, (n_units, len(levels)))
                  for k in range(len(type_counts))}
        for di, dev in enumerate(topo.devices):
            if dev.device_type in factor:
                tt.ms[:, di, :] *= factor[dev.device_type]
    cons = Constraints(memory=memory, capacity=False, max_stages_per_device=max_stages_per_device)
    return PlanningProblem.build(topo, None, s, tt, codecs=list(codecs), constraints=cons, objective=objective,
                                 candidate_devices=ids)
