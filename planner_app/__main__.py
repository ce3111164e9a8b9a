"""``python -m planner_app`` behaves exactly like the ``edgeplan`` command."""

from planner_app.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
