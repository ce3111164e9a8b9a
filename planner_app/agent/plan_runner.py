"""Running an exported plan on agents, and measuring it (``edgeplan run``).

:func:`run_plan` uploads each stage's part to its device's agent, then sends each
request to the first stage, whose agent forwards the tensors the later stages need
from stage to stage (``X-Edgeplan-Forward``); the last stage's outputs come back
along the chain. Every request records its end-to-end time and, from the agents'
timing headers, each stage's compute time and each hop's time (the time a stage
spent forwarding minus the time the next agent spent: the link there and back plus
HTTP). :func:`run_local` does the same with one agent process per planned device on
127.0.0.1 and a :class:`~planner_app.agent.linkemu.LinkEmulator` in front of every
stage whose input crosses devices, imposing the plan's route latency and bandwidth.
"""

from __future__ import annotations

__all__ = ["Endpoint", "run_plan", "run_local"]

import tempfile
import threading
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


@dataclass(frozen=True)
class Endpoint:
    """An agent: where to upload (``url``) and its token."""

    url: str
    token: str


def _request_timing(e2e_ms: float, timings: list[dict[str, Any]], n_stages: int) -> RequestTiming:
    if len(timings) != n_stages:
        raise AgentError(f"the chain answered with {len(timings)} stage timings, expected {n_stages}")
    rt = RequestTiming(e2e_ms, [float(t["compute_ms"]) for t in timings], [float(t["agent_ms"]) for t in timings],
                       compute_cpu_ms=[float(t.get("compute_cpu_ms") or "nan") for t in timings],
                       receive_ms=[float(t.get("receive_ms", 0.0)) for t in timings],
                       reply_ms=[float(t.get("reply_ms", 0.0)) for t in timings])
    rt.hop_ms = [e2e_ms - rt.agent_ms[0]]
    rt.hop_ms += [float(timings[k - 1].get("forward_ms", 0.0)) - rt.agent_ms[k] for k in range(1, n_stages)]
    return rt


def run_plan(spec: ExecutionSpec, endpoints: dict[str, Endpoint], stage_urls: list[str], *, requests: int = 20,
             rate_rps: float | None = None, warmup: int = 3, progress: ProgressCallback | None = None,
             ) -> tuple[list[RequestTiming], float, tuple[float, float] | None, float]:
    """Run ``requests`` requests through the plan's stages.

    Returns the timings, the wall seconds, the output difference (see ``_output_diff``) and the
    median cost of one bare HTTP call to these agents (an echo, no link emulated).

    ``endpoints``: device → its agent (for uploads). ``stage_urls[k]``: how stage k's agent is
    reached by whoever sends to it (the client for k = 0, stage k-1's agent after), e.g. through
    a link emulator. The outputs of the first request are compared with the plan's parts chained
    in this process.
    """
    missing = sorted({s.device for s in spec.stages} - set(endpoints))
    if missing:
        raise ExecutionError(f"plan '{spec.plan_path}' runs stages on {missing}, which have no agent: add them to "
                             "the agent map, or use --local")
    shas, echo = [], []
    for st in spec.stages:
        report(progress, 0.05, f"uploading stage {st.index} to the agent of {st.device}")
        with AgentClient(endpoints[st.device].url, endpoints[st.device].token) as c:
            shas.append(c.upload_part(st.part_path.read_bytes(), f"stage {st.index} of {spec.plan.model.name}"))
            echo += c.echo_ms(10)[3:]  # an HTTP call's own cost here, without any emulated link
    http_call_ms = float(np.median(echo))
    late_outputs = sorted(set(spec.plan.model.output_names) - set(spec.stages[-1].outputs))
    hops = [{"url": stage_urls[k], "part": shas[k], "token": endpoints[spec.stages[k].device].token,
             "keep": list(spec.carried[k]), "return": late_outputs, "codec": _codec(spec, k)}
            for k in range(1, len(spec.stages))]
    inputs = sample_inputs(spec, max(1, requests))
    client = AgentClient(stage_urls[0], endpoints[spec.stages[0].device].token, timeout_s=120, retries=0)
    n = len(spec.stages)
    try:
        for i in range(warmup):
            report(progress, 0.1, f"warm-up request {i + 1} of {warmup}")
            client.infer(shas[0], inputs[0], forward=hops)
        first_out: dict[str, np.ndarray] = {}
        lock = threading.Lock()
        timings: list[RequestTiming | None] = [None] * requests

        def one(i: int) -> None:
            t0 = time.perf_counter()
            out, tm = client.infer(shas[0], inputs[i], forward=hops)
            e2e = (time.perf_counter() - t0) * 1e3
            timings[i] = _request_timing(e2e, tm, n)
            if i == 0:
                with lock:
                    first_out.update(out)
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
                one(i)
        wall = time.perf_counter() - start
    finally:
        client.close()
    diff = _output_diff(spec, inputs[0], first_out)
    return [t for t in timings if t is not None], wall, diff, http_call_ms


