"""The agent over HTTP, against a real process on 127.0.0.1: auth, round trips, limits, restarts."""

from __future__ import annotations

import os
import threading

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from planner_app.agent.client import (
    AgentBusy,
    AgentClient,
    AgentJobFailed,
    AgentRequestError,
)
from planner_app.agent.frames import encode_frames
from tests.agent.conftest import TOKEN, start_agent

SHA0 = "0" * 64

#: every authenticated endpoint, with a body where it needs one
ENDPOINTS = [
    ("GET", "/v1/device", None), ("GET", "/v1/parts", None), ("POST", "/v1/parts", b"x"),
    ("GET", f"/v1/parts/{SHA0}", None), ("DELETE", f"/v1/parts/{SHA0}", None),
    ("POST", f"/v1/parts/{SHA0}/infer", b"EPF1"), ("POST", "/v1/jobs/profile", b"{}"),
    ("GET", "/v1/jobs", None), ("GET", "/v1/jobs/abc", None), ("DELETE", "/v1/jobs/abc", None),
    ("GET", "/v1/jobs/abc/events", None), ("GET", "/v1/probe/echo", None),
    ("POST", "/v1/probe/upload", b"xx"), ("GET", "/v1/probe/download?size_bytes=10", None),
    ("PUT", f"/v1/runs/{'a' * 32}", b"{}"), ("DELETE", f"/v1/runs/{'a' * 32}", None),
    ("POST", f"/v1/runs/{'a' * 32}/requests/0/messages", b"EPF1"), ("GET", f"/v1/runs/{'a' * 32}/requests/0", None),
]


def _run(model, feed):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feed)


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_every_v1_endpoint_refuses_a_missing_or_wrong_token(agent, header):
    headers = {"Authorization": header} if header else {}
    for method, path, body in ENDPOINTS:
        r = httpx.request(method, agent.url + path, content=body, headers=headers, timeout=10)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(agent.url + "/health").json()["status"] == "ok"  # health needs none


def test_device_facts(agent):
    with AgentClient(agent.url, TOKEN) as c:
        facts = c.device()
    assert facts["name"] == "test-agent" and facts["cores"] >= 1 and facts["memory_bytes"] > 0
    assert facts["onnxruntime_version"] == ort.__version__ and "CPUExecutionProvider" in facts["onnxruntime_providers"]


def test_upload_profile_infer_round_trip(agent, lstm_parts):
    mg, parts = lstm_parts
    data = parts[0].model.SerializeToString()
    events: list[tuple[float, str]] = []
    with AgentClient(agent.url, TOKEN) as c:
        sha = c.upload_part(data, "stage0")
        assert sha in {p["sha256"] for p in c.parts()}
        assert c.upload_part(data, "again") == sha  # content-addressed: stored once
        profile = c.profile(sha, ["fp32", "int8-dynamic"], progress=lambda f, m: events.append((f, m)),
                            runs=3, warmup=1, fidelity_samples=2)
        x = np.random.default_rng(0).standard_normal((1, 98, 40)).astype(np.float32)
        out, timings = c.infer(sha, {"mfcc": x})
    # progress arrived while the job ran, in order, before the result
    assert any(0 < f < 1 for f, _ in events) and any("int8-dynamic" in m for _, m in events)
    assert [f for f, _ in events] == sorted(f for f, _ in events)
    fp32 = profile.levels["fp32"]
    assert profile.model_sha256 == sha and fp32.provenance == "measured-agent" and fp32.runs == 3
    assert fp32.node_ms and len(fp32.unit_ms) == len(parts[0].unit_ids) and fp32.latency_ms_median > 0
    assert profile.levels["int8-dynamic"].applicable
    np.testing.assert_allclose(out["classifier.relu"], _run(parts[0].model, {"mfcc": x})[0], rtol=1e-5, atol=1e-6)
    assert timings[0]["part"] == sha and timings[0]["compute_ms"] > 0


def test_forwarded_inference_chains_the_parts_into_the_whole_model(agent, lstm_parts):
    mg, parts = lstm_parts
    x = np.random.default_rng(1).standard_normal((1, 98, 40)).astype(np.float32)
    with AgentClient(agent.url, TOKEN) as c:
        s0, s1 = (c.upload_part(p.model.SerializeToString(), p.name) for p in parts)
        out, timings = c.infer(s0, {"mfcc": x}, forward=[{"url": agent.url, "part": s1, "token": TOKEN}])
    np.testing.assert_allclose(out["logits"], _run(mg.model, {"mfcc": x})[0], rtol=1e-4, atol=1e-5)
    assert [t["part"] for t in timings] == [s0, s1] and "forward_ms" in timings[0]


