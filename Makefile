# genre-monitor developer entry points. `make demo` sets everything up and runs
# the local loop; `make test` runs every test tier. Both are idempotent.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The venv is rebuilt only when pyproject.toml changes.
STAMP := $(VENV)/.installed

.PHONY: setup venv tools test test-unit test-integration lint demo bench clean

setup: venv tools

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(STAMP)

tools: venv
	$(BIN)/python -m genre_monitor.dev.tools

lint: venv
	$(BIN)/ruff check .

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest

test-unit: venv
	$(BIN)/pytest -m unit

test-integration: setup
	$(BIN)/pytest -m integration

demo: setup
	$(BIN)/genre-monitor demo

bench: setup
	$(BIN)/python benchmarks/bench_exporter.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache
