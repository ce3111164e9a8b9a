"""What the commands that reach agents share (``optimize --agents``, ``agent``), without importing each other."""

from __future__ import annotations

from pathlib import Path

__all__ = ["TOPOLOGY_AGENTS"]

#: ``--agents`` given without a map: the topology's devices name their agents
TOPOLOGY_AGENTS = Path("<the topology's agents>")
