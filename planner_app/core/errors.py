"""Typed errors a user can cause.

Every error a user can provoke (a bad file, a bad field, an impossible request)
is a :class:`PlannerError`. Its message names the thing (file, field, value) and
how to fix it. The command line prints the message without a traceback and exits
with :attr:`PlannerError.exit_code`; the window shows it in a dialog.
"""

from __future__ import annotations

__all__ = [
    "PlannerError",
    "InputFileError",
    "TopologyError",
    "ProblemError",
    "Problem",
]

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem found in an input: where (a dotted field path) and what."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class PlannerError(Exception):
    """Base of every error a user can cause. ``exit_code`` is what the CLI returns."""

    exit_code: int = 2

    def __init__(self, message: str, *, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = list(problems or [])

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        lines = [self.message] + [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class InputFileError(PlannerError):
    """A file could not be read: missing, a directory, unreadable, not JSON, truncated."""


class TopologyError(PlannerError):
    """A topology is invalid; :attr:`problems` lists each field and offending value."""


class ProblemError(PlannerError):
    """A planning problem cannot be posed (bad objective, unreachable devices, ...)."""
