"""A real agent process on 127.0.0.1 (a free port, its own data folder), killed at teardown."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from planner_app.agent.local import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789abcdef"


@dataclass
class AgentProcess:
    proc: subprocess.Popen
    url: str
    data_dir: Path
    token: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_agent(data_dir: Path, *extra: str, token: str | None = TOKEN, port: int | None = None,
                scheme: str = "http", verify: bool | str = True) -> AgentProcess:
    """Start ``edgeplan agent`` and wait until /health answers (15 s)."""
    port = port or free_port()
    args = [sys.executable, "-m", "planner_app", "agent", "--port", str(port), "--data-dir", str(data_dir),
            "--name", "test-agent", *extra]
    if token is not None:
        tf = data_dir.parent / f"{data_dir.name}.token"
        tf.write_text(token + "\n", encoding="utf-8")
        args += ["--token-file", str(tf)]
    log = data_dir.parent / f"{data_dir.name}.{port}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"{scheme}://127.0.0.1:{port}"
    if isinstance(verify, str):
        import ssl

        verify = ssl.create_default_context(cafile=verify)
    agent = AgentProcess(proc, url, data_dir, token or "", log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited with {proc.returncode}:\n{agent.output()}")
        try:
            if httpx.get(f"{url}/health", timeout=1, verify=verify).status_code == 200:
                return agent
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    agent.stop()
    raise RuntimeError(f"agent did not answer within 30 s:\n{agent.output()}")


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    data = tmp_path_factory.mktemp("agent") / "data"
    data.mkdir()
    a = start_agent(data, "--max-model-mb", "2", "--max-jobs", "3", "--body-timeout-s", "1")
    yield a
    a.stop()


@pytest.fixture(scope="module")
def lstm_parts():
    """sample:lstm_kws split in two runnable parts, with the whole model."""
    from planner_app.core.models import load_model
    from planner_app.core.models.partition import split_stages, stages_from_positions

    mg = load_model("sample:lstm_kws")
    return mg, split_stages(mg, stages_from_positions(mg, [2]))
