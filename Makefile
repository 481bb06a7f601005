# Two entry points: `make run` (reference app on SQLite) and `make test` (everything).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 1
export BASTION_APP ?= examples.taskboard.app:app
export BASTION_DATABASE_URL ?= sqlite+aiosqlite:///./taskboard.db
# `make run` runs jobs and cron inside the API process; production runs `bastion worker`.
export BASTION_JOBS__EMBEDDED_WORKER ?= true

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres,redis]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.run

run: $(VENV)/.run
	$(BIN)/bastion db upgrade
	$(BIN)/bastion serve --host 127.0.0.1 --port $(PORT) --workers $(WORKERS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# pytest exits 5 when it collects nothing (e.g. a marker filter); that is not a failure.
pytest: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS) || [ $$? -eq 5 ]

test: lint typecheck pytest

bench: $(VENV)/.dev
	$(BIN)/python bench/http_overhead.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache taskboard.db*
