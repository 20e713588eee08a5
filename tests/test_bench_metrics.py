"""Benchmark metrics against independent references: the Gaussian CRPS closed form against
numerical integration of its definition, the sample CRPS against the pairwise definition and
against the closed form, coverage against its binomial sampling distribution, RMSE, log10
error and F1 against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from celltwin.bench import (
    crps_gaussian,
    crps_samples,
    interval_coverage,
    normalised_rmse,
    parameter_log10_error,
    prediction_metrics,
    structure_f1,
)


@pytest.mark.parametrize(("mu", "sd", "y"), [(0.0, 1.0, 0.3), (2.0, 0.5, -1.0), (-1.0, 3.0, 4.0)])
def test_gaussian_crps_closed_form_matches_the_integral(mu, sd, y):
    """CRPS(F, y) = integral of (F(x) - 1{x >= y})^2 dx."""
    f = stats.norm(mu, sd).cdf
    left, _ = integrate.quad(lambda x: f(x) ** 2, -np.inf, y)
    right, _ = integrate.quad(lambda x: (1 - f(x)) ** 2, y, np.inf)
    assert crps_gaussian(mu, sd, y) == pytest.approx(left + right, rel=1e-7)


def test_sample_crps_is_the_pairwise_definition():
    rng = np.random.default_rng(1)
    draws = rng.gamma(2.0, size=(37, 5))
    y = rng.normal(size=5)
    pairwise = (np.mean(np.abs(draws - y), axis=0)
                - 0.5 * np.mean(np.abs(draws[:, None, :] - draws[None, :, :]), axis=(0, 1)))
    np.testing.assert_allclose(crps_samples(draws, y), pairwise, rtol=1e-12)


def test_sample_crps_converges_to_the_gaussian_closed_form():
    """Draws at the normal quantiles (i - 1/2)/n: the empirical CRPS is within O(1/n)."""
    n = 20_000
    mu, sd = np.array([0.0, 1.5, -2.0]), np.array([1.0, 0.2, 4.0])
    y = np.array([0.4, 1.0, 3.0])
    draws = mu + sd * stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)[:, None]
    np.testing.assert_allclose(crps_samples(draws, y), crps_gaussian(mu, sd, y), rtol=2e-4)


def test_coverage_of_a_calibrated_prediction_is_near_ninety_percent():
    """y ~ N(0, 1) and draws at N(0, 1) quantiles: coverage ~ Binomial(n, 0.9) / n."""
    rng = np.random.default_rng(7)
    n_rows = 5000
    y = rng.normal(size=n_rows)
    draws = np.tile(stats.norm.ppf((np.arange(1, 2001) - 0.5) / 2000)[:, None], (1, n_rows))
    sd = math.sqrt(0.9 * 0.1 / n_rows)
    assert abs(interval_coverage(draws, y) - 0.9) < 4 * sd
    # an over-confident prediction (half the spread) covers ~ P(|z| < 1.645 / 2)
    expected = 2 * stats.norm.cdf(stats.norm.ppf(0.95) / 2) - 1
    assert abs(interval_coverage(draws / 2, y) - expected) < 4 * math.sqrt(expected * (1 - expected) / n_rows)


def test_nrmse_divides_each_observable_by_its_size():
    measured = np.array([1.0, 3.0, 10.0, 30.0])
    observables = np.array(["a", "a", "b", "b"])
    prediction = np.array([2.0, 3.0, 10.0, 20.0])
    # root mean squares: sqrt(5) and 10 sqrt(5); scaled errors 1/sqrt(5), 0, 0, -1/sqrt(5)
    metrics = prediction_metrics(np.tile(prediction, (3, 1)), measured, observables)
    assert metrics["nrmse"] == pytest.approx(math.sqrt(0.1))
    assert normalised_rmse(prediction, measured, np.ones(4)) == pytest.approx(math.sqrt((1 + 100) / 4))
    # a point prediction: CRPS is the absolute error
    assert metrics["crps"] == pytest.approx(0.5 / math.sqrt(5))


def test_parameter_error_and_structure_f1_by_hand():
    truth = {"k1": 1.0, "k2": 0.1, "k3": 5.0}
    estimate = {"k1": 10.0, "k2": 0.1, "k_extra": 3.0}
    assert parameter_log10_error(estimate, truth) == pytest.approx(0.5)  # |1| and |0| over the shared two
    assert math.isnan(parameter_log10_error(None, truth))
    found, true = frozenset({"r1", "r2", "r_spurious"}), frozenset({"r1", "r2", "r3", "r4"})
    precision, recall = 2 / 3, 2 / 4
    assert structure_f1(found, true) == pytest.approx(2 * precision * recall / (precision + recall))
    assert structure_f1(frozenset({"x"}), true) == 0.0
    assert math.isnan(structure_f1(None, true))


def test_mismatched_draws_are_rejected():
    with pytest.raises(ValueError, match="do not match 3 held-out"):
        prediction_metrics(np.zeros((10, 2)), np.zeros(3), np.array(["a"] * 3))
