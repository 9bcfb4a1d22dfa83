# Two commands for a fresh machine: `make serve` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install serve test lint schema lock clean

# Installs exactly what requirements-dev.lock pins, each file checked against its hash;
# `make lock` re-resolves the lock from pyproject.toml (the one command to upgrade).
$(BIN)/.installed: pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/.installed

## Install, migrate ./kitwright.db (SQLite), load demo data, serve http://127.0.0.1:8000/graphql
serve: install
	$(BIN)/kitwright serve --demo

## The whole test suite, on SQLite and PostgreSQL (127.0.0.1:5432)
test: install
	$(BIN)/python -m pytest -n 2 -q

## Style and types, as CI checks them
lint: install
	$(BIN)/ruff check kitwright tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports

## Rewrite schema.graphql from the code (a test fails when they drift)
schema: install
	$(BIN)/python -m kitwright.api.sdl > schema.graphql

## Re-resolve requirements-dev.lock (pinned, with hashes) from pyproject.toml: the upgrade command
lock: install
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --extra dev --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) kitwright.db kitwright.db-wal kitwright.db-shm
