"""The lean HTTP path of inference calls: kept-alive ``http.client`` connections.

An inference call is a few kB to a few MB of tensor frames each way, and for a
split model it is on every request's critical path, once per hop. ``httpx`` costs
about a millisecond per call on loopback (its request and response models,
transport layers and header objects); ``http.client`` over a kept-alive
connection costs a fifth of that. :class:`ConnectionPool` keeps idle connections
per origin (one in use per thread at a time), sends each request as one write
(headers and body together: no Nagle stall), and retries a call once on a fresh
connection when a reused one turns out to be closed by the server (keep-alive
timeout) — safe because an inference call has no side effects.

TLS: ``https`` origins verify the server against the system's CAs plus
``ca_file`` when given (a private CA, or an agent's self-signed certificate).

Example
-------
>>> pool = ConnectionPool()                                              # doctest: +SKIP
>>> status, headers, body = pool.post("http://127.0.0.1:8765/v1/...", blob, {"Authorization": "Bearer T"})  # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["ConnectionPool", "Pending", "WireError", "tls_context"]

import http.client
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Mapping

from planner_app.core.errors import PlannerError


class WireError(PlannerError):
    """The peer could not be reached, or the connection broke mid-call."""


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A client TLS context: the system's CAs, plus ``ca_file`` (PEM) when given."""
    ctx = ssl.create_default_context()
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise PlannerError(f"CA bundle '{ca_file}' does not load as PEM certificates ({exc}): give the "
                               "certificate that signed the agent's (its own, if self-signed)") from None
    return ctx


_RETRYABLE = (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError, BrokenPipeError,
              ConnectionAbortedError)


class Pending:
    """A request sent on a pooled connection whose answer is still to be read."""

    def __init__(self, pool: ConnectionPool, key: tuple[str, str, int], conn: http.client.HTTPConnection,
                 may_retry: bool, again: tuple[str, str, bytes, Mapping[str, str]]) -> None:
        self.pool, self.key, self.conn, self.may_retry, self.again = pool, key, conn, may_retry, again

    def result(self) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lower-case names, body); the connection goes back to the pool."""
        return self.pool._finish(self)


class ConnectionPool:
    """Kept-alive connections by origin (scheme, host, port); thread-safe."""

    def __init__(self, *, timeout_s: float = 120.0, ca_file: str | None = None,
                 context: ssl.SSLContext | None = None) -> None:
        self.timeout_s = timeout_s
        self._ca_file = ca_file
        self._tls: ssl.SSLContext | None = context
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = tls_context(self._ca_file)
        return self._tls

    def _connect(self, key: tuple[str, str, int]) -> http.client.HTTPConnection:
        scheme, host, port = key
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout_s, context=self._context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
        conn.connect()
        sock = conn.sock
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _take(self, key: tuple[str, str, int]) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        return self._connect(key), False

    def _give(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < 16:
                idle.append(conn)
                return
        conn.close()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        """POST ``body`` to ``url``: (status, headers with lower-case names, body)."""
        return self.send("POST", url, body, headers).result()

    def send(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> Pending:
        """Send a request now and read its answer later (:meth:`Pending.result`): a long poll can be
        sent before the work it waits for starts, and answered after it ends."""
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise WireError(f"{url[:80]!r} is not an http(s) address")
        key = (u.scheme, u.hostname, u.port or (443 if u.scheme == "https" else 80))
        target = (u.path or "/") + (f"?{u.query}" if u.query else "")
        hdrs = {**headers, "Content-Length": str(len(body))}
        for attempt in range(2):
            try:
                conn, reused = self._take(key)
            except (OSError, ssl.SSLError) as exc:
                raise WireError(f"cannot connect to {u.scheme}://{u.netloc}: {exc}") from None
            try:
                conn.request(method, target, body=body, headers=hdrs)
            except _RETRYABLE as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle kept-alive connection: once more on a new one
                raise WireError(f"{u.scheme}://{u.netloc} closed the connection: {exc}") from None
            except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
                conn.close()
                raise WireError(f"{u.scheme}://{u.netloc}: {type(exc).__name__}: {exc}") from None
            return Pending(self, key, conn, reused and attempt == 0, (method, url, body, headers))
        raise AssertionError("unreachable")

    def _finish(self, p: Pending) -> tuple[int, dict[str, str], bytes]:
        key, conn = p.key, p.conn
        netloc = f"{key[0]}://{key[1]}:{key[2]}"
        try:
            resp = conn.getresponse()
            data = resp.read()
        except _RETRYABLE as exc:
            conn.close()
            if p.may_retry:  # a reused connection the server had closed: the request never got there
                return self.send(*p.again).result()
            raise WireError(f"{netloc} closed the connection: {exc}") from None
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            conn.close()
            raise WireError(f"{netloc}: {type(exc).__name__}: {exc}") from None
        out = {k.lower(): v for k, v in resp.getheaders()}
        if resp.will_close:
            conn.close()
        else:
            self._give(key, conn)
        return resp.status, out, data

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for c in conns:
            c.close()
