"""Where the shipped resources (catalog, schemas, icons) and samples live."""

from __future__ import annotations

__all__ = ["RESOURCES_DIR", "SAMPLES_DIR", "resource_path", "sample_topology_paths"]

from pathlib import Path

from planner_app.core.errors import InputFileError

_ROOT = Path(__file__).resolve().parents[2]
RESOURCES_DIR = _ROOT / "resources"
SAMPLES_DIR = _ROOT / "sample_topologies"


def resource_path(name: str, must_exist: bool = True) -> Path:
    """Path of a file in ``resources/``."""
    p = RESOURCES_DIR / name
    if must_exist and not p.exists():
        raise InputFileError(
            f"resource '{name}' is missing from {RESOURCES_DIR}: reinstall planner_app from its source tree"
        )
    return p


def sample_topology_paths() -> dict[str, Path]:
    """Sample scenario name (file stem) → path."""
    return {p.stem: p for p in sorted(SAMPLES_DIR.glob("*.json"))}
