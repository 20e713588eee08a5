"""Trajectory fits of reaction networks: rate constants, noise scales, the score test for
additions, and discovered networks as SBML reactions."""

from __future__ import annotations

import numpy as np
import pytest
from test_discover_network import (
    ENZYME_REACTIONS,  # the enzyme written as its three true reactions
)

from celltwin.discover import (
    Discovery,
    Reaction,
    TimeCourses,
    addition_scores,
    equations_of,
    fit_trajectories,
    noise_scales,
)
from celltwin.discover._network import _candidates
from celltwin.discover._trajectory_fit import _Monomials
from celltwin.discover.library import MassActionLibrary
from celltwin.discover.systems import ENZYME


@pytest.mark.parametrize("reactants", [[[1, 1, 0], [0, 0, 2], [0, 1, 0], [0, 0, 0]], [[1, 1, 1], [0, 2, 1]]])
def test_monomial_derivatives_match_central_differences(reactants):
    # the second set has three-molecule complexes: the general path, not the two-index one
    reactants = np.array(reactants, float)
    x = np.array([0.7, 1.3, 0.4])
    mono, deriv = _Monomials(reactants)(x)
    assert np.allclose(mono, np.prod(x ** reactants, axis=1))
    h = 1e-6
    for i in range(3):
        e = np.eye(3)[i] * h
        numeric = (np.prod((x + e) ** reactants, axis=1) - np.prod((x - e) ** reactants, axis=1)) / (2 * h)
        assert np.allclose(deriv[:, i], numeric, atol=1e-8)


def test_trajectory_fit_recovers_the_enzyme_rate_constants():
    # started from k = 1 for all three reactions and the noisy first samples as initial states
    data, _ = ENZYME.time_courses(0.01, 3, relative=True)
    start = [Reaction(r.reactants, r.products, 1.0) for r in ENZYME_REACTIONS]
    fit = fit_trajectories(data, start, noise_scales(data))
    assert fit.success
    assert np.allclose(fit.rate_constants, [2.0, 1.0, 1.5], rtol=0.03)
    for x0_fit, x0_true in zip(fit.initial_states, ENZYME.train_initial):
        assert np.allclose(x0_fit, x0_true, atol=0.02)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_scales_recover_relative_noise_from_the_true_trajectories(seed):
    # 5 % relative noise: the standard deviation at each sample is 0.05 x its true value
    data, clean = ENZYME.time_courses(0.05, seed, relative=True)
    sd = noise_scales(data, list(clean))
    ratio = np.concatenate([s[clean[k] > 0.1] / (0.05 * clean[k][clean[k] > 0.1]) for k, s in enumerate(sd)])
    # 732 residuals fix two parameters per species to a few per cent; allow 15 %
    assert abs(np.median(ratio) - 1.0) < 0.15


def test_score_test_shortlists_the_missing_catalysis_and_the_refit_picks_it():
    # the enzyme without C -> E + P: of the 208 other candidate reactions among 4 species, the
    # missing one is among the 6 (the search's n_try) whose sensitivities best explain the residual trajectories
    # (E + S -> E + P, the same net change of S and P, scores about as well to first order),
    # and refitting those 6 in full picks it
    data, _ = ENZYME.time_courses(0.01, 0, relative=True)
    partial = ENZYME_REACTIONS[:2]
    sd = noise_scales(data)
    fit = fit_trajectories(data, partial, sd)
    pool = [c for c in _candidates(4, 2) if c not in {(r.reactants, r.products) for r in partial}]
    drop, rate = addition_scores(data, partial, fit, sd, pool)
    top = [int(j) for j in np.argsort(drop)[::-1][:6]]
    missing = ((0, 0, 1, 0), (1, 0, 0, 1))
    assert missing in [pool[j] for j in top]
    assert np.all((drop[top] > 0) & (drop[top] <= fit.rss))  # a first-order drop cannot exceed the RSS
    refits = {pool[j]: fit_trajectories(data, partial + [Reaction(*pool[j], rate[j])], sd).rss for j in top}
    assert min(refits, key=refits.get) == missing
    # the true network's fit is at the noise level: RSS / n near 1 if noise_scales is right
    assert refits[missing] / fit.n_observations < 2.0


def test_a_discovered_network_becomes_sbml_reactions(simulate):
    terms = MassActionLibrary().terms(ENZYME.species)
    index = {t.name: j for j, t in enumerate(terms)}
    coef = np.zeros((4, len(terms)))
    for i, eq in enumerate(equations_of(ENZYME.species, ENZYME_REACTIONS).values()):
        for name, c in eq.items():
            coef[i, index[name]] = c
    found = Discovery(ENZYME.species, tuple(terms), coef, (coef != 0).astype(float), {}, tuple(ENZYME_REACTIONS))
    x0 = dict(zip(ENZYME.species, ENZYME.test_initial))
    model = found.to_model(x0)
    assert sorted(model.reactions) == ["r0", "r1", "r2"] and not model.rate_rules
    assert model.reactions["r0"].reactants == {"E": 1, "S": 1} and model.reactions["r0"].products == {"C": 1}
    from celltwin.model import to_sbml

    assert to_sbml(model).count("<reaction ") == 3
    t = np.linspace(0.0, 6.0, 31)
    states, _ = simulate(model, t)  # celltwin's compiler and solver against scipy on the true equations
    truth = ENZYME.simulate(ENZYME.test_initial, t)
    assert np.allclose(np.column_stack([states[s] for s in ENZYME.species]), truth, atol=1e-6)


def test_trajectory_fit_of_a_network_without_reactions_is_the_constant_fit():
    t = np.linspace(0, 1, 11)
    data = TimeCourses.from_arrays(["A"], [(t, np.full((11, 1), 2.0) + 0.01 * np.sin(7 * t)[:, None])])
    fit = fit_trajectories(data, [], [np.full((11, 1), 0.01)])
    # the least-squares constant is the mean (scipy/numpy reference)
    assert fit.initial_states[0][0] == pytest.approx(np.mean(data.trajectories[0].states), abs=1e-6)
