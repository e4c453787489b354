# Two commands do everything: `make run` and `make test` (both start with `make setup`).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUN_DIR := .tools/bun
BUN := $(BUN_DIR)/node_modules/.bin/bun
PORT ?= 3000
DEMO_PROFILES ?= 2000
BACKEND_WORKERS ?= 2
JOB_WORKERS ?= 2
SEED_DEMO ?= 1

export PATH := $(CURDIR)/$(BUN_DIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)
export REFLEX_BUN_PATH := $(CURDIR)/$(BUN)
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false

.PHONY: setup run run-scale lint test test-unit test-e2e chromium clean

setup: $(VENV)/.installed $(BUN) ## the whole set-up: venv, packages, bun, migrations, demo data
	$(BIN)/profile-ui db upgrade
	$(BIN)/profile-ui seed --demo --if-empty --profiles $(DEMO_PROFILES)

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(BUN):
	mkdir -p $(BUN_DIR)
	npm install --silent --no-audit --no-fund --prefix $(BUN_DIR) bun@1.4.4
	test -x $(BUN) || ln -sf ../@oven/bun-linux-x64/bin/bun $(BUN)
	$(BUN) --version

run: setup ## serve the app on one port (frontend and backend)
	@echo "Profile UI: http://localhost:$(PORT)  (demo sign-ins printed above)"
	$(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

# The production shape: PostgreSQL (DATABASE_URL) and Redis (REDIS_URL) from the environment,
# BACKEND_WORKERS backend workers and JOB_WORKERS `profile-ui worker` processes (the
# Procfile, run by honcho); Ctrl-C stops them all.
run-scale: $(VENV)/.installed $(BUN) ## serve the production shape (see README "Running at scale")
	$(BIN)/profile-ui check-scale
	$(BIN)/profile-ui db upgrade
	@if [ "$(SEED_DEMO)" = 1 ]; then $(BIN)/profile-ui seed --demo --if-empty --profiles $(DEMO_PROFILES); fi
	@echo "Profile UI (production shape): http://localhost:$(PORT)  $(BACKEND_WORKERS) backend + $(JOB_WORKERS) job workers"
	GRANIAN_WORKERS=$(BACKEND_WORKERS) EMBEDDED_WORKER=false \
	  $(BIN)/honcho start -f Procfile -d $(CURDIR) -p $(PORT) -c web=1,worker=$(JOB_WORKERS)

chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

lint: $(VENV)/.installed ## lint, architecture contracts and types (run by `make test` first)
	$(BIN)/ruff check .
	@$(BIN)/ruff format --check . >/dev/null || { $(BIN)/ruff format --check .; \
	  echo 'Run `.venv/bin/ruff format .` to lay these files out.'; exit 1; }
	@$(BIN)/lint-imports --no-logo || { echo; \
	  echo "An import breaks the project's layers (see above for which, and why)."; \
	  echo "ARCHITECTURE.md says what may import what and where the code belongs."; exit 1; }
	$(BIN)/mypy

test: setup chromium lint ## lint, then the whole suite: unit, PostgreSQL integration, browser tests
	$(BIN)/python -m pytest tests

test-unit: setup
	$(BIN)/python -m pytest tests --ignore=tests/e2e

test-e2e: setup chromium
	$(BIN)/python -m pytest tests/e2e

clean:
	rm -rf .web .states data test-results
