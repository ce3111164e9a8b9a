"""Helpers for the window tests: scripted dialogs, small and generated topologies, mouse drags."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from planner_app.core.topology.records import Device, Link, Position, Topology, Workload
from planner_app.ui.dialogs import Dialogs


class ScriptedDialogs(Dialogs):
    """Answers every question from attributes instead of showing a modal dialog."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.save_answer = "discard"
        self.recover_answer = "recover"  # or "later", "discard"
        self.open_answer: str | None = None
        self.save_path_answer: str | None = None
        self.text_answer: str | None = None
        self.confirm_delete_answer = True
        self.link_preset_id: str | None = None  # None: take the offered default

    def error(self, parent, title, text):  # noqa: ANN001, D102
        self.calls.append(("error", text))

    def info(self, parent, title, text):  # noqa: ANN001, D102
        self.calls.append(("info", text))

    def ask_save_changes(self, parent, name):  # noqa: ANN001, D102
        self.calls.append(("ask_save_changes", name))
        return self.save_answer

    def ask_recover(self, parent, description):  # noqa: ANN001, D102
        self.calls.append(("ask_recover", description))
        return self.recover_answer

    def confirm_delete(self, parent, what, consequences):  # noqa: ANN001, D102
        self.calls.append(("confirm_delete", "\n".join(consequences)))
        return self.confirm_delete_answer

    def open_path(self, parent, directory):  # noqa: ANN001, D102
        return self.open_answer

    def save_path(self, parent, directory, title="", filters=""):  # noqa: ANN001, D102
        return self.save_path_answer

    def ask_text(self, parent, title, label, text=""):  # noqa: ANN001, D102
        return self.text_answer

    def choose_link_preset(self, parent, presets, default, at):  # noqa: ANN001, D102
        self.calls.append(("choose_link_preset", default.id))
        if self.link_preset_id is None:
            return default
        return next(p for p in presets if p.id == self.link_preset_id)

    def kinds(self) -> list[str]:
        return [k for k, _ in self.calls]


def small_topology() -> Topology:
    """Camera + phone → edge box → cloud, with one workload and a privacy zone."""
    return Topology(
        name="small",
        devices=[
            Device(id="cam", name="Camera", kind="camera", tier="device", peak_gflops_fp32=20, memory_mb=512,
                   privacy_zone="home", position=Position(x=0, y=0)),
            Device(id="phone", kind="phone", tier="device", peak_gflops_fp32=300, memory_mb=6000,
                   battery=True, privacy_zone="home", position=Position(x=0, y=200)),
            Device(id="edge", name="Edge box", kind="edge_device", tier="edge", peak_gflops_fp32=150,
                   memory_mb=4096, position=Position(x=400, y=100)),
            Device(id="cloud", kind="cloud", tier="cloud", peak_gflops_fp32=8000, memory_mb=65536,
                   cost_usd_per_hour=1.2, position=Position(x=800, y=100)),
        ],
        links=[
            Link(id="l1", a="cam", b="edge", medium="wifi", bandwidth_ab_mbps=100, bandwidth_ba_mbps=100, latency_ms=2),
            Link(id="l2", a="phone", b="edge", medium="wifi", bandwidth_ab_mbps=200, bandwidth_ba_mbps=200, latency_ms=2),
            Link(id="l3", a="edge", b="cloud", medium="wan", bandwidth_ab_mbps=50, bandwidth_ba_mbps=200, latency_ms=20),
        ],
        workloads=[Workload(name="detect", source="cam", rate_rps=5, input_shapes={"images": [1, 3, 224, 224]})],
    )


def big_topology(n_devices: int, links_per_device: float = 1.5, seed: int = 1) -> Topology:
    """A generated topology: 60 % end devices, 30 % edge, 10 % cloud, random links."""
    import random

    rng = random.Random(seed)
    kinds = [("camera", "device")] * 6 + [("edge_server", "edge")] * 3 + [("cloud", "cloud")]
    devices = []
    for i in range(n_devices):
        kind, tier = kinds[i % 10]
        devices.append(Device(id=f"d{i}", kind=kind, tier=tier, peak_gflops_fp32=10 + i, memory_mb=1024,
                              position=Position(x=rng.uniform(-3000, 3000), y=rng.uniform(-3000, 3000))))
    links = []
    seen = set()
    while len(links) < int(n_devices * links_per_device):
        a, b = rng.randrange(n_devices), rng.randrange(n_devices)
        if a == b or (a, b) in seen:
            continue
        seen.add((a, b))
        links.append(Link(id=f"l{len(links)}", a=f"d{a}", b=f"d{b}", bandwidth_ab_mbps=100, bandwidth_ba_mbps=100))
    return Topology(name=f"generated-{n_devices}", devices=devices, links=links)


def view_point(view, scene_pos: QPointF) -> QPoint:
    """Viewport coordinates of a scene point."""
    return view.mapFromScene(scene_pos)


def drag(view, start: QPointF, end: QPointF, steps: int = 6,
         modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A real left-button drag on the view's viewport, in scene coordinates."""
    vp = view.viewport()
    p0, p1 = view_point(view, start), view_point(view, end)
    QTest.mouseMove(vp, p0)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, modifier, p0)
    for i in range(1, steps + 1):
        p = p0 + (p1 - p0) * (i / steps)
        QTest.mouseMove(vp, p)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, modifier, p1)


def click(view, pos: QPointF, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A left click at scene point ``pos``."""
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, view_point(view, pos))


def site_topology(gateways: int = 30, cameras_per_gateway: int = 8, seed: int = 3) -> Topology:
    """Cameras under gateways, gateways under a few servers, one cloud; listed in shuffled order."""
    import random

    rng = random.Random(seed)
    devices = [Device(id="cloud", kind="cloud", tier="cloud", peak_gflops_fp32=8000, memory_mb=65536)]
    links = []
    servers = max(1, gateways // 10)
    for s in range(servers):
        devices.append(Device(id=f"srv{s}", kind="edge_server", tier="edge", peak_gflops_fp32=500, memory_mb=16384))
        links.append(Link(id=f"ls{s}", a=f"srv{s}", b="cloud", medium="fiber", bandwidth_ab_mbps=1000, bandwidth_ba_mbps=1000))
    for g in range(gateways):
        devices.append(Device(id=f"gw{g}", kind="gateway", tier="edge", peak_gflops_fp32=20, memory_mb=2048))
        links.append(Link(id=f"lg{g}", a=f"gw{g}", b=f"srv{g % servers}", bandwidth_ab_mbps=1000, bandwidth_ba_mbps=1000))
        for c in range(cameras_per_gateway):
            devices.append(Device(id=f"cam{g}-{c}", kind="camera", tier="device", peak_gflops_fp32=5, memory_mb=512,
                                  position=Position(x=rng.uniform(-3000, 3000), y=rng.uniform(-3000, 3000))))
            links.append(Link(id=f"lc{g}-{c}", a=f"cam{g}-{c}", b=f"gw{g}", medium="wifi",
                              bandwidth_ab_mbps=50, bandwidth_ba_mbps=50))
    rng.shuffle(devices)
    return Topology(name="site", devices=devices, links=links)
