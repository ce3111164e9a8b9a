"""Compressed tensors on a cut: encode the activations that cross a link.

Two codecs beyond ``none``: ``fp16`` (half the bytes) and ``int8`` (a quarter,
asymmetric per-tensor with a scale and a zero point carried in a 12-byte header).
:func:`measure_cut_codecs` times encode and decode on this host and measures the
error they introduce, so the optimizer weighs real costs, not guesses.

Example
-------
>>> x = np.linspace(-1, 1, 1000, dtype=np.float32)
>>> enc = encode_tensor(x, "int8")
>>> len(enc.payload), float(np.abs(decode_tensor(enc) - x).max()) < 0.01
(1000, True)
"""

from __future__ import annotations

__all__ = ["CutCodec", "DEFAULT_CUT_CODECS", "CODECS", "EncodedTensor", "encode_tensor", "decode_tensor", "measure_cut_codecs"]

import struct
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CutCodec:
    """How activations crossing a link are encoded on the wire.

    ``wire_ratio`` scales the bytes sent; encode/decode cost is per MB of the
    uncompressed tensor on the host (scaled to devices by the device model);
    ``fidelity`` is the measured effect on outputs (1.0 = lossless).
    """

    name: str
    wire_ratio: float
    encode_ms_per_mb: float = 0.0
    decode_ms_per_mb: float = 0.0
    fidelity: float = 1.0


#: defaults until measured on this host (profiling replaces the costs with measurements)
DEFAULT_CUT_CODECS: dict[str, CutCodec] = {
    "none": CutCodec("none", 1.0),
    "fp16": CutCodec("fp16", 0.5, 0.3, 0.3, 0.9999),
    "int8": CutCodec("int8", 0.25, 0.6, 0.4, 0.999),
}


CODECS = ("none", "fp16", "int8")
_HEADER = struct.Struct("<ff")  # scale, zero point (as float to keep it exact for uint8 range)


@dataclass(frozen=True)
class EncodedTensor:
    """What goes on the wire: codec, original shape and dtype, and the bytes."""

    codec: str
    shape: tuple[int, ...]
    dtype: str
    payload: bytes

    @property
    def wire_bytes(self) -> int:
        """Bytes sent (the int8 payload starts with its scale and zero point)."""
        return len(self.payload)


def encode_tensor(x: np.ndarray, codec: str) -> EncodedTensor:
    """Encode a float tensor with ``codec`` (``none``, ``fp16`` or ``int8``)."""
    x = np.asarray(x)
    if codec == "none":
        return EncodedTensor(codec, x.shape, str(x.dtype), x.tobytes())
    if codec == "fp16":
        return EncodedTensor(codec, x.shape, str(x.dtype), x.astype(np.float16).tobytes())
    if codec == "int8":
        lo = float(min(x.min(), 0.0)) if x.size else 0.0
        hi = float(max(x.max(), 0.0)) if x.size else 0.0
        scale = (hi - lo) / 255.0 or 1.0
        zero_point = float(np.round(-lo / scale))
        q = np.clip(np.round(x / scale) + zero_point, 0, 255).astype(np.uint8)
        return EncodedTensor(codec, x.shape, str(x.dtype), _HEADER.pack(scale, zero_point) + q.tobytes())
    raise ValueError(f"unknown cut codec '{codec}': choose one of {', '.join(CODECS)}")


def decode_tensor(enc: EncodedTensor) -> np.ndarray:
    """Turn an :class:`EncodedTensor` back into an array of its original dtype."""
    if enc.codec == "none":
        return np.frombuffer(enc.payload, dtype=enc.dtype).reshape(enc.shape)
    if enc.codec == "fp16":
        return np.frombuffer(enc.payload, dtype=np.float16).reshape(enc.shape).astype(enc.dtype)
    scale: float
    zero_point: float
    scale, zero_point = _HEADER.unpack_from(enc.payload)
    q = np.frombuffer(enc.payload, dtype=np.uint8, offset=_HEADER.size).reshape(enc.shape)
    return ((q.astype(np.float32) - zero_point) * scale).astype(enc.dtype)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    den = float(np.linalg.norm(a64) * np.linalg.norm(b64))
    return 1.0 if den == 0 else float(a64 @ b64 / den)


def measure_cut_codecs(
    tensors: list[np.ndarray] | None = None, *, repeats: int = 5, tensor_mb: float = 1.0, seed: int = 0
) -> dict[str, CutCodec]:
    """Time encode/decode of each codec on this host and measure its fidelity.

    ``tensors`` are real activations to test on (the cut tensors of a model);
    without them a ReLU-like tensor of ``tensor_mb`` MB stands in. Costs are the
    median over ``repeats`` in ms per MB of uncompressed tensor; ``wire_ratio``
    is wire bytes / raw bytes; ``fidelity`` is the cosine similarity after a round trip.
    """
    if not tensors:
        rng = np.random.default_rng(seed)
        n = max(1, int(tensor_mb * 1e6 / 4))
        tensors = [np.maximum(rng.standard_normal(n).astype(np.float32), 0)]
    tensors = [np.ascontiguousarray(t, dtype=np.float32) for t in tensors]
    raw_mb = sum(t.nbytes for t in tensors) / 1e6
    out: dict[str, CutCodec] = {}
    for codec in CODECS:
        enc_ms, dec_ms = [], []
        encoded: list[EncodedTensor] = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            encoded = [encode_tensor(t, codec) for t in tensors]
            t1 = time.perf_counter()
            decoded = [decode_tensor(e) for e in encoded]
            t2 = time.perf_counter()
            enc_ms.append((t1 - t0) * 1e3)
            dec_ms.append((t2 - t1) * 1e3)
        wire = sum(e.wire_bytes for e in encoded)
        fid = min(_cosine(t, d) for t, d in zip(tensors, decoded, strict=True))
        if codec == "none":
            # sending raw bytes costs no encode/decode work beyond the copy the transport does anyway
            out[codec] = CutCodec("none", 1.0)
            continue
        out[codec] = CutCodec(
            codec,
            wire_ratio=wire / (raw_mb * 1e6),
            encode_ms_per_mb=float(np.median(enc_ms)) / raw_mb,
            decode_ms_per_mb=float(np.median(dec_ms)) / raw_mb,
            fidelity=fid,
        )
    return out
