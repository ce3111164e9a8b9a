"""The edge agent's HTTP server (FastAPI + uvicorn): what ``edgeplan agent`` runs.

Endpoints (JSON unless said; every ``/v1`` one needs ``Authorization: Bearer TOKEN``):

=========================================  ===============================================
``GET  /health``                           liveness and versions (no token)
``GET  /v1/device``                        CPU, cores, memory, OS, onnxruntime, agent version
``POST /v1/parts?name=N``                  upload a part (raw ONNX bytes, size-capped) → its sha256
``GET  /v1/parts`` / ``/v1/parts/{sha}``   list / describe stored parts
``DELETE /v1/parts/{sha}``                 remove a part
``POST /v1/parts/{sha}/infer``             run a part on tensor frames (:mod:`frames`) → frames;
                                           ``X-Edgeplan-Forward`` passes the outputs on;
                                           ``?slow_ms=S`` adds S ms to compute (emulation)
``POST /v1/deliver``                       results for this device (a plan's consumer): timed
``PUT  /v1/runs/{run}``                    install this agent's program of a plan run (:mod:`dataflow`)
``POST /v1/runs/{run}/requests/{r}/messages``  a message of request r (tensor frames) → 202
``GET  /v1/runs/{run}/requests/{r}``       long poll: request r's records here once complete
``DELETE /v1/runs/{run}``                  forget a run
``POST /v1/jobs/profile``                  profile a part (levels, runs, threads) → 202 job id
``GET  /v1/jobs`` / ``/v1/jobs/{id}``      list jobs / one job with its result
``GET  /v1/jobs/{id}/events``              progress as server-sent events, then the final state
``DELETE /v1/jobs/{id}``                   cancel a job
``GET  /v1/probe/echo``                    round-trip probe
``POST /v1/probe/upload``                  throughput probe (body counted, discarded)
``GET  /v1/probe/download?size_bytes=N``   throughput probe (N zero bytes)
=========================================  ===============================================

Errors are ``{"error": KIND, "detail": MESSAGE}`` with 400 (bad request, malformed
frames), 401 (token), 404 (unknown part or job), 408 (a client stalled mid-upload),
413 (too large), 415 (not ONNX), 422 (a part onnxruntime rejects), 429 (job queue
full), 502 (a stage or message of a run failed), 503 (shutting down, or too many
connections), 504 (a run's request did not complete in time). The token is compared in
constant time. The only request data that reaches a path is a sha256 checked
against ``[0-9a-f]{64}`` (:mod:`store`).
"""

from __future__ import annotations

__all__ = ["API_VERSION", "AgentConfig", "create_app", "device_facts", "encode_cut", "decode_cut"]

import asyncio
import contextlib
import hmac
import json
import math
import os
import platform
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as FPath
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from planner_app import __version__
from planner_app.agent import API_VERSION
from planner_app.agent.dataflow import (
    MESSAGE_HEADER,
    DataflowRuns,
    RunFailed,
    RunIncomplete,
    RunProgram,
    UnknownRun,
    sleep_until,
)
from planner_app.agent.frames import (
    FRAME_MEDIA_TYPE,
    FrameError,
    decode_cut,
    decode_frames,
    encode_cut,
    encode_frames,
)
from planner_app.agent.jobs import JobQueue, QueueClosed, QueueFull, UnknownJob
from planner_app.agent.store import NotOnnx, PartRejected, PartStore, UnknownPart, check_sha256
from planner_app.core.errors import PlannerError
from planner_app.core.progress import CancelToken, ProgressCallback

_MiB = 1 << 20
#: bodies up to this size (declared) are read in one piece under one deadline
_SMALL_BODY = 4 * _MiB
#: inference calls whose part ran faster than this last time run on the event loop (no thread hop)
_INLINE_MS = 2.0


class AuthError(PlannerError):
    """A missing or wrong bearer token (HTTP 401)."""


class TooLarge(PlannerError):
    """A body over the agent's limit (HTTP 413)."""


