"""Dataflow timing of one request: which tensors travel where, and the critical path.

The execution model behind latency (DESIGN.md, "the optimization problem"):

- a *part* (consecutive units on one device at one level) is one session call:
  it starts when its device is free and every tensor any of its units reads is
  on its device, and its outputs are ready when it ends;
- **one device runs its parts one after another**, in topological order;
  **distinct devices run at the same time** — branches of a DAG placed on
  different devices overlap;
- a tensor travels straight from the device that produces it to every other
  device that reads it (not relayed through the devices in between). A
  *message* carries, from one producing unit (or the source, for the raw
  inputs) to one destination device, every tensor of that unit read there; it
  leaves when the producing part ends (the source's at time 0) and takes the
  route's latency + wire bytes / bottleneck + the per-message overhead + codec
  time. A directed link sends one message's bits at a time, first sent, first
  served: a message that finds a link of its route still busy with an earlier
  message's bits waits for them (a part's outputs fanned out to several devices
  over one uplink queue there); messages on different links fly together;
- the results travel from each unit that produces a graph output to the
  consumer (none when the workload keeps its results where they are made);
- latency = the time the last part ends or the last result arrives.

On a *chain* (each unit reads only its predecessor's outputs, the raw inputs
are read by the first unit only, the outputs come from the last unit) every
part waits for the one before it: the messages are the cut sets between
consecutive parts and the latency is the sum of all compute and transfers,
as before. :func:`is_chain` tells the two apart; solvers keep their summed
latency on chains.

Example
-------
>>> parts = [PartTiming("A", 2.0), PartTiming("B", 5.0), PartTiming("A", 3.0), PartTiming("A", 1.0)]
>>> msgs = [MessageTiming(0, "B", 1.0, (1,)), MessageTiming(1, "A", 1.0, (3,))]
>>> sched = schedule(parts, msgs, [])
>>> sched.latency_ms   # A: 2, then 3 alongside B's 1 + 5 + 1; the merge waits for B
10.0
"""

from __future__ import annotations

__all__ = ["PartTiming", "MessageTiming", "Segment", "Schedule", "schedule", "is_chain", "is_totally_ordered",
           "MessagePlan", "plan_messages"]

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from planner_app.core.models.structure import ModelStructure


@dataclass(frozen=True)
class PartTiming:
    """A part for the scheduler: its device and its compute (with the per-part overhead), ms."""

    device: str
    compute_ms: float


@dataclass(frozen=True)
class MessageTiming:
    """A message: sent when part ``from_part`` ends (None: the source, at 0); ``waiting`` parts need it.

    ``links``: (directed link, ms its bits keep that link busy) for each link of its route; messages
    crossing the same directed link at the same time queue for it (see :func:`schedule`).
    """

    from_part: int | None
    to_device: str
    transfer_ms: float
    waiting: tuple[int, ...]
    links: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Segment:
    """One step of the critical path: a part's compute or a message's transfer."""

    kind: str  # 'compute' | 'transfer'
    #: the part's index (compute) or the message's index in the list given to :func:`schedule` (transfer)
    index: int
    start_ms: float
    ms: float


@dataclass
class Schedule:
    """When each part starts and ends, when each message arrives, and the critical path."""

    part_start_ms: list[float]
    part_end_ms: list[float]
    message_arrival_ms: list[float]
    latency_ms: float
    critical_path: list[Segment]


