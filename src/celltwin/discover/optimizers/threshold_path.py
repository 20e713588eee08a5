"""STLSQ with its threshold chosen by cross-validation (the sparsest model that predicts
held-out rows almost as well as the best one)."""

from __future__ import annotations

import dataclasses

import numpy as np

from .base import AbstractSparseOptimizer, SparseFit, least_squares
from .stlsq import STLSQ


@dataclasses.dataclass(frozen=True)
class ThresholdPath(AbstractSparseOptimizer):
    """Runs :class:`STLSQ` over ``n_thresholds`` thresholds from ``smallest`` to ``largest``
    (geometric grid); scores each distinct support by ``n_folds``-fold cross-validation on
    contiguous blocks of rows; keeps the sparsest support whose held-out error is within a
    factor ``1 + tolerance`` of the smallest.
    """

    smallest: float = 0.01
    largest: float = 1.0
    n_thresholds: int = 25
    n_folds: int = 5
    tolerance: float = 0.1
    ridge: float = 1e-6

    def supports(self, features, target, penalty) -> list[np.ndarray]:
        """The distinct STLSQ supports along the threshold grid (densest first)."""
        out: list[np.ndarray] = []
        for thr in np.geomspace(self.smallest, self.largest, self.n_thresholds):
            fit = STLSQ(float(thr), self.ridge).fit_normalized(features, target, penalty, None)
            support = fit.inclusion > 0
            if support.any() and not any(np.array_equal(support, s) for s in out):
                out.append(support)
        return out

    def cv_error(self, features, target, support) -> float:
        folds = np.array_split(np.arange(len(features)), self.n_folds)
        err = 0.0
        for held in folds:
            train = np.setdiff1d(np.arange(len(features)), held)
            coef = least_squares(features[train], target[train], support, self.ridge)
            err += np.sum((features[held] @ coef - target[held]) ** 2)
        return err / len(features)

    def fit_normalized(self, features, target, penalty, rng):
        supports = self.supports(features, target, penalty)
        if not supports:
            return SparseFit(np.zeros(features.shape[1]), np.zeros(features.shape[1]))
        errors = np.array([self.cv_error(features, target, s) for s in supports])
        ok = [k for k in range(len(supports)) if errors[k] <= (1 + self.tolerance) * errors.min()]
        best = min(ok, key=lambda k: (supports[k].sum(), errors[k]))
        support = supports[best]
        return SparseFit(least_squares(features, target, support, self.ridge), support.astype(float))
