"""Benchmark metrics: how well predictive draws match held-out data, how close estimated
parameters are to the truth, and how well a recovered structure matches the true one.

Errors of different observables are made comparable by dividing by each observable's
size: the root mean square of its held-out measurements (:func:`observable_scales`). (Not
their standard deviation: a time course that settles quickly has a spread close to the
noise level, and a perfect model would then score about 1.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

INTERVAL = 0.9  # the central predictive interval whose coverage is reported


def observable_scales(measured: np.ndarray, observables: np.ndarray) -> np.ndarray:
    """Per row: the root mean square of the held-out measurements of its observable (1 where it is 0)."""
    measured = np.asarray(measured, dtype=float)
    scale = np.ones_like(measured)
    for obs in np.unique(observables):
        rows = observables == obs
        rms = float(np.sqrt(np.mean(measured[rows] ** 2)))
        scale[rows] = rms if rms > 0 else 1.0
    return scale


def normalised_rmse(mean: np.ndarray, measured: np.ndarray, scale: np.ndarray) -> float:
    """``sqrt(mean(((prediction - measured) / scale)**2))``."""
    return float(np.sqrt(np.mean(((np.asarray(mean) - measured) / scale) ** 2)))


def interval_coverage(draws: np.ndarray, measured: np.ndarray, level: float = INTERVAL) -> float:
    """Fraction of measurements inside the central ``level`` interval of their draws."""
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return float(np.mean((measured >= lo) & (measured <= hi)))


def crps_samples(draws: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Continuous ranked probability score of each column of ``draws`` (n_draws, n_rows)
    against its measurement: ``E|X - y| - E|X - X'| / 2`` for the empirical distribution
    of the draws, computed exactly from the sorted draws in O(n log n)."""
    x = np.sort(np.asarray(draws, dtype=float), axis=0)
    n = x.shape[0]
    term1 = np.mean(np.abs(x - measured[None, :]), axis=0)
    # E|X - X'| over all ordered pairs = 2 / n^2 * sum_i (2i - n - 1) x_(i)
    weights = (2 * np.arange(1, n + 1) - n - 1)[:, None]
    term2 = np.sum(weights * x, axis=0) * 2 / n**2
    return term1 - 0.5 * term2


def crps_gaussian(mu, sd, y) -> np.ndarray:
    """CRPS of ``N(mu, sd^2)`` at ``y`` in closed form (Gneiting & Raftery 2007)."""
    from scipy.stats import norm

    z = (np.asarray(y) - mu) / sd
    return sd * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))


def parameter_log10_error(estimated: Mapping[str, float] | None, truth: Mapping[str, float] | None) -> float:
    """Mean ``|log10(estimate / truth)|`` over the parameters both know (NaN if none)."""
    if not estimated or not truth:
        return math.nan
    shared = [p for p in truth if p in estimated and truth[p] > 0 and estimated[p] > 0]
    if not shared:
        return math.nan
    return float(np.mean([abs(math.log10(estimated[p]) - math.log10(truth[p])) for p in shared]))


def structure_f1(found: frozenset[str] | None, truth: frozenset[str] | None) -> float:
    """F1 score of the found reaction ids against the true ones (NaN when either is unknown)."""
    if found is None or truth is None:
        return math.nan
    tp = len(found & truth)
    if tp == 0:
        return 0.0
    precision, recall = tp / len(found), tp / len(truth)
    return 2 * precision * recall / (precision + recall)


def prediction_metrics(draws: np.ndarray, measured: np.ndarray, observables: np.ndarray) -> dict[str, float]:
    """``nrmse`` (of the predictive mean), ``coverage90`` and ``crps`` (mean over rows,
    each row's CRPS divided by its observable's scale) of draws against held-out data."""
    draws = np.asarray(draws, dtype=float)
    measured = np.asarray(measured, dtype=float)
    if draws.ndim != 2 or draws.shape[1] != measured.shape[0]:
        raise ValueError(f"draws of shape {draws.shape} do not match {measured.shape[0]} held-out measurements")
    scale = observable_scales(measured, observables)
    return {
        "nrmse": normalised_rmse(draws.mean(axis=0), measured, scale),
        "coverage90": interval_coverage(draws, measured),
        "crps": float(np.mean(crps_samples(draws, measured) / scale)),
    }
