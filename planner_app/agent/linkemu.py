"""A user-space link emulator: a TCP relay that imposes a link's latency and bandwidth.

This kernel has no ``netem``, so the delay is applied in a relay: every chunk read
from one side is queued behind what the link is still sending (serialization at
the direction's bandwidth, shared by every connection through the relay, and by
other relays whose routes cross the same directed link when they are given the
same :class:`LinkDirection`) and delivered ``latency_ms`` after its last bit left. A message of ``s`` bytes on an
idle link therefore arrives ``latency_ms + 8 s / bandwidth`` after it was sent —
the cost model's transfer time. Each direction has its own bandwidth.

Threads, not an event loop: each direction of each connection has a reader (which
stamps every chunk with its due time) and a writer (which sleeps until then with
``time.sleep``, precise to tens of microseconds on Linux). An asyncio relay wakes
on the selector's millisecond ticks and delivered up to a millisecond and a half
late, an error the emulated latency would pass on to every hop.

Example
-------
>>> with LinkEmulator(("127.0.0.1", 8765), latency_ms=20, forward_mbps=50) as link:  # doctest: +SKIP
...     url = f"http://127.0.0.1:{link.port}"    # talk to the agent through the link
"""

from __future__ import annotations

__all__ = ["LinkEmulator", "LinkDirection"]

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Sequence

_CHUNK = 64 * 1024
#: the last part of a delay spun rather than slept
_SPIN_S = 3e-4


class LinkDirection:
    """One direction of a link: when it is free to send again (``time.perf_counter`` s).

    Relays may share one (``LinkEmulator(..., forward_shared=[...])``): routes that cross the same
    directed link then send their bits over it one chunk after another, as on a real link."""

    def __init__(self, mbps: float) -> None:
        self.bits_per_s = mbps * 1e6
        self.next_free = 0.0
        self.lock = threading.Lock()

    def due(self, size: int, latency_s: float) -> float:
        """When ``size`` bytes read now arrive at the far end."""
        with self.lock:
            start = max(time.perf_counter(), self.next_free)
            self.next_free = start + size * 8 / self.bits_per_s
            return self.next_free + latency_s


#: one lock for every shared direction (a chunk takes several at once; one lock cannot deadlock)
_SHARED_LOCK = threading.Lock()


def _shared_due(own: LinkDirection, shared: Sequence[LinkDirection], size: int, latency_s: float) -> float:
    """When ``size`` bytes read now arrive, having waited for every shared link of the route to be free;
    each link stays busy for the bytes' time at its own bandwidth."""
    with _SHARED_LOCK:
        start = max(time.perf_counter(), own.next_free, *(d.next_free for d in shared))
        for d in shared:
            d.next_free = start + size * 8 / d.bits_per_s
        own.next_free = start + size * 8 / own.bits_per_s
        return own.next_free + latency_s


def _sleep_until(deadline: float) -> None:
    """Sleep until ``deadline``; the last ``_SPIN_S`` spun, so that the thread is running when it comes
    (a sleeping thread wakes a scheduler's latency late on a busy host)."""
    while (left := deadline - time.perf_counter()) > _SPIN_S:
        time.sleep(left - _SPIN_S)
    while time.perf_counter() < deadline:
        pass


class LinkEmulator:
    """Relay ``127.0.0.1:port`` → ``target`` with ``latency_ms`` one way and a bandwidth each way."""

    def __init__(self, target: tuple[str, int], *, latency_ms: float, forward_mbps: float,
                 backward_mbps: float | None = None, forward_shared: Sequence[LinkDirection] = ()) -> None:
        if latency_ms < 0 or forward_mbps <= 0 or (backward_mbps is not None and backward_mbps <= 0):
            raise ValueError("latency_ms must be >= 0 and bandwidths > 0")
        self.target = target
        self.latency_s = latency_ms / 1e3
        self._forward = LinkDirection(forward_mbps)
        self._backward = LinkDirection(backward_mbps if backward_mbps is not None else forward_mbps)
        self._forward_shared = tuple(forward_shared)
        self.port = 0
        self._server: socket.socket | None = None
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> LinkEmulator:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(64)
        self._server = srv
        self.port = int(srv.getsockname()[1])
        threading.Thread(target=self._accept, name=f"link-emulator-{self.target[1]}", daemon=True).start()
        return self

    def __enter__(self) -> LinkEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        with self._lock:
            socks, self._sockets = self._sockets, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    # -- relaying -------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._server is not None
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst, link, shared in ((client, upstream, self._forward, self._forward_shared),
                                           (upstream, client, self._backward, ())):
                self._pump(src, dst, link, shared)

    def _pump(self, src: socket.socket, dst: socket.socket, link: LinkDirection,
              shared: Sequence[LinkDirection] = ()) -> None:
        """Start a reader (stamps chunks with their due time) and a writer (delivers them then)."""
        pending: queue.SimpleQueue[tuple[float, bytes] | None] = queue.SimpleQueue()

        def read() -> None:
            try:
                while data := src.recv(_CHUNK):
                    due = (_shared_due(link, shared, len(data), self.latency_s) if shared
                           else link.due(len(data), self.latency_s))
                    pending.put((due, data))
            except OSError:
                pass
            pending.put(None)

        def write() -> None:
            try:
                while (item := pending.get()) is not None:
                    _sleep_until(item[0])
                    dst.sendall(item[1])
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
            except OSError:
                with contextlib.suppress(OSError):
                    src.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=read, daemon=True, name="link-read").start()
        threading.Thread(target=write, daemon=True, name="link-write").start()
