"""The compression levels, as a registry of :class:`CompressionLevel` records.

Adding a level is one :func:`register_level` call: below for a built-in one, or in
your own code before planning. Everything that handles levels reads the record:
:func:`~planner_app.core.compression.levels.compress` runs its transform, the device
model its ``precision`` and ``weight_size_factor``, plan building and checking its
``needs_calibration`` and ``lossless``, the CLI its name and description.

========================  ==============================================================
``fp32``                  the model as given (the reference every fidelity is measured against)
``fp16``                  weights and activations in half precision (input/output types kept)
``int8-dynamic``          onnxruntime ``quantize_dynamic``: int8 weights, activations
                          quantized at run time
``int8-static``           QDQ, per-channel, calibrated on user samples (or synthetic inputs,
                          and the result says so)
``pruned-50``/``-75``     magnitude pruning: the smallest 50 / 75 % of each weight tensor set
                          to zero. The model stays dense: what shrinks is the size when
                          stored compressed; any speed change is measured, never assumed
``variant:NAME``          a model the user supplies (e.g. a distilled student) with its own
                          file: a *family* of levels, resolved by :func:`get_level`
========================  ==============================================================

Example
-------
>>> level = get_level("int8-static")
>>> level.precision, level.weight_size_factor, level.needs_calibration
('int8', 0.25, True)
>>> get_level("variant:student").precision
'fp32'
>>> "fp16" in level_names()
True
"""

from __future__ import annotations

__all__ = [
    "REFERENCE_LEVEL",
    "PRECISIONS",
    "BUILTIN_LEVELS",
    "VARIANT_PREFIX",
    "CompressionLevel",
    "LevelFamily",
    "LevelRegistryError",
    "Transform",
    "register_level",
    "unregister_level",
    "get_level",
    "level_names",
    "levels",
    "families",
    "is_known_level",
    "level_precision",
    "levels_help",
]

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx

from planner_app.core.compression import transforms
from planner_app.core.compression.calibration import CompressionError, SampleSet
from planner_app.core.compression.transforms import Transformed

#: the level every fidelity is measured against and a part falls back to when its level does not apply
REFERENCE_LEVEL = "fp32"
#: ``variant:NAME``: a model the user supplies, measured as a level of its own
VARIANT_PREFIX = "variant:"
#: the arithmetic precisions a device can offer (topology ``Device.precisions``)
PRECISIONS = ("fp32", "fp16", "int8")

#: fp32 model (+ calibration samples when the level needs them) -> compressed model or why not
Transform = Callable[[onnx.ModelProto, SampleSet | None], Transformed]


class LevelRegistryError(CompressionError):
    """A level record is malformed, or its name is already taken."""


def _always_applies(model: onnx.ModelProto) -> str | None:
    return None


