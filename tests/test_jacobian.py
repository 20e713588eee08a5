"""The sparse Jacobian of compiled models and the sparse LU of the Rosenbrock solvers,
against dense autodiff, numpy and a closed-form solution."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from celltwin.model import Model, compile_model, hill, mass_action, michaelis_menten
from celltwin.simulate import SolverSettings, Status, solve_time_course
from celltwin.simulate._solve import SPARSE_LU_MIN_STATES, _sparse_lu
from celltwin.simulate._sparse_lu import SparseLU


def _mixed_model() -> Model:
    """Every kind of flux the compiler distinguishes: mass action (with a time-dependent
    stimulus), Michaelis-Menten, Hill, a rate rule, two compartments, an amount-based and a
    boundary species."""
    m = Model("mixed")
    m.add_compartment("cyt", 2.0)
    m.add_compartment("nuc", 0.5)
    m.add_species("L", 1.0, compartment="cyt", boundary=True)
    m.add_species("A", 1.0, compartment="cyt")
    m.add_species("B", 0.6, compartment="cyt")
    m.add_species("C", 0.1, compartment="cyt")
    m.add_species("N", 0.0, compartment="nuc")
    m.add_species("P", 0.2, compartment="nuc", amount_based=True)
    m.add_species("R", 0.3)
    for pid, v in {"kf": 0.8, "kr": 0.3, "Vm": 1.1, "Km": 0.4, "Vh": 0.7, "K": 0.5, "n": 2.0, "kt": 0.9}.items():
        m.add_parameter(pid, v)
    m.add_reaction("bind", "A + B -> C", rate=mass_action("kf", "kr"))
    m.add_reaction("stim", "L -> A", rate="kt * L * piecewise(1, time > 2, 0.2)")
    m.add_reaction("import", "C -> N", rate=michaelis_menten("Vm", "Km"))
    m.add_reaction("express", "-> P", rate=hill("Vh", "K", "n", activator="N"))
    m.add_reaction("use", "P + A -> B", rate=mass_action("kf"))
    m.add_rate_rule("R", "-kr * R * C + 0.1 * time")
    return m


@pytest.mark.parametrize("t", [1.0, 3.5])
def test_model_jacobian_matches_dense_autodiff(t):
    cm = compile_model(_mixed_model())
    p = jnp.asarray(cm.parameter_values)
    d = cm.derived(p)
    x = jnp.asarray(np.random.default_rng(3).uniform(0.1, 2.0, cm.n_states))
    t = jnp.asarray(t)
    J, dfdt = jax.jit(cm.jacobian)(t, x, p, d)
    J_ref = jax.jacfwd(lambda y: cm.rhs(t, y, p, d))(x)
    dfdt_ref = jax.jacfwd(lambda s: cm.rhs(s, x, p, d))(t)
    np.testing.assert_allclose(J, J_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dfdt, dfdt_ref, rtol=1e-12, atol=1e-14)
    # The structural pattern covers every non-zero, and is not trivially dense.
    assert np.all(cm.jacobian_sparsity | (np.asarray(J_ref) == 0))
    assert cm.jacobian_sparsity.sum() < cm.n_states**2
    assert cm.n_jacobian_colours < cm.n_states


def _random_pattern(n: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pattern = rng.random((n, n)) < density
    pattern[:, rng.integers(n)] = True  # a dense column and row: a trailing clique
    pattern[rng.integers(n), :] = True
    np.fill_diagonal(pattern, True)
    return pattern


@pytest.mark.parametrize("n, density, seed", [(1, 1.0, 0), (6, 0.3, 1), (40, 0.05, 2), (150, 0.02, 3), (150, 0.0, 4)])
def test_sparse_lu_solves_like_numpy(n, density, seed):
    pattern = _random_pattern(n, density, seed) if density else np.eye(n, dtype=bool)
    rng = np.random.default_rng(seed + 100)
    A = np.where(pattern, rng.normal(size=(n, n)), 0.0)
    A[np.diag_indices(n)] = np.abs(A).sum(axis=1) + 1.0  # diagonally dominant, as I/(h gamma) - J for small h
    b = rng.normal(size=n)
    lu = SparseLU(pattern)
    x = jax.jit(lambda A, b: lu.solve(lu.factor(A), b))(jnp.asarray(A), jnp.asarray(b))
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-10, atol=1e-12)
    # Filled entries stay far below dense for sparse patterns (the point of the ordering).
    if n >= 40:
        assert lu.nnz < 0.5 * n * n, lu


def test_sparse_lu_handles_non_dominant_matrices():
    """Off-diagonal entries larger than the diagonal (no row exchanges are made outside the
    dense trailing block, so only a vanishing pivot would fail)."""
    n = 60
    pattern = _random_pattern(n, 0.08, 7)
    rng = np.random.default_rng(8)
    A = np.where(pattern, rng.normal(size=(n, n)) * 3.0, 0.0) + np.eye(n)
    b = rng.normal(size=n)
    lu = SparseLU(pattern)
    x = lu.solve(lu.factor(jnp.asarray(A)), jnp.asarray(b))
    np.testing.assert_allclose(A @ np.asarray(x), b, rtol=1e-8, atol=1e-8)


def test_large_chain_uses_sparse_lu_and_matches_closed_form():
    """A0 -> A1 -> ... -> A(n-1), all at rate k: A_i(t) = (k t)^i e^(-k t) / i! (Poisson)."""
    n, k = SPARSE_LU_MIN_STATES + 20, 2.0
    m = Model("chain")
    for i in range(n):
        m.add_species(f"A{i}", 1.0 if i == 0 else 0.0)
    m.add_parameter("k", k)
    for i in range(n - 1):
        m.add_reaction(f"r{i}", f"A{i} -> A{i + 1}", rate=mass_action("k"))
    cm = compile_model(m)
    assert _sparse_lu(cm) is not None
    ts = jnp.array([0.5, 2.0, 5.0])
    p = jnp.asarray(cm.parameter_values)
    xs, status = jax.jit(lambda p: solve_time_course(cm, p, cm.x0(p), ts, settings=SolverSettings()))(p)
    assert int(status) == Status.OK
    for j, t in enumerate(np.asarray(ts)):
        expected = [math.exp(-k * t + i * math.log(k * t) - math.lgamma(i + 1)) for i in range(30)]
        np.testing.assert_allclose(np.asarray(xs[j, :30]), expected, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(float(jnp.sum(xs[-1])), 1.0, rtol=1e-9)


def test_sparse_lu_differentiates_like_a_dense_solve():
    """Reverse and forward mode through the factorisation and the solve (the gradient of a
    likelihood of a large model goes through both in every step)."""
    n = 30
    pattern = _random_pattern(n, 0.1, 11)
    rng = np.random.default_rng(12)
    A = np.where(pattern, rng.normal(size=(n, n)), 0.0)
    A[np.diag_indices(n)] = np.abs(A).sum(axis=1) + 1.0
    b = jnp.asarray(rng.normal(size=n))
    lu = SparseLU(pattern)
    w = jnp.asarray(rng.normal(size=n))

    def sparse(A):
        return w @ lu.solve(lu.factor(A), b)

    def dense(A):
        return w @ jnp.linalg.solve(A, b)

    mask = jnp.asarray(pattern | np.eye(n, dtype=bool))
    np.testing.assert_allclose(jax.grad(sparse)(jnp.asarray(A)) * mask, jax.grad(dense)(jnp.asarray(A)) * mask,
                               rtol=1e-9, atol=1e-12)
    direction = jnp.asarray(np.where(pattern, rng.normal(size=(n, n)), 0.0))
    np.testing.assert_allclose(jax.jvp(sparse, (jnp.asarray(A),), (direction,))[1],
                               jax.jvp(dense, (jnp.asarray(A),), (direction,))[1], rtol=1e-9)
