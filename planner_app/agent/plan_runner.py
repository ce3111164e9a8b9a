"""Running an exported plan on agents, and measuring it (``edgeplan run``).

:func:`run_plan` uploads each stage's part to its device's agent, then sends each
request from the client (the workload's source) to the first stage, whose agent
forwards the tensors the later stages need from stage to stage
(``X-Edgeplan-Forward``); the last stage delivers the results to the workload's
consumer's agent (``/v1/deliver``), as the plan assumes — unless the consumer runs
the last stage or the results stay there. A request's end-to-end time runs from the
source encoding the input (or stage 0's agent having decoded it, when the source
runs stage 0) to the consumer's agent having decoded the results (or the last stage
done); each hop's one-way time from the sender beginning to encode to the receiver
having decoded. These are stamps of different processes' clocks: agents on this host
share the client's clock; remote agents' offsets are estimated from echo probes
(the sample of least round trip; its half round trip bounds the error).

:func:`run_local` does the same with one agent process per planned device (and the
consumer) on 127.0.0.1 and a :class:`~planner_app.agent.linkemu.LinkEmulator` in
front of every agent whose input crosses devices, imposing the plan's route latency
and bandwidth; where the plan's device is slower than this host, its stages are
slowed to the predicted speed by time dilation (see :func:`run_local`).
"""

from __future__ import annotations

__all__ = ["Endpoint", "run_plan", "run_local", "host_stage_ms", "measure_message_overhead", "calibrate_topology"]