@dataclass(frozen=True)
class CompressionLevel:
    """One compression level: what it is called, what it needs on a device, and how to apply it.

    ``precision`` is the arithmetic a device must offer to run the level (``fp32``,
    ``fp16`` or ``int8``); ``weight_size_factor`` the nominal size of its weights in
    memory against fp32 (used where a level was not measured); ``transform`` turns an
    fp32 model (and calibration samples when ``needs_calibration``) into the
    compressed one; ``why_not`` says, before any work, why the level does not apply
    to a model (None when it does); ``lossless`` levels must reproduce the fp32
    outputs exactly (plans made of them are checked for equality); ``description``
    is the one line the help text shows.
    """

    name: str
    precision: str
    weight_size_factor: float
    transform: Transform
    description: str
    needs_calibration: bool = False
    why_not: Callable[[onnx.ModelProto], str | None] = _always_applies
    lossless: bool = False

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip() or "," in self.name or any(c.isspace() for c in self.name):
            raise LevelRegistryError(
                f"compression level name {self.name!r}: use a non-empty name without spaces or commas")
        if self.precision not in PRECISIONS:
            raise LevelRegistryError(
                f"compression level '{self.name}': precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if not 0.0 < self.weight_size_factor <= 1.0:
            raise LevelRegistryError(
                f"compression level '{self.name}': weight_size_factor {self.weight_size_factor} must be in (0, 1]")
        if not callable(self.transform) or not callable(self.why_not):
            raise LevelRegistryError(f"compression level '{self.name}': transform and why_not must be callables")

    def applies_to(self, model: onnx.ModelProto) -> bool:
        """True when the level has something to do on ``model`` (see ``why_not`` for the reason)."""
        return self.why_not(model) is None


@dataclass(frozen=True)
class LevelFamily:
    """Levels named ``PREFIX<NAME>`` made on demand, e.g. ``variant:student``.

    ``make(name, path)`` builds the record of the full level name; ``path`` is the
    file the family needs (None when not known yet: the transform then says so).
    """

    prefix: str
    placeholder: str
    description: str
    make: Callable[[str, Path | None], CompressionLevel]

    def matches(self, name: str) -> bool:
        return name.startswith(self.prefix) and len(name) > len(self.prefix)


_LEVELS: dict[str, CompressionLevel] = {}
_FAMILIES: dict[str, LevelFamily] = {}


def register_level(level: CompressionLevel) -> CompressionLevel:
    """Add ``level`` to the registry; a name already taken (or a family's) is an error.

    Returns the level, so a module can keep it: ``MINE = register_level(CompressionLevel(...))``.
    """
    if not isinstance(level, CompressionLevel):
        raise LevelRegistryError(f"register_level takes a CompressionLevel, got {type(level).__name__}")
    if level.name in _LEVELS:
        raise LevelRegistryError(
            f"compression level '{level.name}' is already registered ({_LEVELS[level.name].description}); "
            "pick another name, or unregister_level() the old one first")
    family = next((f for f in _FAMILIES.values() if f.matches(level.name) or level.name == f.prefix), None)
    if family is not None:
        raise LevelRegistryError(
            f"compression level '{level.name}' falls in the '{family.placeholder}' family; pick another name")
    _LEVELS[level.name] = level
    return level


def unregister_level(name: str) -> CompressionLevel:
    """Remove the level ``name`` (e.g. one a test or a plug-in registered) and return it."""
    try:
        return _LEVELS.pop(name)
    except KeyError:
        raise LevelRegistryError(f"compression level '{name}' is not registered") from None


def _register_family(family: LevelFamily) -> None:
    _FAMILIES[family.prefix] = family


def get_level(name: str, *, variant_path: str | Path | None = None) -> CompressionLevel:
    """The record of level ``name``; a family member (``variant:NAME``) is built on demand.

    ``variant_path`` is the file a family member reads. An unknown name raises
    :class:`~planner_app.core.compression.calibration.CompressionError` listing the levels.
    """
    level = _LEVELS.get(name)
    if level is not None:
        return level
    for family in _FAMILIES.values():
        if family.matches(name):
            return family.make(name, Path(variant_path) if variant_path else None)
    raise CompressionError(f"unknown compression level '{name}': choose one of {', '.join(level_names(True))}.")


def levels() -> tuple[CompressionLevel, ...]:
    """Every registered level, in registration order (families not included)."""
    return tuple(_LEVELS.values())


def families() -> tuple[LevelFamily, ...]:
    """The families of levels made on demand (``variant:NAME``)."""
    return tuple(_FAMILIES.values())


def level_names(with_families: bool = False) -> tuple[str, ...]:
    """The registered level names; with ``with_families`` also each family's pattern (``variant:NAME``)."""
    names = tuple(_LEVELS)
    return names + tuple(f.placeholder for f in _FAMILIES.values()) if with_families else names


def is_known_level(name: str) -> bool:
    """True for a registered level or a member of a family (``variant:NAME``)."""
    return name in _LEVELS or any(f.matches(name) for f in _FAMILIES.values())


def level_precision(name: str) -> str:
    """The arithmetic precision level ``name`` needs on a device: ``fp32``, ``fp16`` or ``int8``."""
    return get_level(name).precision


def levels_help() -> str:
    """One ``name: description`` entry per level and family, for help texts."""
    entries = [f"{lv.name}: {lv.description}" for lv in _LEVELS.values()]
    entries += [f"{f.placeholder}: {f.description}" for f in _FAMILIES.values()]
    return "; ".join(entries)


# ---------------------------------------------------------------------------------- the built-ins
# One register_level() call per level. The order is the one help texts list them in.

register_level(CompressionLevel(
    REFERENCE_LEVEL, "fp32", 1.0, transforms.identity, "the model as given", lossless=True))
register_level(CompressionLevel(
    "fp16", "fp16", 0.5, transforms.fp16, "half-precision weights and activations",
    why_not=transforms.has_float_weights))
register_level(CompressionLevel(
    "int8-dynamic", "int8", 0.25, transforms.int8_dynamic,
    "int8 weights, activations quantized at run time", why_not=transforms.has_quantizable_weights))
register_level(CompressionLevel(
    "int8-static", "int8", 0.25, transforms.int8_static,
    "int8 QDQ per channel, calibrated on samples", needs_calibration=True,
    why_not=transforms.has_quantizable_weights))
# pruned models stay dense in memory (factor 1); only their deflated file shrinks
register_level(CompressionLevel(
    "pruned-50", "fp32", 1.0, transforms.pruning(0.5), "smallest 50% of each weight tensor zeroed",
    why_not=transforms.has_weight_matrices))
register_level(CompressionLevel(
    "pruned-75", "fp32", 1.0, transforms.pruning(0.75), "smallest 75% of each weight tensor zeroed",
    why_not=transforms.has_weight_matrices))


def _variant_level(name: str, path: Path | None) -> CompressionLevel:
    # a user's model of unknown precision: fp32 arithmetic and weights until measured
    return CompressionLevel(name, "fp32", 1.0, transforms.variant_transform(name, path),
                            "a model you supply (e.g. a distilled student)")


_register_family(LevelFamily(
    VARIANT_PREFIX, f"{VARIANT_PREFIX}NAME", "a model you supply (e.g. a distilled student), profiled with --variant NAME=FILE",
    _variant_level))

#: the built-in level names (what LEVELS always was); level_names() also has levels registered later
BUILTIN_LEVELS: tuple[str, ...] = level_names()
