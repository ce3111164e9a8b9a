"""The topology: devices, links and workloads, validated, with routes.

A :class:`Topology` is the user's picture of where a model can run: devices
(sensors, phones, cameras, edge boxes, edge servers, cloud VMs), the links
between them, and the workloads (where requests come from, how fast, how
strict). Records are pydantic v2 models; a validation error names the field
and the offending value. Routes between devices are found on the fly for a
payload size: the best route minimises ``Σ latency + size / bottleneck
bandwidth`` over multi-hop paths (see :class:`Router`).

Example
-------
>>> topo = Topology(name="demo", devices=[
...     Device(id="cam", kind="camera", tier="device", peak_gflops_fp32=10, memory_mb=512),
...     Device(id="cloud", kind="cloud", tier="cloud", peak_gflops_fp32=2000, memory_mb=65536)],
...     links=[Link(id="l1", a="cam", b="cloud", medium="lte", bandwidth_ab_mbps=20,
...                 bandwidth_ba_mbps=80, latency_ms=30)])
>>> route = topo.route("cam", "cloud", payload_bytes=1_000_000)
>>> round(route.transfer_ms(1_000_000), 1)
430.0
"""

from __future__ import annotations

__all__ = [
    "SCHEMA_VERSION",
    "Tier",
    "DeviceKind",
    "Precision",
    "Position",
    "Device",
    "Link",
    "Workload",
    "Note",
    "ZoneRegion",
    "Topology",
    "Route",
    "Router",
    "TIER_OF_KIND",
    "reference_problems",
    "RemovedItems",
]

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    field_validator,
    model_validator,
)

from planner_app.core.errors import Problem, TopologyError

SCHEMA_VERSION: Final = 2
_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class Tier(StrEnum):
    """Where a device sits in the classic three-tier picture."""

    device = "device"
    edge = "edge"
    cloud = "cloud"


class DeviceKind(StrEnum):
    """What a device is; decides its icon and default tier."""

    sensor = "sensor"
    camera = "camera"
    phone = "phone"
    vehicle = "vehicle"
    edge_device = "edge_device"
    gateway = "gateway"
    edge_server = "edge_server"
    cloud = "cloud"


TIER_OF_KIND: dict[DeviceKind, Tier] = {
    DeviceKind.sensor: Tier.device,
    DeviceKind.camera: Tier.device,
    DeviceKind.phone: Tier.device,
    DeviceKind.vehicle: Tier.device,
    DeviceKind.edge_device: Tier.edge,
    DeviceKind.gateway: Tier.edge,
    DeviceKind.edge_server: Tier.edge,
    DeviceKind.cloud: Tier.cloud,
}


class Precision(StrEnum):
    """Numeric precisions a device runs efficiently."""

    fp32 = "fp32"
    fp16 = "fp16"
    int8 = "int8"


class _Record(BaseModel):
    # allow_inf_nan=False: JSON "Infinity" / "NaN" are not figures a device or link can have
    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_enum_values=False, allow_inf_nan=False)


# Strict numbers: pydantic's lax mode reads true as 1 and "5" as 5; in a file both are
# mistakes to name (topology.io words the error). A strict float still takes an int.
Number = Annotated[float, Strict()]
NonNegative = Annotated[float, Strict(), Field(ge=0)]
Positive = Annotated[float, Strict(), Field(gt=0)]


class Position(_Record):
    """Canvas position in scene units (pixels at 100 % zoom)."""

    x: Number = 0.0
    y: Number = 0.0


