# Two commands on a fresh machine: `make demo` and `make test`.
# Set-up (a virtual environment in .venv with celltwin installed in editable mode plus the
# test extra) runs once, and again only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.celltwin-installed
# XLA's C++ log notes (e.g. "algebraic simplifier ... circular simplification loop") are noise here.
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: setup demo quickstart test test-slow lint bench amici-peer solver-peers

setup: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e '.[test,chem,lint]'
	touch $@

# The GPCR twin case end to end, each posterior sampled until converged
# (examples/gpcr_yi/case.yaml): writes demo/report.html and demo/summary.json. The EGFR case
# takes hours: `celltwin demo examples/egfr_kholodenko/case.yaml --out egfr`.
# `make quickstart` is the one-minute fit of the small bundled example.
demo: $(STAMP)
	$(VENV)/bin/celltwin demo examples/gpcr_yi/case.yaml --out demo

quickstart: $(STAMP)
	$(VENV)/bin/celltwin quickstart examples/mapk_cascade/mapk_cascade.yaml

# The default run (doctests in src/ and tests/, without tests marked slow).
test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2

# The slow tests: the large benchmark problems (Chen, Smith) and the long gradient checks.
test-slow: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 -m slow tests/

# The static checks: ruff over the code, tests and benchmarks; mypy over src/ (settings in
# pyproject.toml). A few seconds each (mypy's first run ~20 s, then cached in .mypy_cache).
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/llh_gradient.py

# The optional peer for benchmarks (never a dependency of celltwin): AMICI + pyPESTO in
# their own virtual environment; compiling AMICI takes several minutes.
# AMICI needs a BLAS library (Debian: libopenblas-dev) and petab for PEtab import.
amici-peer:
	test -x .venv-amici/bin/python || $(PYTHON) -m venv .venv-amici
	.venv-amici/bin/python -m pip install --quiet --upgrade pip
	.venv-amici/bin/python -m pip install --quiet amici pypesto "amici[petab]"

# The compiled ODE solvers benchmarked against celltwin's native kernels
# (benchmarks/compiled_solvers.py; never dependencies of celltwin): diffsol (pydiffsol,
# diffsol-jax, which imports jaxtyping without declaring it), SUNDIALS CVODE (scikit-sundae)
# and libroadrunner, with celltwin itself and numba, so that all run in one process.
solver-peers:
	test -x .venv-solvers/bin/python || $(PYTHON) -m venv .venv-solvers
	.venv-solvers/bin/python -m pip install --quiet --upgrade pip
	.venv-solvers/bin/python -m pip install --quiet pydiffsol diffsol-jax jaxtyping scikit-sundae libroadrunner numba -e .
