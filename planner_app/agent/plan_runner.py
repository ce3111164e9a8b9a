"""Running an exported plan on agents, and measuring it (``edgeplan run``).

:func:`run_plan` uploads each stage's part to its device's agent and installs the
plan's dataflow on every agent of the run (:mod:`planner_app.agent.dataflow`): the
stages it runs, the messages it sends and those it expects. Per request, it sends a
long poll to every agent, then hands the input to the source — injected into the
source's agent when the source runs stages (or receives results), else sent by this
client standing in for the source, as the plan's raw-input messages. From there the
agents run the plan as its cost model predicts it: each runs its stages one after
another as their inputs arrive, all at the same time, and every message goes straight
from the device that makes its tensors to the device that reads them; the results go
to the consumer's agent. When every agent has answered its poll, the request's
timing is assembled from their stamps (:func:`~planner_app.core.execute.request_timing`):
end to end from the source holding the input to the last result decoded at the
consumer (or the last stage done), each message one way from its sender beginning to
encode to its receiver having decoded. Agents on this host share the client's clock;
remote agents' offsets are estimated from echo probes (the sample of least round
trip; its half round trip bounds the error).

:func:`run_local` does the same with one agent process per planned device (and the
consumer) on 127.0.0.1 and a :class:`~planner_app.agent.linkemu.LinkEmulator` on
every route a message takes, imposing the plan's route latency and bandwidth; where
the plan's device is slower than this host, its stages are slowed to the predicted
speed by time dilation (see :func:`run_local`).
"""

from __future__ import annotations

__all__ = ["Endpoint", "run_plan", "run_local", "host_stage_ms", "measure_message_overhead", "calibrate_topology"]

import json
import secrets
import select
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner_app.agent import API_VERSION
from planner_app.agent.client import AgentClient, AgentError
from planner_app.agent.dataflow import RunFailed, post_message
from planner_app.agent.frames import decode_frames
from planner_app.agent.linkemu import LinkDirection, LinkEmulator
from planner_app.agent.local import LocalAgent, start_local_agent
from planner_app.agent.wire import ConnectionPool, WireError
from planner_app.core.execute import (
    ExecutionError,
    ExecutionSpec,
    MessageSpec,
    RequestTiming,
    request_timing,
    run_report,
    sample_inputs,
)
from planner_app.core.progress import ProgressCallback, report

#: a stage is slowed (time dilation) when the plan predicts it this much slower than this host runs it
DILATE_ABOVE = 1.2
#: ms of quiet before each request sent one after another, and before each calibration message: a plan's
#: latency is one request on an idle system, and a process that idled costs more to wake than a busy one
QUIET_MS = 20.0


@dataclass(frozen=True)
class Endpoint:
    """An agent: where to upload (``url``) and its token."""

    url: str
    token: str
    #: a CA bundle trusted (besides the system's) for an https agent
    ca_file: str = ""


def clock_offset_s(client: AgentClient, probes: int = 12) -> tuple[float, float]:
    """(the agent's clock minus this machine's, half the round trip of that probe), in seconds:
    the echo of least round trip, its answer taken as read at the probe's midpoint."""
    best = (float("inf"), 0.0)
    for _ in range(probes):
        t0 = time.time()
        r = client._v1("GET", "/probe/echo")
        t1 = time.time()
        agent_t = float(r.json()["t"])
        if t1 - t0 < best[0]:
            best = (t1 - t0, agent_t - (t0 + t1) / 2)
    return best[1], best[0] / 2


