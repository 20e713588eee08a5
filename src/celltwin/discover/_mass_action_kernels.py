"""Compiled right-hand sides of a mass-action network and its forward sensitivities.

LSODA (``scipy.integrate.odeint``) calls the right-hand side once per evaluation from Python;
the trajectory search fits hundreds of networks, each needing thousands of evaluations, and
a NumPy right-hand side spends its time in the overhead of a dozen small array operations
(about 80 % of a discovery's time, profiled). These numba kernels do the same arithmetic in
one call. They cover complexes of at most two molecules (the reaction search's default
order), given as two species indices per reaction with ``n`` standing for "no molecule".
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _monomials(x, first, second):
    n, m = len(x), len(first)
    xa = np.ones(n + 1)
    xa[:n] = x
    mono = np.empty(m)
    dmono = np.zeros((m, n + 1))
    for r in range(m):
        a, b = first[r], second[r]
        mono[r] = xa[a] * xa[b]
        dmono[r, a] += xa[b]
        dmono[r, b] += xa[a]  # a separate statement, so A^2 gets 2 A
    return mono, dmono


@numba.njit(cache=True)
def _jacobian(x, rates, first, second, stoich):
    n, m = stoich.shape
    _, dmono = _monomials(x, first, second)
    jac = np.zeros((n, n))
    for r in range(m):
        for i in range(n):
            c = stoich[i, r] * rates[r]
            if c != 0.0:
                for j in range(n):
                    jac[i, j] += c * dmono[r, j]
    return jac


@numba.njit(cache=True)
def network_rhs(x, t, rates, first, second, stoich):
    """``dx/dt = stoich @ (rates * monomials(x))``."""
    mono, _ = _monomials(x, first, second)
    n, m = stoich.shape
    out = np.zeros(n)
    for r in range(m):
        f = rates[r] * mono[r]
        for i in range(n):
            out[i] += stoich[i, r] * f
    return out


@numba.njit(cache=True)
def sensitivity_rhs(z, t, rates, first, second, stoich):
    """States and their sensitivities ``s`` (n, m + n) to the log rate constants and the
    initial states, raveled: ``ds/dt = J s + [stoich * flux, 0]``."""
    n, m = stoich.shape
    p = m + n
    x = z[:n]
    mono, _ = _monomials(x, first, second)
    jac = _jacobian(x, rates, first, second, stoich)
    out = np.zeros(n * (1 + p))
    for r in range(m):
        f = rates[r] * mono[r]
        for i in range(n):
            out[i] += stoich[i, r] * f
            out[n + i * p + r] += stoich[i, r] * f
    for i in range(n):
        for j in range(n):
            c = jac[i, j]
            if c != 0.0:
                for q in range(p):
                    out[n + i * p + q] += c * z[n + j * p + q]
    return out


@numba.njit(cache=True)
def sensitivity_jacobian(z, t, rates, first, second, stoich):
    """The Jacobian of :func:`sensitivity_rhs` without the sensitivities' dependence on ``x``
    (an approximation that is enough for LSODA's Newton steps): ``J`` for ``x`` and
    ``kron(J, I_p)`` for the sensitivities."""
    n, m = stoich.shape
    p = m + n
    jac = _jacobian(z[:n], rates, first, second, stoich)
    size = n * (1 + p)
    out = np.zeros((size, size))
    out[:n, :n] = jac
    for i in range(n):
        for j in range(n):
            for q in range(p):
                out[n + i * p + q, n + j * p + q] = jac[i, j]
    return out


def pair_indices(reactants: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Each reactant complex (rows of molecule counts) as two species indices (``n`` for none),
    or ``None`` where a complex has more than two molecules."""
    reactants = np.asarray(reactants).astype(int)
    m, n = reactants.shape
    if m and reactants.sum(axis=1).max() > 2:
        return None
    first, second = np.full(m, n, dtype=np.int64), np.full(m, n, dtype=np.int64)
    for r, row in enumerate(reactants):
        mols = [i for i in range(n) for _ in range(row[i])]
        first[r], second[r] = (mols + [n, n])[:2]
    return first, second