class Stalled(PlannerError):
    """A client stopped sending in the middle of a body (HTTP 408)."""


class ForwardFailed(PlannerError):
    """The next stage of a forwarded inference failed (HTTP 502)."""


_STATUS: list[tuple[type[Exception], int]] = [
    (AuthError, 401), (UnknownPart, 404), (UnknownJob, 404), (Stalled, 408), (TooLarge, 413),
    (NotOnnx, 415), (PartRejected, 422), (QueueFull, 429), (QueueClosed, 503), (FrameError, 400),
    (ForwardFailed, 502), (UnknownRun, 404), (RunIncomplete, 504), (RunFailed, 502),
]


@dataclass(frozen=True)
class AgentConfig:
    """How an agent serves: where it keeps parts, its token and its limits."""

    data_dir: Path
    token: str
    name: str = field(default_factory=platform.node)
    max_model_bytes: int = 512 * _MiB
    max_pending_jobs: int = 8
    max_probe_bytes: int = 256 * _MiB
    #: seconds a client may pause mid-body before the request is dropped (408)
    body_timeout_s: float = 30.0
    #: sessions kept open for inference (least recently used closed first)
    max_sessions: int = 8
    #: whether ``X-Edgeplan-Forward`` may make this agent call another one
    allow_forward: bool = True
    #: a CA bundle (PEM) trusted, besides the system's CAs, when forwarding to https agents (``--tls-ca``)
    forward_ca_file: str | None = None


def _memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def device_facts(name: str) -> dict[str, Any]:
    """What this device is: what ``GET /v1/device`` answers."""
    import onnxruntime as ort

    from planner_app.core.profiling import HostInfo

    host = HostInfo.detect()
    return {
        "name": name, "agent_version": __version__, "api_version": API_VERSION,
        "cpu_model": host.cpu_model, "cores": host.cores, "machine": host.machine, "simd": host.simd,
        "cpu_mhz": host.cpu_mhz, "memory_bytes": _memory_bytes(), "os": platform.platform(),
        "python": platform.python_version(), "onnxruntime_version": ort.__version__,
        "onnxruntime_providers": list(ort.get_available_providers()), "host_fingerprint": host.fingerprint,
    }


class ProfileRequest(BaseModel):
    """What to measure: a stored part at some levels, with the profiler's settings."""

    model_config = ConfigDict(extra="forbid")
    part: str
    levels: list[str] = Field(default_factory=lambda: ["fp32"], min_length=1, max_length=16)
    runs: int = Field(30, ge=1, le=10_000)
    warmup: int = Field(3, ge=0, le=1000)
    threads: int = Field(1, ge=1, le=256)
    max_seconds: float = Field(20.0, gt=0, le=3600)
    fidelity_samples: int = Field(8, ge=1, le=256)
    shapes: dict[str, list[Annotated[int, Field(ge=1, le=1 << 24)]]] = Field(default_factory=dict, max_length=64)
    use_cache: bool = False

    @field_validator("shapes")
    @classmethod
    def _bounded(cls, v: dict[str, list[int]]) -> dict[str, list[int]]:
        for name, dims in v.items():
            if len(dims) > 8 or math.prod(dims) > 1 << 26:
                raise ValueError(f"input {name!r}: at most 8 dimensions and 2**26 elements")
        return v


class _Sessions:
    """Open onnxruntime sessions by (part, threads), least recently used closed first."""

    def __init__(self, store: PartStore, limit: int) -> None:
        self._store, self._limit = store, limit
        self._open: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha: str, threads: int) -> Any:
        key = (sha, threads)
        with self._lock:
            if key in self._open:
                self._open.move_to_end(key)
                return self._open[key]
        from planner_app.core.compression.calibration import open_session

        data = self._store.read(sha)
        try:
            sess = open_session(data, threads=threads)  # the options profiling measures with
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types
            raise PartRejected(f"onnxruntime cannot open part {sha[:12]}…: {str(exc).splitlines()[0][:300]}") from None
        with self._lock:
            self._open[key] = sess
            while len(self._open) > self._limit:
                self._open.popitem(last=False)
        return sess

    def drop(self, sha: str) -> None:
        with self._lock:
            for key in [k for k in self._open if k[0] == sha]:
                del self._open[key]


