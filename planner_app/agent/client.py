"""Talking to an edge agent: what the CLI (and the window) use.

:class:`AgentClient` wraps the agent's ``/v1`` API (:mod:`server`) with timeouts,
retries with exponential backoff for idempotent calls (a call that never reached
the agent — a refused connection — is retried whatever its method; a profile job
is never submitted twice), and typed errors: :class:`AgentUnreachable`,
:class:`AgentUnauthorized`, :class:`AgentVersionMismatch`, :class:`AgentBusy`,
:class:`AgentJobFailed` (also when the agent dies mid-job: the event stream ends
without a final state) and :class:`AgentRequestError` (the agent's own message).

Example
-------
>>> agent = AgentClient("http://127.0.0.1:8765", token="...")            # doctest: +SKIP
>>> sha = agent.upload_part(Path("part_00.onnx").read_bytes(), "stage0")   # doctest: +SKIP
>>> profile = agent.profile(sha, levels=["fp32"], progress=print)          # doctest: +SKIP
>>> profile.levels["fp32"].latency_ms_median                              # doctest: +SKIP
"""

from __future__ import annotations

__all__ = [
    "AgentError", "AgentUnreachable", "AgentUnauthorized", "AgentVersionMismatch", "AgentBusy",
    "AgentJobFailed", "AgentRequestError", "AgentClient", "AgentEntry", "load_agent_map",
]

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from planner_app.agent import API_VERSION
from planner_app.agent.frames import FRAME_MEDIA_TYPE, decode_frames, encode_frames
from planner_app.core.errors import PlannerError
from planner_app.core.fileio import read_json
from planner_app.core.profiling import ModelProfile

ProgressFn = Callable[[float, str], None]


class AgentError(PlannerError):
    """Something went wrong talking to an agent; the message names the agent."""


class AgentUnreachable(AgentError):
    """No answer from the agent (down, wrong address, firewall, TLS mismatch)."""


class AgentUnauthorized(AgentError):
    """The agent refused the token."""


class AgentVersionMismatch(AgentError):
    """The agent speaks another API version (or is not an edgeplan agent)."""


class AgentBusy(AgentError):
    """The agent's job queue is full (HTTP 429) or it is shutting down (503)."""


class AgentJobFailed(AgentError):
    """A job failed, was cancelled, or its agent stopped in the middle of it."""


