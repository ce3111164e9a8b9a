"""The client's errors and the frames codec, against real sockets (no agent mocks)."""

from __future__ import annotations

import http.server
import json
import threading
import time

import numpy as np
import pytest

from planner_app.agent.client import (
    AgentClient,
    AgentError,
    AgentUnauthorized,
    AgentUnreachable,
    AgentVersionMismatch,
    load_agent_map,
)
from planner_app.agent.frames import FrameError, decode_frames, encode_frames
from planner_app.cli import main
from tests.agent.conftest import TOKEN, free_port


def test_frames_round_trip_keeps_names_dtypes_and_shapes():
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.array([[1, 2]], np.int64),
               "mask": np.array([True, False]), "scalar": np.array(2.5, np.float16)}
    back = decode_frames(encode_frames(tensors))
    assert list(back) == list(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v)


@pytest.mark.parametrize("blob, words", [
    (b"", "must start with 'EPF1'"),
    (b"EPF1\xff\xff\xff\xff", "at most 256"),
    (b"EPF1\x01\x00\x00\x00", "end inside the header"),
    (encode_frames({"x": np.zeros(2)}) + b"!", "stray bytes"),
    (encode_frames({"x": np.zeros(2)})[:-3], "declares"),
    (encode_frames({"x": np.array(["s"])}), "not numeric"),
])
def test_malformed_frames_are_frame_errors(blob, words):
    with pytest.raises(FrameError, match=words):
        decode_frames(blob)


def test_an_unreachable_agent_is_named_after_the_retries():
    port = free_port()
    t0 = time.perf_counter()
    with pytest.raises(AgentUnreachable, match=f"127.0.0.1:{port} does not answer .* after 3 tries"):
        AgentClient(f"http://127.0.0.1:{port}", TOKEN, retries=2, backoff_s=0.05).device()
    assert time.perf_counter() - t0 < 5


def test_a_server_that_is_not_an_agent_is_a_version_mismatch():
    class Other(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            body = json.dumps({"status": "ok", "api_version": 99}).encode()
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Other)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(AgentVersionMismatch, match="speaks API version 99, this planner speaks 1"):
            AgentClient(f"http://127.0.0.1:{server.server_port}", TOKEN).device()
    finally:
        server.shutdown()


def test_a_wrong_token_is_unauthorized(agent):
    with pytest.raises(AgentUnauthorized, match="refused the token"):
        AgentClient(agent.url, "not-the-token-0123456789").parts()


def test_agent_map_reads_tokens_from_files_and_refuses_inline_tokens(tmp_path):
    (tmp_path / "cam.token").write_text(TOKEN + "\n")
    good = tmp_path / "agents.json"
    good.write_text(json.dumps({"cam": {"url": "http://127.0.0.1:1", "token_file": "cam.token"}}))
    assert load_agent_map(good)["cam"].token == TOKEN
    for bad, words in [({"cam": {"url": "x", "token_file": "cam.token"}}, "must start with http"),
                       ({"cam": {"url": "http://h:1", "token": TOKEN}}, "keep it in a file"),
                       ({"cam": {"url": "http://h:1", "token_file": "missing"}}, "cannot be read"),
                       ([], "must be a JSON object")]:
        good.write_text(json.dumps(bad))
        with pytest.raises(AgentError, match=words):
            load_agent_map(good)


def test_agent_list_shows_configured_agents_up_and_down(agent, tmp_path, capsys):
    (tmp_path / "t").write_text(TOKEN)
    m = tmp_path / "agents.json"
    m.write_text(json.dumps({"edge": {"url": agent.url, "token_file": "t"},
                             "gone": {"url": f"http://127.0.0.1:{free_port()}"}}))
    assert main(["agent", "list", "--agents", str(m), "--browse-seconds", "0"]) == 2
    out = capsys.readouterr().out
    assert "edge" in out and "up, v" in out and "cores" in out
    assert "gone" in out and "DOWN" in out