async def _read_body(request: Request, limit: int, what: str, timeout_s: float, *, keep: bool = True) -> bytes:
    """The request body, refused (413) past ``limit`` bytes and (408) when the client stalls.

    ``keep=False`` only counts (a throughput probe): the result is empty; the count of bytes
    read is in ``request.state.body_bytes`` either way."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise TooLarge(f"the {what} is {int(declared)} bytes; this agent accepts at most {limit} "
                               "(start it with a larger --max-model-mb)")
        except ValueError:
            raise PlannerError(f"bad Content-Length header {declared[:40]!r}") from None
    if keep and declared is not None and int(declared) <= _SMALL_BODY:
        # a small body (tensor frames, mostly): read whole under one deadline, no per-chunk timer
        try:
            async with asyncio.timeout(timeout_s):
                data = await request.body()
        except TimeoutError:
            raise Stalled(f"the client sent nothing for {timeout_s:g} s in the middle of the {what}") from None
        if len(data) > limit:
            raise TooLarge(f"the {what} exceeds {limit} bytes, this agent's limit (start it with a larger --max-model-mb)")
        request.state.body_bytes = len(data)
        return data
    chunks: list[bytes] = []
    size = 0
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout=timeout_s)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise Stalled(f"the client sent nothing for {timeout_s:g} s in the middle of the {what}") from None
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the {what} exceeds {limit} bytes, this agent's limit (start it with a larger --max-model-mb)")
        if keep:
            chunks.append(chunk)
    request.state.body_bytes = size
    return b"".join(chunks)


def _check_levels(levels: list[str]) -> None:
    from planner_app.core.compression.registry import VARIANT_PREFIX, get_level

    for level in levels:
        if level.startswith(VARIANT_PREFIX):
            raise PlannerError(f"level {level!r}: a variant is a model of its own; upload it as a part and "
                               "profile that part at fp32")
        get_level(level)  # an unknown level fails now, naming the known ones


def _profile_work(store: PartStore, req: ProfileRequest, agent_name: str) -> Callable[[ProgressCallback, CancelToken], dict[str, Any]]:
    def work(progress: ProgressCallback, cancel: CancelToken) -> dict[str, Any]:
        from planner_app.core.models import load_model
        from planner_app.core.profiling import ProfileSettings, profile_model

        info = store.get(req.part)
        progress(0.0, f"loading part {info.name}")
        mg = load_model(store.read(req.part), req.shapes or None, name=info.name, cancel=cancel)
        settings = ProfileSettings(threads=req.threads, warmup=req.warmup, runs=req.runs,
                                   max_seconds=req.max_seconds, fidelity_samples=req.fidelity_samples)
        profile = profile_model(mg, req.levels, settings=settings, progress=progress, cancel=cancel,
                                use_cache=req.use_cache)
        for lp in profile.levels.values():
            lp.provenance = "measured-agent"
        out = profile.to_dict()
        out["agent"] = {"name": agent_name, "agent_version": __version__}
        return out

    return work


def _forward(pool: Any, hops: list[dict[str, Any]], tensors: dict[str, np.ndarray]) -> tuple[bytes, list[Any]]:
    """Send ``tensors`` to the first hop (which passes them on to the rest); its frames and timings.

    A hop is ``{"url", "part", "token", "keep": [names to send on], "return": [names the last stage
    sends back besides its outputs], "codec", "slow_ms"}``, or a delivery ``{"url", "token",
    "deliver": true, "echo": bool, "codec"}`` (the results to the consumer's agent, ``/v1/deliver``);
    ``pool`` is the agent's :class:`~planner_app.agent.wire.ConnectionPool`.
    """
    from planner_app.agent.wire import WireError

    hop, rest = hops[0], hops[1:]
    url = str(hop.get("url", "")).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise PlannerError(f"X-Edgeplan-Forward: hop url {url[:80]!r} is not http(s)")
    tensors, coded = encode_cut(tensors, str(hop.get("codec") or "none"))
    headers = {"Content-Type": FRAME_MEDIA_TYPE}
    if coded:
        headers["X-Edgeplan-Codec"] = json.dumps(coded)
    if hop.get("token"):
        headers["Authorization"] = f"Bearer {hop['token']}"
    if hop.get("deliver"):
        if rest:
            raise PlannerError("X-Edgeplan-Forward: a delivery hop must be the last")
        target = f"{url}/v{API_VERSION}/deliver" + ("?echo=true" if hop.get("echo") else "")
    else:
        part = check_sha256(str(hop.get("part", "")))
        headers["X-Edgeplan-Forward"] = json.dumps(rest)
        headers["X-Edgeplan-Return"] = json.dumps(hop.get("return") or [])
        try:
            slow_ms = float(hop.get("slow_ms") or 0.0)
        except (TypeError, ValueError):
            raise PlannerError("X-Edgeplan-Forward: a hop's slow_ms must be a number >= 0") from None
        target = f"{url}/v{API_VERSION}/parts/{part}/infer" + (f"?slow_ms={slow_ms!r}" if slow_ms > 0 else "")
    try:
        status, rh, content = pool.post(target, encode_frames(tensors), headers)
    except WireError as exc:
        raise ForwardFailed(f"the next stage at {url} cannot be reached: {exc}") from None
    if status != 200:
        raise ForwardFailed(f"the next stage at {url} answered {status}: {content[:300].decode('utf-8', 'replace')}")
    try:
        timings = json.loads(rh.get("x-edgeplan-timings", "[]"))
    except ValueError:
        timings = []
    return content, timings


def _codec_header(request: Request) -> Any:
    try:
        return json.loads(request.headers.get("x-edgeplan-codec") or "{}")
    except ValueError:
        raise FrameError("X-Edgeplan-Codec is not JSON") from None


def _names(header: str | None, what: str) -> list[str]:
    if not header:
        return []
    try:
        value = json.loads(header)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, (str, dict)) for v in value):
        raise PlannerError(f"{what} must be a JSON list")
    return value


def create_app(config: AgentConfig) -> FastAPI:
    """The agent's FastAPI application for ``config`` (serve it with uvicorn)."""
    store = PartStore(config.data_dir)
    jobs = JobQueue(max_pending=config.max_pending_jobs)
    sessions = _Sessions(store, config.max_sessions)
    from planner_app.agent.wire import ConnectionPool

    # one pool of kept-alive connections: forwarded calls reuse them (and trust --tls-ca besides the system's CAs)
    forwarder = ConnectionPool(timeout_s=120.0, ca_file=config.forward_ca_file)
    from concurrent.futures import ThreadPoolExecutor

    inference_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="infer")
    runs = DataflowRuns(sessions, store, forwarder, config.name, allow_send=config.allow_forward)
    last_ms: dict[tuple[str, int], float] = {}  # (part, threads) → its last session call, ms
    token = config.token.encode("utf-8")

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()
        runs.close()
        forwarder.close()
        inference_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="edgeplan agent", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.jobs, app.state.store = jobs, store

    @app.exception_handler(PlannerError)
    async def _planner_error(request: Request, exc: PlannerError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {"Retry-After": "5"} if status in (429, 503) else None
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=status, headers=headers)

    async def authorized(request: Request) -> None:  # async: no thread hop on every call
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8"), token):
            raise AuthError("missing or wrong bearer token: send 'Authorization: Bearer TOKEN' with the token "
                            "the agent printed at its first start (or its --token-file)")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "api_version": API_VERSION, "agent_version": __version__}

    v1 = APIRouter(prefix=f"/v{API_VERSION}", dependencies=[Depends(authorized)])

    @v1.get("/device")
    def device() -> dict[str, Any]:
        return device_facts(config.name)

    # -- parts ----------------------------------------------------------------------
    @v1.post("/parts")
    async def upload_part(request: Request, name: str = Query("", max_length=200)) -> JSONResponse:
        data = await _read_body(request, config.max_model_bytes, "model part", config.body_timeout_s)
        if not data:
            raise NotOnnx("the upload is empty: send the bytes of a .onnx file as the request body")
        existed = await run_in_threadpool(_exists, store, data)
        info = await run_in_threadpool(store.put, data, name)
        return JSONResponse({**info.to_dict(), "created": not existed}, status_code=200 if existed else 201)

    @v1.get("/parts")
    def list_parts() -> dict[str, Any]:
        return {"parts": [p.to_dict() for p in store.list()]}

    @v1.get("/parts/{sha}")
    def get_part(sha: str) -> dict[str, Any]:
        return store.get(check_sha256(sha)).to_dict()

    @v1.delete("/parts/{sha}")
    def delete_part(sha: str) -> dict[str, Any]:
        store.delete(check_sha256(sha))
        sessions.drop(sha)
        return {"deleted": sha}

    @v1.post("/parts/{sha}/infer")
    async def infer(request: Request, sha: str, threads: int = Query(1, ge=1, le=256),
                    slow_ms: float = Query(0.0, ge=0.0, le=60_000.0)) -> Response:
        check_sha256(sha)
        t0, arrived_at = time.perf_counter(), time.time()
        blob = await _read_body(request, config.max_model_bytes, "tensor frames", config.body_timeout_s)
        hops: list[Any] = _names(request.headers.get("x-edgeplan-forward"), "X-Edgeplan-Forward")
        if not all(isinstance(h, dict) for h in hops):
            raise PlannerError("X-Edgeplan-Forward must be a JSON list of {url, part, token, keep, return}")
        if hops and not config.allow_forward:
            raise PlannerError("this agent does not forward (started with forwarding off)")
        give_back = [str(n) for n in _names(request.headers.get("x-edgeplan-return"), "X-Edgeplan-Return")]
        coded = _codec_header(request)
        if not hops and not slow_ms and last_ms.get((sha, threads), _INLINE_MS) < _INLINE_MS:
            # a part that ran in under _INLINE_MS last time runs here, on the event loop: handing it to a
            # worker thread and back costs two scheduler wake-ups, up to milliseconds each on a busy host
            out, timings = _infer(sha, blob, threads, hops, give_back, coded, t0, slow_ms)
        else:
            # a plain executor: one thread hop each way, cheaper than anyio's (which limits and tracks threads)
            out, timings = await asyncio.get_running_loop().run_in_executor(
                inference_pool, _infer, sha, blob, threads, hops, give_back, coded, t0, slow_ms)
        timings[0]["arrived_at"] = arrived_at
        return Response(out, media_type=FRAME_MEDIA_TYPE, headers={"X-Edgeplan-Timings": json.dumps(timings)})

    def _infer(sha: str, blob: bytes, threads: int, hops: list[dict[str, Any]], give_back: list[str],
               coded: Any, t0: float, slow_ms: float = 0.0) -> tuple[bytes, list[Any]]:
        inputs = decode_cut(decode_frames(blob), coded)
        ready_at = time.time()  # the inputs are here, decoded: where the previous hop ends
        receive_ms = (time.perf_counter() - t0) * 1e3  # reading and decoding the request
        sess = sessions.get(sha, threads)
        want = {i.name for i in sess.get_inputs()}
        missing = sorted(want - set(inputs))
        if missing:
            raise FrameError(f"part {sha[:12]}… needs input(s) {missing}; the frames hold {sorted(inputs)}")
        c0, cpu0 = time.perf_counter(), time.thread_time()
        try:
            values = sess.run(None, {k: inputs[k] for k in want})
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types: a shape or dtype mismatch
            raise FrameError(f"part {sha[:12]}… cannot run on these tensors: {str(exc).splitlines()[0][:300]}") from None
        host_ms = (time.perf_counter() - c0) * 1e3
        last_ms[(sha, threads)] = host_ms
        # with one thread onnxruntime computes in this thread: its CPU time is the profile's clock
        compute_cpu_ms = (time.thread_time() - cpu0) * 1e3
        if slow_ms > 0:
            # time dilation: a slower device emulated by sleeping slow_ms after the call (what the
            # device takes beyond this host); its CPU time counts it too: the emulated device's core
            sleep_until(time.perf_counter() + slow_ms / 1e3)
            compute_cpu_ms += slow_ms
        compute_ms = (time.perf_counter() - c0) * 1e3
        done_at = time.time()
        outputs = {o.name: np.asarray(v) for o, v in zip(sess.get_outputs(), values, strict=True)}
        mine: dict[str, Any] = {"agent": config.name, "part": sha, "compute_ms": compute_ms,
                                "compute_cpu_ms": compute_cpu_ms if threads == 1 else None,
                                "receive_ms": receive_ms, "reply_ms": 0.0, "ready_at": ready_at,
                                "done_at": done_at, "slow_ms": slow_ms, "host_compute_ms": host_ms}
        available = {**inputs, **outputs}
        if hops:
            keep = hops[0].get("keep")
            send = {k: v for k, v in available.items() if k in keep} if isinstance(keep, list) else outputs
            f0 = time.perf_counter()
            body, downstream = _forward(forwarder, hops, send)
            mine["forward_ms"] = (time.perf_counter() - f0) * 1e3
            mine["agent_ms"] = (time.perf_counter() - t0) * 1e3  # everything here, the forward included
            return body, [mine, *downstream]
        r0 = time.perf_counter()
        body = encode_frames({**{k: available[k] for k in give_back if k in available}, **outputs})
        mine["reply_ms"] = (time.perf_counter() - r0) * 1e3
        mine["agent_ms"] = (time.perf_counter() - t0) * 1e3
        return body, [mine]

    @v1.post("/deliver")
    async def deliver(request: Request, echo: bool = Query(False)) -> Response:
        """Results delivered to this device (the workload's consumer): decoded, timed, dropped.

        ``received_at`` (this machine's ``time.time()`` once the tensors are decoded) ends a
        request's end-to-end time; ``echo=true`` sends the tensors back (to check them)."""
        t0, arrived_at = time.perf_counter(), time.time()
        blob = await _read_body(request, config.max_model_bytes, "tensor frames", config.body_timeout_s)
        tensors = decode_cut(decode_frames(blob), _codec_header(request))
        mine = {"agent": config.name, "deliver": True, "arrived_at": arrived_at, "received_at": time.time(),
                "receive_ms": (time.perf_counter() - t0) * 1e3, "tensors": sorted(tensors),
                "bytes": len(blob)}
        out = encode_frames(tensors if echo else {})
        return Response(out, media_type=FRAME_MEDIA_TYPE, headers={"X-Edgeplan-Timings": json.dumps([mine])})

    # -- plans run as dataflow (agent/dataflow.py) ------------------------------------
    @v1.put("/runs/{run_id}", status_code=201)
    async def install_run(run_id: str, program: RunProgram) -> dict[str, Any]:
        return await run_in_threadpool(runs.install, run_id, program)

    @v1.delete("/runs/{run_id}")
    def remove_run(run_id: str) -> dict[str, Any]:
        runs.remove(run_id)
        return {"deleted": run_id}

    @v1.post("/runs/{run_id}/requests/{rid}/messages", status_code=202)
    async def run_message(request: Request, run_id: str, rid: Annotated[int, FPath(ge=0, le=1 << 31)]) -> Response:
        arrived_at = time.time()
        runs.known(run_id)  # an unknown run is a 404 before any body is read
        blob = await _read_body(request, config.max_model_bytes, "tensor frames", config.body_timeout_s)
        try:
            meta = json.loads(request.headers.get(MESSAGE_HEADER.lower()) or "{}")
        except ValueError:
            meta = None
        if not isinstance(meta, dict):
            raise PlannerError(f"{MESSAGE_HEADER} must be a JSON object {{key, sent_at, inject}}")
        tensors = decode_cut(decode_frames(blob), _codec_header(request))
        runs.receive(run_id, rid, tensors, meta, arrived_at, time.time(), len(blob))
        return Response(status_code=202)

    @v1.get("/runs/{run_id}/requests/{rid}")
    async def run_collect(run_id: str, rid: Annotated[int, FPath(ge=0, le=1 << 31)],
                          wait_s: float = Query(60.0, gt=0, le=3600),
                          tensors: str = Query("", max_length=100_000)) -> Response:
        names = [n for n in tensors.split(",") if n]
        records, out = await runs.collect(run_id, rid, wait_s, names)
        return Response(encode_frames(out), media_type=FRAME_MEDIA_TYPE,
                        headers={"X-Edgeplan-Timings": json.dumps(records)})

    # -- jobs -----------------------------------------------------------------------
    @v1.post("/jobs/profile", status_code=202)
    def start_profile(req: ProfileRequest) -> dict[str, Any]:
        store.get(check_sha256(req.part))
        _check_levels(req.levels)
        job = jobs.submit("profile", req.model_dump(), _profile_work(store, req, config.name))
        return job.summary()

    @v1.get("/jobs")
    def list_jobs() -> dict[str, Any]:
        return {"jobs": [j.summary() for j in jobs.list()], "max_pending": jobs.max_pending}

    @v1.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, Any]:
        job = jobs.get(job_id)
        return {**job.summary(), "events": job.events, "result": job.result}

    @v1.delete("/jobs/{job_id}")
    def cancel_job(job_id: str) -> dict[str, Any]:
        return jobs.cancel(job_id).summary()

    @v1.get("/jobs/{job_id}/events")
    async def job_events(request: Request, job_id: str) -> StreamingResponse:
        job = jobs.get(job_id)

        async def stream() -> AsyncIterator[str]:
            seen, last_beat = 0, time.monotonic()
            while True:
                events = job.events[seen:]
                for ev in events:
                    yield f"event: progress\ndata: {json.dumps(ev)}\n\n"
                seen += len(events)
                if job.final and seen >= len(job.events):
                    yield f"event: {job.state}\ndata: {json.dumps(job.summary())}\n\n"
                    return
                if time.monotonic() - last_beat > 10:
                    yield ": keep-alive\n\n"
                    last_beat = time.monotonic()
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.05)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    # -- link probes ----------------------------------------------------------------
    @v1.get("/probe/echo")
    def echo() -> dict[str, Any]:
        return {"t": time.time()}

    @v1.post("/probe/upload")
    async def probe_upload(request: Request) -> dict[str, Any]:
        t0 = time.perf_counter()
        await _read_body(request, config.max_probe_bytes, "probe upload", config.body_timeout_s, keep=False)
        return {"bytes": request.state.body_bytes, "seconds": time.perf_counter() - t0}

    @v1.get("/probe/download")
    def probe_download(size_bytes: int = Query(..., ge=0)) -> StreamingResponse:
        if size_bytes > config.max_probe_bytes:
            raise TooLarge(f"size_bytes {size_bytes} exceeds this agent's probe limit of {config.max_probe_bytes}")
        block = bytes(min(size_bytes, _MiB))

        def chunks() -> Any:
            left = size_bytes
            while left > 0:
                n = min(left, len(block))
                yield block[:n]
                left -= n

        return StreamingResponse(chunks(), media_type="application/octet-stream",
                                 headers={"Content-Length": str(size_bytes)})

    app.include_router(v1)
    return app


def _exists(store: PartStore, data: bytes) -> bool:
    import hashlib

    try:
        store.get(hashlib.sha256(data).hexdigest())
    except UnknownPart:
        return False
    return True
