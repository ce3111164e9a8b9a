"""Transport-level behaviour: stalled clients, TLS, discovery on the local network."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from planner_app.agent.client import AgentClient
from planner_app.cli import main
from tests.agent.conftest import TOKEN, start_agent


def test_a_client_that_stalls_mid_upload_gets_408_and_the_agent_keeps_serving(agent):
    host, port = agent.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((f"POST /v1/parts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                   "Content-Length: 100000\r\n\r\n").encode() + b"\0" * 100)
        t0 = time.monotonic()
        answer = s.recv(4096).decode(errors="replace")
        waited = time.monotonic() - t0
        while "Stalled" not in answer and (more := s.recv(4096)):
            answer += more.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 408") and "Stalled" in answer
    assert waited < 5  # the agent's --body-timeout-s is 1
    with AgentClient(agent.url, TOKEN) as c:
        assert c.device()["name"] == "test-agent"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls_serves_https_and_garbage_tls_files_are_refused_at_start(tmp_path, capsys):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    data = tmp_path / "data"
    data.mkdir()
    a = start_agent(data, "--tls-cert", str(cert), "--tls-key", str(key), scheme="https", verify=str(cert))
    try:
        assert a.url.startswith("https://")
        with AgentClient(a.url, TOKEN, verify=str(cert)) as c:
            assert c.device()["name"] == "test-agent"
    finally:
        a.stop()
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    assert main(["agent", "--data-dir", str(data), "--tls-cert", str(garbage), "--tls-key", str(garbage)]) == 2
    assert "do not load as a PEM certificate" in capsys.readouterr().err


def test_an_advertised_agent_is_found_by_agent_list(agent, capsys):
    pytest.importorskip("zeroconf")
    from planner_app.agent.discovery import advertise

    port = int(agent.url.rsplit(":", 1)[1])
    advert = advertise("bench-found-agent", "127.0.0.1", port)
    if advert is None:
        pytest.skip("no multicast on this machine")
    try:
        assert main(["agent", "list", "--browse-seconds", "2"]) == 0
    finally:
        advert.close()
    out = capsys.readouterr().out
    assert "found" in out and "bench-found-agent" in out and f"127.0.0.1:{port}" in out and "up, v" in out
