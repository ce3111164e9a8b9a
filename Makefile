# planner_app — `make run` opens the window, `make test` runs everything CI runs.
# Both create .venv (Python 3.11+) and install the package with what it needs.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SAMPLE ?= sample_topologies/smart_home.json

.PHONY: install run test lint typecheck contracts pytest schemas screenshots bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Open the window (on the last file, else the smart-home sample).
run: $(STAMP)
	$(VENV)/bin/edgeplan gui

## Lint, types, import contracts and the whole test suite (GUI tests offscreen).
test: $(STAMP) lint typecheck contracts pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check planner_app tests benchmarks

## mypy: strict on planner_app/core, normal elsewhere (see [tool.mypy] in pyproject.toml).
typecheck: $(STAMP)
	$(VENV)/bin/mypy planner_app

contracts: $(STAMP)
	$(VENV)/bin/lint-imports

pytest: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

## Regenerate the JSON Schemas in resources/ from the records.
schemas: $(STAMP)
	$(PY) -m planner_app.core.planning.schemas

## Save PNGs of the main window on each sample under Xvfb (installs it if missing; root).
SCREENSHOT_APT := xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-randr0 \
                  libxcb-render-util0 libxcb-shape0 libxcb-image0 libxkbcommon-x11-0
screenshots: $(STAMP)
	@command -v xvfb-run >/dev/null || (apt-get update -qq && apt-get install -y -qq $(SCREENSHOT_APT))
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m planner_app.ui.screenshots docs/screenshots

## Run every benchmark and print its table.
bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; QT_QPA_PLATFORM=offscreen $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
