"""Named tensors on the wire: a compact binary of ``.npy`` frames.

A message is the magic ``EPF1``, the tensor count (u32, little-endian), then per
tensor its name (u16 length + UTF-8) and one ``.npy`` file (u64 length + the bytes
``numpy.save`` writes, ``allow_pickle=False``). No pickle, no zip, no JSON floats:
encoding and decoding cost one copy of the data. Decoding is strict (bounded count,
name length, dtype kinds and total size) and any fault is a :class:`FrameError`,
which the agent answers with HTTP 400.

Example
-------
>>> import numpy as np
>>> blob = encode_frames({"x": np.arange(3, dtype=np.float32)})
>>> decode_frames(blob)["x"].tolist()
[0.0, 1.0, 2.0]
"""

from __future__ import annotations

__all__ = ["FRAME_MEDIA_TYPE", "FrameError", "encode_frames", "decode_frames", "encode_cut", "decode_cut"]

import io
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from planner_app.core.errors import PlannerError

FRAME_MEDIA_TYPE = "application/x-edgeplan-frames"
_MAGIC = b"EPF1"
_MAX_TENSORS = 256
_MAX_NAME = 1024
#: numeric kinds only: bool, signed/unsigned int, float, complex (no objects, strings, void)
_KINDS = set("biufc")


class FrameError(PlannerError):
    """Bytes that are not a valid tensor-frames message; the message says where it broke."""


def encode_frames(tensors: Mapping[str, np.ndarray]) -> bytes:
    """``tensors`` as one frames message (see the module docstring)."""
    out = io.BytesIO()
    out.write(_MAGIC + struct.pack("<I", len(tensors)))
    for name, value in tensors.items():
        raw = name.encode("utf-8")
        buf = io.BytesIO()
        np.save(buf, np.asarray(value), allow_pickle=False)
        data = buf.getvalue()
        out.write(struct.pack("<H", len(raw)) + raw + struct.pack("<Q", len(data)))
        out.write(data)
    return out.getvalue()


def decode_frames(blob: bytes, *, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """The tensors of a frames message; :class:`FrameError` when it is malformed or too large."""
    if max_bytes is not None and len(blob) > max_bytes:
        raise FrameError(f"tensor frames of {len(blob)} bytes exceed the limit of {max_bytes} bytes")
    view = memoryview(blob)
    if len(view) < 8 or bytes(view[:4]) != _MAGIC:
        raise FrameError("not tensor frames: the message must start with 'EPF1' (encode with encode_frames)")
    (count,) = struct.unpack_from("<I", view, 4)
    if count > _MAX_TENSORS:
        raise FrameError(f"tensor frames declare {count} tensors; at most {_MAX_TENSORS} are accepted")
    pos = 8
    tensors: dict[str, np.ndarray] = {}
    for i in range(count):
        if pos + 2 > len(view):
            raise FrameError(f"tensor frames end inside the header of tensor {i}")
        (n,) = struct.unpack_from("<H", view, pos)
        pos += 2
        if n == 0 or n > _MAX_NAME or pos + n + 8 > len(view):
            raise FrameError(f"tensor {i}: bad name length {n} (1..{_MAX_NAME}, within the message)")
        try:
            name = bytes(view[pos:pos + n]).decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError(f"tensor {i}: its name is not UTF-8") from None
        pos += n
        (size,) = struct.unpack_from("<Q", view, pos)
        pos += 8
        if size > len(view) - pos:
            raise FrameError(f"tensor {name!r}: declares {size} bytes but only {len(view) - pos} remain")
        try:
            arr = np.load(io.BytesIO(view[pos:pos + size]), allow_pickle=False)
        except (ValueError, OSError, EOFError, TypeError) as exc:
            raise FrameError(f"tensor {name!r}: not a .npy array ({exc})") from None
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in _KINDS:
            raise FrameError(f"tensor {name!r}: dtype {getattr(arr, 'dtype', '?')} is not numeric")
        if name in tensors:
            raise FrameError(f"tensor {name!r} appears twice")
        tensors[name] = arr
        pos += size
    if pos != len(view):
        raise FrameError(f"{len(view) - pos} stray bytes after the last tensor")
    return tensors


def encode_cut(tensors: dict[str, np.ndarray], codec: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Float tensors encoded with cut codec ``codec`` (payloads as uint8 arrays) and what decoding needs."""
    from planner_app.core.compression.cut_codecs import CODECS, encode_tensor

    if codec not in CODECS:
        raise PlannerError(f"unknown cut codec {codec!r}: choose one of {', '.join(CODECS)}")
    if codec == "none":
        return tensors, {}
    out, meta = dict(tensors), {}
    for name, value in tensors.items():
        if value.dtype.kind == "f":
            enc = encode_tensor(value, codec)
            out[name] = np.frombuffer(enc.payload, dtype=np.uint8)
            meta[name] = {"codec": codec, "shape": list(enc.shape), "dtype": enc.dtype}
    return out, meta


def decode_cut(tensors: dict[str, np.ndarray], meta: Any) -> dict[str, np.ndarray]:
    """Undo :func:`encode_cut`; malformed metadata or payloads are :class:`FrameError`."""
    from planner_app.core.compression.cut_codecs import EncodedTensor, decode_tensor

    if not meta:
        return tensors
    if not isinstance(meta, dict):
        raise FrameError("X-Edgeplan-Codec must be a JSON object {tensor: {codec, shape, dtype}}")
    out = dict(tensors)
    for name, m in meta.items():
        try:
            assert name in tensors and isinstance(m, dict) and m["codec"] in ("fp16", "int8")
            assert m["dtype"] in ("float16", "float32", "float64")
            shape = tuple(int(d) for d in m["shape"])
            out[name] = decode_tensor(EncodedTensor(m["codec"], shape, m["dtype"], tensors[name].tobytes()))
        except (AssertionError, KeyError, TypeError, ValueError, struct.error):
            raise FrameError(f"tensor {name!r}: its X-Edgeplan-Codec entry does not decode its payload") from None
    return out
