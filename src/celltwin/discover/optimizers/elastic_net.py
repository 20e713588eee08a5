"""LASSO and elastic net by cyclic coordinate descent, with per-term penalty factors."""

from __future__ import annotations

import dataclasses

import numpy as np

from .base import AbstractSparseOptimizer, SparseFit, least_squares


def elastic_net_path_point(features, target, alpha, l1_ratio, penalty, *, tol=1e-10, max_iter=10_000):
    """Minimise ``|b - A c|^2 / (2 n) + alpha * sum_j w_j (l1 |c_j| + (1 - l1) c_j^2 / 2)``."""
    n, p = features.shape
    coef = np.zeros(p)
    residual = target.copy()
    z = np.sum(features**2, axis=0) / n
    for _ in range(max_iter):
        biggest = 0.0
        for j in range(p):
            if z[j] == 0.0:
                continue
            old = coef[j]
            rho = features[:, j] @ residual / n + z[j] * old
            shrink = alpha * penalty[j] * l1_ratio
            new = np.sign(rho) * max(abs(rho) - shrink, 0.0) / (z[j] + alpha * penalty[j] * (1 - l1_ratio))
            if new != old:
                residual -= features[:, j] * (new - old)
                coef[j] = new
                biggest = max(biggest, abs(new - old))
        if biggest < tol:
            break
    return coef


@dataclasses.dataclass(frozen=True)
class ElasticNet(AbstractSparseOptimizer):
    """Elastic net (``l1_ratio=1`` is the LASSO) on normalised columns.

    With ``debias=True`` the selected terms are refitted by least squares, which removes the
    shrinkage of the L1 penalty from the reported coefficients (the "relaxed" LASSO).
    """

    alpha: float = 1e-2
    l1_ratio: float = 1.0
    debias: bool = True

    def __post_init__(self):
        if not 0.0 < self.l1_ratio <= 1.0:
            raise ValueError(f"l1_ratio must be in (0, 1], got {self.l1_ratio}")

    def fit_normalized(self, features, target, penalty, rng):
        coef = elastic_net_path_point(features, target, self.alpha, self.l1_ratio, penalty)
        support = coef != 0.0
        if self.debias:
            coef = least_squares(features, target, support)
        return SparseFit(coef, support.astype(float))


@dataclasses.dataclass(frozen=True)
class Lasso(ElasticNet):
    """The LASSO: an :class:`ElasticNet` with ``l1_ratio=1``."""

    l1_ratio: float = 1.0
