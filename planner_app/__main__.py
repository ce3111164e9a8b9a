"""``python -m planner_app`` behaves exactly like the ``edgeplan`` command."""

if __name__ == "__main__":
    from planner_app.cli import run

    run()
