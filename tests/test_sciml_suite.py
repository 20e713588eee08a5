"""The PEtab SciML test suite's ``sciml_problem_import`` cases: log-likelihood (or log-posterior),
simulations and gradients against the expected values the suite ships (computed by its
authors with PEtab.jl / AMICI); tolerances from each case's ``solutions.yaml``.

A case costs ~15 s (values) to ~40 s (gradients) of JIT compilation on one CPU core, so the
default run checks the values and simulations of case 001 (a network in the right-hand
side); ``pytest -m slow`` runs all 39 cases, values and gradients.
"""

from __future__ import annotations

import diffrax
import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import yaml

from celltwin.hybrid.sciml import from_petab_sciml
from celltwin.simulate import SolverSettings

from .conftest import require_shared

CASES = [f"{i:03d}" for i in range(1, 40)]
DEFAULT_LLH = {"001"}
DEFAULT_GRADIENT: set[str] = set()
# the suite's reference gradients agree with a converged solve; tight tolerances make ours agree too
SETTINGS = SolverSettings(solver=diffrax.Tsit5(), rtol=1e-10, atol=1e-12)


def _load(case):
    folder = require_shared("petab-sciml-test-suite", "sciml_problem_import", case)
    solution = yaml.safe_load((folder / "solutions.yaml").read_text())
    settings = CASE_SETTINGS.get(case, SETTINGS)
    return folder, solution, from_petab_sciml(folder / "petab" / "problem.yaml", settings=settings)


# Case 038 (a network with ReLUs in the right-hand side, fed a per-condition array): at the
# settings above 10 of the 96 net6 gradient entries (~190-4200) were off from the reference
# by 0.11-0.38 (relative <= 6e-4); the assertion stopped at the first array, layer1.weight, so
# only 4 of them were shown. Not a bug in the problem import: llh and simulations agree, and the
# reference agrees with a converged solve (FD of our llh). Gradients through the solver are the
# derivative of the discrete Runge-Kutta map (diffrax stops gradients through step sizes), and
# each ReLU kink makes the sensitivity equation's right-hand side jump while the state stays
# smooth enough for the controller to take steps across it: the gradient error is controlled by
# nothing, drifts erratically with rtol (max |grad - ref| 0.38 at Tsit5 1e-10, 0.93 at 1e-11,
# 0.08 at 1e-12) and is small only for a tighter, higher-order solve. docs/hybrid.md has the numbers.
CASE_SETTINGS = {"038": SolverSettings(solver=diffrax.Dopri8(), rtol=1e-13, atol=1e-15)}
GRADIENT_XFAIL: dict[str, str] = {}


def _marks(case, default, xfail=None):
    marks = () if case in default else (pytest.mark.slow,)
    if xfail and case in xfail:
        marks = (*marks, pytest.mark.xfail(strict=True, reason=xfail[case]))
    return marks


@pytest.mark.parametrize("case", [pytest.param(c, marks=_marks(c, DEFAULT_LLH)) for c in CASES])
def test_sciml_case_value_and_simulations(case):
    folder, solution, problem = _load(case)
    theta = jnp.asarray(problem.x_nominal)
    llh, lp, (sim, _, _) = jax.jit(lambda th: (problem.log_likelihood(th), problem.log_posterior(th),
                                               problem.simulate(th)))(theta)
    if "llh" in solution:
        assert abs(float(llh) - solution["llh"]) <= solution["tol_llh"], (float(llh), solution["llh"])
    else:
        assert abs(float(lp) - solution["log_posterior"]) <= solution["tol_log_posterior"], (
            float(lp), solution["log_posterior"])
    ours = problem.measurement_df.assign(simulation=np.asarray(sim))
    for name in solution["simulation_files"]:
        expected = pd.read_csv(folder / name, sep="\t")
        keys = ["observableId", "experimentId", "time"]
        for df in (ours, expected):
            df["_rep"] = df.groupby(keys).cumcount()
        merged = expected.merge(ours, on=[*keys, "_rep"], suffixes=("_ref", ""), how="left")
        assert not merged["simulation"].isna().any(), "simulation rows do not match the measurement table"
        np.testing.assert_allclose(merged["simulation"], merged["simulation_ref"], rtol=0,
                                   atol=solution["tol_simulations"])


@pytest.mark.parametrize("case", [pytest.param(c, marks=_marks(c, DEFAULT_GRADIENT, GRADIENT_XFAIL)) for c in CASES])
def test_sciml_case_gradient(case):
    folder, solution, problem = _load(case)
    target = problem.log_likelihood if "llh" in solution else problem.log_posterior
    grad = np.asarray(jax.jit(jax.grad(target))(jnp.asarray(problem.x_nominal)))
    tol = solution["tol_grad"]
    files = dict(solution["grad_files"])
    mech = pd.read_csv(folder / files.pop("mech"), sep="\t")
    for row in mech.itertuples():
        assert row.parameterId in problem.parameter_ids, row.parameterId
        ours = grad[problem.parameter_ids.index(row.parameterId)]
        assert abs(ours - row.value) <= tol, (row.parameterId, ours, row.value)
    grad_w = grad[problem.n_mechanistic:]
    for net, name in files.items():
        tree = problem.weights.gradient_tree(grad_w, net).parameters
        with h5py.File(folder / name, "r") as f:
            for layer, group in f[f"parameters/{net}"].items():
                for array, ds in group.items():
                    expected = np.asarray(ds[()], dtype=float)
                    if expected.size == 0:  # a frozen array: no gradient expected
                        continue
                    np.testing.assert_allclose(np.asarray(tree[layer][array]), expected, rtol=0, atol=tol,
                                               err_msg=f"{net}.{layer}.{array}")


@pytest.mark.parametrize("case", ["001", "002", "003"])
def test_sciml_initialization_case(case):
    """``initialization`` cases: parameter-table rows that set a layer (or one array) to a value
    override the weights from the array file; the rest keep the file's values."""
    folder = require_shared("petab-sciml-test-suite", "initialization", case)
    solution = yaml.safe_load((folder / "solutions.yaml").read_text())
    problem = from_petab_sciml(folder / "petab" / "problem.yaml", settings=SETTINGS)
    for net, name in solution["parameter_files"].items():
        tree = problem.network(problem.x_nominal, net).parameters
        with h5py.File(folder / name, "r") as f:
            for layer, group in f[f"parameters/{net}"].items():
                for array, ds in group.items():
                    np.testing.assert_allclose(np.asarray(tree[layer][array]), np.asarray(ds[()], dtype=float),
                                               rtol=0, atol=solution["tol"], err_msg=f"{net}.{layer}.{array}")