def _codec(spec: ExecutionSpec, k: int) -> str:
    """The cut codec the plan puts on the hop into stage ``k`` ("none" when it names none or several)."""
    hop = spec.hops[k]
    return hop.codec if hop is not None and hop.codec in ("fp16", "int8") else "none"


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


def run_local(spec: ExecutionSpec, *, requests: int = 20, rate_rps: float | None = None, warmup: int = 3,
              progress: ProgressCallback | None = None, work_dir: Path | None = None) -> dict[str, Any]:
    """Run the plan with one local agent per device and emulated links; the report (see ``run_report``)."""
    agents: dict[str, LocalAgent] = {}
    links: list[LinkEmulator] = []
    with tempfile.TemporaryDirectory(prefix="edgeplan-run-", dir=work_dir) as tmp:
        try:
            for i, device in enumerate(spec.devices):
                report(progress, 0.0, f"starting an agent for {device}")
                agents[device] = start_local_agent(Path(tmp) / f"device-{i}", name=device)
            urls = []
            for st, hop in zip(spec.stages, spec.hops, strict=True):
                agent = agents[st.device]
                if hop is None:
                    urls.append(agent.url)
                    continue
                port = int(agent.url.rsplit(":", 1)[1])
                link = LinkEmulator(("127.0.0.1", port), latency_ms=hop.latency_ms, forward_mbps=hop.forward_mbps,
                                    backward_mbps=hop.backward_mbps).start()
                links.append(link)
                urls.append(f"http://127.0.0.1:{link.port}")
            endpoints = {d: Endpoint(a.url, a.token) for d, a in agents.items()}
            timings, wall, diff, http_ms = run_plan(spec, endpoints, urls, requests=requests, rate_rps=rate_rps,
                                           warmup=warmup, progress=progress)
        finally:
            for link in links:
                link.close()
            for agent in agents.values():
                agent.stop()
    notes = [
        f"--local: each planned device is an agent process on this host ({len(agents)} processes); compute "
        "is this host's speed, not the planned device's (agents are not slowed to the device's speed)",
        "links: a user-space relay imposes each route's latency (one way, each direction) and bandwidth "
        "(per direction); results return along the chain of stages in reverse",
        f"measured times are wall clock and include HTTP and tensor-frame encoding: one bare HTTP call to an "
        f"agent costs {http_ms:.2f} ms here (median echo), paid once per hop",
    ]
    codecs = sorted({_codec(spec, k) for k in range(1, len(spec.stages))} - {"none"})
    if codecs:
        notes.append(f"cut tensors between stages cross encoded with the plan's codec ({', '.join(codecs)}); the "
                     "output difference against the uncompressed chain is the codec's error")
    if spec.hops[0] is not None and spec.hops[0].codec not in ("none", ""):
        notes.append(f"the raw input crosses uncompressed (the plan names codec {spec.hops[0].codec!r} for it)")
    return run_report(spec, timings, wall_s=wall, rate_rps=rate_rps, mode="local", output_diff=diff,
                      notes=notes)
