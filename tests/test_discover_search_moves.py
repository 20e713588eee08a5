"""The reaction search's moves: compiled sensitivities, the reversible-pair score test and the
pair addition, each against an independent reference (finite differences, scipy's NNLS, the
true network)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import nnls
from test_discover_network import ENZYME_REACTIONS

from celltwin.discover import Reaction, fit_trajectories, noise_scales, pair_scores, stepwise_search
from celltwin.discover._network import _candidates
from celltwin.discover._trajectory_fit import _solve_with_sensitivities
from celltwin.discover._trajectory_search import _projected_sensitivities, _reverse_pairs
from celltwin.discover.systems import ENZYME


def _solve(rates, x0, t, reactants, change):
    """The network by an explicit Runge-Kutta method (scipy DOP853), not the LSODA of the code under test."""
    def rhs(_, x):
        return change.T @ (rates * np.prod(x[None, :] ** reactants, axis=1))

    return solve_ivp(rhs, (t[0], t[-1]), x0, t_eval=t, method="DOP853", rtol=1e-10, atol=1e-12).y.T


@pytest.mark.parametrize("extra", [[], [Reaction((1, 1, 1, 0), (0, 0, 0, 1), 0.2)]], ids=["compiled", "numpy"])
def test_sensitivities_match_finite_differences(extra):
    # the enzyme plus a dimerisation (2 S -> 0, a squared reactant) and a synthesis (0 -> S);
    # a three-molecule complex (second case) takes the NumPy path instead of the compiled kernels
    reactions = ENZYME_REACTIONS + [Reaction((0, 2, 0, 0), (0, 0, 0, 0), 0.3), Reaction((0, 0, 0, 0), (0, 1, 0, 0), 0.5)]
    reactions += extra
    reactants = np.array([r.reactants for r in reactions], float)
    change = np.array([np.subtract(r.products, r.reactants) for r in reactions], float)
    rates = np.array([r.rate_constant for r in reactions])
    x0, t = np.array([1.0, 2.0, 0.2, 0.0]), np.linspace(0.0, 3.0, 13)
    states, sens = _solve_with_sensitivities(rates, x0, t, reactants, change)
    assert np.allclose(states, _solve(rates, x0, t, reactants, change), atol=1e-5)
    h = 1e-5
    for c in range(len(rates)):  # by log rate constants
        up, down = rates * np.exp(h * (np.arange(len(rates)) == c)), rates * np.exp(-h * (np.arange(len(rates)) == c))
        numeric = (_solve(up, x0, t, reactants, change) - _solve(down, x0, t, reactants, change)) / (2 * h)
        assert np.allclose(sens[:, :, c], numeric, atol=1e-4), c
    for i in range(4):  # by initial states
        e = h * np.eye(4)[i]
        numeric = (_solve(rates, x0 + e, t, reactants, change) - _solve(rates, x0 - e, t, reactants, change)) / (2 * h)
        assert np.allclose(sens[:, :, len(rates) + i], numeric, atol=1e-4), i


@pytest.fixture(scope="module")
def enzyme_without_binding():
    """1 % noise; the enzyme's catalysis C -> E + P alone, fitted."""
    data, _ = ENZYME.time_courses(0.01, 0, relative=True)
    sd = noise_scales(data)
    partial = ENZYME_REACTIONS[2:]
    return data, sd, partial, fit_trajectories(data, partial, sd)


def test_pair_scores_are_the_nonnegative_least_squares_drop(enzyme_without_binding):
    # the first-order drop of a pair is min over k >= 0 of |r + A k|^2 - |r|^2 on its two
    # projected sensitivity columns; scipy's NNLS solves the same problem by active sets
    data, sd, partial, fit = enzyme_without_binding
    present = {(r.reactants, r.products) for r in partial}
    pool = [c for c in _candidates(4, 2) if c not in present]
    pairs, drop, rates = pair_scores(data, partial, fit, sd, pool)
    assert pairs == _reverse_pairs(pool) and len(pairs) == len(pool) // 2  # every candidate has its reverse
    a = _projected_sensitivities(data, partial, fit, sd, pool, 8)
    r = fit.residuals
    base = float(r @ r)
    for j in np.random.default_rng(0).choice(len(pairs), 40, replace=False).tolist() + [int(np.argmax(drop))]:
        k, resid = nnls(a[:, list(pairs[j])], -r)
        if np.all(k > 0):  # both rates positive: the same optimum
            assert drop[j] == pytest.approx(base - resid**2, rel=1e-6, abs=1e-9 * base)
            assert np.allclose(rates[j], k, rtol=1e-6)
        else:  # a rate at its bound: the pair is not a pair there, and scores 0
            assert drop[j] == 0.0


def test_stepwise_search_from_the_catalysis_alone_ends_at_the_true_enzyme(enzyme_without_binding):
    # the moves (pairs, single additions, removals) from one of the three reactions to the true
    # network with its rate constants (2, 1, 1.5)
    data, sd, partial, _ = enzyme_without_binding
    found, _, moves = stepwise_search(data, partial, sd, _candidates(4, 2))
    by_reaction = {(r.reactants, r.products): r.rate_constant for r in found}
    assert by_reaction.keys() == {(r.reactants, r.products) for r in ENZYME_REACTIONS}, moves
    for r in ENZYME_REACTIONS:
        assert by_reaction[(r.reactants, r.products)] == pytest.approx(r.rate_constant, rel=0.05)
