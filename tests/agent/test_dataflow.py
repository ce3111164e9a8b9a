"""Plans run as dataflow on agents (``/v1/runs``), against real agent processes on 127.0.0.1.

The installed program, the mailbox of a request, stages that run when their inputs are
there, messages straight between agents, the long poll that answers with the records, and
the clear statuses when a program, a message or a stage is wrong.
"""

from __future__ import annotations

import secrets

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from planner_app.agent.client import AgentClient, AgentRequestError
from planner_app.agent.dataflow import RunFailed, post_message
from planner_app.agent.frames import decode_frames
from planner_app.agent.wire import ConnectionPool
from tests.agent.conftest import TOKEN, start_agent

H = {"Authorization": f"Bearer {TOKEN}"}


def _whole(mg, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(mg.model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(
        None, {"mfcc": x})[0]


def _collect(url: str, run: str, rid: int, tensors: str = "", wait_s: float = 20) -> httpx.Response:
    return httpx.get(f"{url}/v1/runs/{run}/requests/{rid}", params={"wait_s": wait_s, "tensors": tensors}, headers=H,
                     timeout=wait_s + 10)


@pytest.fixture(scope="module")
def second_agent(tmp_path_factory):
    data = tmp_path_factory.mktemp("agent-b") / "data"
    data.mkdir()
    a = start_agent(data, "--name", "agent-b")
    yield a
    a.stop()


def test_two_stages_on_one_agent_hand_over_in_memory(agent, lstm_parts):
    mg, parts = lstm_parts
    x = np.random.default_rng(3).standard_normal((1, 98, 40)).astype(np.float32)
    run = secrets.token_hex(16)
    with AgentClient(agent.url, TOKEN) as c:
        s0, s1 = (c.upload_part(p.model.SerializeToString(), p.name) for p in parts)
        c.install_run(run, {"stages": [{"index": 0, "part": s0, "inputs": ["mfcc"]},
                                       {"index": 1, "part": s1, "inputs": list(parts[1].inputs)}],
                            "inject": True})
        pool = ConnectionPool()
        poll = pool.send("GET", f"{agent.url}/v1/runs/{run}/requests/7?wait_s=20&tensors=logits", b"", H)
        post_message(pool, agent.url, TOKEN, run, 7, -1, {"mfcc": x}, "none", inject=True)
        status, headers, body = poll.result()
        assert status == 200
        np.testing.assert_allclose(decode_frames(body)["logits"], _whole(mg, x), rtol=1e-4, atol=1e-5)
        import json

        rec = json.loads(headers["x-edgeplan-timings"])
        s0r, s1r = rec["stages"]
        # stage 1 read stage 0's outputs here: it started after stage 0 ended, with no message between them
        assert (s0r["index"], s1r["index"]) == (0, 1) and s1r["start_at"] >= s0r["done_at"]
        assert rec["received"] == [] and rec["injected"]["received_at"] <= s0r["start_at"]
        assert all(r["compute_ms"] > 0 and r["compute_cpu_ms"] > 0 for r in rec["stages"])
        # the request was forgotten once collected; the run is removed on request
        c.remove_run(run)
        with pytest.raises(AgentRequestError, match="no run"):
            c.remove_run(run)
        pool.close()


def test_a_message_goes_straight_to_the_agent_that_reads_it(agent, second_agent, lstm_parts):
    mg, parts = lstm_parts
    x = np.random.default_rng(4).standard_normal((1, 98, 40)).astype(np.float32)
    run = secrets.token_hex(16)
    cut = list(parts[1].inputs)
    with AgentClient(agent.url, TOKEN) as a, AgentClient(second_agent.url, TOKEN) as b:
        s0 = a.upload_part(parts[0].model.SerializeToString())
        s1 = b.upload_part(parts[1].model.SerializeToString())
        # agent-b runs stage 1 and expects message 1 (the cut, int8 on the wire); agent A runs stage 0 and
        # receives message 0 (the raw input, from this client standing in for the source)
        b.install_run(run, {"stages": [{"index": 1, "part": s1, "inputs": cut}], "receives": [1]})
        a.install_run(run, {"stages": [{"index": 0, "part": s0, "inputs": ["mfcc"]}], "receives": [0],
                            "sends": [{"key": 1, "after": 0, "url": second_agent.url, "token": TOKEN,
                                       "tensors": cut, "codec": "int8"}]})
        pool = ConnectionPool()
        polls = [pool.send("GET", f"{u}/v1/runs/{run}/requests/0?wait_s=20&tensors=logits", b"", H)
                 for u in (agent.url, second_agent.url)]
        sent = post_message(pool, agent.url, TOKEN, run, 0, 0, {"mfcc": x}, "none")
        (sa, ha, _), (sb, hb, body) = (p.result() for p in polls)
        assert sa == sb == 200
        got = decode_frames(body)["logits"]
        ref = _whole(mg, x)
        # the int8 cut codec's error, bounded
        assert np.max(np.abs(got - ref)) / np.max(np.abs(ref)) < 0.05
        import json

        ra, rb = json.loads(ha["x-edgeplan-timings"]), json.loads(hb["x-edgeplan-timings"])
        assert ra["received"][0]["key"] == 0 and ra["received"][0]["received_at"] >= sent["sent_at"]
        assert ra["sent"][0]["key"] == 1 and ra["sent"][0]["sent_at"] >= ra["stages"][0]["done_at"]
        assert rb["received"][0]["key"] == 1 and rb["stages"][0]["start_at"] >= rb["received"][0]["received_at"]
        pool.close()


def test_wrong_programs_messages_and_stages_are_clear_statuses(agent, lstm_parts):
    _, parts = lstm_parts
    url = agent.url
    sha = AgentClient(url, TOKEN).upload_part(parts[1].model.SerializeToString())
    run = secrets.token_hex(16)
    bad_programs = [
        ("not-a-run-id", {"stages": []}, 400, "32 lower-case hex"),
        (run, {"stages": [{"index": 0, "part": "0" * 64, "inputs": ["x"]}]}, 404, "UnknownPart"),
        (run, {"stages": [{"index": 0, "part": sha, "inputs": ["x"]}],
               "sends": [{"key": 0, "after": 3, "url": url, "tensors": ["x"]}]}, 400, "does not run"),
        (run, {"sends": [{"key": 0, "after": None, "url": url, "tensors": ["x"]}]}, 400, "inject: false"),
        (run, {"sends": [{"key": 0, "url": "file:///etc/passwd", "tensors": ["x"]}]}, 422, "http(s)"),
        (run, {"stages": [], "surprise": 1}, 422, "surprise"),
    ]
    for rid, prog, status, text in bad_programs:
        r = httpx.put(f"{url}/v1/runs/{rid}", json=prog, headers=H)
        assert r.status_code == status and text in r.text, (prog, r.status_code, r.text)
    # a stage fed a tensor of the wrong shape fails its request with 502, naming the stage; others keep going
    AgentClient(url, TOKEN).install_run(run, {"stages": [{"index": 4, "part": sha, "inputs": ["classifier.relu"]}],
                                              "receives": [0]})
    pool = ConnectionPool()
    poll = pool.send("GET", f"{url}/v1/runs/{run}/requests/1?wait_s=20", b"", H)
    post_message(pool, url, TOKEN, run, 1, 0, {"classifier.relu": np.zeros((3, 5), np.float32)}, "none")
    status, _, body = poll.result()
    assert status == 502 and "stage 4" in body.decode() and "cannot run" in body.decode()
    # a message the program does not expect, malformed frames, an unknown run: 400, 400, 404
    with pytest.raises(RunFailed, match="answered 400.*not one this agent expects"):
        post_message(pool, url, TOKEN, run, 2, 9, {"classifier.relu": np.zeros((1, 64), np.float32)}, "none")
    r = httpx.post(f"{url}/v1/runs/{run}/requests/2/messages", content=b"EPF1garbage", headers=H)
    assert r.status_code == 400 and r.json()["error"] == "FrameError"
    r = httpx.post(f"{url}/v1/runs/{'b' * 32}/requests/2/messages", content=b"EPF1", headers=H)
    assert r.status_code == 404 and r.json()["error"] == "UnknownRun"
    # a request whose input never comes: 504 after the wait, saying what it waits for
    r = _collect(url, run, 3, wait_s=0.5)
    assert r.status_code == 504 and "message(s) [0]" in r.json()["detail"]
    # and the run still serves a good request
    poll = pool.send("GET", f"{url}/v1/runs/{run}/requests/4?wait_s=20&tensors=logits", b"", H)
    post_message(pool, url, TOKEN, run, 4, 0, {"classifier.relu": np.zeros((1, 64), np.float32)}, "none")
    status, _, body = poll.result()
    assert status == 200 and decode_frames(body)["logits"].shape == (1, 12)
    pool.close()