def schedule(parts: Sequence[PartTiming], messages: Sequence[MessageTiming],
             results: Sequence[int]) -> Schedule:
    """Earliest start of every part (see the module docstring) and the critical path.

    ``results``: indices into ``messages`` of the messages that carry results to
    the consumer (their arrival ends the request). Parts must be in topological
    order and a message may only wait on a later part than the one sending it.

    A directed link sends one message's bits at a time, in the order the messages
    are sent: a message leaves once every link of its route has sent the bits of
    the messages sent before it, and arrives its own transfer time later. Messages
    that share no link — every message of a chain, whose messages never overlap in
    time — are not slowed. A message's time on the critical path includes its wait.
    """
    n = len(parts)
    waits: list[list[int]] = [[] for _ in range(n)]
    for mi, m in enumerate(messages):
        for p in m.waiting:
            waits[p].append(mi)
    sent_by: list[list[int]] = [[] for _ in range(n)]
    for mi, m in enumerate(messages):
        if m.from_part is not None:
            sent_by[m.from_part].append(mi)
    seen: set[str] = set()
    shared = False
    for m in messages:
        for key, _ in m.links:
            if key in seen:
                shared = True
                break
            seen.add(key)
        if shared:
            break
    start = [0.0] * n
    end = [0.0] * n
    sent = [0.0] * len(messages)
    arrival = [0.0] * len(messages)
    #: what fixed each part's start: ('part', q) the previous part on its device, ('msg', i), or None
    pred: list[tuple[str, int] | None] = [None] * n

    def place(p: int, prev: int | None) -> None:
        ready, why = 0.0, None
        if prev is not None:
            ready, why = end[prev], ("part", prev)
        for mi in waits[p]:
            if arrival[mi] >= ready and (why is None or arrival[mi] > ready or why[0] == "part"):
                ready, why = arrival[mi], ("msg", mi)
        start[p], end[p], pred[p] = ready, ready + parts[p].compute_ms, why

    if not shared:
        for mi, m in enumerate(messages):
            if m.from_part is None:
                arrival[mi] = m.transfer_ms
        last_on: dict[str, int] = {}
        for p, part in enumerate(parts):
            place(p, last_on.get(part.device))
            last_on[part.device] = p
            for mi in sent_by[p]:
                sent[mi] = end[p]
                arrival[mi] = end[p] + messages[mi].transfer_ms
    else:
        _schedule_shared(parts, messages, waits, sent_by, place, end, sent, arrival)
    # the request ends when the last part ends or the last result arrives
    latency, last = 0.0, None
    for p in range(n):
        if last is None or end[p] > latency:
            latency, last = end[p], ("part", p)
    for mi in results:
        if arrival[mi] >= latency:
            latency, last = arrival[mi], ("msg", mi)
    path: list[Segment] = []
    node = last
    while node is not None:
        kind, i = node
        if kind == "part":
            path.append(Segment("compute", i, start[i], parts[i].compute_ms))
            node = pred[i]
        else:
            m = messages[i]
            path.append(Segment("transfer", i, sent[i], arrival[i] - sent[i]))
            node = None if m.from_part is None else ("part", m.from_part)
    path.reverse()
    return Schedule(start, end, arrival, latency, path)


def _schedule_shared(parts: Sequence[PartTiming], messages: Sequence[MessageTiming], waits: list[list[int]],
                     sent_by: list[list[int]], place: Any, end: list[float], sent: list[float],
                     arrival: list[float]) -> None:
    """:func:`schedule` when messages share links: events in time order, each link first come, first served.

    Every part that can be placed (its device's previous part placed, its messages arrived) is
    placed before the next message leaves: then no message still to be sent can leave before
    the one taken, so links serve messages in the order they are sent."""
    n = len(parts)
    prev_on: list[int | None] = [None] * n
    last_on: dict[str, int] = {}
    for p, part in enumerate(parts):
        prev_on[p] = last_on.get(part.device)
        last_on[part.device] = p
    arrived = [False] * len(messages)
    placed = [False] * n
    heap: list[tuple[float, int]] = [(0.0, mi) for mi, m in enumerate(messages) if m.from_part is None]
    heapq.heapify(heap)
    link_free: dict[str, float] = {}
    todo = list(range(n))
    while todo or heap:
        progress = True
        while progress:
            progress = False
            rest = []
            for p in todo:
                q = prev_on[p]
                if (q is None or placed[q]) and all(arrived[mi] for mi in waits[p]):
                    place(p, q)
                    placed[p] = True
                    progress = True
                    for mi in sent_by[p]:
                        heapq.heappush(heap, (end[p], mi))
                else:
                    rest.append(p)
            todo = rest
        if not heap:
            break
        t, mi = heapq.heappop(heap)
        m = messages[mi]
        go = max([t, *(link_free.get(key, 0.0) for key, _ in m.links)])
        for key, busy in m.links:
            link_free[key] = go + busy
        sent[mi] = t
        arrival[mi] = go + m.transfer_ms
        arrived[mi] = True
    if todo:  # a part waits for a message nothing sends: the caller's lists are inconsistent
        raise ValueError(f"parts {todo} wait for messages no part sends")


