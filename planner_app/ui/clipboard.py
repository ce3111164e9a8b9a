"""Copy and paste of canvas items as JSON of core records.

The clipboard holds plain records (devices, the links whose two ends are both
in the selection, notes), so a paste into another window or a text editor
sees ordinary topology JSON. Pasting gives every record a fresh id and moves
it by an offset, rewriting link ends to the new device ids.

Example
-------
>>> from planner_app.core.topology.records import Topology, Device
>>> topo = Topology(devices=[Device(id="cam", kind="camera", tier="device",
...                                 peak_gflops_fp32=10, memory_mb=512)])
>>> text = selection_to_json(topo, ["cam"], [])
>>> devices, links, notes = records_for_paste(topo, text, offset=(30, 30))
>>> devices[0].id
'cam-1'
"""

from __future__ import annotations

__all__ = ["MIME_TYPE", "selection_to_json", "records_for_paste"]

import json
from collections.abc import Iterable

from planner_app.core.errors import PlannerError
from planner_app.core.topology.records import Device, Link, Note, Position, Topology

MIME_TYPE = "application/x-planner-topology-items"
_KIND = "planner_app/clipboard"


def selection_to_json(topology: Topology, device_ids: Iterable[str], note_ids: Iterable[str]) -> str:
    """JSON of the selected devices, the links inside the selection and the notes."""
    ids = set(device_ids)
    notes = set(note_ids)
    data = {
        "kind": _KIND,
        "devices": [d.model_dump(mode="json") for d in topology.devices if d.id in ids],
        "links": [
            link.model_dump(mode="json") for link in topology.links if link.a in ids and link.b in ids
        ],
        "notes": [n.model_dump(mode="json") for n in topology.notes if n.id in notes],
    }
    return json.dumps(data, indent=1)


def _fresh_id(base: str, used: set[str], topology: Topology) -> str:
    # strip an earlier "-N" so copies of copies read cam-2, cam-3, not cam-1-1
    stem = base.rsplit("-", 1)[0] if base.rsplit("-", 1)[-1].isdigit() else base
    i = 1
    while f"{stem}-{i}" in used:
        i += 1
    new = f"{stem}-{i}"
    used.add(new)
    return new


def records_for_paste(
    topology: Topology, text: str, offset: tuple[float, float] = (30.0, 30.0)
) -> tuple[list[Device], list[Link], list[Note]]:
    """Records from clipboard ``text`` with fresh ids, ready to add to ``topology``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlannerError(f"the clipboard does not hold planner items (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("kind") != _KIND:
        raise PlannerError("the clipboard does not hold planner items: copy devices on the canvas first")
    used = {d.id for d in topology.devices} | {link.id for link in topology.links} | {n.id for n in topology.notes}
    dx, dy = offset
    renamed: dict[str, str] = {}
    devices: list[Device] = []
    for raw in data.get("devices", []):
        dev = Device.model_validate(raw)
        new_id = _fresh_id(dev.id, used, topology)
        renamed[dev.id] = new_id
        devices.append(
            dev.model_copy(update={"id": new_id, "position": Position(x=dev.position.x + dx, y=dev.position.y + dy)})
        )
    links: list[Link] = []
    for raw in data.get("links", []):
        link = Link.model_validate(raw)
        if link.a in renamed and link.b in renamed:
            links.append(
                link.model_copy(update={"id": _fresh_id(link.id, used, topology), "a": renamed[link.a], "b": renamed[link.b]})
            )
    notes: list[Note] = []
    for raw in data.get("notes", []):
        note = Note.model_validate(raw)
        notes.append(
            note.model_copy(
                update={"id": _fresh_id(note.id, used, topology), "position": Position(x=note.position.x + dx, y=note.position.y + dy)}
            )
        )
    return devices, links, notes
