"""Running a plan as dataflow on agents: what ``/v1/runs`` serves.

A plan's cost model (``core.optimizer.dataflow``) runs a request like this: a
device runs its parts one after another; distinct devices run at the same time;
a tensor travels straight from the device that makes it to every device that
reads it, as one *message* per producing part and destination device, leaving
when the part ends. This module executes a plan that way:

- the client installs a :class:`RunProgram` on every agent of the run
  (``PUT /v1/runs/{run}``): the agent's stages in order (stored part, inputs,
  the ms of time dilation to add), the messages it sends (after which stage, to
  which agent and run, which tensors, with which cut codec) and the keys of the
  messages it receives;
- per request, messages arrive (``POST /v1/runs/{run}/requests/{rid}/messages``)
  into the request's mailbox on that agent; a stage runs as soon as all its
  inputs are in the mailbox and the stage before it on this device has run
  (one stage at a time per agent: a device computes one part at a time); its
  outputs join the mailbox, so a later stage on the same device reads them
  there (no message, as the plan assumes), and each message due after it is
  sent at once, each on its own thread (messages in flight do not wait for
  each other);
- the source's raw inputs are *injected* into the source device's agent when
  it has one (it then sends the raw-input messages), else the client sends
  them itself (:func:`post_message`);
- a request is complete on an agent when all its stages have run, every
  message it sent was answered and every message it expects has arrived; a
  long poll (``GET /v1/runs/{run}/requests/{rid}``) sent before the request
  starts answers then, with the agent's timing records (time.time() stamps:
  stages ready, started, done; messages sent, answered, received) and any
  tensors asked for, and forgets the request.

Nothing from a request becomes a path: run ids are 32 hex digits, parts are
sha256s checked by the store, message targets must be http(s) URLs.
"""

from __future__ import annotations

__all__ = ["RunProgram", "StageProgram", "SendProgram", "DataflowRuns", "RunIncomplete", "RunFailed",
           "UnknownRun", "post_message", "send_message", "MESSAGE_HEADER", "check_run_id", "sleep_until"]

import asyncio
import json
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from planner_app.agent import API_VERSION
from planner_app.agent.frames import FRAME_MEDIA_TYPE, FrameError, encode_cut, encode_frames
from planner_app.agent.jobs import QueueFull
from planner_app.core.errors import PlannerError

#: the header a message carries: ``{"key": message index, "sent_at": the sender's time.time() before
#: encoding, "inject": true for the source's raw inputs}``
MESSAGE_HEADER = "X-Edgeplan-Message"
_RUN_ID = re.compile(r"[0-9a-f]{32}")
#: runs an agent keeps (the oldest is dropped past this), requests in flight per run
MAX_RUNS = 8
MAX_REQUESTS = 4096
#: stages whose part ran faster than this last time run on the thread that made them runnable
INLINE_MS = 50.0
#: messages up to this size are written by the thread that made them (larger ones on a send thread)
INLINE_SEND_BYTES = 256 * 1024


class UnknownRun(PlannerError):
    """No run with that id on this agent (HTTP 404)."""


class RunIncomplete(PlannerError):
    """A request did not complete within the wait (HTTP 504); the message says what it waits for."""


class RunFailed(PlannerError):
    """A stage or a message of a request failed (HTTP 502); the message says which."""


def check_run_id(run: str) -> str:
    if not _RUN_ID.fullmatch(run):
        raise PlannerError(f"run id {run[:40]!r} is not 32 lower-case hex digits")
    return run


class StageProgram(BaseModel):
    """A stage this agent runs: a stored part, the tensors it reads, the ms of time dilation."""

    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=0, le=1 << 20)
    part: str = Field(pattern=r"^[0-9a-f]{64}$")
    inputs: list[str] = Field(min_length=1, max_length=1024)
    slow_ms: float = Field(0.0, ge=0.0, le=60_000.0)
    threads: int = Field(1, ge=1, le=256)


class SendProgram(BaseModel):
    """A message this agent sends: after stage ``after`` (None: when the raw inputs are injected)."""

    model_config = ConfigDict(extra="forbid")
    key: int = Field(ge=0, le=1 << 20)
    after: int | None = Field(None, ge=0, le=1 << 20)
    url: str = Field(max_length=2000)
    token: str = Field("", max_length=1000)
    #: the receiver's run id (default: this run's; one agent may stand for several devices, each its own run)
    run: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    tensors: list[str] = Field(min_length=1, max_length=1024)
    codec: str = "none"

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"message target {v[:80]!r} is not an http(s) URL")
        return v.rstrip("/")

    @field_validator("codec")
    @classmethod
    def _codec(cls, v: str) -> str:
        from planner_app.core.compression.cut_codecs import CODECS

        if v not in CODECS:
            raise ValueError(f"unknown cut codec {v!r}: choose one of {', '.join(CODECS)}")
        return v