class AgentRequestError(AgentError):
    """The agent refused a request (4xx/5xx); ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


_IDEMPOTENT = {"GET", "PUT", "DELETE", "HEAD"}


class AgentClient:
    """One agent at ``url`` with ``token``; close it (or use ``with``) when done."""

    def __init__(self, url: str, token: str = "", *, timeout_s: float = 30.0, retries: int = 3,
                 backoff_s: float = 0.2, verify: bool | str | Any = True) -> None:
        self.url = url.rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise AgentError(f"agent address {url!r} must start with http:// or https://")
        self.token = token
        self.retries, self.backoff_s = retries, backoff_s
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        import ssl

        from planner_app.agent.wire import ConnectionPool, tls_context

        if isinstance(verify, str):  # a CA bundle (e.g. the agent's self-signed certificate), with the system's
            verify = tls_context(verify)
        elif verify is True:
            verify = tls_context()
        elif verify is False:
            verify = ssl._create_unverified_context()  # noqa: S323 - asked for explicitly (verify=False)
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s, verify=verify)
        # inference calls take the lean path (kept-alive http.client): httpx costs ~1 ms per call on loopback
        self._pool = ConnectionPool(timeout_s=timeout_s, context=verify)
        self._checked = False

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        self._pool.close()

    # -- plumbing -------------------------------------------------------------------
    def _request(self, method: str, path: str, *, retry: bool | None = None, **kw: Any) -> httpx.Response:
        retry = method in _IDEMPOTENT if retry is None else retry
        for attempt in range(self.retries + 1):
            try:
                r = self._http.request(method, path, **kw)
            except httpx.ConnectError as exc:  # never reached the agent: safe to retry any call
                err: Exception = exc
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if not retry:
                    raise AgentUnreachable(f"agent {self.url} stopped answering during {method} {path}: {exc}") from None
                err = exc
            else:
                if r.status_code in (502, 503) and retry and attempt < self.retries:
                    err = AgentRequestError(r.text, r.status_code)
                else:
                    self._raise_for(r, method, path)
                    return r
            if attempt < self.retries:
                time.sleep(self.backoff_s * (2 ** attempt))
        raise AgentUnreachable(
            f"agent {self.url} does not answer ({type(err).__name__}: {err}) after {self.retries + 1} tries: "
            "is `edgeplan agent` running there, and are the address, port and http/https right?"
        )

    def _raise_for(self, r: httpx.Response, method: str, path: str) -> None:
        if r.status_code < 400:
            return
        try:
            body = r.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        detail = body.get("detail", r.text)
        if isinstance(detail, list):  # FastAPI's validation errors
            detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail)
        text = f"agent {self.url}: {method} {path} answered {r.status_code}: {str(detail)[:500]}"
        if r.status_code == 401:
            raise AgentUnauthorized(f"agent {self.url} refused the token: give the token it printed at its first "
                                    "start (stored in its data folder as 'token'), e.g. with --token-file")
        if r.status_code == 404 and "error" not in body:  # the agent's own 404s name their kind
            raise AgentVersionMismatch(f"agent {self.url} has no {path}: it is not an edgeplan agent of API "
                                       f"v{API_VERSION} (upgrade one side)")
        if r.status_code in (429, 503):
            raise AgentBusy(text)
        raise AgentRequestError(text, r.status_code)

    def check(self) -> dict[str, Any]:
        """``/health``, checking the agent speaks this client's API version."""
        r = self._request("GET", "/health")
        try:
            info = r.json()
        except ValueError:
            info = {}
        if not isinstance(info, dict) or info.get("api_version") != API_VERSION:
            raise AgentVersionMismatch(
                f"agent {self.url} speaks API version {info.get('api_version') if isinstance(info, dict) else '?'}, "
                f"this planner speaks {API_VERSION}: install the same planner_app version on both sides"
            )
        self._checked = True
        return info

    def _v1(self, method: str, path: str, **kw: Any) -> httpx.Response:
        if not self._checked:
            self.check()
        return self._request(method, f"/v{API_VERSION}{path}", **kw)

    # -- the API --------------------------------------------------------------------
    def device(self) -> dict[str, Any]:
        """What the device is (CPU, cores, memory, OS, onnxruntime)."""
        return dict(self._v1("GET", "/device").json())

    def upload_part(self, data: bytes, name: str = "") -> str:
        """Store ``data`` on the agent (idempotent: content-addressed); returns its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        info = self._v1("POST", "/parts", params={"name": name}, content=data, retry=True,
                        headers={"Content-Type": "application/octet-stream"}).json()
        if info.get("sha256") != sha:
            raise AgentError(f"agent {self.url} stored the part under {info.get('sha256')!r}, not {sha}: the upload was damaged")
        return sha

    def parts(self) -> list[dict[str, Any]]:
        return list(self._v1("GET", "/parts").json()["parts"])

    def delete_part(self, sha: str) -> None:
        self._v1("DELETE", f"/parts/{sha}")

    def infer(self, sha: str, inputs: Mapping[str, np.ndarray], *, threads: int = 1,
              forward: list[dict[str, Any]] | None = None, codec: str = "none", slow_ms: float = 0.0,
              ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
        """Run part ``sha`` on ``inputs`` (and the hops of ``forward`` after it): (outputs, timings).

        ``codec``: a cut codec (fp16, int8) the float inputs cross in, decoded by the agent.
        ``slow_ms``: the agent adds this many ms to the part's compute (a slower device emulated;
        see the server's ``infer``). The call is retried (once per configured
        retry) when the agent cannot be reached: inference has no side effects. Each timing
        holds ``sent_at``: this machine's ``time.time()`` just before the inputs were encoded.
        """
        from planner_app.agent.frames import encode_cut
        from planner_app.agent.wire import WireError

        if not self._checked:
            self.check()
        sent_at = time.time()
        tensors, coded = encode_cut(dict(inputs), codec)
        headers = {"Content-Type": FRAME_MEDIA_TYPE}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if forward:
            headers["X-Edgeplan-Forward"] = json.dumps(forward)
        if coded:
            headers["X-Edgeplan-Codec"] = json.dumps(coded)
        query = f"threads={int(threads)}" + (f"&slow_ms={float(slow_ms)!r}" if slow_ms else "")
        path = f"/v{API_VERSION}/parts/{sha}/infer?{query}"
        body = encode_frames(tensors)
        for attempt in range(self.retries + 1):
            try:
                status, rh, content = self._pool.post(self.url + path, body, headers)
                break
            except WireError as exc:
                if attempt == self.retries:
                    raise AgentUnreachable(f"agent {self.url} does not answer ({exc}) after {self.retries + 1} tries: "
                                           "is `edgeplan agent` running there?") from None
                time.sleep(self.backoff_s * (2 ** attempt))
        if status >= 400:
            self._raise_for(httpx.Response(status, headers=rh, content=content), "POST", path)
        timings = json.loads(rh.get("x-edgeplan-timings", "[]"))
        if timings and isinstance(timings[0], dict):
            timings[0]["sent_at"] = sent_at
        return decode_frames(content), timings

    def deliver(self, tensors: Mapping[str, np.ndarray], *, codec: str = "none") -> float:
        """Deliver ``tensors`` to the agent (``/v1/deliver``, as a plan's last stage does); the one-way
        ms from beginning to encode here to the agent having decoded (meaningful when both share a clock)."""
        from planner_app.agent.frames import encode_cut
        from planner_app.agent.wire import WireError

        if not self._checked:
            self.check()
        sent_at = time.time()
        coded_tensors, coded = encode_cut(dict(tensors), codec)
        headers = {"Content-Type": FRAME_MEDIA_TYPE, "Authorization": f"Bearer {self.token}"}
        if coded:
            headers["X-Edgeplan-Codec"] = json.dumps(coded)
        path = f"/v{API_VERSION}/deliver"
        try:
            status, rh, content = self._pool.post(self.url + path, encode_frames(coded_tensors), headers)
        except WireError as exc:
            raise AgentUnreachable(f"agent {self.url} does not answer ({exc})") from None
        if status >= 400:
            self._raise_for(httpx.Response(status, headers=rh, content=content), "POST", path)
        return (float(json.loads(rh["x-edgeplan-timings"])[0]["received_at"]) - sent_at) * 1e3

    def install_run(self, run_id: str, program: Mapping[str, Any]) -> dict[str, Any]:
        """Install this agent's program of a plan run (see :mod:`planner_app.agent.dataflow`)."""
        return dict(self._v1("PUT", f"/runs/{run_id}", json=dict(program)).json())

    def remove_run(self, run_id: str) -> None:
        """Forget a run (its program and any request still in flight)."""
        self._v1("DELETE", f"/runs/{run_id}")

    def start_profile(self, sha: str, levels: list[str], **settings: Any) -> str:
        """Submit a profile job (never retried once it may have arrived); its id."""
        body = {"part": sha, "levels": list(levels), **settings}
        return str(self._v1("POST", "/jobs/profile", json=body, retry=False).json()["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self._v1("GET", f"/jobs/{job_id}").json())

    def cancel(self, job_id: str) -> None:
        self._v1("DELETE", f"/jobs/{job_id}")

    def events(self, job_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The job's server-sent events as (kind, data) until its final state."""
        if not self._checked:
            self.check()
        event, data = "message", ""
        try:
            with self._http.stream("GET", f"/v{API_VERSION}/jobs/{job_id}/events",
                                   timeout=httpx.Timeout(30.0, read=120.0)) as r:
                if r.status_code >= 400:
                    r.read()
                    self._raise_for(r, "GET", f"/jobs/{job_id}/events")
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif not line and data:
                        yield event, json.loads(data)
                        if event != "progress":
                            return
                        event, data = "message", ""
        except (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError) as exc:
            raise AgentJobFailed(f"agent {self.url} stopped in the middle of job {job_id} ({type(exc).__name__}): "
                                 "its results are lost; what was measured before is kept") from None
        raise AgentJobFailed(f"agent {self.url} closed the progress stream of job {job_id} before it finished "
                             "(the agent stopped?): its results are lost; what was measured before is kept")

    def wait(self, job_id: str, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Follow job ``job_id`` to its end, reporting progress; its result (or :class:`AgentJobFailed`)."""
        for kind, data in self.events(job_id):
            if kind == "progress" and progress is not None:
                progress(float(data.get("fraction", 0.0)), str(data.get("message", "")))
            elif kind in ("failed", "cancelled"):
                raise AgentJobFailed(f"job {job_id} on agent {self.url} {kind}: {data.get('error', '')}")
        job = self.job(job_id)
        if job.get("state") != "done" or job.get("result") is None:
            raise AgentJobFailed(f"job {job_id} on agent {self.url} ended {job.get('state')}: {job.get('error', '')}")
        return dict(job["result"])

    def profile(self, sha: str, levels: list[str], progress: ProgressFn | None = None, **settings: Any) -> ModelProfile:
        """Profile stored part ``sha`` at ``levels`` on the agent, following progress; the profile."""
        job_id = self.start_profile(sha, levels, **settings)
        result = self.wait(job_id, progress)
        try:
            return ModelProfile.from_dict(result)
        except (KeyError, TypeError, ValueError) as exc:
            raise AgentError(f"agent {self.url} returned a profile this planner cannot read ({exc}): "
                             "install the same planner_app version on both sides") from None

    def echo_ms(self, n: int = 10) -> list[float]:
        """Round-trip times of ``n`` echo probes, in ms."""
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            self._v1("GET", "/probe/echo")
            out.append((time.perf_counter() - t0) * 1e3)
        return out

    def upload_mbps(self, size_bytes: int) -> float:
        t0 = time.perf_counter()
        self._v1("POST", "/probe/upload", content=bytes(size_bytes))
        return 8 * size_bytes / 1e6 / (time.perf_counter() - t0)

    def download_mbps(self, size_bytes: int) -> float:
        t0 = time.perf_counter()
        r = self._v1("GET", "/probe/download", params={"size_bytes": size_bytes})
        return 8 * len(r.content) / 1e6 / (time.perf_counter() - t0)


@dataclass(frozen=True)
class AgentEntry:
    """One agent of a map file: its device, address and token (read from its file)."""

    device: str
    url: str
    token: str
    token_file: str = ""
    #: CA bundle that signed the agent's TLS certificate (a self-signed one itself); "" = the system's
    ca_file: str = ""

    def client(self, **kw: Any) -> AgentClient:
        return AgentClient(self.url, self.token, verify=self.ca_file or True, **kw)


def load_agent_map(path: str | Path) -> dict[str, AgentEntry]:
    """A map file ``{device id: {"url": ..., "token_file": ..., "ca_file": ...}}``; files relative to the map's folder.

    The token itself never sits in the map (it may be shared or committed); a
    missing field, a bad URL or an unreadable token file is an :class:`AgentError`.
    """
    from planner_app.agent.serve import AgentStartError, read_token_file

    path = Path(path)
    data = read_json(path, "agent map")
    if not isinstance(data, dict) or not data:
        raise AgentError(f"agent map '{path}' must be a JSON object: {{\"DEVICE\": {{\"url\": \"http://host:8765\", "
                         "\"token_file\": \"DEVICE.token\"}}, ...}")
    out: dict[str, AgentEntry] = {}
    for device, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise AgentError(f"agent map '{path}': {device!r} needs an object with a \"url\" string")
        if "token" in entry:
            raise AgentError(f"agent map '{path}': {device!r} holds a token; keep it in a file and name it with "
                             "\"token_file\" (the map may be shared)")
        token, tf = "", entry.get("token_file")
        if tf is not None:
            if not isinstance(tf, str):
                raise AgentError(f"agent map '{path}': {device!r}.token_file must be a path string")
            tpath = Path(tf) if Path(tf).is_absolute() else path.parent / tf
            try:
                token = read_token_file(tpath)
            except AgentStartError as exc:
                raise AgentError(f"agent map '{path}', device {device!r}: {exc.message}") from None
        if not entry["url"].startswith(("http://", "https://")):
            raise AgentError(f"agent map '{path}': {device!r}.url {entry['url']!r} must start with http:// or https://")
        ca = entry.get("ca_file")
        if ca is not None and not isinstance(ca, str):
            raise AgentError(f"agent map '{path}': {device!r}.ca_file must be a path string")
        ca_path = "" if not ca else str(Path(ca) if Path(ca).is_absolute() else path.parent / ca)
        out[str(device)] = AgentEntry(str(device), entry["url"], token, str(tf or ""), ca_path)
    return out


#: the OS keyring service that holds agent tokens (the user name is the agent's URL)
KEYRING_SERVICE = "edgeplan-agent"


def keyring_token(url: str, device: str = "") -> str:
    """The token stored in the OS keyring for the agent at ``url``; :class:`AgentError` when the optional
    ``keyring`` package is missing or holds none."""
    try:
        import keyring
    except ImportError:
        raise AgentError(f"device {device!r}: its agent token is to come from the OS keyring, but the 'keyring' "
                         "package is not installed: `pip install keyring`, or name a token file with "
                         "agent_token_file instead") from None
    try:
        token = keyring.get_password(KEYRING_SERVICE, url)
    except Exception as exc:  # noqa: BLE001 - the keyring backends' own errors (no backend, locked, ...)
        raise AgentError(f"device {device!r}: the OS keyring cannot be read ({type(exc).__name__}: {exc})") from None
    if not token:
        raise AgentError(f"device {device!r}: the OS keyring holds no token for {url} under service "
                         f"{KEYRING_SERVICE!r}: store it with `keyring set {KEYRING_SERVICE} {url}`")
    return str(token)


def topology_agents(topology: Any, base_dir: str | Path | None = None) -> dict[str, AgentEntry]:
    """The agents a topology's devices name (``agent_url``), with their tokens: from ``agent_token_file``
    (relative to ``base_dir``, the topology file's folder) or the OS keyring (``agent_token_keyring``)."""
    from planner_app.agent.serve import AgentStartError, read_token_file

    base = Path(base_dir) if base_dir is not None else Path.cwd()
    out: dict[str, AgentEntry] = {}
    for dev in topology.devices:
        if not dev.agent_url:
            continue
        token, tf = "", dev.agent_token_file or ""
        if tf:
            tpath = Path(tf) if Path(tf).is_absolute() else base / tf
            try:
                token = read_token_file(tpath)
            except AgentStartError as exc:
                raise AgentError(f"topology device {dev.id!r}, agent_token_file: {exc.message}") from None
        elif dev.agent_token_keyring:
            token = keyring_token(dev.agent_url, dev.id)
        ca = dev.agent_ca_file or ""
        if ca and not Path(ca).is_absolute():
            ca = str(base / ca)
        out[dev.id] = AgentEntry(dev.id, dev.agent_url, token, tf, ca)
    return out
