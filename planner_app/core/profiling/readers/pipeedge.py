"""PipeEdge's scheduler inputs (``models.yml``, ``device_types.yml``, ``devices.yml``) as a layer table and a topology.

The format is the one of PipeEdge's ``README_Scheduler.md`` (github.com/usc-isi/PipeEdge):

* ``models.yml``: model name → ``layers`` (count), ``mem_MB`` (per layer, MiB: the
  weights a stage holds), ``parameters_in`` (elements of one sample's input),
  ``parameters_out`` (elements of each layer's output, per sample);
* ``device_types.yml``: type name → ``bw_Mbps`` (its network bandwidth, 2^20 bit/s),
  ``mem_MB`` (its memory, MiB), ``model_profiles``: model name → a list of
  ``{batch_size, dtype, time_s: [per layer]}`` (a single ``{time_s: […]}`` map is
  read as batch 1, the dtype given by ``dtype=``);
* ``devices.yml``: type name → list of hosts.

What it becomes
---------------
The layer table is the model's chain of layers: output bytes = ``parameters_out ×
dtype size`` per request, the input ``parameters_in × dtype size``, weight bytes =
``mem_MB × 2^20``, and one time series per profile (``time_unit: s``, ``batch`` =
its ``batch_size``, the level from its dtype: ``torch.float32`` → fp32,
``torch.float16`` → fp16). The topology has one device per host (``device_type`` =
its type, memory = the type's ``mem_MB``), and a full mesh of links, each at the
smaller bandwidth of its two ends, as PipeEdge's scheduler computes a transfer.
PipeEdge states no peak FLOPs (every type has measured times, so none is
estimated): ``peak_gflops_fp32`` is a placeholder of 1. The workload runs the
model at the profiles' batch size with its source (and results) on the first
host; PipeEdge's files state no request rate, so ``rate_rps`` is
:data:`DEFAULT_RATE_RPS`: set yours.

Every problem names the file and the key (``device_types.yml: RCC-VE-C2558.model_profiles``).

Example
-------
>>> imp = read_pipeedge("models.yml", "device_types.yml", "devices.yml", "google/vit-base-patch16-224")  # doctest: +SKIP
>>> imp.table.layers[0].output_bytes, [d.id for d in imp.topology.devices][:2]                            # doctest: +SKIP
(1210368, ['mb-0', 'mb-1'])
"""

from __future__ import annotations

__all__ = ["PipeEdgeImport", "read_pipeedge", "read_yaml", "DEFAULT_RATE_RPS"]

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner_app.core.errors import Problem
from planner_app.core.fileio import read_bytes
from planner_app.core.models.layer_table import (
    LayerInput,
    LayerRow,
    LayerTableDocument,
    LayerTableError,
    LayerTimes,
    dtype_bytes,
)
from planner_app.core.topology import Device, Link, Topology, Workload
from planner_app.core.topology.records import DeviceKind, Tier

#: the request rate of an imported workload (PipeEdge's files state none)
DEFAULT_RATE_RPS = 0.05
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: PipeEdge's Mbps and MB are powers of two (its scheduler: × 1024 × 1024)
_MIB = 1024 * 1024
_LEVEL_OF_DTYPE = {"float32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16"}


@dataclass
class PipeEdgeImport:
    """What PipeEdge's three files become."""

    table: LayerTableDocument
    topology: Topology
    notes: list[str] = field(default_factory=list)


