"""Device and link presets read from ``resources/devices.json`` and ``links.json``.

Every preset carries the figures of a real product and a ``source`` naming the
datasheet or price list they come from. Peaks are theoretical (datasheet)
values; the device model calibrates how much of a peak a real model reaches on
this host and applies the same efficiency elsewhere.

Example
-------
>>> cat = load_catalog()
>>> pi = cat.device_preset("raspberry-pi-5").make_device("hub", x=100, y=50)
>>> pi.kind.value, pi.memory_mb
('edge_device', 8192.0)
"""

from __future__ import annotations

__all__ = ["DevicePreset", "LinkPreset", "Catalog", "load_catalog"]

from functools import lru_cache
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner_app.core.errors import InputFileError, PlannerError
from planner_app.core.fileio import read_json
from planner_app.core.resources import resource_path
from planner_app.core.topology.records import Device, DeviceKind, Link, Position, Precision, Tier

_DEVICE_SPEC_FIELDS = (
    "kind", "tier", "cpu_cores", "peak_gflops_fp32", "fp16_speedup", "int8_speedup", "memory_mb",
    "memory_bandwidth_gb_per_s", "power_idle_w", "power_active_w", "radio_power_w", "battery",
    "cost_usd_per_hour", "precisions",
)  # fmt: skip


class _Preset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DevicePreset(_Preset):
    """A catalog device: the figures of a real product and where they come from."""

    id: str
    name: str
    description: str = ""
    source: Annotated[str, Field(min_length=10)]
    kind: DeviceKind
    tier: Tier
    cpu_cores: int
    peak_gflops_fp32: Annotated[float, Field(gt=0)]
    fp16_speedup: Annotated[float, Field(gt=0)] = 1.0
    int8_speedup: Annotated[float, Field(gt=0)] = 1.0
    memory_mb: Annotated[float, Field(gt=0)]
    memory_bandwidth_gb_per_s: Annotated[float, Field(gt=0)]
    power_idle_w: Annotated[float, Field(ge=0)] = 0.0
    power_active_w: Annotated[float, Field(ge=0)] = 0.0
    radio_power_w: Annotated[float, Field(ge=0)] = 0.0
    battery: bool = False
    cost_usd_per_hour: Annotated[float, Field(ge=0)] = 0.0
    precisions: list[Precision]

    def make_device(self, device_id: str, name: str | None = None, x: float = 0.0, y: float = 0.0) -> Device:
        """A topology device with this preset's figures."""
        spec = {f: getattr(self, f) for f in _DEVICE_SPEC_FIELDS}
        return Device(id=device_id, name=name or self.name, preset=self.id, position=Position(x=x, y=y), **spec)


class LinkPreset(_Preset):
    """A catalog link medium with typical figures and where they come from."""

    id: str
    name: str
    description: str = ""
    source: Annotated[str, Field(min_length=10)]
    medium: str
    bandwidth_ab_mbps: Annotated[float, Field(gt=0)]
    bandwidth_ba_mbps: Annotated[float, Field(gt=0)]
    latency_ms: Annotated[float, Field(ge=0)]
    jitter_ms: Annotated[float, Field(ge=0)] = 0.0
    loss_pct: Annotated[float, Field(ge=0, lt=100)] = 0.0
    cost_usd_per_gb: Annotated[float, Field(ge=0)] = 0.0

    def make_link(self, link_id: str, a: str, b: str) -> Link:
        """A topology link from ``a`` to ``b`` with this preset's figures
        (``bandwidth_ab_mbps`` is the uplink, from ``a``)."""
        return Link(
            id=link_id, a=a, b=b, medium=self.medium, preset=self.id,
            bandwidth_ab_mbps=self.bandwidth_ab_mbps, bandwidth_ba_mbps=self.bandwidth_ba_mbps,
            latency_ms=self.latency_ms, jitter_ms=self.jitter_ms, loss_pct=self.loss_pct,
            cost_usd_per_gb=self.cost_usd_per_gb,
        )  # fmt: skip


class Catalog(BaseModel):
    """All presets, in file order."""

    devices: list[DevicePreset]
    links: list[LinkPreset]

    def device_preset(self, preset_id: str) -> DevicePreset:
        for p in self.devices:
            if p.id == preset_id:
                return p
        raise PlannerError(
            f"no device preset {preset_id!r}; presets are: {', '.join(p.id for p in self.devices)}"
        )

    def link_preset(self, preset_id: str) -> LinkPreset:
        for p in self.links:
            if p.id == preset_id:
                return p
        raise PlannerError(f"no link preset {preset_id!r}; presets are: {', '.join(p.id for p in self.links)}")

    def devices_by_tier(self) -> dict[Tier, list[DevicePreset]]:
        out: dict[Tier, list[DevicePreset]] = {t: [] for t in Tier}
        for p in self.devices:
            out[p.tier].append(p)
        return out


_P = TypeVar("_P", DevicePreset, LinkPreset)


def _load(name: str, cls: type[_P]) -> list[_P]:
    path = resource_path(name)
    data = read_json(path, "catalog file")
    items = data.get("presets") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputFileError(f"catalog file '{path}' must hold an object with a 'presets' list")
    out: list[_P] = []
    for i, item in enumerate(items):
        try:
            out.append(cls.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise InputFileError(f"catalog file '{path}': presets[{i}].{loc}: {first['msg']}") from None
    ids = [p.id for p in out]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise InputFileError(f"catalog file '{path}': duplicate preset ids {sorted(dupes)}")
    return out


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """Read and validate both catalog files (cached)."""
    return Catalog(devices=_load("devices.json", DevicePreset), links=_load("links.json", LinkPreset))
