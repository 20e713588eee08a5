"""KL estimators against the closed form for Gaussians (several seeds), robustness to
repeated draws, and bootstrap intervals that cover the truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from celltwin.evidence import information_gain, kl_1d, kl_knn


def gaussian_kl_bits(m0, S0, m1, S1) -> float:
    """KL(N(m0, S0) || N(m1, S1)) in bits."""
    S0, S1 = np.atleast_2d(S0), np.atleast_2d(S1)
    d = S0.shape[0]
    inv = np.linalg.inv(S1)
    diff = np.atleast_1d(m1) - np.atleast_1d(m0)
    nats = 0.5 * (np.trace(inv @ S0) + diff @ inv @ diff - d + math.log(np.linalg.det(S1) / np.linalg.det(S0)))
    return nats / math.log(2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_1d_kl_matches_the_gaussian_closed_form(seed):
    rng = np.random.default_rng(seed)
    p = rng.normal(0.3, 0.5, 4000)  # a narrowed, shifted posterior
    q = rng.normal(0.0, 1.5, 4000)
    exact = gaussian_kl_bits(0.3, 0.25, 0.0, 2.25)
    assert kl_1d(p, q) == pytest.approx(exact, abs=0.05)
    assert kl_1d(q, q[::-1]) < 0.02  # identical samples: ~0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_knn_kl_matches_the_multivariate_closed_form(seed):
    rng = np.random.default_rng(seed)
    S0 = np.array([[0.3, 0.2, 0.0], [0.2, 0.4, 0.1], [0.0, 0.1, 0.2]])
    S1 = np.eye(3)
    p = rng.multivariate_normal([0.2, -0.1, 0.0], S0, 4000)
    q = rng.multivariate_normal([0.0, 0.0, 0.0], S1, 4000)
    exact = gaussian_kl_bits([0.2, -0.1, 0.0], S0, [0, 0, 0], S1)
    assert kl_knn(p, q) == pytest.approx(exact, abs=0.1 * exact)


def test_repeated_draws_do_not_break_the_estimates():
    """Metropolis-style repeats (each draw kept 1-4 times) leave the estimates close."""
    rng = np.random.default_rng(5)
    p = rng.normal(0.0, 0.5, (3000, 2))
    q = rng.normal(0.0, 1.0, (3000, 2))
    repeated = np.repeat(p, rng.integers(1, 5, len(p)), axis=0)
    exact_1d = gaussian_kl_bits(0.0, 0.25, 0.0, 1.0)
    assert kl_1d(repeated[:, 0], q[:, 0]) == pytest.approx(exact_1d, abs=0.06)
    assert kl_knn(repeated, q) == pytest.approx(2 * exact_1d, abs=0.15)


def test_information_gain_table_with_bootstrap_intervals():
    rng = np.random.default_rng(7)
    post = pd.DataFrame({"k1": rng.normal(0, 0.3, 3000), "k2": rng.normal(0, 1.0, 3000)})
    prior = pd.DataFrame({"k1": rng.normal(0, 1.0, 3000), "k2": rng.normal(0, 1.0, 3000)})
    table = information_gain(post, prior, bootstrap=50, seed=0)
    assert list(table.index) == ["k1", "k2", "total"]
    exact = gaussian_kl_bits(0, 0.09, 0, 1.0)
    assert table.loc["k1", "lower"] - 0.05 <= exact <= table.loc["k1", "upper"] + 0.05
    assert table.loc["k2", "kl_bits"] < 0.05  # unchanged parameter: no information
    assert table.loc["total", "kl_bits"] == pytest.approx(exact, abs=0.15)
    with pytest.raises(ValueError, match="same columns"):
        information_gain(post, prior[["k2", "k1"]])