class RunProgram(BaseModel):
    """What one agent does in a run: its stages in order, the messages it sends and those it expects."""

    model_config = ConfigDict(extra="forbid")
    stages: list[StageProgram] = Field(default_factory=list, max_length=1024)
    sends: list[SendProgram] = Field(default_factory=list, max_length=4096)
    receives: list[int] = Field(default_factory=list, max_length=4096)
    #: the source's raw inputs are injected here (this agent is the workload's source)
    inject: bool = False


@dataclass
class _Request:
    rid: int
    created: float = field(default_factory=time.monotonic)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    received: dict[int, dict[str, Any]] = field(default_factory=dict)
    injected: dict[str, Any] | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    next_stage: int = 0
    running: bool = False
    sending: int = 0
    error: str | None = None
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=list)


class _Sent:
    """A message written to its connection; :meth:`result` reads the agent's answer (its record)."""

    def __init__(self, pending: Any, url: str, key: int, sent_at: float, nbytes: int) -> None:
        self.pending, self.url, self.key, self.sent_at, self.nbytes = pending, url, key, sent_at, nbytes

    def result(self) -> dict[str, Any]:
        from planner_app.agent.wire import WireError

        try:
            status, _h, content = self.pending.result()
        except WireError as exc:
            raise RunFailed(f"message {self.key} cannot reach the agent at {self.url}: {exc}") from None
        if status >= 300:
            raise RunFailed(f"message {self.key}: the agent at {self.url} answered {status}: "
                            f"{content[:300].decode('utf-8', 'replace')}")
        return {"key": self.key, "sent_at": self.sent_at, "answered_at": time.time(), "bytes": self.nbytes}


def send_message(pool: Any, url: str, token: str, run: str, rid: int, key: int, tensors: dict[str, np.ndarray],
                 codec: str, *, inject: bool = False) -> _Sent:
    """Encode one message of request ``rid`` and write it to the agent at ``url`` (run ``run``) now; the
    answer is read later (:meth:`_Sent.result`), so the sender need not wait a round trip."""
    from planner_app.agent.wire import WireError

    sent_at = time.time()
    coded_tensors, coded = encode_cut(tensors, codec)
    headers = {"Content-Type": FRAME_MEDIA_TYPE,
               MESSAGE_HEADER: json.dumps({"key": key, "sent_at": sent_at, "inject": inject})}
    if coded:
        headers["X-Edgeplan-Codec"] = json.dumps(coded)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    target = f"{url}/v{API_VERSION}/runs/{run}/requests/{rid}/messages"
    body = encode_frames(coded_tensors)
    try:
        pending = pool.send("POST", target, body, headers)
    except WireError as exc:
        raise RunFailed(f"message {key} cannot reach the agent at {url}: {exc}") from None
    return _Sent(pending, url, key, sent_at, len(body))


def post_message(pool: Any, url: str, token: str, run: str, rid: int, key: int, tensors: dict[str, np.ndarray],
                 codec: str, *, inject: bool = False) -> dict[str, Any]:
    """Send one message of request ``rid`` to the agent at ``url`` (run ``run``) and wait for its answer;
    the sender's record: ``key``, ``sent_at`` (time.time() before encoding), ``answered_at``, ``bytes``.
    Raises :class:`RunFailed` naming the target when it cannot be reached or refuses the message."""
    return send_message(pool, url, token, run, rid, key, tensors, codec, inject=inject).result()


def sleep_until(deadline: float) -> None:
    """Sleep until ``time.perf_counter()`` reaches ``deadline`` (the last half-millisecond spun: sleep overshoots)."""
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            return
        time.sleep(left - 5e-4) if left > 1e-3 else time.sleep(0)



class _Run:
    def __init__(self, run_id: str, program: RunProgram) -> None:
        self.id, self.program = run_id, program
        self.requests: dict[int, _Request] = {}
        self.lock = threading.Lock()
        self.by_after: dict[int | None, list[SendProgram]] = {}
        for s in program.sends:
            self.by_after.setdefault(s.after, []).append(s)


