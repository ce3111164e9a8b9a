"""Renaming a device in the window and with `edgeplan topology rename-device` gives one topology.

Both go through ``Topology.rename_device`` in core; the window wraps it in an
undoable command whose undo restores the file exactly.
"""

from __future__ import annotations

import json

from planner_app.cli import main
from planner_app.core.resources import sample_topology_paths
from planner_app.core.topology import load_topology
from planner_app.ui.commands import RenameDeviceCommand
from planner_app.ui.document import TopologyDocument


def test_window_and_command_line_rename_give_the_same_topology(qapp, tmp_path):
    src = sample_topology_paths()["smart_home"]
    out = tmp_path / "renamed.json"
    assert main(["topology", "rename-device", str(src), "hub", "pi-hub", "--out", str(out)]) == 0
    headless = json.loads(out.read_text())

    doc = TopologyDocument(load_topology(src))
    before = doc.topology.to_dict()
    doc.push(RenameDeviceCommand(doc, "hub", "pi-hub"))
    assert doc.topology.to_dict() == headless
    assert any(w["source"] == "pi-hub" for w in headless["workloads"])
    assert sum("pi-hub" in (lk["a"], lk["b"]) for lk in headless["links"]) == 3
    doc.undo_stack.undo()
    assert doc.topology.to_dict() == before
