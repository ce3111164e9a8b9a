"""Type-checking a record read from a file against its dataclass annotations.

Profile files come from elsewhere (another host, an agent, a hand edit): a
field of the wrong type (``null`` for a list, a list for a name, ``true`` for a
number) must be refused on load, naming the field, not fail later inside the
planner. :func:`type_problems` walks a dataclass instance and lists each field
whose value does not match its annotation; numbers must be finite unless the
field may be NaN (a figure not measured).

>>> from planner_app.core.compression.cut_codecs import CutCodec
>>> type_problems(CutCodec(name="x", wire_ratio="half"), "cut_codecs.x")
['cut_codecs.x.wire_ratio: expected a number, got str']
"""

from __future__ import annotations

__all__ = ["type_problems"]

import dataclasses
import math
import types
import typing
from typing import Any


def _check(value: Any, tp: Any, where: str, out: list[str], nan_ok: bool) -> None:
    origin = typing.get_origin(tp)
    if tp is Any:
        return
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            _check(value, rest[0], where, out, nan_ok)
            return
        if not any(not _problems_of(value, a, where, nan_ok) for a in rest):
            out.append(f"{where}: {type(value).__name__} does not fit {tp}")
        return
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append(f"{where}: expected a number, got {type(value).__name__}")
        elif not (math.isfinite(value) or (nan_ok and math.isnan(value))):
            out.append(f"{where}: {value} is not a finite number")
        return
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(f"{where}: expected a whole number, got {type(value).__name__}")
        return
    if tp in (str, bool):
        if not isinstance(value, tp):
            out.append(f"{where}: expected {'text' if tp is str else 'true or false'}, got {type(value).__name__}")
        return
    if origin is list:
        if not isinstance(value, list):
            out.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        (item,) = typing.get_args(tp) or (Any,)
        for i, v in enumerate(value):
            _check(v, item, f"{where}[{i}]", out, nan_ok)
        return
    if origin is dict:
        if not isinstance(value, dict):
            out.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        key_tp, val_tp = typing.get_args(tp) or (Any, Any)
        for k, v in value.items():
            _check(k, key_tp, f"{where} key {k!r}", out, nan_ok)
            _check(v, val_tp, f"{where}.{k}", out, nan_ok)
        return
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, tp):
            out.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        out.extend(type_problems(value, where))


def _problems_of(value: Any, tp: Any, where: str, nan_ok: bool) -> list[str]:
    out: list[str] = []
    _check(value, tp, where, out, nan_ok)
    return out


def type_problems(record: Any, where: str = "", *, nan_ok: bool = True) -> list[str]:
    """Every field of the dataclass ``record`` (recursively) whose value does not match its annotation."""
    hints = typing.get_type_hints(type(record))
    out: list[str] = []
    for f in dataclasses.fields(record):
        _check(getattr(record, f.name), hints.get(f.name, Any), f"{where}.{f.name}" if where else f.name, out,
               nan_ok)
    return out
