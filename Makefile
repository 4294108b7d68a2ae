# Two commands do everything on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
# The suite starts hundreds of Python processes (each plugin run, the sandbox's helpers, pytest's workers) that
# read their modules' bytecode once the first has written it; PYTHONDONTWRITEBYTECODE, set on some machines,
# would have every one of them compile its modules from source again (~80 ms of CPU per plugin run).
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: test unit sandbox sandbox-build demo-build demo bench lint typecheck clean dist completions

$(INSTALLED): setup.cfg pyproject.toml tests/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c tests/constraints.txt -e '.[test]'
	touch $@

# The sandbox's Go programs, built once into .cache/sandbox, one numbered step each (tests/sandbox/build.py):
# all of them for the suite, those of one default sandbox for the demo. With empty Go caches, on a quiet
# 2-core machine: 15 minutes for the demo's, 3.5 more for the rest (README.md, "Start here").
sandbox-build: $(INSTALLED)
	$(BIN)/python -m tests.sandbox.build --for test

demo-build: $(INSTALLED)
	$(BIN)/python -m tests.sandbox.build --for demo

# The static checks first (seconds), then the programs, then the suite.
test: lint typecheck sandbox-build
	$(BIN)/python -m pytest

# Three workers on two cores: the unit tests wait on kubectl side by side and on local servers for about a third
# of their time, which a third worker fills (no sandbox here to hold memory).
unit: $(INSTALLED)
	$(BIN)/python -m pytest -n 3 tests/unit

# The seed scenario end to end against the sandbox, through `kubectl virt-expose` (see tests/sandbox/demo.py).
demo: demo-build
	$(BIN)/python -m tests.sandbox.demo

sandbox: demo-build
	$(BIN)/python -m tests.sandbox --kubeconfig .sandbox/kubeconfig --seed demo

# Ratios against kubectl, the manual steps and virtctl, measured side by side in one run (not a test).
bench: sandbox-build
	$(BIN)/python -m tests.bench

lint: $(INSTALLED)
	$(BIN)/ruff check .

# Strict on the plugin's package; mypy and its settings are pinned (setup.cfg's test extra, pyproject.toml).
typecheck: $(INSTALLED)
	$(BIN)/mypy --strict oc_virt_expose

# dist/oc-virt_expose (one file, python3 3.9+) and dist/virt-expose.tar.gz for krew, whose sha256 goes into
# plugin-manifest.yaml; reproducible (see tests/packaging/build_dist.py). The first run fetches the locked
# wheels of the bundled dependencies into .cache/dist-wheels.
dist: $(INSTALLED)
	$(BIN)/python -m tests.packaging.build_dist --out dist --manifest plugin-manifest.yaml

# completions/: shtab scripts for bash, zsh and tcsh, generated from the real parser (a test fails when stale).
completions: $(INSTALLED)
	$(BIN)/python -m oc_virt_expose.cli.completion completions

clean:
	rm -rf $(VENV) dist build .pytest_cache .ruff_cache .mypy_cache *.egg-info