class DataflowRuns:
    """The runs installed on one agent, and the execution of their requests.

    ``sessions.get(sha, threads)`` opens (and caches) a part's onnxruntime session;
    ``pool`` is the agent's :class:`~planner_app.agent.wire.ConnectionPool`.
    """

    def __init__(self, sessions: Any, store: Any, pool: Any, name: str, *, allow_send: bool = True) -> None:
        self._sessions, self._store, self._pool, self._name = sessions, store, pool, name
        self._allow_send = allow_send
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._lock = threading.Lock()
        # one stage computes at a time (a device runs its parts one after another); sends in parallel
        self._device = threading.Lock()
        self._compute = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage")
        self._last_ms: dict[tuple[str, int], float] = {}  # (part, threads) → its last session call, ms
        self._send = ThreadPoolExecutor(max_workers=32, thread_name_prefix="send")

    def close(self) -> None:
        self._compute.shutdown(wait=False, cancel_futures=True)
        self._send.shutdown(wait=False, cancel_futures=True)

    # -- runs --------------------------------------------------------------------------
    def install(self, run_id: str, program: RunProgram) -> dict[str, Any]:
        check_run_id(run_id)
        if program.sends and not self._allow_send:
            raise PlannerError("this agent does not send to other agents (started with forwarding off)")
        indices = [s.index for s in program.stages]
        if len(set(indices)) != len(indices):
            raise PlannerError(f"run {run_id}: stage indices repeat: {indices}")
        for s in program.sends:
            if s.after is not None and s.after not in indices:
                raise PlannerError(f"run {run_id}: message {s.key} is sent after stage {s.after}, which this "
                                   f"agent does not run (it runs {indices})")
            if s.after is None and not program.inject:
                raise PlannerError(f"run {run_id}: message {s.key} carries raw inputs but the program is not "
                                   "the source's (inject: false)")
        for st in program.stages:
            self._store.get(st.part)  # an unknown part is a 404 now, not mid-request
            self._sessions.get(st.part, st.threads)  # opened now: not on the first request's clock
        with self._lock:
            self._runs[run_id] = _Run(run_id, program)
            self._runs.move_to_end(run_id)
            while len(self._runs) > MAX_RUNS:
                self._runs.popitem(last=False)
        return {"run": run_id, "stages": indices, "sends": len(program.sends), "receives": len(program.receives)}

    def remove(self, run_id: str) -> None:
        with self._lock:
            if self._runs.pop(check_run_id(run_id), None) is None:
                raise UnknownRun(f"no run {run_id} on this agent")

    def known(self, run_id: str) -> None:
        """Raise :class:`UnknownRun` unless ``run_id`` is installed here."""
        self._run(run_id)

    def _run(self, run_id: str) -> _Run:
        with self._lock:
            run = self._runs.get(check_run_id(run_id))
        if run is None:
            raise UnknownRun(f"no run {run_id} on this agent (install it with PUT /v1/runs/{run_id})")
        return run

    @staticmethod
    def _request(run: _Run, rid: int) -> _Request:
        with run.lock:
            req = run.requests.get(rid)
            if req is None:
                if len(run.requests) >= MAX_REQUESTS:
                    raise QueueFull(f"run {run.id} has {MAX_REQUESTS} requests in flight: collect them first")
                req = run.requests[rid] = _Request(rid)
            return req

    # -- a request's life --------------------------------------------------------------
    def receive(self, run_id: str, rid: int, tensors: dict[str, np.ndarray], meta: dict[str, Any],
                arrived_at: float, received_at: float, nbytes: int) -> None:
        """A message (or the injected raw inputs) of request ``rid`` has arrived, decoded."""
        run = self._run(run_id)
        req = self._request(run, rid)
        inject = bool(meta.get("inject"))
        if inject and not run.program.inject:
            raise PlannerError(f"run {run_id}: raw inputs injected into an agent that is not the source's")
        try:
            key = int(meta.get("key", -1))
            sent_at = float(meta.get("sent_at", "nan"))
        except (TypeError, ValueError):
            raise PlannerError(f"{MESSAGE_HEADER} must be JSON with an integer key and a number sent_at") from None
        if not inject and key not in run.program.receives:
            raise PlannerError(f"run {run_id}: message {key} is not one this agent expects "
                               f"({run.program.receives})")
        record = {"key": key, "sent_at": sent_at, "arrived_at": arrived_at, "received_at": received_at,
                  "bytes": nbytes, "tensors": sorted(tensors)}
        with run.lock:
            req.tensors.update(tensors)
            if inject:
                req.injected = record
            else:
                req.received[key] = record
        if inject:
            for s in run.by_after.get(None, []):
                self._start_send(run, req, s)
        self._advance(run, req)

    def _ready(self, run: _Run, req: _Request) -> bool:
        """Whether the next stage can start (caller holds the run's lock)."""
        stages = run.program.stages
        return (req.error is None and not req.running and req.next_stage < len(stages)
                and all(n in req.tensors for n in stages[req.next_stage].inputs))

    def _fast(self, st: StageProgram) -> bool:
        """Whether the stage ran in under ``INLINE_MS`` last time (a first call counts as slow)."""
        return st.slow_ms == 0 and self._last_ms.get((st.part, st.threads), INLINE_MS) < INLINE_MS

    def _advance(self, run: _Run, req: _Request) -> None:
        """Start the request's next stage if it can run: here, on the calling thread (the event loop, when
        a message made it runnable) if it is fast and the device is free — handing it to a worker
        thread and back costs scheduler wake-ups, up to milliseconds each on a busy host — else on the
        stage thread."""
        with run.lock:
            go = self._ready(run, req)
            if go:
                req.running = True
                st = run.program.stages[req.next_stage]
        if not go:
            self._maybe_done(run, req)
            return
        ready_at = time.time()
        if self._fast(st) and self._device.acquire(blocking=False):
            try:
                self._drive(run, req, ready_at, inline=True)
            finally:
                self._device.release()
        else:
            self._compute.submit(self._drive_on_thread, run, req, ready_at)

    def _drive_on_thread(self, run: _Run, req: _Request, ready_at: float) -> None:
        with self._device:
            self._drive(run, req, ready_at, inline=False)

    def _drive(self, run: _Run, req: _Request, ready_at: float, *, inline: bool) -> None:
        """Run this request's stages while their inputs are here (the caller holds the device).

        ``inline``: on the event loop: a stage that is not fast goes to the stage thread instead."""
        stages = run.program.stages
        while True:
            with run.lock:
                st = stages[req.next_stage]
                feed_names = list(st.inputs)
                tensors = dict(req.tensors)
            if inline and not self._fast(st):
                self._compute.submit(self._drive_on_thread, run, req, ready_at)
                return
            try:
                record, outputs = self._compute_stage(st, {n: tensors[n] for n in feed_names})
            except Exception as exc:  # noqa: BLE001 - any failure of a stage fails the request, named
                with run.lock:
                    req.error = f"stage {st.index} on agent {self._name!r}: {exc}"
                    req.running = False
                self._maybe_done(run, req)
                return
            record["ready_at"] = ready_at
            with run.lock:
                req.tensors.update(outputs)
                req.stages.append(record)
                req.next_stage += 1
            for s in run.by_after.get(st.index, []):
                self._start_send(run, req, s)
            with run.lock:
                nxt = (req.error is None and req.next_stage < len(stages)
                       and all(n in req.tensors for n in stages[req.next_stage].inputs))
                if not nxt:
                    req.running = False
            if not nxt:
                break
            ready_at = time.time()
        self._maybe_done(run, req)

    def _compute_stage(self, st: StageProgram, feed: dict[str, np.ndarray]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        sess = self._sessions.get(st.part, st.threads)
        want = [i.name for i in sess.get_inputs()]
        missing = sorted(set(want) - set(feed))
        if missing:
            raise FrameError(f"part {st.part[:12]}… needs input(s) {missing} the program does not give it")
        start_at = time.time()
        c0, cpu0 = time.perf_counter(), time.thread_time()
        try:
            values = sess.run(None, {k: feed[k] for k in want})
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types
            raise FrameError(f"part {st.part[:12]}… cannot run on these tensors: "
                             f"{str(exc).splitlines()[0][:300]}") from None
        host_ms = (time.perf_counter() - c0) * 1e3
        cpu_ms = (time.thread_time() - cpu0) * 1e3
        self._last_ms[(st.part, st.threads)] = host_ms
        if st.slow_ms > 0:  # time dilation: see the server's infer
            sleep_until(time.perf_counter() + st.slow_ms / 1e3)
            cpu_ms += st.slow_ms
        compute_ms = (time.perf_counter() - c0) * 1e3
        outputs = {o.name: np.asarray(v) for o, v in zip(sess.get_outputs(), values, strict=True)}
        return {"index": st.index, "start_at": start_at, "done_at": time.time(), "compute_ms": compute_ms,
                "compute_cpu_ms": cpu_ms if st.threads == 1 else None, "host_compute_ms": host_ms,
                "slow_ms": st.slow_ms}, outputs

    def _start_send(self, run: _Run, req: _Request, s: SendProgram) -> None:
        """Send a message: a small one is written here and now (its answer read on a send thread), a large
        one entirely on a send thread (writing it may wait for the network)."""
        with run.lock:
            missing = [n for n in s.tensors if n not in req.tensors]
            if missing:
                req.error = (f"message {s.key} on agent {self._name!r}: tensors {missing} are not here after "
                             f"{'the raw inputs' if s.after is None else f'stage {s.after}'}")
                return
            payload = {n: req.tensors[n] for n in s.tensors}
            req.sending += 1
        if sum(int(v.nbytes) for v in payload.values()) <= INLINE_SEND_BYTES:
            try:
                sent = send_message(self._pool, s.url, s.token, s.run or run.id, req.rid, s.key, payload, s.codec)
            except Exception as exc:  # noqa: BLE001 - named in the request's error
                self._sent(run, req, s, None, f"agent {self._name!r}: {exc}")
                return
            self._send.submit(self._answer, run, req, s, sent)
        else:
            self._send.submit(self._do_send, run, req, s, payload)

    def _answer(self, run: _Run, req: _Request, s: SendProgram, sent: _Sent) -> None:
        try:
            record, err = sent.result(), None
        except Exception as exc:  # noqa: BLE001 - named in the request's error
            record, err = None, f"agent {self._name!r}: {exc}"
        self._sent(run, req, s, record, err)

    def _do_send(self, run: _Run, req: _Request, s: SendProgram, payload: dict[str, np.ndarray]) -> None:
        try:
            record = post_message(self._pool, s.url, s.token, s.run or run.id, req.rid, s.key, payload, s.codec)
            err = None
        except Exception as exc:  # noqa: BLE001 - named in the request's error
            record, err = None, f"agent {self._name!r}: {exc}"
        self._sent(run, req, s, record, err)

    def _sent(self, run: _Run, req: _Request, s: SendProgram, record: dict[str, Any] | None, err: str | None) -> None:
        with run.lock:
            req.sending -= 1
            if record is not None:
                record["after"] = s.after
                req.sent.append(record)
            if err is not None and req.error is None:
                req.error = err
        self._maybe_done(run, req)

    def _complete(self, run: _Run, req: _Request) -> bool:
        """Whether the request is done here (caller holds the run's lock)."""
        if req.error is not None:
            return not req.running and req.sending == 0
        p = run.program
        return (req.next_stage == len(p.stages) and not req.running and req.sending == 0
                and all(k in req.received for k in p.receives) and (req.injected is not None or not p.inject))

    def _maybe_done(self, run: _Run, req: _Request) -> None:
        with run.lock:
            if not self._complete(run, req):
                return
            waiters, req.waiters = req.waiters, []
        for loop, ev in waiters:
            loop.call_soon_threadsafe(ev.set)

    async def collect(self, run_id: str, rid: int, wait_s: float, tensors: list[str],
                      ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Wait until request ``rid`` is complete here; its records and the tensors asked for. It is then forgotten."""
        run = self._run(run_id)
        req = self._request(run, rid)
        ev = asyncio.Event()
        with run.lock:
            done = self._complete(run, req)
            if not done:
                req.waiters.append((asyncio.get_running_loop(), ev))
        if not done:
            try:
                await asyncio.wait_for(ev.wait(), timeout=wait_s)
            except TimeoutError:
                with run.lock:
                    what = self._waiting_for(run, req)
                    run.requests.pop(rid, None)
                raise RunIncomplete(f"request {rid} of run {run_id} did not complete on agent {self._name!r} "
                                    f"within {wait_s:g} s: {what}") from None
        with run.lock:
            run.requests.pop(rid, None)
            records = {"agent": self._name, "stages": req.stages, "received": list(req.received.values()),
                       "sent": req.sent, "injected": req.injected, "error": req.error}
            out = {n: req.tensors[n] for n in tensors if n in req.tensors}
        if req.error is not None:
            raise RunFailed(f"request {rid}: {req.error}")
        return records, out

    def _waiting_for(self, run: _Run, req: _Request) -> str:
        p = run.program
        parts = []
        if p.inject and req.injected is None:
            parts.append("the raw inputs (never injected)")
        missing_msgs = [k for k in p.receives if k not in req.received]
        if missing_msgs:
            parts.append(f"message(s) {missing_msgs}")
        if req.next_stage < len(p.stages):
            st = p.stages[req.next_stage]
            parts.append(f"stage {st.index}'s inputs {[n for n in st.inputs if n not in req.tensors]}")
        if req.sending:
            parts.append(f"{req.sending} message(s) still being sent")
        return "waiting for " + ("; ".join(parts) if parts else "nothing (it completed as the wait ended)")