def _programs(spec: ExecutionSpec, endpoints: dict[str, Endpoint], shas: dict[int, str],
              url_of: Callable[[MessageSpec], str], slow: list[float], runs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each device's :class:`~planner_app.agent.dataflow.RunProgram` of the run (JSON-ready); ``runs``: each
    device's run id (one agent may stand for several devices)."""
    progs: dict[str, dict[str, Any]] = {
        d: {"stages": [], "sends": [], "receives": [], "inject": d == spec.source and spec.source_has_agent}
        for d in spec.agent_devices}
    for k, st in enumerate(spec.stages):
        progs[st.device]["stages"].append({"index": st.index, "part": shas[k], "inputs": list(st.inputs),
                                           "slow_ms": slow[k]})
    for m in spec.messages:
        progs[m.to_device]["receives"].append(m.key)
        if m.from_stage is None and not spec.source_has_agent:
            continue  # the client stands in for the source and sends it
        progs[m.from_device]["sends"].append(
            {"key": m.key, "after": m.from_stage, "url": url_of(m), "token": endpoints[m.to_device].token,
             "run": runs[m.to_device],
             "tensors": list(m.tensors), "codec": _hop_codec(m.codec)})
    return progs


def run_plan(spec: ExecutionSpec, endpoints: dict[str, Endpoint], url_of: Callable[[MessageSpec], str] | None = None,
             *, requests: int = 20, rate_rps: float | None = None, warmup: int = 3,
             progress: ProgressCallback | None = None, slow_ms: list[float] | None = None, same_clock: bool = False,
             quiet_ms: float = 0.0, wait_s: float = 110.0,
             ) -> tuple[list[RequestTiming], float, tuple[float, float] | None, float]:
    """Run ``requests`` requests through the plan on its agents, as dataflow (see :mod:`planner_app.agent.dataflow`).

    Returns the timings, the wall seconds, the output difference (see ``_output_diff``) and the
    median cost of one bare HTTP call to these agents (an echo, no link emulated).

    ``endpoints``: device → its agent (the stages' devices, and the consumer's when results go
    to it). ``url_of(message)``: how the message's sender reaches its receiver's agent (e.g.
    through a link emulator; default: the receiver's endpoint). The source's raw inputs are
    injected into its agent when it has one; otherwise this client stands in for the source
    and sends the raw-input messages. ``slow_ms[k]``: ms added to stage k's compute by its
    agent (a slower device emulated). ``same_clock``: every agent shares this machine's clock
    (no offsets estimated). ``quiet_ms``: without a rate, wait this long before each request
    (an idle system between requests, as the plan's latency assumes; see ``QUIET_MS``).
    ``wait_s``: how long one request may take before the run stops, naming what it waits for.
    The outputs of the first request are compared with the plan's parts chained in this process.
    """
    needed = spec.agent_devices
    missing = sorted(set(needed) - set(endpoints))
    if missing:
        raise ExecutionError(f"plan '{spec.plan_path}' runs stages on (or delivers results to) {missing}, which "
                             "have no agent: add them to the agent map (or the topology's devices' agent_url), "
                             "or use --local")
    slow = list(slow_ms) if slow_ms is not None else [0.0] * len(spec.stages)
    url_of = url_of or (lambda m: endpoints[m.to_device].url)

    def client_of(device: str, **kw: Any) -> AgentClient:
        e = endpoints[device]
        return AgentClient(e.url, e.token, verify=e.ca_file or True, **kw)

    shas: dict[int, str] = {}
    echo: list[float] = []
    offsets: dict[str, float] = {}
    for k, st in enumerate(spec.stages):
        report(progress, 0.05, f"uploading stage {st.index} to the agent of {st.device}")
        with client_of(st.device) as c:
            shas[k] = c.upload_part(st.part_path.read_bytes(), f"stage {st.index} of {spec.plan.model.name}")
            echo += c.echo_ms(10)[3:]  # an HTTP call's own cost here, without any emulated link
    if not same_clock:
        for device in needed:
            with client_of(device) as c:
                offsets[device] = clock_offset_s(c)[0]
    http_call_ms = float(np.median(echo)) if echo else float("nan")
    runs = {d: secrets.token_hex(16) for d in needed}
    report(progress, 0.08, "installing the plan's dataflow on the agents")
    for device, prog in _programs(spec, endpoints, shas, url_of, slow, runs).items():
        with client_of(device) as c:
            c.install_run(runs[device], prog)
    pools = {d: ConnectionPool(timeout_s=wait_s + 20, ca_file=endpoints[d].ca_file or None) for d in needed}
    raw_messages = [m for m in spec.messages if m.from_stage is None]
    collector = ThreadPoolExecutor(max_workers=max(4, 2 * len(needed)), thread_name_prefix="collect")
    model_outputs = list(spec.plan.model.output_names)

    def auth(device: str) -> dict[str, str]:
        tok = endpoints[device].token
        return {"Authorization": f"Bearer {tok}"} if tok else {}

    def one_request(rid: int, feed: dict[str, np.ndarray], want: list[str], quiet: float = 0.0,
                    ) -> tuple[RequestTiming, dict[str, np.ndarray]]:
        query = f"wait_s={wait_s:g}" + (f"&tensors={','.join(want)}" if want else "")
        polls = {d: pools[d].send("GET", f"{endpoints[d].url}/v{API_VERSION}/runs/{runs[d]}/requests/{rid}?{query}",
                                  b"", auth(d)) for d in needed}
        if quiet > 0:
            time.sleep(quiet / 1e3)  # the polls are read by now: nothing but the request on the agents
        start_at = time.time()
        client_sent: list[dict[str, Any]] = []
        try:
            if spec.source_has_agent:
                post_message(pools[spec.source], endpoints[spec.source].url, endpoints[spec.source].token,
                             runs[spec.source], rid, -1, feed, "none", inject=True)
            elif len(raw_messages) == 1:
                m = raw_messages[0]
                client_sent.append(post_message(pools[m.to_device], url_of(m), endpoints[m.to_device].token,
                                                runs[m.to_device], rid, m.key, {n: feed[n] for n in m.tensors},
                                                _hop_codec(m.codec)))
            else:  # the source's messages leave together
                client_sent += list(collector.map(
                    lambda m: post_message(pools[m.to_device], url_of(m), endpoints[m.to_device].token,
                                           runs[m.to_device], rid, m.key, {n: feed[n] for n in m.tensors},
                                           _hop_codec(m.codec)),
                    raw_messages))
        except RunFailed as exc:
            for p in polls.values():
                p.conn.close()
            raise AgentError(f"request {rid}: {exc}") from None
        records: dict[str | None, dict[str, Any]] = {None: {"start_at": start_at, "sent": client_sent}}
        got: dict[str, np.ndarray] = {}
        failure = None
        waiting = dict(polls)
        # the answers are read here as they come (no thread to wake: the link relays share this process)
        while waiting:
            socks = {p.conn.sock: d for d, p in waiting.items() if p.conn.sock is not None}
            ready, _, _ = select.select(list(socks), [], [], wait_s + 15) if socks else ([], [], [])
            if not ready:
                failure = failure or f"request {rid}: no answer from {sorted(waiting)} within {wait_s + 15:g} s"
                break
            for sock in ready:
                d = socks[sock]
                p = waiting.pop(d)
                try:
                    status, headers, body = p.result()
                except WireError as exc:
                    failure = failure or f"the agent of {d!r} broke off request {rid}: {exc}"
                    continue
                if status != 200:
                    try:
                        detail = json.loads(body).get("detail", "")
                    except ValueError:
                        detail = body[:300].decode("utf-8", "replace")
                    failure = failure or f"the agent of {d!r} answered {status} for request {rid}: {detail}"
                    continue
                records[d] = json.loads(headers.get("x-edgeplan-timings", "{}"))
                if want:
                    got.update(decode_frames(body))
            if failure is not None:  # one failed: the others would wait for it in vain
                for other in waiting.values():
                    other.conn.close()
                break
        if failure is not None:
            raise AgentError(failure)
        client_ms = (time.time() - start_at) * 1e3
        return request_timing(spec, records, client_ms=client_ms, offsets=None if same_clock else offsets), got

    inputs = sample_inputs(spec, max(1, requests))
    first_out: dict[str, np.ndarray] = {}
    try:
        report(progress, 0.1, "checking the outputs of one request")
        first_out.update(one_request(0, inputs[0], model_outputs)[1])
        for i in range(warmup):
            report(progress, 0.1, f"warm-up request {i + 1} of {warmup}")
            one_request(1 + i, inputs[0], [], quiet_ms)
        timings: list[RequestTiming | None] = [None] * requests

        def one(i: int, quiet: float = 0.0) -> None:
            timings[i] = rt = one_request(1 + warmup + i, inputs[i], [], quiet)[0]
            report(progress, 0.15 + 0.8 * (i + 1) / requests, f"request {i + 1} of {requests}: {rt.e2e_ms:.1f} ms")

        start = time.perf_counter()
        if rate_rps:
            with ThreadPoolExecutor(max_workers=32) as pool:
                futures = []
                for i in range(requests):
                    delay = start + i / rate_rps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    futures.append(pool.submit(one, i))
                for f in futures:
                    f.result()
        else:
            for i in range(requests):
                one(i, quiet_ms)
        wall = time.perf_counter() - start
    finally:
        collector.shutdown(wait=False, cancel_futures=True)
        for p in pools.values():
            p.close()
        for device in needed:
            try:
                with client_of(device, retries=0, timeout_s=5) as c:
                    c.remove_run(runs[device])
            except AgentError:
                pass  # an agent that died keeps nothing of the run
    diff = _output_diff(spec, inputs[0], first_out)
    return [t for t in timings if t is not None], wall, diff, http_call_ms


def _hop_codec(codec: str) -> str:
    return codec if codec in ("fp16", "int8") else "none"


def _output_diff(spec: ExecutionSpec, feed: dict[str, np.ndarray], got: dict[str, np.ndarray],
                 ) -> tuple[float, float] | None:
    """(max |diff|, max |diff| / max |reference|) of the model outputs against the parts chained here."""
    from planner_app.core.plans.check import run_parts

    ref = run_parts([s.part_path for s in spec.stages], feed)
    names = [n for n in spec.plan.model.output_names if n in ref]
    if not names or any(n not in got for n in names):
        return None
    diff = max(float(np.max(np.abs(np.asarray(got[n], float) - np.asarray(ref[n], float)))) for n in names)
    scale = max(float(np.max(np.abs(np.asarray(ref[n], float)))) for n in names)
    return diff, diff / scale if scale > 0 else diff


def host_stage_ms(spec: ExecutionSpec, *, runs: int = 15, max_s: float = 2.0) -> list[float]:
    """Each stage's part as this host runs it: median thread CPU ms of a session call (one thread,
    the session options profiling and the agents use), the stages chained on a sample input."""
    from planner_app.core.compression.calibration import open_session

    tensors = dict(sample_inputs(spec, 1, seed=1)[0])
    out = []
    for st in spec.stages:
        sess = open_session(st.part_path, threads=1)
        feed = {i.name: tensors[i.name] for i in sess.get_inputs()}
        values = sess.run(None, feed)
        times: list[float] = []
        deadline = time.perf_counter() + max_s
        while len(times) < runs and (len(times) < 3 or time.perf_counter() < deadline):
            c0 = time.thread_time()
            sess.run(None, feed)
            times.append((time.thread_time() - c0) * 1e3)
        out.append(float(statistics.median(times)))
        tensors.update(zip([o.name for o in sess.get_outputs()], values, strict=True))
    return out


def _calibration_part(n: int, m: int = 1024, matmuls: int = 6) -> bytes:
    """The stage of a calibration run: float32 ``x`` of ``n`` values passed on as ``y``, and a few ms of
    real work on it (``matmuls`` products of its first ``m`` values with an ``m`` × ``m`` matrix; their
    sum is output ``z``). A message leaves a real plan's stage right after it computed, and costs more
    then than after a stage that did nothing (about 0.3 ms more here)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = min(m, n)
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((m, m)) / np.sqrt(m)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array([0], np.int64), "begin"),
             numpy_helper.from_array(np.array([m], np.int64), "end"),
             numpy_helper.from_array(np.array([1, m], np.int64), "shape")]
    nodes = [helper.make_node("Identity", ["x"], ["y"]), helper.make_node("Slice", ["x", "begin", "end"], ["head"]),
             helper.make_node("Reshape", ["head", "shape"], ["h0"])]
    for i in range(matmuls):
        nodes.append(helper.make_node("MatMul", [f"h{i}", "w"], [f"h{i + 1}"]))
    nodes.append(helper.make_node("ReduceSum", [f"h{matmuls}"], ["z"], keepdims=0))
    graph = helper.make_graph(nodes, "calibration", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n]),
                               helper.make_tensor_value_info("z", TensorProto.FLOAT, [])], inits)
    return bytes(onnx.helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())


def _time_messages(pair: tuple[LocalAgent, LocalAgent], n: int, messages: int, latency_ms: float, idle_ms: float,
                   codec: str) -> dict[str, list[float]]:
    """One agent pair's calibration messages (see :func:`measure_message_overhead`): one way through the relay
    less its latency, the same sent directly, and the sending stage's dispatch, ms each."""
    a, b = pair
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    got: dict[str, list[float]] = {"relayed": [], "direct": [], "dispatch": []}
    port = int(b.url.rsplit(":", 1)[1])
    with LinkEmulator(("127.0.0.1", port), latency_ms=latency_ms, forward_mbps=10_000) as link, \
            AgentClient(a.url, a.token) as ca, AgentClient(b.url, b.token) as cb:
        sha = ca.upload_part(_calibration_part(n), "calibration")
        runs = {}
        for label, url in (("relayed", f"http://127.0.0.1:{link.port}"), ("direct", b.url)):
            ra, rb = secrets.token_hex(16), secrets.token_hex(16)
            cb.install_run(rb, {"receives": [0]})
            ca.install_run(ra, {"inject": True, "stages": [{"index": 0, "part": sha, "inputs": ["x"]}],
                                "sends": [{"key": 0, "after": 0, "url": url, "token": b.token, "run": rb,
                                           "tensors": ["y"], "codec": codec}]})
            runs[label] = (ra, rb)
        pool = ConnectionPool()
        try:
            for i in range(messages + 5):
                for label, (ra, rb) in runs.items():
                    polls = [pool.send("GET", f"{ag.url}/v{API_VERSION}/runs/{r}/requests/{i}?wait_s=30", b"",
                                       {"Authorization": f"Bearer {ag.token}"}) for ag, r in ((a, ra), (b, rb))]
                    time.sleep(idle_ms / 1e3)
                    post_message(pool, a.url, a.token, ra, i, -1, {"x": x}, "none", inject=True)
                    (sa, ha, ba), (sb, hb, bb) = (p.result() for p in polls)
                    if sa != 200 or sb != 200:
                        raise AgentError(f"calibration request {i} failed: {ba[:200]!r} {bb[:200]!r}")
                    rec_a = json.loads(ha["x-edgeplan-timings"])
                    rec_b = json.loads(hb["x-edgeplan-timings"])
                    one_way = (rec_b["received"][0]["received_at"] - rec_a["sent"][0]["sent_at"]) * 1e3
                    if i >= 5:
                        got[label].append(one_way - (latency_ms if label == "relayed" else 0.0))
                        if label == "relayed":
                            got["dispatch"].append((rec_a["stages"][0]["start_at"]
                                                    - rec_a["injected"]["received_at"]) * 1e3)
        finally:
            pool.close()
            for ra, rb in runs.values():
                ca.remove_run(ra)
                cb.remove_run(rb)
    return got


def measure_message_overhead(work_dir: Path | None = None, *, payload_bytes: int = 16_000, messages: int = 40,
                             agents: tuple[LocalAgent, LocalAgent] | None = None, latency_ms: float = 0.0,
                             idle_ms: float = QUIET_MS, codec: str = "none", pairs: int = 3) -> dict[str, Any]:
    """What one message costs on ``run --local`` beyond its link's latency and bandwidth, as a run sends it.

    Two agents run a one-stage plan as dataflow (:mod:`planner_app.agent.dataflow`): agent A runs a
    part on the injected tensor of ``payload_bytes`` (a few ms of real work: see :func:`_calibration_part`)
    and sends it on to agent B through
    a :class:`LinkEmulator` imposing ``latency_ms`` (and 10 Gbit/s); the message is timed one way as
    a run times it — from A beginning to encode to B having decoded (one clock: one host) — less
    ``latency_ms``. Each request follows ``idle_ms`` of quiet: the cost model's latency is one request
    on an idle system, and an agent that idled costs more to wake. The median is the deployment
    mechanism's per-message overhead (frames, HTTP, the relay, waking the receiver); ``edgeplan
    agent calibrate`` stores it in a topology (``message_overhead_ms``) so plans made for ``--local``
    predict it. Also: the same message without the relay, and A's dispatch (its stage starting after
    the input is decoded).

    The figure moves with the agent processes themselves (on a shared 2-core host, one pair's median
    from another's by up to ~0.5 ms: where the scheduler puts them), so without ``agents`` the
    messages are spread over ``pairs`` freshly started pairs, as a run starts its own.
    """
    from planner_app.core.profiling.records import median_ci

    n = max(1, payload_bytes // 4)
    got: dict[str, list[float]] = {"relayed": [], "direct": [], "dispatch": []}
    per_pair: list[float] = []
    with tempfile.TemporaryDirectory(prefix="edgeplan-calibrate-", dir=work_dir) as tmp:
        sets = [agents] if agents is not None else [None] * max(1, pairs)
        for k, given in enumerate(sets):
            pair = given or (start_local_agent(Path(tmp) / f"a{k}", name=f"calibration-a{k}"),
                             start_local_agent(Path(tmp) / f"b{k}", name=f"calibration-b{k}"))
            try:
                share = max(5, -(-messages // len(sets)))
                one = _time_messages(pair, n, share, latency_ms, idle_ms, codec)
            finally:
                if given is None:
                    for ag in pair:
                        ag.stop()
            per_pair.append(float(statistics.median(one["relayed"])))
            for key in got:
                got[key] += one[key]
    lo, hi = median_ci(got["relayed"])
    return {"message_overhead_ms": float(statistics.median(got["relayed"])), "ci95_ms": [lo, hi],
            "direct_ms": float(statistics.median(got["direct"])),
            "dispatch_ms": float(statistics.median(got["dispatch"])), "payload_bytes": payload_bytes,
            "messages": len(got["relayed"]), "latency_ms": latency_ms, "idle_ms": idle_ms,
            "pairs_ms": per_pair,
            "basis": f"one-way time of a message as a run sends it — agent A's stage output to agent B through the "
                     f"link relay ({latency_ms:g} ms, 10 Gbit/s), {payload_bytes} bytes — less its latency, each "
                     f"request after {idle_ms:g} ms of quiet: encode, HTTP, relay, waking the receiver, decode; "
                     f"median of the messages over {len(per_pair)} agent pair(s) (95 % interval)"}


def calibrate_topology(topology: Any, work_dir: Path | None = None, *, payload_bytes: int = 16_000,
                       messages: int = 40, progress: ProgressCallback | None = None) -> tuple[Any, dict[str, Any]]:
    """``topology`` with its and every link's ``message_overhead_ms`` set to what one message costs on
    ``run --local`` (:func:`measure_message_overhead`: the relay is the same for every link, its
    latency and bandwidth apart), and that measurement. Nothing of a plan is involved."""
    from planner_app.core.topology.io import topology_from_dict

    report(progress, 0.0, "timing messages through the link relay")
    m = measure_message_overhead(work_dir, payload_bytes=payload_bytes, messages=messages)
    figure = round(m["message_overhead_ms"], 3)
    doc = topology.to_dict()
    doc["message_overhead_ms"] = figure
    for link in doc.get("links", []):
        link["message_overhead_ms"] = figure
    lo, hi = m["ci95_ms"]
    doc.setdefault("metadata", {})["message_overhead_calibration"] = (
        f"edgeplan agent calibrate: {figure} ms per message on run --local (95 % interval {lo:.3f}-{hi:.3f} ms; "
        f"{messages} messages of {payload_bytes} bytes, each after {m['idle_ms']:g} ms of quiet)")
    return topology_from_dict(doc, "the calibrated topology"), m


def run_local(spec: ExecutionSpec, *, requests: int = 20, rate_rps: float | None = None, warmup: int = 3,
              progress: ProgressCallback | None = None, work_dir: Path | None = None,
              emulate_speed: bool = True, measure_overhead: bool = True, quiet_ms: float = QUIET_MS,
              ) -> dict[str, Any]:
    """Run the plan with one local agent per device and emulated links; the report (see ``run_report``).

    ``emulate_speed``: where the plan predicts a stage more than ``DILATE_ABOVE`` times slower than
    this host runs its part (measured here first, :func:`host_stage_ms`), the stage's agent adds
    the difference to each session call: time dilation — it sleeps (prediction − this host's
    time) ms after the call, and counts them in its CPU time. Neither thread counts (a one-thread
    session cannot get slower with fewer threads) nor CPU affinity (it picks cores, not speed)
    slow a stage, and a CPU quota (cgroups; not writable here without privileges) throttles in
    100 ms periods, far coarser than millisecond stages. The added time is a constant, not a
    factor on each call: a factor would also stretch the agent's own per-call overhead, which
    the prediction does not scale. A dilated stage's compute matches its prediction by
    construction (within the agent's own overhead); the run still tests everything else.
    ``measure_overhead``: also time the deployment mechanism's per-message overhead
    (:func:`measure_message_overhead`) and report it beside the plan's. ``quiet_ms``: the pause
    before each request sent one after another (see :func:`run_plan`).
    """
    from planner_app.core.topology.io import topology_from_dict

    agents: dict[str, LocalAgent] = {}
    links: list[LinkEmulator] = []
    slow = [0.0] * len(spec.stages)
    host_ms: list[float] = []
    if emulate_speed:
        report(progress, 0.0, "timing each stage's part on this host")
        host_ms = host_stage_ms(spec)
        for k, (st, h) in enumerate(zip(spec.stages, host_ms, strict=True)):
            if h > 0 and st.predicted_compute_ms / h > DILATE_ABOVE:
                slow[k] = round(st.predicted_compute_ms - h, 4)
    devices = spec.agent_devices
    overhead: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="edgeplan-run-", dir=work_dir) as tmp:
        try:
            for i, device in enumerate(devices):
                report(progress, 0.0, f"starting an agent for {device}")
                agents[device] = start_local_agent(Path(tmp) / f"device-{i}", name=device)
            if measure_overhead:
                report(progress, 0.02, "timing one message through the link relay")
                pair = (agents[devices[0]], agents[devices[1]]) if len(devices) > 1 else None
                overhead = measure_message_overhead(agents=pair)
            relays: dict[tuple[str, str, tuple[str, ...]], str] = {}
            directed: dict[str, LinkDirection] = {}

            def url_of(m: MessageSpec) -> str:
                """One relay per route (sender, receiver, links), imposing its latency and bandwidth; routes
                that cross the same directed link share its bandwidth (one pacer per directed link)."""
                key = (m.from_device, m.to_device, m.links)
                if key not in relays:
                    port = int(agents[m.to_device].url.rsplit(":", 1)[1])
                    shared = [directed.setdefault(k, LinkDirection(mbps)) for k, mbps in m.link_dirs]
                    link = LinkEmulator(("127.0.0.1", port), latency_ms=m.latency_ms, forward_mbps=m.forward_mbps,
                                        backward_mbps=m.backward_mbps, forward_shared=shared).start()
                    links.append(link)
                    relays[key] = f"http://127.0.0.1:{link.port}"
                return relays[key]

            endpoints = {d: Endpoint(a.url, a.token) for d, a in agents.items()}
            timings, wall, diff, http_ms = run_plan(spec, endpoints, url_of, requests=requests, rate_rps=rate_rps,
                                                    warmup=warmup, progress=progress, slow_ms=slow, same_clock=True,
                                                    quiet_ms=quiet_ms)
        finally:
            for link in links:
                link.close()
            for agent in agents.values():
                agent.stop()
    dilated = [f"stage {st.index} on {st.device}: x{st.predicted_compute_ms / h:.3g} (+{x:.3g} ms)"
               for st, x, h in zip(spec.stages, slow, host_ms or [1.0] * len(slow), strict=True) if x > 0]
    if not emulate_speed:
        speed = "compute is this host's speed (speed emulation off)"
    elif dilated:
        speed = ("stages the plan predicts slower than this host runs them are slowed to the predicted speed by "
                 f"time dilation (the agent sleeps the difference after each session call): {'; '.join(dilated)}; their compute "
                 "matches the prediction by construction")
    else:
        speed = (f"no stage is predicted more than {DILATE_ABOVE:g}x slower than this host runs it: compute is this "
                 "host's speed (no dilation)")
    notes = [
        f"--local: each planned device{' and the consumer' if len(devices) > len(spec.devices) else ''} is an agent "
        f"process on this host ({len(agents)} processes); {speed}",
        "links: a user-space relay imposes each route's latency (one way, each direction) and bandwidth "
        "(per direction; messages whose routes cross the same directed link share it, as the plan assumes); "
        + (f"the results are delivered to the consumer {spec.consumer!r}'s agent, as the plan assumes"
           if spec.delivers else
           "the results end at the last stage (the consumer runs it, or they stay)"),
        f"measured times are wall clock and include HTTP and tensor-frame encoding: one bare HTTP call to an "
        f"agent costs {http_ms:.2f} ms here (median echo)",
    ]
    if rate_rps is None and quiet_ms > 0:
        notes.append(f"requests one after another, each after {quiet_ms:g} ms of quiet: the plan's latency is one "
                     "request on an idle system")
    if overhead is not None:
        topo = topology_from_dict(spec.plan.topology.document, "the plan's topology")
        notes.append(f"one message through the link relay costs {overhead['message_overhead_ms']:.2f} ms here beyond "
                     f"its link's latency and bandwidth; the plan's topology assumes {topo.message_overhead_ms:g} ms "
                     "per message (plan with a topology calibrated by `edgeplan agent calibrate` to predict it)")
    notes.append("dataflow, as the plan predicts: each agent runs its stages one after another as their inputs "
                 "arrive, the agents at the same time; every message goes straight from the device that makes its "
                 "tensors to the device that reads them, and consecutive stages on one device hand tensors over in "
                 "memory")
    codecs = sorted({_hop_codec(m.codec) for m in spec.messages if m.from_stage is not None and not m.results}
                    - {"none"})
    if codecs:
        notes.append(f"cut tensors between stages cross encoded with the plan's codec ({', '.join(codecs)}); the "
                     "output difference against the uncompressed chain is the codec's error")
    raw = sorted({_hop_codec(m.codec) for m in spec.messages if m.from_stage is None} - {"none"})
    if raw:
        notes.append(f"the raw input crosses encoded with the plan's codec {', '.join(raw)!r} (its error is in "
                     "the output difference)")
    rep = run_report(spec, timings, wall_s=wall, rate_rps=rate_rps, mode="local", output_diff=diff, notes=notes)
    rep["speed_emulation"] = {"method": "time dilation" if emulate_speed else "off", "threshold": DILATE_ABOVE,
                              "host_compute_ms": host_ms, "added_ms": slow}
    if overhead is not None:
        rep["message_overhead_measured"] = overhead
    return rep
