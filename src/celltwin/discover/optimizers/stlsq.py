"""Sequentially thresholded least squares."""

from __future__ import annotations

import dataclasses

import numpy as np

from .base import AbstractSparseOptimizer, SparseFit, least_squares


@dataclasses.dataclass(frozen=True)
class STLSQ(AbstractSparseOptimizer):
    """Least squares, drop the terms whose normalised coefficient is below
    ``threshold * penalty``, refit on the rest, until nothing changes.

    ``ridge`` adds a small L2 term (relative to the row count) that keeps nearly collinear
    candidate terms from producing huge cancelling coefficients.
    """

    threshold: float = 0.1
    ridge: float = 1e-6
    max_iter: int = 25

    def fit_normalized(self, features, target, penalty, rng):
        support = np.ones(features.shape[1], dtype=bool)
        coef = least_squares(features, target, support, self.ridge)
        for _ in range(self.max_iter):
            keep = support & (np.abs(coef) >= self.threshold * penalty)
            if np.array_equal(keep, support):
                break
            support = keep
            coef = least_squares(features, target, support, self.ridge)
        return SparseFit(coef, support.astype(float))
