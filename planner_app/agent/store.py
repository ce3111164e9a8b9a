"""The agent's model parts on disk: content-addressed, checked, written atomically.

A part is stored as ``<data_dir>/parts/<sha256>.onnx`` with its description in
``<sha256>.json`` beside it. The only piece of a request that ever reaches a path
is the sha256, and only after it matched ``[0-9a-f]{64}``; a name the client gives
is kept as metadata, never as a file name. A part is accepted only when it parses
as ONNX, holds no external-data references (those would be paths on this
machine) and onnxruntime opens it; parts survive a restart of the agent.

Example
-------
>>> store = PartStore(Path("/tmp/agent-data"))            # doctest: +SKIP
>>> info = store.put(open("part.onnx", "rb").read(), "stage0")  # doctest: +SKIP
>>> store.path(info.sha256).exists()                       # doctest: +SKIP
True
"""

from __future__ import annotations

__all__ = ["PartInfo", "PartStore", "PartRejected", "NotOnnx", "UnknownPart", "check_sha256"]

import contextlib
import hashlib
import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import atomic_write_bytes, atomic_write_json

_SHA = re.compile(r"[0-9a-f]{64}")


class NotOnnx(PlannerError):
    """The uploaded bytes are not an ONNX model (HTTP 415)."""


class PartRejected(PlannerError):
    """An ONNX model the agent will not store: external data, or onnxruntime rejects it (HTTP 422)."""


class UnknownPart(PlannerError):
    """No stored part has this sha256 (HTTP 404)."""


def check_sha256(text: str) -> str:
    """``text`` if it is a lowercase sha256 hex digest; else :class:`UnknownPart`."""
    if not isinstance(text, str) or not _SHA.fullmatch(text):
        raise UnknownPart(f"{text[:80]!r} is not a part id: a part is named by the sha256 (64 hex digits) of its bytes")
    return text


@dataclass
class TensorInfo:
    """One input or output of a part as onnxruntime sees it (dynamic dims are strings or None)."""

    name: str
    shape: list[Any]
    dtype: str


@dataclass
class PartInfo:
    """What the agent knows of a stored part."""

    sha256: str
    size_bytes: int
    name: str
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    stored_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PartInfo:
        return cls(sha256=d["sha256"], size_bytes=int(d["size_bytes"]), name=str(d.get("name", "")),
                   inputs=[TensorInfo(**t) for t in d.get("inputs", [])],
                   outputs=[TensorInfo(**t) for t in d.get("outputs", [])], stored_at=float(d.get("stored_at", 0)))


def _clean_name(name: str) -> str:
    """A display name: printable, bounded (it is never a path)."""
    return "".join(c for c in name if c.isprintable())[:120] or "part"


def _inspect(data: bytes) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """Inputs and outputs of ``data`` after checking it is a self-contained ONNX model onnxruntime opens."""
    import onnx
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # noqa: BLE001 - protobuf's decode errors vary by version
        raise NotOnnx(f"the upload is not an ONNX model ({str(exc)[:200]}): send the bytes of a .onnx file") from None
    if model.ir_version <= 0 or not model.graph.node:
        raise NotOnnx("the upload is not an ONNX model (no IR version or no nodes): send the bytes of a .onnx file")
    if any(uses_external_data(t) for t in _get_all_tensors(model)):
        raise PartRejected("the part keeps weights in external data files: save it with the weights inside "
                           "(onnx.save(model, path, save_as_external_data=False)) and upload again")
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        sess = ort.InferenceSession(data, sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types
        raise PartRejected(f"onnxruntime {ort.__version__} cannot open the part: {str(exc).splitlines()[0][:300]}") from None

    def info(args: list[Any]) -> list[TensorInfo]:
        return [TensorInfo(a.name, [d if isinstance(d, int) else None for d in a.shape], str(a.type)) for a in args]

    return info(sess.get_inputs()), info(sess.get_outputs())


class PartStore:
    """Stored parts under ``root/parts``: put, get, list, delete (thread-safe)."""

    def __init__(self, root: Path) -> None:
        self.dir = Path(root) / "parts"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def path(self, sha256: str) -> Path:
        """The file of a part (the sha256 is checked first)."""
        return self.dir / f"{check_sha256(sha256)}.onnx"

    def _meta(self, sha256: str) -> Path:
        return self.dir / f"{check_sha256(sha256)}.json"

    def put(self, data: bytes, name: str = "") -> PartInfo:
        """Check and store ``data``; storing the same bytes again returns the stored part."""
        sha = hashlib.sha256(data).hexdigest()
        with contextlib.suppress(UnknownPart):
            return self.get(sha)
        inputs, outputs = _inspect(data)
        info = PartInfo(sha, len(data), _clean_name(name), inputs, outputs, time.time())
        with self._lock:
            atomic_write_bytes(self.path(sha), data)
            atomic_write_json(self._meta(sha), info.to_dict())  # last: a part without it is not listed
        return info

    def get(self, sha256: str) -> PartInfo:
        """The description of a stored part; :class:`UnknownPart` if none."""
        meta = self._meta(sha256)
        if not meta.is_file() or not self.path(sha256).is_file():
            raise UnknownPart(f"no part {sha256[:12]}… is stored on this agent: upload it first (POST /v1/parts)")
        try:
            return PartInfo.from_dict(json.loads(meta.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise UnknownPart(f"part {sha256[:12]}…'s description is damaged ({exc}): upload it again") from None

    def read(self, sha256: str) -> bytes:
        """The bytes of a stored part."""
        self.get(sha256)
        return self.path(sha256).read_bytes()

    def list(self) -> list[PartInfo]:
        """Every stored part, oldest first."""
        out = []
        for meta in self.dir.glob("*.json"):
            if _SHA.fullmatch(meta.stem):
                with contextlib.suppress(UnknownPart):
                    out.append(self.get(meta.stem))
        return sorted(out, key=lambda p: p.stored_at)

    def delete(self, sha256: str) -> None:
        """Remove a stored part; :class:`UnknownPart` if none."""
        self.get(sha256)
        with self._lock:
            self._meta(sha256).unlink(missing_ok=True)
            self.path(sha256).unlink(missing_ok=True)