class Device(_Record):
    """A machine that can run model parts.

    Speeds are peaks from datasheets; the device model scales host measurements
    by them. ``fp16_speedup`` and ``int8_speedup`` are relative to fp32 peaks.
    """

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=_ID_RE)]
    name: str = ""
    kind: DeviceKind
    tier: Tier
    preset: str | None = Field(default=None, description="catalog preset this device was made from")
    device_type: Annotated[str, Field(min_length=1, max_length=64, pattern=_ID_RE)] | None = Field(
        default=None,
        description="devices of one type are interchangeable: times measured per type apply to every device "
        "of that type (default: the catalog preset, else the device alone)")
    cpu_cores: Annotated[int, Strict(), Field(ge=1, le=4096)] = 1
    peak_gflops_fp32: Positive
    fp16_speedup: Positive = 1.0
    int8_speedup: Positive = 1.0
    memory_mb: Positive
    memory_bandwidth_gb_per_s: Positive = 10.0
    power_idle_w: NonNegative = 0.0
    power_active_w: NonNegative = 0.0
    radio_power_w: NonNegative = Field(default=0.0, description="extra power while sending or receiving")
    battery: bool = False
    cost_usd_per_hour: NonNegative = 0.0
    precisions: list[Precision] = Field(default_factory=lambda: [Precision.fp32], min_length=1)
    privacy_zone: str = Field(default="", description="devices sharing a zone may see each other's raw data; '' = public")
    agent_url: str | None = Field(default=None, description="the device's edgeplan agent (http:// or https://)")
    agent_token_file: str | None = Field(
        default=None, description="file whose first line is the agent's token (relative: to the topology file's "
        "folder); the token itself never sits in the topology")
    agent_token_keyring: bool = Field(
        default=False, description="read the agent's token from the OS keyring (service 'edgeplan-agent', "
        "user: the agent_url); needs the 'keyring' package")
    agent_ca_file: str | None = Field(
        default=None, description="PEM CA bundle that signed the agent's TLS certificate (relative: to the "
        "topology file's folder); the system's CAs are trusted too")
    position: Position = Field(default_factory=Position)

    @model_validator(mode="before")
    @classmethod
    def _no_token(cls, data: Any) -> Any:
        if isinstance(data, dict) and "agent_token" in data:
            raise ValueError("a device's agent token never sits in the topology (it may be shared): put it in a "
                             "file named by agent_token_file, or in the OS keyring (agent_token_keyring: true)")
        return data

    @field_validator("agent_url")
    @classmethod
    def _check_agent_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"agent URL {v!r} must start with http:// or https:// and name a host")
        return v

    @model_validator(mode="after")
    def _check_power(self) -> Device:
        if self.power_active_w and self.power_active_w < self.power_idle_w:
            raise ValueError(
                f"power_active_w ({self.power_active_w}) is below power_idle_w ({self.power_idle_w})"
            )
        return self

    @property
    def type_name(self) -> str:
        """The device's type: ``device_type``, else its catalog preset, else its own id."""
        return self.device_type or self.preset or self.id

    @property
    def label(self) -> str:
        """The name to show (the id when no name is set)."""
        return self.name or self.id

    def peak_gflops(self, precision: Precision | str = Precision.fp32) -> float:
        """Peak GFLOPS at a precision."""
        p = Precision(precision)
        if p is Precision.fp16:
            return self.peak_gflops_fp32 * self.fp16_speedup
        if p is Precision.int8:
            return self.peak_gflops_fp32 * self.int8_speedup
        return self.peak_gflops_fp32


