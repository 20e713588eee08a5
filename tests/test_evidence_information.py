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


def _ar1(rng, chains: int, n: int, rho: float) -> np.ndarray:
    """Stationary AR(1) chains with N(0, 1) marginals (integrated autocorrelation time
    (1 + rho) / (1 - rho))."""
    x = np.zeros((chains, n))
    x[:, 0] = rng.normal(size=chains)
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + math.sqrt(1 - rho**2) * rng.normal(size=chains)
    return x


@pytest.mark.parametrize("seed", [1, 2])
def test_block_bootstrap_interval_matches_the_spread_over_independent_chains(seed):
    """KL(p || q) with p autocorrelated draws (AR(1), rho 0.9, 4 chains x 1000; exact value
    0.5 nats = 0.72 bits against q = N(1, 1)): the reference spread of the estimate is its sd
    over 30 independent replications. The 90 % interval of the moving-block bootstrap (block
    length from arviz's ESS) is about 3.29 of those sd wide; resampling single draws gives an
    interval less than 0.6 as wide, overconfident by the autocorrelation."""
    import arviz as az

    from celltwin.evidence import block_length

    rng = np.random.default_rng(seed)
    replications = [kl_1d(_ar1(rng, 4, 1000, 0.9).ravel(), rng.normal(1, 1, 4000)) for _ in range(30)]
    assert abs(np.mean(replications) - 0.5 / math.log(2)) < 0.1
    reference_width = 3.29 * np.std(replications, ddof=1)
    x = _ar1(rng, 4, 1000, 0.9)
    block = block_length(x.size, float(az.ess(x)))
    assert 20 <= block <= 80  # twice the autocorrelation time, 38, up to the ESS estimate's noise
    p, q = pd.DataFrame({"k": x.ravel()}), pd.DataFrame({"k": rng.normal(1, 1, 4000)})
    width = {}
    for name, b in (("draws", 1), ("blocks", (block, 1))):
        table = information_gain(p, q, bootstrap=60, seed=seed, block=b)
        width[name] = (table.loc["k", "upper"] - table.loc["k", "lower"]) / reference_width
    assert 0.6 < width["blocks"] < 1.7, width
    assert width["draws"] < 0.6, width


def test_block_length_and_bad_blocks():
    from celltwin.evidence import block_length

    assert block_length(4000, 4000) == 2 and block_length(4000, 100) == 80 and block_length(10, 0) == 10
    frame = pd.DataFrame({"k": np.arange(10.0)})
    with pytest.raises(ValueError, match="block"):
        information_gain(frame, frame, bootstrap=2, block=0)
