"""The ``edgeplan`` command line.

With no arguments it opens the window; with a sub-command it works headless.
Each topic lives in ``planner_app/commands/<topic>.py`` with a
``register(subparsers)`` function that adds its parser and sets ``func``.

Exit codes: 0 success; 1 an unexpected internal error (a bug: please report it);
2 bad input (file, field or value), with a message naming it; 3 no feasible
answer (for example no plan meets the constraints); 4 a check failed (parts
written but not equal to the model); 130 interrupted.
"""

from __future__ import annotations

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_INTERNAL", "EXIT_BAD_INPUT", "EXIT_INFEASIBLE"]

import errno
import signal
import sys
import threading

#: set by the first Ctrl-C: whatever error it surfaces as (a KeyboardInterrupt, or a PanicException when it
#: lands inside a compiled extension during start-up), the command ends with exit 130 and one line
_interrupted = threading.Event()


def _on_sigint(signum: int, frame: object) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


def _install_interrupt_handler() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


# before the heavier imports below (argparse, the commands, numpy, onnx): Ctrl-C from the first moment
_install_interrupt_handler()

# the rest is imported inside the functions: the less this module imports, the sooner Ctrl-C is ours
import contextlib  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_INTERRUPTED = 130

#: command modules, in the order ``--help`` lists them
_COMMAND_MODULES = ["topology", "catalog", "model", "import_cmd", "optimize", "plan", "agent", "run", "gui"]


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available sub-command."""
    import argparse
    import importlib

    from planner_app import __version__

    parser = argparse.ArgumentParser(
        prog="edgeplan",
        description=(
            "Plan where each part of a neural network runs — device, edge or cloud — and how "
            "much to compress it. Without a command, opens the window."
        ),
        epilog="Exit codes: 0 ok, 1 internal error, 2 bad input, 3 infeasible, 4 a check failed, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"edgeplan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"planner_app.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("planner_app.commands"):
                continue  # a topic not built yet
            raise
        module.register(sub)
    return parser


def _open_window(path: str | None = None) -> int:
    try:
        from planner_app.ui.app import run_app
    except ImportError as exc:
        print(
            f"edgeplan: the window needs the 'gui' extra ({exc}). Install it with "
            "`pip install 'planner_app[gui]'`, or use a sub-command (edgeplan --help).",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    return run_app([path] if path else [])


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """Print a warning the way the CLI prints errors: one line, no source location."""
    print(f"edgeplan: warning: {message}", file=file or sys.stderr)


def _interrupted_exit(message: str = "") -> int:
    # a second Ctrl-C while printing must not turn into a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import contextlib

    with contextlib.suppress(OSError, ValueError):  # stderr closed: the exit code still says it
        print(f"edgeplan: interrupted{': ' + message if message else ''}", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def run() -> None:
    """The ``edgeplan`` program: :func:`main`, then exit. After an interrupt the process ends at once
    (exit 130, streams flushed): interpreter shutdown, with threads and native libraries mid-import,
    could otherwise turn that interrupt into a death by SIGINT (seen as exit -2 now and then)."""
    code = main()
    if code == EXIT_INTERRUPTED:
        import os

        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``edgeplan``; returns the exit code (130 when interrupted, at any moment)."""
    _interrupted.clear()
    _install_interrupt_handler()
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return _interrupted_exit()
    except SystemExit:
        raise
    except BaseException:
        # pyo3's PanicException (a BaseException) when the interrupt landed inside a compiled extension
        if _interrupted.is_set():
            return _interrupted_exit()
        raise


#: errno values of file-system failures (as opposed to bugs): exit 2 naming the path
_FILE_ERRNOS = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EIO", "EFBIG",
                                                  "ENAMETOOLONG", "EISDIR", "ENOTDIR", "EEXIST", "ENOENT", "EMFILE")
                if hasattr(errno, name)}


def _main(argv: Sequence[str] | None) -> int:
    import warnings

    from planner_app.core.errors import PlannerError

    warnings.showwarning = show_warning
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list:
        return _open_window()
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        if args.command is None:
            return _open_window()
        parser.parse_args([args.command, "--help"])
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args) or 0)
    except PlannerError as exc:
        if exc.exit_code == EXIT_INTERRUPTED:  # a cancelled step (profiling keeps what it measured)
            return _interrupted_exit(str(exc))
        print(f"edgeplan: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if exc.errno not in _FILE_ERRNOS:
            raise
        # a write that failed (a full disk, a read-only folder) is bad input, named by its path
        print(f"edgeplan: error: cannot write or read {exc.filename or 'a file'}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `edgeplan ... | head`
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