class Link(_Record):
    """A network link between two devices, with a bandwidth per direction."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=_ID_RE)]
    a: str
    b: str
    medium: str = "ethernet"
    preset: str | None = None
    bandwidth_ab_mbps: Positive
    bandwidth_ba_mbps: Positive
    latency_ms: NonNegative = 0.0
    jitter_ms: NonNegative = 0.0
    loss_pct: Annotated[float, Strict(), Field(ge=0, lt=100)] = 0.0
    cost_usd_per_gb: NonNegative = 0.0
    message_overhead_ms: NonNegative | None = Field(
        default=None,
        description="fixed ms of one message over this link (serialization, framing, one RPC round); "
        "default: the topology's message_overhead_ms")
    direct_only: bool = Field(
        default=False,
        description="messages between this link's two ends always take this link, never a relay through "
        "other devices (the network forbids routing around it)")

    def bandwidth_from(self, device_id: str) -> float:
        """Bandwidth in Mbps when sending from ``device_id``."""
        if device_id == self.a:
            return self.bandwidth_ab_mbps
        if device_id == self.b:
            return self.bandwidth_ba_mbps
        raise KeyError(f"link {self.id} does not touch device {device_id}")

    def other(self, device_id: str) -> str:
        """The endpoint that is not ``device_id``."""
        return self.b if device_id == self.a else self.a


class Workload(_Record):
    """Where inference requests come from and what they must meet."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    source: str = Field(description="device id where the raw input is produced")
    model: str | None = Field(default=None, description="ONNX file or sample model name")
    rate_rps: Positive = 1.0
    batch_size: Annotated[int, Strict(), Field(ge=1, le=65536)] = Field(
        default=1, description="requests run together as one batch (times and tensor sizes are per batch)")
    input_shapes: dict[str, list[Annotated[int, Strict(), Field(ge=1)]]] = Field(default_factory=dict)
    slo_ms: Positive | None = None
    accuracy_budget_pct: Annotated[float, Strict(), Field(ge=0, le=100)] | None = Field(
        default=None, description="largest allowed loss of top-1 agreement vs fp32, in percent"
    )
    consumer: str | None = Field(default=None, description="device id that consumes results; default: the source")
    results_stay: bool = Field(
        default=False,
        description="no consumer: results stay on the device that runs the last stage (no message back)")
    privacy: Literal["none", "raw_input_in_zone"] = "none"
    private_tensors: list[str] = Field(default_factory=list, description="tensors that must stay in the source's zone")

    @model_validator(mode="after")
    def _check_consumer(self) -> Workload:
        if self.results_stay and self.consumer is not None:
            raise ValueError(f"workload {self.name!r} names consumer {self.consumer!r} and results_stay: "
                             "drop one (results_stay means there is no consumer)")
        return self

    @property
    def rate_stated(self) -> bool:
        """Whether the workload states its rate (capacity limits apply only then; else 1 req/s is assumed)."""
        return "rate_rps" in self.model_fields_set

    @property
    def result_device(self) -> str:
        """Where results are consumed (the source unless set; see ``results_stay``)."""
        return self.consumer or self.source


class ZoneRegion(_Record):
    """Where a privacy zone is drawn (scene units); membership is each device's ``privacy_zone``."""

    zone: Annotated[str, Field(min_length=1, max_length=64)]
    x: Number
    y: Number
    width: Positive
    height: Positive


class Note(_Record):
    """A text note on the canvas."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=_ID_RE)]
    text: str = ""
    position: Position = Field(default_factory=Position)


def reference_problems(
    device_ids: list[str],
    links: list[tuple[str, str, str]],
    workloads: list[tuple[str, str, str | None]],
    note_ids: list[str],
) -> list[Problem]:
    """Cross-record problems from plain ids, so a file with field errors is checked too."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, dev_id in enumerate(device_ids):
        if dev_id in seen:
            problems.append(Problem(f"devices[{i}].id", f"duplicate device id {dev_id!r} (also devices[{seen[dev_id]}])"))
        else:
            seen[dev_id] = i
    link_ids: dict[str, int] = {}
    for i, (link_id, a, b) in enumerate(links):
        if link_id in link_ids:
            problems.append(Problem(f"links[{i}].id", f"duplicate link id {link_id!r} (also links[{link_ids[link_id]}])"))
        else:
            link_ids[link_id] = i
        for end, dev in (("a", a), ("b", b)):
            if dev not in seen:
                problems.append(Problem(f"links[{i}].{end}", f"link {link_id!r} names device {dev!r}, which does not exist"))
        if a == b:
            problems.append(Problem(f"links[{i}]", f"link {link_id!r} connects device {a!r} to itself"))
    names: set[str] = set()
    for i, (name, source, consumer) in enumerate(workloads):
        if name in names:
            problems.append(Problem(f"workloads[{i}].name", f"duplicate workload name {name!r}"))
        names.add(name)
        if source not in seen:
            problems.append(Problem(f"workloads[{i}].source", f"workload {name!r} comes from device {source!r}, which does not exist"))
        if consumer is not None and consumer not in seen:
            problems.append(Problem(f"workloads[{i}].consumer", f"workload {name!r} delivers to device {consumer!r}, which does not exist"))
    note_seen: set[str] = set()
    for i, note_id in enumerate(note_ids):
        if note_id in note_seen:
            problems.append(Problem(f"notes[{i}].id", f"duplicate note id {note_id!r}"))
        note_seen.add(note_id)
    return problems


