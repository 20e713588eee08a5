# Two commands on a fresh machine: `make demo` and `make test`.
# Set-up (a virtual environment in .venv with celltwin installed in editable mode plus the
# test extra) runs once, and again only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.celltwin-installed
# XLA's C++ log notes (e.g. "algebraic simplifier ... circular simplification loop") are noise here.
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: setup demo test bench

setup: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(STAMP)
	$(VENV)/bin/celltwin demo examples/mapk_cascade/mapk_cascade.yaml

test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 tests/

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/llh_gradient.py