import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner_app.agent.client import AgentClient, AgentError
from planner_app.agent.linkemu import LinkEmulator
from planner_app.agent.local import LocalAgent, start_local_agent
from planner_app.core.execute import (
    ExecutionError,
    ExecutionSpec,
    RequestTiming,
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


def _request_timing(e2e_ms: float, timings: list[dict[str, Any]], spec: ExecutionSpec,
                    offsets: dict[str, float] | None = None) -> RequestTiming:
    """One request's timing from the chain's timing records (stages, then the delivery if any).

    ``offsets``: device → its agent's clock minus the client's, seconds (None: one clock)."""
    n = len(spec.stages)
    want = n + (1 if spec.delivery is not None else 0)
    if len(timings) != want:
        raise AgentError(f"the chain answered with {len(timings)} timing records, expected {want}")
    stages = timings[:n]
    rt = RequestTiming(e2e_ms, [float(t["compute_ms"]) for t in stages], [float(t["agent_ms"]) for t in stages],
                       compute_cpu_ms=[float(t.get("compute_cpu_ms") or "nan") for t in stages],
                       receive_ms=[float(t.get("receive_ms", 0.0)) for t in stages],
                       reply_ms=[float(t.get("reply_ms", 0.0)) for t in stages])
    rt.hop_ms = [e2e_ms - rt.agent_ms[0]]
    rt.hop_ms += [float(stages[k - 1].get("forward_ms", 0.0)) - rt.agent_ms[k] for k in range(1, n)]
    if not all("ready_at" in t and "done_at" in t for t in stages):
        return rt  # an agent of an older version: no clock stamps, only the round trip

    def at(t: dict[str, Any], key: str, device: str) -> float:  # seconds, in the client's clock
        return float(t[key]) - (offsets or {}).get(device, 0.0)

    devs = [st.device for st in spec.stages]
    sent = float(stages[0].get("sent_at", "nan"))
    ready = [at(t, "ready_at", d) for t, d in zip(stages, devs, strict=True)]
    done = [at(t, "done_at", d) for t, d in zip(stages, devs, strict=True)]
    rt.hop_one_way_ms = [(ready[0] - sent) * 1e3] + [(ready[k] - done[k - 1]) * 1e3 for k in range(1, n)]
    start = ready[0] if spec.hops[0] is None else sent
    end = done[-1]
    if spec.delivery is not None:
        end = at(timings[n], "received_at", spec.consumer)
        rt.delivery_ms = (end - done[-1]) * 1e3
    rt.consumer_e2e_ms = (end - start) * 1e3
    return rt


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


def run_plan(spec: ExecutionSpec, endpoints: dict[str, Endpoint], stage_urls: list[str], *, requests: int = 20,
             rate_rps: float | None = None, warmup: int = 3, progress: ProgressCallback | None = None,
             deliver_url: str | None = None, slow_ms: list[float] | None = None, same_clock: bool = False,
             quiet_ms: float = 0.0) -> tuple[list[RequestTiming], float, tuple[float, float] | None, float]:
    """Run ``requests`` requests through the plan's stages, the results delivered to the consumer.

    Returns the timings, the wall seconds, the output difference (see ``_output_diff``) and the
    median cost of one bare HTTP call to these agents (an echo, no link emulated).

    ``endpoints``: device → its agent (for uploads; the consumer's too when the results cross to
    it). ``stage_urls[k]``: how stage k's agent is reached by whoever sends to it (the client for
    k = 0, stage k-1's agent after), e.g. through a link emulator; ``deliver_url``: how the last
    stage reaches the consumer's agent (default: its endpoint). ``slow_ms[k]``: ms added to stage k's
    compute by its agent (a slower device emulated). ``same_clock``: every agent shares this
    machine's clock (no offsets estimated). ``quiet_ms``: without a rate, wait this long before each
    request (an idle system between requests, as the plan's latency assumes; see ``QUIET_MS``).
    The outputs of the first request are compared with
    the plan's parts chained in this process (the consumer echoes them back for that request).
    """
    needed = {s.device for s in spec.stages} | ({spec.consumer} if spec.delivery is not None else set())
    missing = sorted(needed - set(endpoints))
    if missing:
        raise ExecutionError(f"plan '{spec.plan_path}' runs stages on (or delivers results to) {missing}, which "
                             "have no agent: add them to the agent map (or the topology's devices' agent_url), "
                             "or use --local")
    slow = list(slow_ms) if slow_ms is not None else [0.0] * len(spec.stages)

    def client_of(device: str, **kw: Any) -> AgentClient:
        e = endpoints[device]
        return AgentClient(e.url, e.token, verify=e.ca_file or True, **kw)

    shas, echo = [], []
    offsets: dict[str, float] = {}
    for st in spec.stages:
        report(progress, 0.05, f"uploading stage {st.index} to the agent of {st.device}")
        with client_of(st.device) as c:
            shas.append(c.upload_part(st.part_path.read_bytes(), f"stage {st.index} of {spec.plan.model.name}"))
            echo += c.echo_ms(10)[3:]  # an HTTP call's own cost here, without any emulated link
    if not same_clock:
        for device in sorted(needed):
            with client_of(device) as c:
                offsets[device] = clock_offset_s(c)[0]
    http_call_ms = float(np.median(echo))
    model_outputs = list(spec.plan.model.output_names)
    late_outputs = sorted(set(model_outputs) - set(spec.stages[-1].outputs))
    hops: list[dict[str, Any]] = [
        {"url": stage_urls[k], "part": shas[k], "token": endpoints[spec.stages[k].device].token,
         "keep": list(spec.carried[k]), "return": late_outputs if spec.delivery is None else [],
         "codec": _codec(spec, k), "slow_ms": slow[k]}
        for k in range(1, len(spec.stages))]
    check_hops = hops
    if spec.delivery is not None:
        consumer = endpoints[spec.consumer]
        deliver = {"url": deliver_url or consumer.url, "token": consumer.token, "deliver": True,
                   "keep": model_outputs, "codec": _hop_codec(spec.delivery.codec), "echo": False}
        hops = [*hops, deliver]
        check_hops = [*hops[:-1], {**deliver, "echo": True}]
    codec0 = _hop_codec(spec.hops[0].codec) if spec.hops[0] is not None else "none"
    inputs = sample_inputs(spec, max(1, requests))
    client = AgentClient(stage_urls[0], endpoints[spec.stages[0].device].token, timeout_s=120, retries=0,
                         verify=endpoints[spec.stages[0].device].ca_file or True)
    first_out: dict[str, np.ndarray] = {}
    try:
        report(progress, 0.1, "checking the outputs of one request")
        first_out.update(client.infer(shas[0], inputs[0], forward=check_hops, codec=codec0, slow_ms=slow[0])[0])
        for i in range(warmup):
            report(progress, 0.1, f"warm-up request {i + 1} of {warmup}")
            client.infer(shas[0], inputs[0], forward=hops, codec=codec0, slow_ms=slow[0])
        timings: list[RequestTiming | None] = [None] * requests

        def one(i: int) -> None:
            t0 = time.perf_counter()
            _out, tm = client.infer(shas[0], inputs[i], forward=hops, codec=codec0, slow_ms=slow[0])
            e2e = (time.perf_counter() - t0) * 1e3
            timings[i] = _request_timing(e2e, tm, spec, None if same_clock else offsets)
            report(progress, 0.15 + 0.8 * (i + 1) / requests, f"request {i + 1} of {requests}: {e2e:.1f} ms")

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
                if quiet_ms > 0:
                    time.sleep(quiet_ms / 1e3)
                one(i)
        wall = time.perf_counter() - start
    finally:
        client.close()
    diff = _output_diff(spec, inputs[0], first_out)
    return [t for t in timings if t is not None], wall, diff, http_call_ms


def _hop_codec(codec: str) -> str:
    return codec if codec in ("fp16", "int8") else "none"


def _codec(spec: ExecutionSpec, k: int) -> str:
    """The cut codec the plan puts on the hop into stage ``k`` ("none" when it names none or several)."""
    hop = spec.hops[k]
    return _hop_codec(hop.codec) if hop is not None else "none"


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


def measure_message_overhead(work_dir: Path | None = None, *, payload_bytes: int = 16_000, messages: int = 40,
                             agent: LocalAgent | None = None, latency_ms: float = 0.0,
                             idle_ms: float = QUIET_MS) -> dict[str, Any]:
    """What one message costs on ``run --local`` beyond its link's latency and bandwidth.

    One agent behind a :class:`LinkEmulator` imposing ``latency_ms`` (and 10 Gbit/s): tensor
    frames of ``payload_bytes`` delivered to it (``/v1/deliver``), timed one way as a run times a
    hop — from the sender beginning to encode to the agent having decoded (one clock: one host) —
    less ``latency_ms``. Each message follows ``idle_ms`` of quiet: the cost model's latency is one
    request on an idle system, and a receiver that idled costs more to wake (on a busy shared
    host, about 0.4 ms after a few ms of quiet against a message that follows at once; it levels
    off by ~5 ms of quiet). The median is the deployment mechanism's per-message overhead
    (frames, HTTP, the relay, waking the receiver); ``edgeplan agent calibrate`` stores it in a
    topology (``message_overhead_ms``) so plans made for ``--local`` predict it. Also: the same
    without the relay.
    """
    from planner_app.core.profiling.records import median_ci

    with tempfile.TemporaryDirectory(prefix="edgeplan-calibrate-", dir=work_dir) as tmp:
        own = agent is None
        a = agent or start_local_agent(Path(tmp) / "agent", name="calibration")
        try:
            port = int(a.url.rsplit(":", 1)[1])
            payload = {"x": np.random.default_rng(0).standard_normal(max(1, payload_bytes // 4)).astype(np.float32)}
            with LinkEmulator(("127.0.0.1", port), latency_ms=latency_ms, forward_mbps=10_000) as link, \
                    AgentClient(f"http://127.0.0.1:{link.port}", a.token) as relayed, AgentClient(a.url, a.token) as direct:
                got: dict[str, list[float]] = {"relayed": [], "direct": []}
                for i in range(messages + 5):
                    for name, c in (("relayed", relayed), ("direct", direct)):
                        time.sleep(idle_ms / 1e3)
                        ms = c.deliver(payload) - (latency_ms if name == "relayed" else 0.0)
                        if i >= 5:
                            got[name].append(ms)
        finally:
            if own:
                a.stop()
    lo, hi = median_ci(got["relayed"])
    return {"message_overhead_ms": float(statistics.median(got["relayed"])), "ci95_ms": [lo, hi],
            "direct_ms": float(statistics.median(got["direct"])), "payload_bytes": payload_bytes,
            "messages": messages, "latency_ms": latency_ms, "idle_ms": idle_ms,
            "basis": f"one-way time of tensor frames to a local agent through the link relay ({latency_ms:g} ms, "
                     f"10 Gbit/s) less its latency, each after {idle_ms:g} ms of quiet: encode, HTTP, relay, waking "
                     "the receiver, decode; median of the messages (95 % interval)"}


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
    devices = spec.devices + ([spec.consumer] if spec.delivery is not None and spec.consumer not in spec.devices
                              else [])
    overhead: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="edgeplan-run-", dir=work_dir) as tmp:
        try:
            for i, device in enumerate(devices):
                report(progress, 0.0, f"starting an agent for {device}")
                agents[device] = start_local_agent(Path(tmp) / f"device-{i}", name=device)
            if measure_overhead:
                report(progress, 0.02, "timing one message through the link relay")
                overhead = measure_message_overhead(agent=agents[devices[0]])

            def through(device: str, hop: Any) -> str:
                agent = agents[device]
                if hop is None:
                    return agent.url
                port = int(agent.url.rsplit(":", 1)[1])
                link = LinkEmulator(("127.0.0.1", port), latency_ms=hop.latency_ms, forward_mbps=hop.forward_mbps,
                                    backward_mbps=hop.backward_mbps).start()
                links.append(link)
                return f"http://127.0.0.1:{link.port}"

            urls = [through(st.device, hop) for st, hop in zip(spec.stages, spec.hops, strict=True)]
            deliver_url = through(spec.consumer, spec.delivery) if spec.delivery is not None else None
            endpoints = {d: Endpoint(a.url, a.token) for d, a in agents.items()}
            timings, wall, diff, http_ms = run_plan(spec, endpoints, urls, requests=requests, rate_rps=rate_rps,
                                                    warmup=warmup, progress=progress, deliver_url=deliver_url,
                                                    slow_ms=slow, same_clock=True, quiet_ms=quiet_ms)
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
        "(per direction); " + (f"the results are delivered to the consumer {spec.consumer!r}'s agent, as the plan "
                               "assumes" if spec.delivery is not None else
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
    codecs = sorted({_codec(spec, k) for k in range(1, len(spec.stages))} - {"none"})
    if codecs:
        notes.append(f"cut tensors between stages cross encoded with the plan's codec ({', '.join(codecs)}); the "
                     "output difference against the uncompressed chain is the codec's error")
    if spec.hops[0] is not None and _hop_codec(spec.hops[0].codec) != "none":
        notes.append(f"the raw input crosses encoded with the plan's codec {spec.hops[0].codec!r} (its error is in "
                     "the output difference)")
    rep = run_report(spec, timings, wall_s=wall, rate_rps=rate_rps, mode="local", output_diff=diff, notes=notes)
    rep["speed_emulation"] = {"method": "time dilation" if emulate_speed else "off", "threshold": DILATE_ABOVE,
                              "host_compute_ms": host_ms, "added_ms": slow}
    if overhead is not None:
        rep["message_overhead_measured"] = overhead
    return rep
