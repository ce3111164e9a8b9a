"""The on-disk cache of level profiles.

One JSON file per (model sha256, input shapes, level, settings, samples, host,
variant file) under ``cache_dir("profiles")``. Files are written atomically, so an
interrupted profile never leaves a half-written entry; a file that does not parse
or holds another key is ignored with a warning and measured again. The cache is
best-effort: a cache folder that cannot be created or written (a full disk, a
read-only home) is warned about once per process and the work goes on uncached.

Example
-------
>>> k = level_key(model_sha256="ab", input_shapes={"x": [1, 3]}, level="fp32", settings={},
...               host="h", samples="s")
>>> len(k)
40
"""

from __future__ import annotations

__all__ = ["digest", "level_key", "entry_path", "get", "put", "file_sha"]

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any, cast

from planner_app.core.errors import PlannerError
from planner_app.core.fileio import (
    atomic_write_json,
    cache_dir,
    parse_json,
    read_bytes,
    sha256_file,
)

CACHE_FORMAT = 2


def digest(parts: Any) -> str:
    """sha256 of a JSON-able value, with sorted keys."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def file_sha(path: str | Path | None) -> str:
    """sha256 of a file, or '' for None (no variant file)."""
    return sha256_file(path) if path else ""


def level_key(*, model_sha256: str, input_shapes: dict[str, list[int]], level: str, settings: dict[str, Any],
              host: str, samples: str, variant_sha256: str = "") -> str:
    """The cache key of one level's profile: any change in its parts is a miss."""
    return digest({
        "format": CACHE_FORMAT, "model": model_sha256, "shapes": input_shapes, "level": level,
        "settings": settings, "host": host, "samples": samples, "variant": variant_sha256,
    })[:40]


#: cache folders already warned about as unwritable (warn once, then go on quietly)
_WARNED: set[str] = set()


def _warn_once(where: str, exc: OSError) -> None:
    if _WARNED:  # once per run, whichever of the cache's folders failed first (they share a root)
        return
    _WARNED.add(where)
    warnings.warn(f"the profile cache '{where}' cannot be used ({exc.strerror or exc}): measuring without it; "
                  "free space there or set PLANNER_CACHE_DIR to a writable folder", RuntimeWarning, stacklevel=3)


def entry_path(key: str, folder: str = "profiles") -> Path:
    """Where the entry for ``key`` lives (creates the cache folder; raises OSError when it cannot).

    ``folder`` keeps other records (the last profile of each level, chained-run overheads)
    apart from the level profiles."""
    return cache_dir(folder) / f"{key}.json"


def get(key: str, folder: str = "profiles") -> dict[str, Any] | None:
    """The cached level profile for ``key``; None on a miss, a corrupted file or an unusable cache (warned)."""
    try:
        path = entry_path(key, folder)
    except OSError as exc:
        _warn_once(str(exc.filename or "cache"), exc)
        return None
    if not path.exists():
        return None
    try:
        data = parse_json(read_bytes(path, "profile cache file"), f"profile cache file '{path}'")
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("key") != key \
                or not isinstance(data.get("level"), dict):
            raise ValueError("it holds another entry or an old format")
        return cast("dict[str, Any]", data["level"])
    except (PlannerError, ValueError) as exc:
        warnings.warn(f"profile cache file '{path}' is corrupted ({exc}); ignoring it and measuring again",
                      RuntimeWarning, stacklevel=2)
        return None


def put(key: str, level: dict[str, Any], folder: str = "profiles") -> Path | None:
    """Store a level profile under ``key`` (atomically); None when the cache cannot take it (warned once)."""
    try:
        path = entry_path(key, folder)
        return atomic_write_json(path, {"format": CACHE_FORMAT, "key": key, "level": level})
    except OSError as exc:
        _warn_once(str(exc.filename or cache_dir.__name__), exc)
        return None
