# Two entry points: `make run` (reference app on SQLite) and `make test` (everything).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 1
# The reference app's settings, for `make run` only: tests build their own.
run: export BASTION_APP ?= examples.taskboard.app:app
run: export BASTION_DATABASE_URL ?= sqlite+aiosqlite:///./taskboard.db
# `make run` runs jobs and cron inside the API process; production runs `bastion worker`.
run: export BASTION_JOBS__EMBEDDED_WORKER ?= true
# ... and webhooks may be sent to a receiver on this machine (refused in production).
run: export BASTION_WEBHOOKS__ALLOW_PRIVATE_TARGETS ?= true

.PHONY: run test lint typecheck pytest bench clean prometheus

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

test: lint typecheck prometheus pytest

# promtool and prometheus (Debian's package) for the SLO rule tests; installed only
# when missing. policy-rc.d keeps the package's service from starting (CI and the
# tests run their own server on a free port); one already running is stopped.
prometheus:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  created=; \
	  if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created=1; \
	  fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
	  status=$$?; \
	  [ -z "$$created" ] || rm -f /usr/sbin/policy-rc.d; \
	  exit $$status; }
	@if [ -f /run/prometheus.pid ] || pidof -q /usr/bin/prometheus 2>/dev/null; then \
	  (systemctl stop prometheus || service prometheus stop) >/dev/null 2>&1 || true; \
	fi

bench: $(VENV)/.dev
	$(BIN)/python bench/http_overhead.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache taskboard.db*
