# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= ./breadcrumbs-data

.PHONY: run test install install-dev lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# pip runs only when what it installs from changed: one stamp per extra, newer than every
# input. A build step (UI assets, native code) adds its own stamp target the same way and
# lists it as a prerequisite of `install` and `install-dev`.
INSTALL_INPUTS := pyproject.toml
$(VENV)/.installed-%: $(INSTALL_INPUTS) $(BIN)/python
	$(BIN)/pip install --quiet -e '.[$*]'
	touch $@

install: $(VENV)/.installed-demo

install-dev: $(VENV)/.installed-dev

# Install, then start the server (and the demo shop once it exists) in the foreground.
run: install
	$(BIN)/breadcrumbs serve --data-dir $(DATA_DIR) $(if $(wildcard src/breadcrumbs/demo/shop.py),--demo,)

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

unit: install-dev
	$(BIN)/pytest -q

test: lint unit

bench: install-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
