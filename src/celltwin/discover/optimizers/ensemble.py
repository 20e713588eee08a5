"""Bagging: a sparse optimizer refitted on bootstrap resamples of the rows."""

from __future__ import annotations

import dataclasses

import numpy as np

from .base import AbstractSparseOptimizer, SparseFit, least_squares
from .threshold_path import ThresholdPath


@dataclasses.dataclass(frozen=True)
class Ensemble(AbstractSparseOptimizer):
    """Fits ``base`` on ``n_models`` bootstrap resamples of the regression rows.

    A term's inclusion probability is the fraction of resamples that select it. The terms
    selected at least ``min_probability`` of the time are kept (with ``min_probability=None``
    the kept terms are those ``base`` selects on all rows), and their coefficients are the
    least-squares fit on all rows.
    """

    base: AbstractSparseOptimizer = dataclasses.field(default_factory=ThresholdPath)
    n_models: int = 50
    min_probability: float | None = 0.5

    def fit_normalized(self, features, target, penalty, rng):
        n = len(features)
        selected = np.zeros(features.shape[1])
        for _ in range(self.n_models):
            rows = rng.integers(0, n, n)
            fit = self.base.fit_normalized(features[rows], target[rows], penalty, rng)
            selected += fit.coefficients != 0.0
        inclusion = selected / self.n_models
        if self.min_probability is None:
            support = self.base.fit_normalized(features, target, penalty, rng).coefficients != 0.0
        else:
            support = inclusion >= self.min_probability
        ridge = getattr(self.base, "ridge", 0.0)
        return SparseFit(least_squares(features, target, support, ridge), inclusion)
