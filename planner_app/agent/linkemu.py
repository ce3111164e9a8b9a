"""A user-space link emulator: a TCP relay that imposes a link's latency and bandwidth.

This kernel has no ``netem``, so the delay is applied in a relay: every chunk read
from one side is queued behind what the link is still sending (serialization at
the direction's bandwidth, shared by every connection through the relay) and
delivered ``latency_ms`` after its last bit left. A message of ``s`` bytes on an
idle link therefore arrives ``latency_ms + 8 s / bandwidth`` after it was sent —
the cost model's transfer time. Each direction has its own bandwidth. The relay
runs its own asyncio loop on a daemon thread.

Example
-------
>>> with LinkEmulator(("127.0.0.1", 8765), latency_ms=20, forward_mbps=50) as link:  # doctest: +SKIP
...     url = f"http://127.0.0.1:{link.port}"    # talk to the agent through the link
"""

from __future__ import annotations

__all__ = ["LinkEmulator"]

import asyncio
import contextlib
import threading
from typing import Any

_CHUNK = 64 * 1024


class _Direction:
    """One direction of the link: when it is free to send again (loop time, s)."""

    def __init__(self, mbps: float) -> None:
        self.bits_per_s = mbps * 1e6
        self.next_free = 0.0


class LinkEmulator:
    """Relay ``127.0.0.1:port`` → ``target`` with ``latency_ms`` one way and a bandwidth each way."""

    def __init__(self, target: tuple[str, int], *, latency_ms: float, forward_mbps: float,
                 backward_mbps: float | None = None) -> None:
        if latency_ms < 0 or forward_mbps <= 0 or (backward_mbps is not None and backward_mbps <= 0):
            raise ValueError("latency_ms must be >= 0 and bandwidths > 0")
        self.target = target
        self.latency_s = latency_ms / 1e3
        self._forward = _Direction(forward_mbps)
        self._backward = _Direction(backward_mbps if backward_mbps is not None else forward_mbps)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"link-emulator-{target[1]}", daemon=True)
        self._error: BaseException | None = None

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> LinkEmulator:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def __enter__(self) -> LinkEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = int(self._server.sockets[0].getsockname()[1])
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            tasks = list(asyncio.all_tasks(loop))
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    # -- relaying -------------------------------------------------------------------
    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        # the relay closing mid-connection cancels this task: end quietly (asyncio would log the cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await self._relay(client_r, client_w)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            target_r, target_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(self._pump(client_r, target_w, self._forward),
                             self._pump(target_r, client_w, self._backward), return_exceptions=True)
        for w in (client_w, target_w):
            with contextlib.suppress(Exception):
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Direction) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                item = await queue.get()
                if item is None:
                    break
                due, data = item
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
            with contextlib.suppress(Exception):
                writer.write_eof()

        sender: Any = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                start = max(loop.time(), link.next_free)
                link.next_free = start + len(data) * 8 / link.bits_per_s
                queue.put_nowait((link.next_free + self.latency_s, data))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await sender