@dataclass
class RemovedItems:
    """Records taken out by :meth:`Topology.remove_items`, each with its list index.

    Indices are ascending, so putting them back in order restores every list exactly.
    """

    devices: list[tuple[int, Device]] = field(default_factory=list)
    links: list[tuple[int, Link]] = field(default_factory=list)
    notes: list[tuple[int, Note]] = field(default_factory=list)
    workloads: list[tuple[int, Workload]] = field(default_factory=list)


class _ReferenceProblems(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class Topology(_Record):
    """Devices, links, workloads and notes, with cross-reference validation."""

    schema_version: Literal[2] = SCHEMA_VERSION
    name: str = "untitled"
    description: str = ""
    devices: list[Device] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    workloads: list[Workload] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    zone_regions: list[ZoneRegion] = Field(
        default_factory=list, description="regions the user drew for privacy zones (one per zone at most)")
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)
    message_overhead_ms: NonNegative = Field(
        default=0.5,
        description="fixed ms of one message (serialization, framing, one RPC round) on links that state none")

    _index: dict[str, Device] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_references(self) -> Topology:
        problems = self.reference_problems()
        if problems:
            raise _ReferenceProblems(problems)
        self._index = None
        return self

    # -- validation -------------------------------------------------------------
    def reference_problems(self) -> list[Problem]:
        """Problems between records: duplicate ids, dangling or self links, bad workloads."""
        return reference_problems(
            [d.id for d in self.devices],
            [(lk.id, lk.a, lk.b) for lk in self.links],
            [(w.name, w.source, w.consumer) for w in self.workloads],
            [n.id for n in self.notes],
        )

    def validate_references(self) -> None:
        """Raise :class:`TopologyError` listing every reference problem."""
        problems = self.reference_problems()
        if problems:
            raise TopologyError(f"topology {self.name!r} is invalid", problems=problems)
        self._index = None

    # -- look-ups ---------------------------------------------------------------
    def _devices_by_id(self) -> dict[str, Device]:
        if self._index is None or len(self._index) != len(self.devices):
            self._index = {d.id: d for d in self.devices}
        return self._index

    def device(self, device_id: str) -> Device:
        """The device with this id; :class:`TopologyError` if there is none."""
        try:
            return self._devices_by_id()[device_id]
        except KeyError:
            raise TopologyError(
                f"no device {device_id!r} in topology {self.name!r}; devices are: "
                + ", ".join(d.id for d in self.devices[:20])
            ) from None

    def has_device(self, device_id: str) -> bool:
        return device_id in self._devices_by_id()

    def link(self, link_id: str) -> Link:
        """The link with this id; :class:`TopologyError` if there is none."""
        for link in self.links:
            if link.id == link_id:
                return link
        raise TopologyError(f"no link {link_id!r} in topology {self.name!r}")

    def workload(self, name: str | None = None) -> Workload:
        """The named workload, or the first one when ``name`` is None."""
        if not self.workloads:
            raise TopologyError(f"topology {self.name!r} has no workload: add one (source device, rate, input shapes)")
        if name is None:
            return self.workloads[0]
        for w in self.workloads:
            if w.name == name:
                return w
        raise TopologyError(
            f"no workload {name!r} in topology {self.name!r}; workloads are: "
            + ", ".join(w.name for w in self.workloads)
        )

    def links_of(self, device_id: str) -> list[Link]:
        """Links touching a device."""
        return [link for link in self.links if device_id in (link.a, link.b)]

    def new_id(self, prefix: str) -> str:
        """A device/link/note id starting with ``prefix`` that is not used yet."""
        used = {d.id for d in self.devices} | {link.id for link in self.links} | {n.id for n in self.notes}
        base = re.sub(r"[^A-Za-z0-9_.\-]", "-", prefix).strip("-") or "item"
        if not re.match(r"^[A-Za-z0-9]", base):
            base = "x" + base
        i = 1
        while f"{base}-{i}" in used:
            i += 1
        return f"{base}-{i}"

    # -- edits (the window's undo commands call these) ----------------------------
    def add_device(self, device: Device, index: int | None = None) -> None:
        """Add a device; :class:`TopologyError` if its id is taken."""
        if self.has_device(device.id):
            raise TopologyError(f"device id {device.id!r} is already used; pick another id")
        self.devices.insert(len(self.devices) if index is None else index, device)
        self._index = None

    def remove_device(self, device_id: str) -> tuple[int, Device, list[tuple[int, Link]]]:
        """Remove a device and its links; returns what was removed, with positions, for undo."""
        dev = self.device(device_id)
        idx = self.devices.index(dev)
        removed = [(i, link) for i, link in enumerate(self.links) if device_id in (link.a, link.b)]
        for i, _ in reversed(removed):
            del self.links[i]
        del self.devices[idx]
        self._index = None
        return idx, dev, removed

    def replace_device(self, device: Device) -> Device:
        """Put ``device`` in place of the device with the same id; returns the old one."""
        old = self.device(device.id)
        self.devices[self.devices.index(old)] = device
        self._index = None
        return old

    def add_link(self, link: Link, index: int | None = None) -> None:
        """Add a link after checking its ends exist and its id is free."""
        problems = []
        if any(existing.id == link.id for existing in self.links):
            problems.append(Problem("id", f"link id {link.id!r} is already used"))
        for end in (link.a, link.b):
            if not self.has_device(end):
                problems.append(Problem("a/b", f"device {end!r} does not exist"))
        if link.a == link.b:
            problems.append(Problem("a/b", f"a link cannot connect device {link.a!r} to itself"))
        if problems:
            raise TopologyError(f"cannot add link {link.id!r}", problems=problems)
        self.links.insert(len(self.links) if index is None else index, link)

    def remove_link(self, link_id: str) -> tuple[int, Link]:
        """Remove a link; returns its position and record for undo."""
        link = self.link(link_id)
        idx = self.links.index(link)
        del self.links[idx]
        return idx, link

    def replace_link(self, link: Link) -> Link:
        """Put ``link`` in place of the link with the same id; returns the old one."""
        old = self.link(link.id)
        self.links[self.links.index(old)] = link
        return old

    def set_positions(self, positions: Mapping[str, tuple[float, float]]) -> tuple[list[str], list[str]]:
        """Move devices and notes (ids may name either) to scene coordinates.

        Returns the ids of the devices and of the notes that moved. One index
        map, not ``list.index``: an auto-layout moves hundreds of devices at once.
        """
        notes = {n.id: i for i, n in enumerate(self.notes)}
        devices = {d.id: i for i, d in enumerate(self.devices)}
        moved_devices: list[str] = []
        moved_notes: list[str] = []
        for item_id, (x, y) in positions.items():
            if item_id in notes:
                i = notes[item_id]
                self.notes[i] = self.notes[i].model_copy(update={"position": Position(x=x, y=y)})
                moved_notes.append(item_id)
            elif item_id in devices:
                i = devices[item_id]
                self.devices[i] = self.devices[i].model_copy(update={"position": Position(x=x, y=y)})
                moved_devices.append(item_id)
            else:
                raise TopologyError(f"cannot move {item_id!r}: no device or note has this id")
        if moved_devices:
            self._index = None  # the id -> record cache must see the new records
        return moved_devices, moved_notes

    def rename_device(self, old_id: str, new_id: str) -> list[str]:
        """Give a device a new id; its links and the workloads that name it follow.

        Positions in the lists are kept, so renaming back restores the topology
        exactly. Returns the names of the workloads that changed.
        """
        if old_id == new_id:
            return []
        dev = self.device(old_id)
        if self.has_device(new_id):
            raise TopologyError(f"cannot rename {old_id!r} to {new_id!r}: device id {new_id!r} is already used")
        if not (0 < len(new_id) <= 64 and re.match(_ID_RE, new_id)):
            raise TopologyError(
                f"cannot rename {old_id!r} to {new_id!r}: an id is 1-64 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit")
        renamed = dev.model_copy(update={"id": new_id})
        self.devices[self.devices.index(dev)] = renamed
        self._index = None
        for i, link in enumerate(self.links):
            if old_id in (link.a, link.b):
                self.links[i] = link.model_copy(update={"a": new_id if link.a == old_id else link.a,
                                                        "b": new_id if link.b == old_id else link.b})
        changed: list[str] = []
        for i, w in enumerate(self.workloads):
            if old_id in (w.source, w.consumer):
                self.workloads[i] = w.model_copy(update={
                    "source": new_id if w.source == old_id else w.source,
                    "consumer": new_id if w.consumer == old_id else w.consumer})
                changed.append(w.name)
        return changed

    def note_index(self, note_id: str) -> int:
        """Position of the note with this id; :class:`TopologyError` if there is none."""
        for i, n in enumerate(self.notes):
            if n.id == note_id:
                return i
        raise TopologyError(f"no note {note_id!r} in topology {self.name!r}")

    def add_note(self, note: Note, index: int | None = None) -> None:
        """Add a note; :class:`TopologyError` if its id is taken."""
        if any(n.id == note.id for n in self.notes):
            raise TopologyError(f"note id {note.id!r} is already used; pick another id")
        self.notes.insert(len(self.notes) if index is None else index, note)

    def remove_note(self, note_id: str) -> tuple[int, Note]:
        """Remove a note; returns its position and record for undo."""
        idx = self.note_index(note_id)
        return idx, self.notes.pop(idx)

    def replace_note(self, note: Note) -> Note:
        """Put ``note`` in place of the note with the same id; returns the old one."""
        idx = self.note_index(note.id)
        old = self.notes[idx]
        self.notes[idx] = note
        return old

    def workload_index(self, name: str) -> int:
        """Position of the workload called ``name``; :class:`TopologyError` if there is none."""
        for i, w in enumerate(self.workloads):
            if w.name == name:
                return i
        raise TopologyError(f"no workload {name!r} in topology {self.name!r}")

    def add_workload(self, workload: Workload, index: int | None = None) -> None:
        """Add a workload; :class:`TopologyError` if its name is taken."""
        if any(w.name == workload.name for w in self.workloads):
            raise TopologyError(f"workload name {workload.name!r} is already used; pick another name")
        self.workloads.insert(len(self.workloads) if index is None else index, workload)

    def remove_workload(self, name: str) -> tuple[int, Workload]:
        """Remove a workload; returns its position and record for undo."""
        idx = self.workload_index(name)
        return idx, self.workloads.pop(idx)

    def replace_workload(self, index: int, workload: Workload) -> Workload:
        """Put ``workload`` at ``index`` (a rename keeps its place); returns the old one."""
        if not 0 <= index < len(self.workloads):
            raise TopologyError(f"no workload at position {index} in topology {self.name!r}")
        old = self.workloads[index]
        self.workloads[index] = workload
        return old

    def remove_items(self, device_ids: Iterable[str], link_ids: Iterable[str] = (),
                     note_ids: Iterable[str] = ()) -> RemovedItems:
        """Remove devices (with their links and the workloads that start or end on them),
        links and notes in one pass each; returns what went, for :meth:`restore_items`.

        One pass, not a device at a time: deleting 300 devices one by one rescans every
        link per device and took over a minute in the window.
        """
        gone_dev, gone_link, gone_note = set(device_ids), set(link_ids), set(note_ids)
        out = RemovedItems(
            links=[(i, lk) for i, lk in enumerate(self.links)
                   if lk.id in gone_link or lk.a in gone_dev or lk.b in gone_dev],
            devices=[(i, d) for i, d in enumerate(self.devices) if d.id in gone_dev],
            notes=[(i, n) for i, n in enumerate(self.notes) if n.id in gone_note],
            workloads=[(i, w) for i, w in enumerate(self.workloads)
                       if w.source in gone_dev or (w.consumer is not None and w.consumer in gone_dev)],
        )
        # in place: assigning the fields would re-validate references halfway through
        _drop(self.links, out.links)
        _drop(self.devices, out.devices)
        _drop(self.notes, out.notes)
        _drop(self.workloads, out.workloads)
        self._index = None
        return out

    def restore_items(self, items: RemovedItems) -> None:
        """Put back what :meth:`remove_items` removed, each record at its old index
        (also adds new records: give indices at the end of each list)."""
        for i, d in items.devices:  # ascending: each lands where it was
            self.devices.insert(i, d)
        for i, lk in items.links:
            self.links.insert(i, lk)
        for i, n in items.notes:
            self.notes.insert(i, n)
        for i, w in items.workloads:
            self.workloads.insert(i, w)
        self._index = None

    def zone_region(self, zone: str) -> ZoneRegion | None:
        """The region drawn for ``zone``, if the user gave it one."""
        return next((r for r in self.zone_regions if r.zone == zone), None)

    def set_zone_region(self, zone: str, region: ZoneRegion | None) -> ZoneRegion | None:
        """Set (or clear, with None) the region of ``zone``; returns the previous one for undo."""
        old = self.zone_region(zone)
        kept = [r for r in self.zone_regions if r.zone != zone]
        if region is not None:
            if region.zone != zone:
                raise TopologyError(f"region for zone {region.zone!r} given as the region of {zone!r}")
            kept.append(region)
        self.zone_regions[:] = sorted(kept, key=lambda r: r.zone)
        return old

    # -- routes -------------------------------------------------------------------
    def router(self) -> Router:
        """A :class:`Router` over the current devices and links."""
        return Router(self)

    def route(self, source: str, target: str, payload_bytes: float = 0.0) -> Route | None:
        """Best route for a payload, or None when ``target`` is unreachable."""
        return self.router().route(source, target, payload_bytes)

    def routes_from(self, source: str, payload_bytes: float = 0.0) -> dict[str, Route]:
        """Best routes from ``source`` to every reachable device (itself included)."""
        return self.router().routes_from(source, payload_bytes)

    def unreachable_from(self, source: str) -> list[str]:
        """Devices that no route from ``source`` reaches."""
        reach = self.routes_from(source)
        return [d.id for d in self.devices if d.id not in reach]

    # -- files --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with stable key order (a workload's unstated rate stays unstated)."""
        out = self.model_dump(mode="json")
        for w, d in zip(self.workloads, out["workloads"], strict=True):
            if not w.rate_stated:
                d.pop("rate_rps", None)
        return out


_R = TypeVar("_R")


def _drop(records: list[_R], removed: list[tuple[int, _R]]) -> None:
    if removed:
        gone = {i for i, _ in removed}
        records[:] = [r for i, r in enumerate(records) if i not in gone]


# Route and Router live in routes.py; re-exported here for callers of this module.
from planner_app.core.topology.routes import Route, Router  # noqa: E402