def test_limits_give_clear_statuses_and_the_agent_keeps_serving(agent, lstm_parts):
    _, parts = lstm_parts
    h = {"Authorization": f"Bearer {TOKEN}"}
    url = agent.url
    big = httpx.post(f"{url}/v1/parts", content=os.urandom(3 << 20), headers=h)
    assert big.status_code == 413 and "--max-model-mb" in big.json()["detail"]
    text = httpx.post(f"{url}/v1/parts", content=b"this is not a model" * 10, headers=h)
    assert text.status_code == 415 and "not an ONNX model" in text.json()["detail"]
    assert httpx.post(f"{url}/v1/parts", content=b"", headers=h).status_code == 415
    assert httpx.get(f"{url}/v1/jobs/0123456789abcdef", headers=h).status_code == 404
    assert httpx.get(f"{url}/v1/parts/..%2F..%2Fetc%2Fpasswd", headers=h).status_code == 404
    assert httpx.get(f"{url}/v1/parts/{SHA0}", headers=h).json()["error"] == "UnknownPart"
    sha = AgentClient(url, TOKEN).upload_part(parts[1].model.SerializeToString())
    for bad in (b"garbage", b"EPF1\x01\x00\x00\x00\x05\x00", encode_frames({"x": np.zeros(3)})[:-4],
                encode_frames({"wrong_name": np.zeros(3, np.float32)}),
                encode_frames({"classifier.relu": np.zeros((2, 2), np.float32)})):
        r = httpx.post(f"{url}/v1/parts/{sha}/infer", content=bad, headers=h)
        assert r.status_code == 400 and r.json()["error"] == "FrameError", r.text
    coded = httpx.post(f"{url}/v1/parts/{sha}/infer", headers={**h, "X-Edgeplan-Codec": '{"classifier.relu": 1}'},
                       content=encode_frames({"classifier.relu": np.zeros((1, 64), np.float32)}))
    assert coded.status_code == 400 and "X-Edgeplan-Codec" in coded.json()["detail"]
    bad_job = httpx.post(f"{url}/v1/jobs/profile", json={"part": sha, "levels": ["no-such-level"]}, headers=h)
    assert bad_job.status_code == 400 and "unknown compression level" in bad_job.json()["detail"]
    assert httpx.post(f"{url}/v1/jobs/profile", json={"part": sha, "runs": 0}, headers=h).status_code == 422
    huge = httpx.post(f"{url}/v1/jobs/profile", json={"part": sha, "shapes": {"x": [4096, 4096, 4096]}}, headers=h)
    assert huge.status_code == 422 and "2**26 elements" in huge.text
    assert httpx.get(f"{url}/v1/probe/download", params={"size_bytes": 1 << 40}, headers=h).status_code == 413
    # still serving
    out, _ = AgentClient(url, TOKEN).infer(sha, {"classifier.relu": np.zeros((1, 64), np.float32)})
    assert out["logits"].shape == (1, 12)


def test_the_job_queue_is_bounded_and_cancel_works(agent, lstm_parts):
    _, parts = lstm_parts
    with AgentClient(agent.url, TOKEN) as c:
        sha = c.upload_part(parts[1].model.SerializeToString())
        slow = {"runs": 10000, "max_seconds": 60, "warmup": 0, "fidelity_samples": 1}
        ids = []
        with pytest.raises(AgentBusy, match="429"):
            for _ in range(10):
                ids.append(c.start_profile(sha, ["fp32"], **slow))
        assert len(ids) == 3  # the agent's --max-jobs
        for jid in ids:
            c.cancel(jid)
        for jid in ids:
            with pytest.raises(AgentJobFailed, match="cancelled"):
                c.wait(jid)
        with pytest.raises(AgentRequestError) as exc:
            c.job("f" * 32)
        assert exc.value.status == 404


def test_probes(agent):
    with AgentClient(agent.url, TOKEN) as c:
        assert len(c.echo_ms(3)) == 3
        assert c.upload_mbps(1 << 20) > 0 and c.download_mbps(1 << 20) > 0


def test_a_restarted_agent_keeps_its_parts_and_a_killed_one_fails_its_job(tmp_path, lstm_parts):
    _, parts = lstm_parts
    data = tmp_path / "data"
    data.mkdir()
    a = start_agent(data)
    try:
        with AgentClient(a.url, TOKEN) as c:
            sha = c.upload_part(parts[1].model.SerializeToString(), "tail")
    finally:
        a.stop()
    b = start_agent(data)
    try:
        with AgentClient(b.url, TOKEN) as c:
            assert [p["name"] for p in c.parts() if p["sha256"] == sha] == ["tail"]
            out, _ = c.infer(sha, {"classifier.relu": np.ones((1, 64), np.float32)})
            assert out["logits"].shape == (1, 12)
            jid = c.start_profile(sha, ["fp32"], runs=10000, max_seconds=60, warmup=0, fidelity_samples=1)
            first = threading.Event()

            def kill_on_first_event(f: float, m: str) -> None:
                if not first.is_set() and "profiling" in m:
                    first.set()
                    b.proc.kill()

            with pytest.raises(AgentJobFailed, match="stopped|closed"):
                c.wait(jid, progress=kill_on_first_event)
    finally:
        b.stop()


def test_a_generated_token_is_printed_once_and_stored_private(tmp_path):
    data = tmp_path / "data"
    a = start_agent(data, token=None)
    try:
        token = (data / "token").read_text().strip()
        assert oct((data / "token").stat().st_mode & 0o777) == "0o600" and len(token) >= 32
        with AgentClient(a.url, token) as c:
            assert c.device()["name"] == "test-agent"
    finally:
        a.stop()
    assert token in a.output()
