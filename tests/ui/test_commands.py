"""Undo commands: every kind of edit, undone and redone, restores the exact model."""

from __future__ import annotations

import pytest

from planner_app.core.topology.records import Device, Link, Note, Position, Workload
from planner_app.ui.commands import (
    AddDeviceCommand,
    AddLinkCommand,
    AddNoteCommand,
    AddWorkloadCommand,
    EditDevicesCommand,
    EditLinksCommand,
    EditWorkloadCommand,
    MacroCommand,
    MoveCommand,
    RemoveDeviceCommand,
    RemoveLinkCommand,
    RemoveNoteCommand,
    RemoveWorkloadCommand,
    RenameDeviceCommand,
)
from planner_app.ui.document import TopologyDocument
from tests.ui._helpers import small_topology


@pytest.fixture
def doc(qapp):
    d = TopologyDocument()
    d.reset(small_topology())
    return d


def _new_device(i: int = 1) -> Device:
    return Device(id=f"new{i}", kind="sensor", tier="device", peak_gflops_fp32=1, memory_mb=64,
                  position=Position(x=10 * i, y=5))


EDITS = {
    "add device": lambda d: AddDeviceCommand(d, _new_device()),
    "remove device with links and workload": lambda d: RemoveDeviceCommand(d, "cam"),
    "remove middle device": lambda d: RemoveDeviceCommand(d, "edge"),
    "add link": lambda d: AddLinkCommand(d, Link(id="l9", a="cam", b="cloud", bandwidth_ab_mbps=5, bandwidth_ba_mbps=5)),
    "remove link": lambda d: RemoveLinkCommand(d, "l2"),
    "edit devices": lambda d: EditDevicesCommand(
        d, [d.topology.device("cam").model_copy(update={"name": "Front door"}),
            d.topology.device("edge").model_copy(update={"memory_mb": 8192.0})], "Edit"),
    "edit link": lambda d: EditLinksCommand(d, [d.topology.link("l3").model_copy(update={"latency_ms": 80.0})], "Edit"),
    "move": lambda d: MoveCommand(d, {"cam": (0, 0), "edge": (400, 100)}, {"cam": (-60, 40), "edge": (420, 300)}),
    "add note": lambda d: AddNoteCommand(d, Note(id="n1", text="hello", position=Position(x=5, y=5))),
    "add workload": lambda d: AddWorkloadCommand(d, Workload(name="w2", source="phone", rate_rps=2)),
    "remove workload": lambda d: RemoveWorkloadCommand(d, "detect"),
    "edit workload": lambda d: EditWorkloadCommand(d, 0, d.topology.workloads[0].model_copy(update={"rate_rps": 30.0})),
    "rename device with links and workload": lambda d: RenameDeviceCommand(d, "cam", "front-cam"),
    "macro": lambda d: MacroCommand("many", [RemoveLinkCommand(d, "l1"), RemoveDeviceCommand(d, "phone"),
                                             AddDeviceCommand(d, _new_device(2))]),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_undo_redo_restores_exact_state(doc, name):
    before = doc.topology.to_dict()
    doc.push(EDITS[name](doc))
    after = doc.topology.to_dict()
    assert after != before, "the edit must change the model"
    doc.topology.validate_references()  # every edit leaves a valid topology
    doc.undo_stack.undo()
    assert doc.topology.to_dict() == before
    doc.undo_stack.redo()
    assert doc.topology.to_dict() == after
    doc.undo_stack.undo()
    assert doc.topology.to_dict() == before


def test_removing_a_device_takes_its_links_and_workloads_in_one_step(doc):
    removed_links: list[str] = []
    doc.linkRemoved.connect(removed_links.append)
    doc.push(RemoveDeviceCommand(doc, "cam"))
    assert removed_links == ["l1"]
    assert [w.name for w in doc.topology.workloads] == []
    assert doc.undo_stack.count() == 1
    doc.undo_stack.undo()
    assert [link.id for link in doc.topology.links] == ["l1", "l2", "l3"]
    assert doc.topology.workloads[0].name == "detect"


def test_edits_of_one_field_merge_while_typing(doc):
    for name in ("F", "Fr", "Fro", "Front"):
        new = doc.topology.device("cam").model_copy(update={"name": name})
        doc.push(EditDevicesCommand(doc, [new], "Edit name", merge_key=("name", ("cam",))))
    assert doc.undo_stack.count() == 1
    assert doc.topology.device("cam").name == "Front"
    doc.undo_stack.undo()
    assert doc.topology.device("cam").name == "Camera"
    # a different field starts a new step
    doc.undo_stack.redo()
    new = doc.topology.device("cam").model_copy(update={"memory_mb": 1024.0})
    doc.push(EditDevicesCommand(doc, [new], "Edit memory", merge_key=("memory_mb", ("cam",))))
    assert doc.undo_stack.count() == 2


def test_modified_flag_follows_the_undo_stack(doc):
    titles: list[bool] = []
    doc.titleChanged.connect(lambda: titles.append(doc.modified))
    assert not doc.modified
    doc.push(AddDeviceCommand(doc, _new_device()))
    assert doc.modified
    doc.undo_stack.undo()
    assert not doc.modified
    assert titles == [True, False]


def test_move_signals_the_devices_that_moved(doc):
    moved: list[list[str]] = []
    doc.devicesMoved.connect(moved.append)
    doc.push(MoveCommand(doc, {"cam": (0, 0), "edge": (400, 100)}, {"cam": (100, 100), "edge": (0, 0)}))
    assert moved == [["cam", "edge"]]  # one signal for the whole move
    assert doc.topology.device("cam").position == Position(x=100, y=100)


def test_note_removal_round_trip(doc):
    doc.push(AddNoteCommand(doc, Note(id="n1", text="a")))
    before = doc.topology.to_dict()
    doc.push(RemoveNoteCommand(doc, "n1"))
    assert doc.topology.notes == []
    doc.undo_stack.undo()
    assert doc.topology.to_dict() == before
