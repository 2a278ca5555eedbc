# genre-monitor developer entry points. `make demo` sets everything up and runs
# the local loop; `make test` runs every test tier. Both are idempotent.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The venv is rebuilt only when pyproject.toml changes.
STAMP := $(VENV)/.installed

.PHONY: setup venv tools images lock test test-unit test-integration test-node lint demo bench clean

setup: venv tools

venv: $(STAMP)

# The project with every extra, at the versions in constraints.txt (the images
# install from the same file), plus the developer tooling from dev/.
$(STAMP): pyproject.toml constraints.txt dev/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/pip install -q --no-deps -e ./dev
	@touch $(STAMP)

tools: venv
	$(BIN)/python -m genre_monitor_dev.tools

# The three images (buildah, from their Dockerfiles, on a Debian-made
# python:3.11-slim) plus the node's pause and CoreDNS images, into buildah's
# storage; layers are cached, so a code change rebuilds in seconds. The node
# loads them into its containerd when it starts.
images: tools
	$(BIN)/python -m genre_monitor_dev.images

# Re-resolve constraints.txt from pyproject.toml in a throwaway venv: the
# newest versions its bounds allow. Commit the result.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip
	.lock-venv/bin/pip install -q ".[dev]"
	{ echo "# The lock: every image and the dev venv install under it. Made by make lock."; \
	  .lock-venv/bin/pip freeze --exclude genre-monitor; } > constraints.txt
	rm -rf .lock-venv

lint: venv
	$(BIN)/ruff check .

test: setup images
	$(BIN)/ruff check .
	$(BIN)/pytest

test-unit: venv
	$(BIN)/pytest -m unit

test-integration: setup
	$(BIN)/pytest -m integration

test-node: setup images
	$(BIN)/pytest -m node

demo: setup
	$(BIN)/genre-monitor-dev demo

bench: setup
	$(BIN)/python benchmarks/bench_exporter.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache
