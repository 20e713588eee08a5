"""The native backend on the PEtab v1 test suite: llh, chi2 and simulations against each case's
expected values (the cases test_petab_suite.py leaves to the slow run; its default ones run
on the native engine already), and gradients against central finite differences.

A case the native backend refuses (``UnsupportedFeatureError``, at construction or at the
first trace) is skipped with the refusal's reason, so it becomes a real check as soon as
support lands; any other exception fails. ``benchmarks/native_conformance.py`` runs the same
checks on the benchmark collection too and writes a table.
"""

from __future__ import annotations


import jax.numpy as jnp
import numpy as np
import pytest
from test_petab_suite import DEFAULT_CASES, V1_CASES, _case, assert_matches_solution

from celltwin.errors import UnsupportedFeatureError
from celltwin.problem import Problem, from_petab
from celltwin.simulate import SolverSettings

NATIVE = SolverSettings(backend="native")


def _native_problem(case: str, settings: SolverSettings = NATIVE) -> tuple[Problem, dict, object]:
    folder, solution = _case("v1.0.0", case)
    try:
        problem = from_petab(folder / f"_{case}.yaml", settings=settings)
    except UnsupportedFeatureError as exc:
        pytest.skip(f"native backend refuses case {case}: {exc}")
    assert problem.engine == "native"
    return problem, solution, folder


# The cases of test_petab_suite's default run already run on the native engine (the default);
# here the others, which that file marks slow.
@pytest.mark.parametrize("case", [c for c in V1_CASES if c not in DEFAULT_CASES])
def test_native_petab_v1_case(case):
    problem, solution, folder = _native_problem(case)
    try:
        assert_matches_solution(problem, solution, folder)
    except UnsupportedFeatureError as exc:  # some refusals come only when the solve is traced
        pytest.skip(f"native backend refuses case {case}: {exc}")


def _central_difference(f, theta: np.ndarray, h: float) -> np.ndarray:
    grad = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        grad[i] = (float(f(theta + e)) - float(f(theta - e))) / (2 * h)
    return grad


# Small cases with different features: a time course with estimated initial values in the
# model (0001), lin and log10 observables (0007), an estimated noise parameter (0015),
# initial values set by estimated parameters in the condition table (0019), pre-equilibration
# (0009).
GRADIENT_CASES = ["0001", "0007", "0015", "0019", "0009"]


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_native_gradient_matches_finite_differences(case):
    """value_and_grad() at the default tolerances vs central differences of the same problem
    solved at tight tolerances (so that solver noise does not enter the quotient), at a point
    off the nominal values (nominal + 0.1 N(0, 1), where the gradient is not ~0).

    h = 1e-4 on the parameter scale; its convergence is checked against h = 1e-3 (the central
    difference's error falls 100-fold from 1e-3 to 1e-4)."""
    problem, _, _ = _native_problem(case)
    tight, _, _ = _native_problem(case, SolverSettings(backend="native", rtol=1e-11, atol=1e-13,
                                                       steady_state_rtol=1e-12, steady_state_atol=1e-14))
    theta = np.asarray(problem.x_nominal, dtype=float) + 0.1 * np.random.default_rng(1).normal(size=problem.n_parameters)
    theta = np.clip(theta, problem.lower, problem.upper)
    try:
        value, grad = problem.value_and_grad()(jnp.asarray(theta))
    except UnsupportedFeatureError as exc:
        pytest.skip(f"native backend refuses case {case}: {exc}")
    fd = {h: _central_difference(tight.jit_log_likelihood, theta, h) for h in (1e-3, 1e-4)}
    scale = max(np.abs(fd[1e-4]).max(), 1e-8)
    assert np.isfinite(float(value))
    assert np.abs(fd[1e-3] - fd[1e-4]).max() / scale < 1e-5, f"finite differences not converged: {fd}"
    assert np.abs(np.asarray(grad) - fd[1e-4]).max() / scale < 1e-4, (np.asarray(grad), fd[1e-4])
