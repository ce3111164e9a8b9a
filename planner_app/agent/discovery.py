"""Finding agents on the local network with zeroconf (mDNS service ``_edgeplan._tcp``).

An agent that listens on a non-loopback address advertises itself; ``browse``
lists what answers within a few seconds. ``zeroconf`` is part of the ``agent``
extra; without it, advertising is skipped and browsing says it is unavailable.
The advert carries the URL and versions, never the token.
"""

from __future__ import annotations

__all__ = ["SERVICE_TYPE", "FoundAgent", "DiscoveryUnavailable", "advertise", "browse"]

import socket
import time
from dataclasses import dataclass
from typing import Any

from planner_app import __version__
from planner_app.core.errors import PlannerError

SERVICE_TYPE = "_edgeplan._tcp.local."


class DiscoveryUnavailable(PlannerError):
    """The ``zeroconf`` package is not installed."""


@dataclass(frozen=True)
class FoundAgent:
    """An agent that answered on the local network."""

    name: str
    url: str
    agent_version: str = ""


def _zeroconf() -> Any:
    try:
        import zeroconf
    except ImportError:
        raise DiscoveryUnavailable("discovery needs the 'zeroconf' package: pip install 'planner_app[agent]'") from None
    return zeroconf


class _Advert:
    def __init__(self, zc: Any, info: Any) -> None:
        self._zc, self._info = zc, info

    def close(self) -> None:
        try:
            self._zc.unregister_service(self._info)
        finally:
            self._zc.close()


def advertise(name: str, host: str, port: int, scheme: str = "http") -> _Advert | None:
    """Announce an agent on ``host:port``; None when zeroconf is missing or the network refuses."""
    try:
        zeroconf = _zeroconf()
    except DiscoveryUnavailable:
        return None
    if host in ("0.0.0.0", "::", ""):
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            return None
    safe = "".join(c for c in name if c.isalnum() or c in "-_ ")[:50] or "agent"
    info = zeroconf.ServiceInfo(
        SERVICE_TYPE, f"{safe}.{SERVICE_TYPE}", addresses=[socket.inet_aton(host)], port=port,
        properties={"scheme": scheme, "version": __version__, "path": "/v1"},
    )
    zc = zeroconf.Zeroconf()
    try:
        zc.register_service(info, allow_name_change=True)
    except Exception:  # noqa: BLE001 - no multicast on this network: serve anyway, unadvertised
        zc.close()
        return None
    return _Advert(zc, info)


def browse(seconds: float = 2.0) -> list[FoundAgent]:
    """Agents that answer within ``seconds``."""
    zeroconf = _zeroconf()
    found: dict[str, FoundAgent] = {}
    zc = zeroconf.Zeroconf()

    def on_change(zeroconf: Any, service_type: str, name: str, state_change: Any) -> None:  # noqa: ARG001
        info = zc.get_service_info(service_type, name, timeout=1000)
        if info is None or not info.addresses:
            return
        props = {k.decode(): (v or b"").decode() for k, v in info.properties.items()}
        addr = socket.inet_ntoa(info.addresses[0])
        found[name] = FoundAgent(name.removesuffix("." + SERVICE_TYPE), f"{props.get('scheme', 'http')}://{addr}:{info.port}",
                                 props.get("version", ""))

    try:
        browser = zeroconf.ServiceBrowser(zc, SERVICE_TYPE, handlers=[on_change])
        time.sleep(seconds)
        browser.cancel()
    finally:
        zc.close()
    return sorted(found.values(), key=lambda a: a.name)
