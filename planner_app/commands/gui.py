"""``edgeplan gui [FILE]``: open the window, optionally on a topology file."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("gui", help="open the window (the default with no command)",
                       description="Open the planner window, optionally on a topology file.")
    p.add_argument("file", nargs="?", help="topology .json file to open")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from planner_app.cli import _open_window

    return _open_window(args.file)
