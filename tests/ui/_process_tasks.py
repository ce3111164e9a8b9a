"""Tasks for the worker-process tests (module-level, so a spawned worker can import them)."""

from __future__ import annotations

import os
import threading
import time

from planner_app.core.errors import PlannerError


def count(n, ctx):  # noqa: ANN001, D103
    for i in range(n):
        ctx.progress(i / n, f"step {i}")
        ctx.partial(i)
    return os.getpid()


def fail_typed(path, ctx):  # noqa: ANN001, D103
    raise PlannerError(f"file {path} is not what it should be: give another one.")


class _Unpicklable(Exception):
    def __init__(self, a, b):  # noqa: ANN001, D107 - two required args: unpickling with one fails
        super().__init__(f"{a} {b}")
        self.lock = threading.Lock()


def fail_unpicklable(_arg, ctx):  # noqa: ANN001, D103
    raise _Unpicklable("no", "pickle")


def die(_arg, ctx):  # noqa: ANN001, D103
    os._exit(7)


def stop_when_asked(_arg, ctx):  # noqa: ANN001, D103
    ctx.partial("started")
    while True:
        ctx.cancel.raise_if_cancelled()
        time.sleep(0.01)


def ignore_cancel(_arg, ctx):  # noqa: ANN001, D103
    ctx.partial("started")
    time.sleep(60)


def import_profiling(_arg, ctx):  # noqa: ANN001, D103 - what a profiling task imports first
    import planner_app.ui.profiling_task  # noqa: F401