def is_chain(structure: ModelStructure) -> bool:
    """Every unit reads its predecessor's outputs and nothing else of the model's (see the module docstring).

    On a chain the dataflow messages are the cut sets between consecutive units
    and every part waits for the one before it, so the latency is a plain sum.
    """
    cached = structure.__dict__.get("_is_chain")
    if cached is not None:
        return bool(cached)
    n = structure.n_units
    fed = [False] * n
    ok = True
    for t in structure.tensors:
        if t.producer < 0:
            ok = set(t.consumers) <= {0} and not t.is_output
        else:
            ok = set(t.consumers) <= {t.producer + 1} and (not t.is_output or t.producer == n - 1)
            if t.producer + 1 in t.consumers:
                fed[t.producer + 1] = True
        if not ok:
            break
    ok = ok and all(fed[1:])
    structure.__dict__["_is_chain"] = ok
    return ok


def is_totally_ordered(structure: ModelStructure) -> bool:
    """Every unit after the first reads an output of the unit just before it.

    Then no two units can ever run at the same time (each waits for its predecessor), so
    consecutive parts run one after another whatever the placement — but skip tensors still
    go straight to their readers, so the latency is not the chain's plain sum (residual
    networks: ResNet, MobileNetV2). Every chain is totally ordered.
    """
    cached = structure.__dict__.get("_is_totally_ordered")
    if cached is not None:
        return bool(cached)
    n = structure.n_units
    fed = [False] * n
    for t in structure.tensors:
        if t.producer >= 0 and t.producer + 1 in t.consumers:
            fed[t.producer + 1] = True
    ok = all(fed[1:])
    structure.__dict__["_is_totally_ordered"] = ok
    return ok


@dataclass(frozen=True)
class MessagePlan:
    """A message a placement needs: from part ``from_part`` (-1: the source) to ``to_device``.

    ``to_device`` None: the results, to the consumer. ``readers`` are the units on
    ``to_device`` that read any of its ``tensors`` (tensor indices of the structure).
    """

    from_part: int
    from_device: str
    to_device: str | None
    tensors: tuple[int, ...]
    readers: tuple[int, ...]


def plan_messages(structure: ModelStructure, devices: Sequence[str], part_of: Sequence[int], source: str,
                  result_device: str | None) -> list[MessagePlan]:
    """Every message of a placement (``devices[u]`` and ``part_of[u]`` per unit), in the order they are needed.

    One message per producing part (or the source) and destination device: a
    part's outputs are ready together when it ends. ``result_device`` None: the
    results stay where they are made. Order: by the first unit that reads the
    message (the results last), then by producer.
    """
    if is_chain(structure):
        return _chain_messages(structure, devices, part_of, source, result_device)
    groups: dict[tuple[int, str], tuple[str, list[int], set[int]]] = {}
    results: dict[int, tuple[str, list[int]]] = {}
    for ti, t in enumerate(structure.tensors):
        frm = source if t.producer < 0 else devices[t.producer]
        fp = -1 if t.producer < 0 else part_of[t.producer]
        for c in t.consumers:
            d = devices[c]
            if d == frm:
                continue
            _, tens, readers = groups.setdefault((fp, d), (frm, [], set()))
            if not tens or tens[-1] != ti:
                tens.append(ti)
            readers.add(c)
        if t.is_output and result_device is not None and frm != result_device:
            results.setdefault(fp, (frm, []))[1].append(ti)
    out = [MessagePlan(fp, frm, d, tuple(tens), tuple(sorted(readers)))
           for (fp, d), (frm, tens, readers) in groups.items()]
    out.sort(key=lambda m: (m.readers[0], m.from_part))
    out += [MessagePlan(fp, frm, None, tuple(tens), ()) for fp, (frm, tens) in sorted(results.items())]
    return out


def _chain_messages(structure: ModelStructure, devices: Sequence[str], part_of: Sequence[int], source: str,
                    result_device: str | None) -> list[MessagePlan]:
    """:func:`plan_messages` on a chain, from the cut sets at the parts' boundaries (the same list, faster)."""
    n = structure.n_units
    cuts = structure.cut_tensors
    out: list[MessagePlan] = []
    if cuts[0] and devices[0] != source:
        out.append(MessagePlan(-1, source, devices[0], tuple(cuts[0]), (0,)))
    for k in range(1, n):
        if devices[k] != devices[k - 1] and cuts[k]:
            out.append(MessagePlan(part_of[k - 1], devices[k - 1], devices[k], tuple(cuts[k]), (k,)))
    if result_device is not None and cuts[n] and devices[n - 1] != result_device:
        out.append(MessagePlan(part_of[n - 1], devices[n - 1], None, tuple(cuts[n]), ()))
    return out
