"""Atomic file writes, hashing, and safe reads of untrusted files.

A write goes to a temporary file in the same folder, is flushed to disk, then
renamed over the target: a failure leaves the previous file intact and no
half-written file behind.

Every file the tool reads comes from elsewhere and is untrusted. This module is
the one place that reads them: only regular files are opened (a FIFO would
block, ``/dev/zero`` never ends), never more than a size cap that the error
names (:data:`MAX_JSON_BYTES`, :data:`MAX_MODEL_BYTES`), and JSON nesting is
bounded (:data:`MAX_JSON_DEPTH`) before the parser sees the text, so a deeply
nested document is a clear error instead of a ``RecursionError``.
:func:`inside_folder` resolves a path a file names (symlinks included) and
refuses it when it leaves the folder that file sits in.
"""

from __future__ import annotations

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "read_bytes",
    "read_json",
    "parse_json",
    "json_depth",
    "first_non_finite",
    "inside_folder",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_MODEL_BYTES",
    "sha256_bytes",
    "sha256_file",
    "cache_dir",
]

import contextlib
import hashlib
import json
import math
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

from planner_app.core.errors import InputFileError, PlannerError

#: the largest JSON document read (topologies, plans, profiles, imported times)
MAX_JSON_BYTES = 64 * 1024 * 1024
#: the deepest nesting of arrays and objects a JSON document may have
MAX_JSON_DEPTH = 64
#: the largest ONNX file read whole (protobuf itself stops at 2 GiB)
MAX_MODEL_BYTES = 2 * 1024 * 1024 * 1024


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


def _size_text(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def read_bytes(
    path: str | os.PathLike[str],
    what: str = "file",
    *,
    error: type[PlannerError] = InputFileError,
    suffix: str = ".json",
    hint: str = "check the path",
    max_bytes: int = MAX_JSON_BYTES,
) -> bytes:
    """Read a whole regular file of at most ``max_bytes``.

    Raises ``error`` naming the file when it is missing, a directory, not a
    regular file (a FIFO, a device such as ``/dev/zero``, a socket), larger
    than ``max_bytes`` (the message names the limit), or unreadable.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise error(f"{what} '{p}' does not exist: {hint}.") from None
    except OSError as exc:
        raise error(f"{what} '{p}' cannot be read: {exc.strerror or exc}.") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what} '{p}' is a directory: give the path of a {suffix} file inside it.")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} '{p}' is not a regular file (a device, pipe or socket): give a {suffix} file.")
    if st.st_size > max_bytes:
        raise error(f"{what} '{p}' is {_size_text(st.st_size)}, above the limit of {_size_text(max_bytes)} "
                    f"for a {suffix} file: is it the right file?")
    try:
        # O_NONBLOCK: should the path turn into a FIFO after the check, opening it must not block
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise error(f"{what} '{p}' cannot be read: {exc.strerror or exc}.") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error(f"{what} '{p}' is not a regular file (a device, pipe or socket): give a {suffix} file.")
        chunks: list[bytes] = []
        total = 0
        while True:
            block = os.read(fd, min(1 << 24, max_bytes + 1 - total))
            if not block:
                break
            chunks.append(block)
            total += len(block)
            if total > max_bytes:  # the file grew while being read
                raise error(f"{what} '{p}' is larger than the limit of {_size_text(max_bytes)} for a "
                            f"{suffix} file: is it the right file?")
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"{what} '{p}' cannot be read: {exc.strerror or exc}.") from None
    finally:
        os.close(fd)


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[]``/``{}`` in JSON text (brackets inside strings do not count).

    >>> json_depth(b'{"a": [1, [2]], "b": "[[["}')
    3
    """
    return _bracket_depth(_JSON_STRING.sub(b'""', raw))


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _bracket_depth(raw: bytes) -> int:
    import numpy as np

    brackets = raw.translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def parse_json(raw: bytes, label: str, *, max_depth: int = MAX_JSON_DEPTH,
               error: type[PlannerError] = InputFileError) -> Any:
    """Parse JSON bytes from an untrusted source; ``label`` names it in errors (``"plan file 'p.json'"``).

    Nesting deeper than ``max_depth`` is refused before parsing. ``NaN`` and
    ``Infinity`` parse as floats, so the records that read them can name the
    field (see :func:`first_non_finite`).
    """
    if not raw.strip():
        raise error(f"{label} is empty: expected a JSON document.")
    # brackets inside strings only add to the quick count: scan strings only when it is too deep
    depth = _bracket_depth(raw)
    if depth > max_depth:
        depth = json_depth(raw)
    if depth > max_depth:
        raise error(f"{label} nests arrays and objects {depth} deep, above the limit of {max_depth}: "
                    "it is not a file this tool wrote; check it.")


    try:
        # utf-8-sig: editors on Windows may start the file with a byte-order mark
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise error(f"{label} is not UTF-8 text: is it really a JSON file?") from None
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(raw.rstrip()) - 1 else ""
        msg = exc.msg.removesuffix(" at").removesuffix(" starting")
        raise error(
            f"{label} is not valid JSON at line {exc.lineno}, column {exc.colno}: {msg.lower()}{hint}."
        ) from None
    except (ValueError, RecursionError) as exc:  # integers of more than 4300 digits
        raise error(f"{label} is not valid JSON: {exc}.") from None


def first_non_finite(data: Any, where: str = "") -> str | None:
    """The dotted path of the first NaN or infinite number in a parsed document, or None.

    >>> first_non_finite({"totals": {"latency_ms": float("inf")}})
    'totals.latency_ms'
    """
    if isinstance(data, float):
        return None if math.isfinite(data) else (where or "(document)")
    if isinstance(data, dict):
        for k, v in data.items():
            found = first_non_finite(v, f"{where}.{k}" if where else str(k))
            if found:
                return found
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found = first_non_finite(v, f"{where}[{i}]")
            if found:
                return found
    return None


def read_json(path: str | os.PathLike[str], what: str = "file", *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Read a JSON file safely (regular file, size cap, bounded nesting); errors are
    :class:`InputFileError` naming the file and the problem."""
    p = Path(path)
    raw = read_bytes(p, what, max_bytes=max_bytes)
    return parse_json(raw, f"{what} '{p}'")


def inside_folder(folder: str | os.PathLike[str], relative: str) -> Path | None:
    """``folder / relative`` with every symlink resolved, or None when that leaves ``folder``.

    A file that names other files (a plan naming its parts) must not make the
    tool read outside its own folder: not with ``..``, not with an absolute
    path, and not through a symlink, whether the link is the file or a folder
    on the way.
    """
    base = Path(folder).resolve()
    try:
        target = (base / relative).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return target if target == base or base in target.parents else None


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
