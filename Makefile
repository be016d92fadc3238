# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= ./breadcrumbs-data

.PHONY: run test install install-dev lint typecheck unit ui ui-test bench fuzz clean proto

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# pip runs only when what it installs from changed: one stamp per extra, newer than every
# input. A build step (UI assets, native code) adds its own stamp target the same way and
# lists it as a prerequisite of `install` and `install-dev`.
# pip builds the native OTLP decoder (native/, Rust) when cargo is present; naming the venv's
# Python keeps cargo's build of pyo3 valid across installs (pip builds in a fresh env each time).
export PYO3_PYTHON := $(abspath $(BIN)/python)
DECODER_CHECK := from breadcrumbs.codec import otlp; print('Decoding:', otlp.proto_decoder()[0])
INSTALL_INPUTS := pyproject.toml $(wildcard native/Cargo.toml native/Cargo.lock native/src/*.rs)
$(VENV)/.installed-%: $(INSTALL_INPUTS) $(BIN)/python
	$(BIN)/pip install --quiet -e '.[$*]'
	@$(BIN)/python -c "$(DECODER_CHECK)"
	touch $@

install: $(VENV)/.installed-demo

install-dev: $(VENV)/.installed-dev

# The web UI: sources in ui/, built into the package (src/breadcrumbs/ui, committed, so a
# plain `pip install` without Node has it). Rebuilt only when a source changed; without npm
# the committed build is served as it is.
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html \
	ui/package.json ui/package-lock.json ui/vite.config.ts ui/tsconfig.json
UI_BUILT := src/breadcrumbs/ui/index.html

ui/node_modules/.installed: ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	touch $@

$(UI_BUILT): $(UI_SOURCES)
	@if command -v npm >/dev/null; then \
		$(MAKE) ui/node_modules/.installed && cd ui && npm run build; \
	else echo "npm not found: serving the UI build committed in src/breadcrumbs/ui"; fi

ui: $(UI_BUILT)

# Type-check, unit-test, and check that the committed build is what the sources build to.
ui-test: ui/node_modules/.installed
	cd ui && npx tsc --noEmit && npx vitest run
	@out=$$(mktemp -d) && cd ui && npx vite build --outDir "$$out" --emptyOutDir --logLevel warn \
		&& diff -r "$$out" ../src/breadcrumbs/ui \
		|| { echo "src/breadcrumbs/ui is stale: run 'make ui' and commit it"; exit 1; }

# Install, then start the server (and the demo shop once it exists) in the foreground.
run: install ui
	$(BIN)/breadcrumbs serve --data-dir $(DATA_DIR) $(if $(wildcard src/breadcrumbs/demo/shop.py),--demo,)

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

unit: install-dev
	$(BIN)/pytest -q

test: lint ui-test unit

# Jaeger's sampling protobuf (proto/jaeger/api_v2/sampling.proto) as Python, committed so an
# install needs no code generator. grpcio-tools 1.63 writes protobuf 5.26 code, the oldest
# runtime pyproject.toml allows (newer runtimes load it; newer generators demand theirs).
PROTO_OUT := src/breadcrumbs/sampling/proto
proto:
	test -x .venv-protoc/bin/python || $(PYTHON) -m venv .venv-protoc
	.venv-protoc/bin/pip install --quiet 'grpcio-tools==1.63.2'
	.venv-protoc/bin/python -m grpc_tools.protoc -Iproto --python_out=$(PROTO_OUT) \
		--pyi_out=$(PROTO_OUT) proto/jaeger/api_v2/sampling.proto
	touch $(PROTO_OUT)/jaeger/__init__.py $(PROTO_OUT)/jaeger/api_v2/__init__.py

bench: install-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py

# libFuzzer on the native OTLP decoder (native/fuzz): arbitrary bytes and mutated real requests,
# under the address sanitizer, for FUZZ_SECONDS. Needs nightly Rust and `cargo install
# cargo-fuzz`, so it is not part of `make test`; crashes land in native/fuzz/artifacts/decode.
FUZZ_SECONDS ?= 300
fuzz: install-dev
	$(BIN)/python native/fuzz/seeds.py native/fuzz/corpus/decode
	cd native && cargo +nightly fuzz run decode -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache ui/node_modules native/target src/breadcrumbs/_native*.so