def read_yaml(path: str | Path, what: str) -> Any:
    """A YAML file as plain data (safe loader), with errors that name the file and the line."""
    import yaml

    p = Path(path)
    raw = read_bytes(p, what, error=LayerTableError, suffix=".yml")
    try:
        return yaml.safe_load(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise LayerTableError(f"{what} '{p}' is not UTF-8 text.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LayerTableError(f"{what} '{p}' is not valid YAML{where}: {problem}.") from None


def _number_list(value: Any, n: int, where: str, problems: list[Problem], *, integer: bool = False) -> list[float]:
    kind = "integers" if integer else "numbers"
    if not isinstance(value, list):
        problems.append(Problem(where, f"expected a list of {n} {kind}, got {type(value).__name__}"))
        return []
    if len(value) != n:
        problems.append(Problem(where, f"has {len(value)} entries, expected {n} (one per layer)"))
        return []
    out: list[float] = []
    for i, v in enumerate(value):
        ok = isinstance(v, int) if integer else isinstance(v, int | float)
        if isinstance(v, bool) or not ok or not math.isfinite(float(v)) or v < 0:
            problems.append(Problem(f"{where}[{i}]", f"expected a non-negative {kind[:-1]}, got {v!r}"))
            return []
        out.append(float(v))
    return out


def _mapping(value: Any, where: str, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LayerTableError(f"{where}: expected a mapping of {what}, got {type(value).__name__}.")
    return value


def read_pipeedge(models: str | Path, device_types: str | Path, devices: str | Path, model: str, *,
                  dtype: str = "torch.float32") -> PipeEdgeImport:
    """Read PipeEdge's scheduler files for ``model`` (see the module docstring).

    ``dtype`` is the element type of profiles that do not name one.
    """
    mname, tname, dname = Path(models).name, Path(device_types).name, Path(devices).name
    all_models = _mapping(read_yaml(models, "PipeEdge models file"), mname, "model names to properties")
    all_types = _mapping(read_yaml(device_types, "PipeEdge device types file"), tname,
                         "device type names to properties")
    hosts_of = _mapping(read_yaml(devices, "PipeEdge devices file"), dname, "device type names to host lists")
    if model not in all_models:
        raise LayerTableError(f"{mname}: no model {model!r}; it describes {', '.join(map(repr, all_models)) or 'none'}.")
    m = _mapping(all_models[model], f"{mname}: {model}", "properties")
    problems: list[Problem] = []
    for key in ("layers", "mem_MB", "parameters_in", "parameters_out"):
        if key not in m:
            problems.append(Problem(f"{mname}: {model}.{key}", "missing"))
    unknown = sorted(set(m) - {"layers", "mem_MB", "parameters_in", "parameters_out"})
    if unknown:
        problems.append(Problem(f"{mname}: {model}", f"unexpected key(s) {', '.join(unknown)}"))
    if problems:
        raise LayerTableError(f"{mname} does not describe {model!r} as PipeEdge does:", problems=problems)
    n = m["layers"]
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise LayerTableError(f"{mname}: {model}.layers must be a positive integer, got {n!r}.")
    mem = _number_list(m["mem_MB"], n, f"{mname}: {model}.mem_MB", problems)
    outs = _number_list(m["parameters_out"], n, f"{mname}: {model}.parameters_out", problems, integer=True)
    p_in = m["parameters_in"]
    if not isinstance(p_in, int) or isinstance(p_in, bool) or p_in < 1:
        problems.append(Problem(f"{mname}: {model}.parameters_in", f"expected a positive integer, got {p_in!r}"))

    times: list[LayerTimes] = []
    type_props: dict[str, tuple[float, float]] = {}
    dtypes: set[str] = set()
    for tn, props in all_types.items():
        where = f"{tname}: {tn}"
        if not isinstance(tn, str) or not _ID.match(tn):
            problems.append(Problem(where, "a device type name must be an identifier (letters, digits, _ . -)"))
            continue
        props = _mapping(props, where, "properties")
        extra = sorted(set(props) - {"bw_Mbps", "mem_MB", "model_profiles"})
        if extra:
            problems.append(Problem(where, f"unexpected key(s) {', '.join(map(str, extra))}"))
        bw, mem_mb = props.get("bw_Mbps"), props.get("mem_MB")
        for key, v in (("bw_Mbps", bw), ("mem_MB", mem_mb)):
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                problems.append(Problem(f"{where}.{key}", f"expected a non-negative number, got {v!r}"))
        profiles = _mapping(props.get("model_profiles"), f"{where}.model_profiles", "model names to profiles")
        if isinstance(bw, int | float) and isinstance(mem_mb, int | float):
            type_props[tn] = (float(bw), float(mem_mb))
        if model not in profiles:
            continue
        entries = profiles[model]
        entries = [entries] if isinstance(entries, dict) else entries
        if not isinstance(entries, list):
            problems.append(Problem(f"{where}.model_profiles.{model}", "expected a list of {{batch_size, dtype, "
                                    f"time_s}} maps, got {type(entries).__name__}"))
            continue
        for j, e in enumerate(entries):
            loc = f"{where}.model_profiles.{model}[{j}]"
            if not isinstance(e, dict) or "time_s" not in e:
                problems.append(Problem(loc, "expected a map with time_s (and batch_size, dtype)"))
                continue
            extra = sorted(set(e) - {"batch_size", "dtype", "time_s"})
            if extra:
                problems.append(Problem(loc, f"unexpected key(s) {', '.join(map(str, extra))}"))
            batch = e.get("batch_size", 1)
            if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
                problems.append(Problem(f"{loc}.batch_size", f"expected a positive integer, got {batch!r}"))
                continue
            dt = str(e.get("dtype", dtype))
            short = dt.removeprefix("torch.")
            level = _LEVEL_OF_DTYPE.get(short)
            if level is None or dtype_bytes(dt) is None:
                problems.append(Problem(f"{loc}.dtype", f"{dt!r} is not a float type edgeplan maps to a level "
                                        "(torch.float32 → fp32, torch.float16 → fp16)"))
                continue
            dtypes.add(short)
            values = _number_list(e["time_s"], n, f"{loc}.time_s", problems)
            if values:
                times.append(LayerTimes(device_type=tn, level=level, batch=batch, values=values))

    topo_devices: list[Device] = []
    seen: dict[str, str] = {}
    for tn, hosts in hosts_of.items():
        where = f"{dname}: {tn}"
        if hosts is None:
            hosts = []
        if not isinstance(hosts, list):
            problems.append(Problem(where, f"expected a list of hosts, got {type(hosts).__name__}"))
            continue
        if hosts and tn not in all_types:
            problems.append(Problem(where, f"device type {tn!r} is not in {tname}"))
            continue
        if hosts and not any(t.device_type == tn for t in times):
            problems.append(Problem(where, f"{len(hosts)} host(s) of type {tn!r}, but {tname} has no profile of "
                                    f"{model!r} for that type (model_profiles.{model}) and PipeEdge gives no FLOPs "
                                    "to estimate it: add its times or remove its hosts"))
            continue
        for i, host in enumerate(hosts):
            if not isinstance(host, str) or not _ID.match(host) or len(host) > 64:
                problems.append(Problem(f"{where}[{i}]", f"host {host!r} is not an identifier (letters, digits, "
                                        "_ . - ; at most 64): rename it, e.g. to its host name"))
                continue
            if host in seen:
                problems.append(Problem(f"{where}[{i}]", f"host {host!r} is listed twice (also under {seen[host]})"))
                continue
            seen[host] = tn
            bw, mem_mb = type_props.get(tn, (0.0, 0.0))
            if bw <= 0 or mem_mb <= 0:
                problems.append(Problem(f"{tname}: {tn}", f"bw_Mbps and mem_MB must be positive for a type with "
                                        f"hosts, got {bw:g} and {mem_mb:g}"))
                continue
            topo_devices.append(Device(id=host, name=host, kind=DeviceKind.edge_device, tier=Tier.edge,
                                       device_type=tn, peak_gflops_fp32=1.0, memory_mb=mem_mb,
                                       position={"x": 160.0 * len(topo_devices), "y": 0.0}))
    if len(dtypes) > 1:
        problems.append(Problem(f"{tname}: model_profiles.{model}", f"profiles in several dtypes "
                                f"({', '.join(sorted(dtypes))}): the tensor sizes need one"))
    if not topo_devices and not problems:
        problems.append(Problem(dname, "no hosts: list at least one host under a device type"))
    if problems:
        raise LayerTableError(f"PipeEdge files for {model!r} have problems ({len(problems)}):", problems=problems)

    elem = dtype_bytes(next(iter(dtypes), dtype.removeprefix("torch."))) or 4
    names = [f"layer{i + 1}" for i in range(n)]
    rows = [LayerRow(name=names[i], output_bytes=int(outs[i]) * elem, param_bytes=mem[i] * _MIB) for i in range(n)]
    doc = LayerTableDocument(
        name=model, time_unit="s", input=LayerInput(name="input", bytes=int(p_in) * elem), layers=rows,
        times=times, source=f"PipeEdge scheduler files {mname}, {tname}, {dname}")
    links: list[Link] = []
    for a in range(len(topo_devices)):
        for b in range(a + 1, len(topo_devices)):
            da, db = topo_devices[a], topo_devices[b]
            mbps = min(type_props[da.device_type or ""][0], type_props[db.device_type or ""][0]) * _MIB / 1e6
            links.append(Link(id=f"link{len(links) + 1}", a=da.id, b=db.id, medium="ethernet",
                              bandwidth_ab_mbps=mbps, bandwidth_ba_mbps=mbps))
    batches = sorted({t.batch for t in times})
    workload = Workload(name=model[:64], source=topo_devices[0].id, model=None, rate_rps=DEFAULT_RATE_RPS,
                        batch_size=batches[0])
    topology = Topology(name=f"PipeEdge devices for {model}"[:200],
                        description=f"imported from PipeEdge's {mname}, {tname}, {dname}",
                        devices=topo_devices, links=links, workloads=[workload])
    notes = [f"{n} layers, {len(topo_devices)} devices of {len({d.device_type for d in topo_devices})} type(s), "
             f"{len(links)} links (full mesh at the smaller bandwidth of each pair)",
             f"workload {workload.name!r}: batch {workload.batch_size}, source {workload.source}, rate "
             f"{DEFAULT_RATE_RPS} req/s (PipeEdge states no rate: set yours)",
             "peak_gflops_fp32 is a placeholder (1): PipeEdge gives measured times, not peaks"]
    if len(batches) > 1:
        notes.append(f"profiles at batch sizes {batches}: the workload uses {batches[0]}")
    return PipeEdgeImport(doc, topology, notes)
