# Two commands do everything on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: test unit sandbox sandbox-build demo lint clean

$(INSTALLED): setup.cfg pyproject.toml tests/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c tests/constraints.txt -e '.[test]'
	touch $@

# The sandbox's Go programs, built once into .cache/sandbox (the first run takes ~10 minutes on 2 cores).
sandbox-build: $(INSTALLED)
	$(BIN)/python -m tests.sandbox.build

test: sandbox-build
	$(BIN)/python -m pytest

unit: $(INSTALLED)
	$(BIN)/python -m pytest tests/unit

sandbox: sandbox-build
	$(BIN)/python -m tests.sandbox --kubeconfig .sandbox/kubeconfig --seed demo

lint: $(INSTALLED)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) dist build .pytest_cache .ruff_cache *.egg-info
