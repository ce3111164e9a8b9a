"""Atomic file writes, hashing and JSON reading with clear errors.

A write goes to a temporary file in the same folder, is flushed to disk, then
renamed over the target: a failure leaves the previous file intact and no
half-written file behind.
"""

from __future__ import annotations

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "read_bytes",
    "read_json",
    "sha256_bytes",
    "sha256_file",
    "cache_dir",
]

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from planner_app.core.errors import InputFileError, PlannerError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp makes 0600 files; keep the old file's mode, else the umask default
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON (stable key order as given) atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_bytes(
    path: str | os.PathLike[str],
    what: str = "file",
    *,
    error: type[PlannerError] = InputFileError,
    suffix: str = ".json",
    hint: str = "check the path",
) -> bytes:
    """Read a whole file, raising ``error`` that names the file when it is missing,
    a directory, or unreadable."""
    p = Path(path)
    if not p.exists():
        raise error(f"{what} '{p}' does not exist: {hint}.")
    if p.is_dir():
        raise error(f"{what} '{p}' is a directory: give the path of a {suffix} file inside it.")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise error(f"{what} '{p}' cannot be read: {exc.strerror or exc}.") from None


def read_json(path: str | os.PathLike[str], what: str = "file") -> Any:
    """Read a JSON file, raising :class:`InputFileError` that names the file and the problem."""
    p = Path(path)
    raw = read_bytes(p, what)
    if not raw.strip():
        raise InputFileError(f"{what} '{p}' is empty: expected a JSON document.")
    try:
        # utf-8-sig: editors on Windows may start the file with a byte-order mark
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputFileError(f"{what} '{p}' is not UTF-8 text: is it really a JSON file?") from None
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(raw.rstrip()) - 1 else ""
        msg = exc.msg.removesuffix(" at").removesuffix(" starting")
        raise InputFileError(
            f"{what} '{p}' is not valid JSON at line {exc.lineno}, column {exc.colno}: {msg.lower()}{hint}."
        ) from None


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir(sub: str = "") -> Path:
    """The planner's cache folder (``$PLANNER_CACHE_DIR`` or ``~/.cache/planner_app``)."""
    base = os.environ.get("PLANNER_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "planner_app"
    )
    p = Path(base) / sub if sub else Path(base)
    p.mkdir(parents=True, exist_ok=True)
    return p
