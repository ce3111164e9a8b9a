"""The edge agent (an HTTP server run on edge devices) and its client. No Qt.

- :mod:`server` — the FastAPI app (``/health``, ``/v1/...``), :mod:`serve` starts it (token, TLS, uvicorn);
- :mod:`store` — parts on disk, content-addressed; :mod:`jobs` — the bounded job queue;
- :mod:`frames` — named tensors as ``.npy`` frames on the wire;
- :mod:`client` — :class:`~planner_app.agent.client.AgentClient`, the agent map, typed errors;
- :mod:`measure` — profiling a whole model on an agent for planning;
- :mod:`discovery` — zeroconf (``_edgeplan._tcp``);
- :mod:`local`, :mod:`linkemu`, :mod:`plan_runner` — agents on this host, emulated links, running a plan.

The server side needs the ``agent`` extra (``pip install 'planner_app[agent]'``).
"""

__all__ = ["API_VERSION"]

#: the API's major version: the path prefix (``/v1``) and what ``/health`` reports
API_VERSION = 1
