# Two commands for a fresh machine: `make serve` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install serve test lint schema clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
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
	$(BIN)/ruff check kitwright tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

## Rewrite schema.graphql from the code (a test fails when they drift)
schema: install
	$(BIN)/python -m kitwright.api.sdl > schema.graphql

clean:
	rm -rf $(VENV) kitwright.db kitwright.db-wal kitwright.db-shm
