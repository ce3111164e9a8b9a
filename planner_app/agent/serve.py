"""Starting an agent: its data folder, its token, TLS, then uvicorn.

The token is, in order: ``--token``, the first line of ``--token-file``, the
``token`` file in the data folder, or a new random one (``secrets.token_urlsafe``,
256 bits) written there with mode 0600 and printed once. Binding to anything but
loopback without TLS is allowed (a lab network) but warned about: the token would
cross the network in clear.
"""

from __future__ import annotations

__all__ = ["AgentStartError", "default_data_dir", "resolve_token", "check_tls", "serve"]

import ipaddress
import os
import secrets
import ssl
import sys
import time
from pathlib import Path

from planner_app.agent.server import AgentConfig, create_app
from planner_app.core.errors import PlannerError


class AgentStartError(PlannerError):
    """The agent cannot start: a bad token file, TLS files, data folder or port."""


def default_data_dir() -> Path:
    """``$EDGEPLAN_AGENT_DIR``, else ``$XDG_DATA_HOME/edgeplan-agent`` (``~/.local/share``)."""
    env = os.environ.get("EDGEPLAN_AGENT_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "edgeplan-agent"


def read_token_file(path: Path) -> str:
    """The first line of a token file; :class:`AgentStartError` if missing or empty."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AgentStartError(f"token file '{path}' cannot be read ({exc}): give a readable file holding the token") from None
    if not text or len(text[0].strip()) < 16:
        raise AgentStartError(f"token file '{path}' holds no token of at least 16 characters on its first line")
    return text[0].strip()


def resolve_token(data_dir: Path, token: str | None = None, token_file: Path | None = None) -> tuple[str, bool]:
    """(the token, whether it was generated now) — see the module docstring for the order."""
    if token is not None:
        if len(token) < 16:
            raise AgentStartError("--token must be at least 16 characters (or omit it: one is generated)")
        return token, False
    if token_file is not None:
        return read_token_file(token_file), False
    stored = data_dir / "token"
    if stored.is_file():
        return read_token_file(stored), False
    new = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(stored, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(new + "\n")
    return new, True


def check_tls(cert: Path | None, key: Path | None) -> None:
    """Both or neither, and they load as a certificate chain: else :class:`AgentStartError` now."""
    if (cert is None) != (key is None):
        raise AgentStartError("give both --tls-cert and --tls-key, or neither")
    if cert is None or key is None:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise AgentStartError(f"TLS files '{cert}' and '{key}' do not load as a PEM certificate and its key "
                              f"({exc}): make them with e.g. `openssl req -x509 -newkey rsa:2048 -nodes ...`") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _stop_with_parent(parent: int, server: object) -> None:
    """Stop ``server`` (a uvicorn.Server) once this process's parent is no longer ``parent`` (it ended and
    this process was handed to another): an agent that a run started never outlives the run."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        server.should_exit = True  # type: ignore[attr-defined]  # uvicorn's graceful stop

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(config: AgentConfig, host: str = "127.0.0.1", port: int = 8765, *, tls_cert: Path | None = None,
          tls_key: Path | None = None, advertise: bool = True, announce: bool = True,
          parent_pid: int | None = None) -> None:
    """Run the agent until interrupted (uvicorn; one process); with ``parent_pid``, also until the process
    that started it ends."""
    import uvicorn

    check_tls(tls_cert, tls_key)
    scheme = "https" if tls_cert else "http"
    if not is_loopback(host) and tls_cert is None:
        print(f"edgeplan agent: warning: serving on {host} without TLS: the token crosses the network in clear "
              "(give --tls-cert and --tls-key)", file=sys.stderr)
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, ssl_certfile=tls_cert,
        ssl_keyfile=tls_key, timeout_keep_alive=5, limit_concurrency=256, server_header=False,
    ))
    if parent_pid is not None:
        _stop_with_parent(parent_pid, server)
    advert = None
    if advertise and not is_loopback(host):
        from planner_app.agent.discovery import advertise as zc_advertise

        advert = zc_advertise(config.name, host, port, scheme)
    if announce:
        print(f"edgeplan agent {config.name!r} serving on {scheme}://{host}:{port} (parts in {config.data_dir})",
              flush=True)
    try:
        server.run()
    finally:
        if advert is not None:
            advert.close()
    if not server.started:
        raise AgentStartError(f"the agent could not listen on {host}:{port} (in use, or not an address of this "
                              "machine): choose another --port or --host")
