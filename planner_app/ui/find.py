"""Find devices by name or id, and step through every match (F3 / Shift+F3).

:func:`find_devices` orders the matches the way a user expects to visit
them: exact id or name matches first, then devices whose id or name contains
the text, each group in document order. :class:`DeviceFinder` remembers the
last search and where in its matches the user is; the matches are looked up
again on every step, so edits between steps (a rename, a delete) never leave
it pointing at a device that is gone.

Example
-------
>>> finder = DeviceFinder()
>>> finder.start(topology, "cam")            # doctest: +SKIP
('cam', 0, 3)
>>> finder.step(topology, +1)                # doctest: +SKIP
('camera-2', 1, 3)
"""

from __future__ import annotations

__all__ = ["find_devices", "DeviceFinder"]

from planner_app.core.topology import Topology


def find_devices(topology: Topology, text: str) -> list[str]:
    """Ids of the devices whose id or name matches ``text`` (case-insensitive), best first."""
    needle = text.strip().lower()
    if not needle:
        return []
    exact = [d.id for d in topology.devices if needle in (d.id.lower(), d.label.lower())]
    seen = set(exact)
    partial = [d.id for d in topology.devices
               if d.id not in seen and (needle in d.id.lower() or needle in d.label.lower())]
    return exact + partial


class DeviceFinder:
    """The current search: its text and the index of the match shown."""

    def __init__(self) -> None:
        self.text = ""
        self.current: str | None = None

    def start(self, topology: Topology, text: str) -> tuple[str, int, int] | None:
        """Search for ``text``: ``(first match, 0, number of matches)`` or None."""
        self.text, self.current = text, None
        return self.step(topology, +1)

    def step(self, topology: Topology, direction: int) -> tuple[str, int, int] | None:
        """The next (``+1``) or previous (``-1``) match, wrapping around: ``(id, index, count)``."""
        matches = find_devices(topology, self.text)
        if not matches:
            self.current = None
            return None
        if self.current in matches:
            i = (matches.index(self.current) + direction) % len(matches)
        else:
            i = 0 if direction > 0 else len(matches) - 1
        self.current = matches[i]
        return self.current, i, len(matches)
