"""Agent processes on this machine: what ``edgeplan run --local`` and the benchmarks start.

:func:`start_local_agent` runs ``python -m planner_app agent`` on 127.0.0.1 (a
free port unless given), with its own data folder and token, and waits until
``/health`` answers. :meth:`LocalAgent.stop` ends that process (and only it); the
agent also stops by itself when the process that started it ends (``--parent-pid``),
so a run that is killed leaves no agent behind.
"""

from __future__ import annotations

__all__ = ["LocalAgent", "free_port", "start_local_agent"]

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from planner_app.core.errors import PlannerError


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalAgent:
    """An agent process started by :func:`start_local_agent`."""

    proc: subprocess.Popen[bytes]
    url: str
    token: str
    data_dir: Path
    log_path: Path

    def stop(self) -> None:
        """Terminate the process (kill it if it does not stop within 10 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> LocalAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_local_agent(data_dir: Path, *extra: str, name: str = "local", port: int | None = None,
                      token: str | None = None, wait_s: float = 60.0) -> LocalAgent:
    """Start an agent on 127.0.0.1 and wait for ``/health``; :class:`PlannerError` if it does not come up."""
    import httpx

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    token = token or secrets.token_urlsafe(32)
    token_file = data_dir / "token"
    token_file.write_text(token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    port = port or free_port()
    log_path = data_dir / f"agent-{port}.log"
    args = [sys.executable, "-m", "planner_app", "agent", "--port", str(port), "--data-dir", str(data_dir),
            "--token-file", str(token_file), "--name", name, "--no-advertise", "--parent-pid", str(os.getpid()),
            *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env)
    agent = LocalAgent(proc, f"http://127.0.0.1:{port}", token, data_dir, log_path)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PlannerError(f"the local agent {name!r} exited with code {proc.returncode}: {agent.log()[-500:]}")
        try:
            if httpx.get(f"{agent.url}/health", timeout=1.0).status_code == 200:
                return agent
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    agent.stop()
    raise PlannerError(f"the local agent {name!r} did not answer within {wait_s:g} s: {agent.log()[-500:]}")
