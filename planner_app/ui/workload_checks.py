"""What is wrong with each workload, and what a removal would break.

Pure functions over the core records (no Qt), so the window can warn before
a delete and the canvas and the workloads panel can show invalid workloads:

- :func:`workload_problems` — every workload whose consumer cannot be reached
  from its source, whose source is linked to nothing (the planner refuses it),
  or whose model file does not exist.
- :func:`broken_by_removal` — what deleting some devices and links would do
  to the workloads: removed with their source or consumer, or cut apart.

Reachability ignores bandwidth and latency: a link is a path both ways, as
the router treats it.

Example
-------
>>> broken_by_removal(topology, ["edge"], [])               # doctest: +SKIP
["workload 'detect': cam can no longer reach cloud"]
"""

from __future__ import annotations

__all__ = ["WorkloadProblem", "workload_problems", "broken_by_removal", "model_file_problem"]

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from planner_app.core.topology import Topology, Workload


@dataclass(frozen=True)
class WorkloadProblem:
    """One problem of one workload, with the devices to flag on the canvas."""

    workload: str
    message: str
    devices: tuple[str, ...] = ()
    #: "error": the planner cannot plan it; "warning": it may still plan (e.g. a model name)
    severity: str = "error"
    #: the workload field at fault ("model"), or "" for the placement of its devices
    field: str = ""


def _adjacency(topology: Topology, gone_devices: set[str], gone_links: set[str]) -> dict[str, set[str]]:
    adj: dict[str, set[str]] = {d.id: set() for d in topology.devices if d.id not in gone_devices}
    for link in topology.links:
        if link.id in gone_links or link.a not in adj or link.b not in adj:
            continue
        adj[link.a].add(link.b)
        adj[link.b].add(link.a)
    return adj


def _reachable(adj: dict[str, set[str]], source: str) -> set[str]:
    if source not in adj:
        return set()
    seen, todo = {source}, deque([source])
    while todo:
        for nxt in adj[todo.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _reach_problem(w: Workload, reach: set[str]) -> str:
    """Why ``w`` cannot run over the devices ``reach``-able from its source ('' when fine)."""
    consumer = w.result_device
    if consumer != w.source and consumer not in reach:
        return f"{w.source} cannot reach {consumer}: no chain of links joins them"
    if len(reach) <= 1:
        return f"{w.source} is linked to nothing: add a link to an edge or cloud device"
    return ""


def model_file_problem(w: Workload, base_dir: Path | None) -> str:
    """A message when the workload names a model *file* that does not exist ('' otherwise).

    Sample names (``sample:NAME`` or a bare name such as ``resnet18``) are not
    files and are left to the planner; relative paths are relative to the
    topology file's folder, as the planner reads them.
    """
    text = (w.model or "").strip()
    if not text or text.startswith("sample:"):
        return ""
    looks_like_path = text.lower().endswith(".onnx") or "/" in text or "\\" in text
    if not looks_like_path:
        return ""
    path = Path(text).expanduser()
    candidates = [path] if path.is_absolute() else [Path.cwd() / path] + ([base_dir / path] if base_dir else [])
    if any(p.is_file() for p in candidates):
        return ""
    where = f" (looked beside the topology file, in {base_dir})" if base_dir and not path.is_absolute() else ""
    return f"model file '{text}' does not exist{where}: fix the path or use a sample such as sample:resnet18"


def workload_problems(topology: Topology, base_dir: Path | None = None) -> list[WorkloadProblem]:
    """Problems of every workload of ``topology``, in workload order."""
    adj = _adjacency(topology, set(), set())
    problems: list[WorkloadProblem] = []
    for w in topology.workloads:
        ends = tuple(dict.fromkeys((w.source, w.result_device)))
        missing = [d for d in ends if d not in adj]
        if missing:
            problems.append(WorkloadProblem(w.name, f"device {missing[0]} does not exist",
                                            tuple(d for d in ends if d in adj)))
            continue
        reach_msg = _reach_problem(w, _reachable(adj, w.source))
        if reach_msg:
            problems.append(WorkloadProblem(w.name, reach_msg, ends))
        model_msg = model_file_problem(w, base_dir)
        if model_msg:
            problems.append(WorkloadProblem(w.name, model_msg, (), "warning", "model"))
    return problems


def broken_by_removal(topology: Topology, device_ids: Iterable[str], link_ids: Iterable[str] = ()) -> list[str]:
    """What removing ``device_ids`` (with their links) and ``link_ids`` does to the workloads.

    One sentence per workload that is deleted along (its source or consumer
    goes) or that works now and would not afterwards. Empty when nothing breaks.
    """
    gone_devices, gone_links = set(device_ids), set(link_ids)
    if not gone_devices and not gone_links:
        return []
    before = _adjacency(topology, set(), set())
    after = _adjacency(topology, gone_devices, gone_links)
    out: list[str] = []
    for w in topology.workloads:
        end = next((d for d in (w.source, w.result_device) if d in gone_devices), None)
        if end is not None:
            role = "source" if end == w.source else "consumer"
            out.append(f"workload '{w.name}' is deleted with its {role} {end}")
            continue
        if _reach_problem(w, _reachable(before, w.source)):
            continue  # already broken: not this removal's doing
        problem = _reach_problem(w, _reachable(after, w.source))
        if problem:
            out.append(f"workload '{w.name}': {problem}")
    return out
