"""The sparse optimizer interface and the result it returns for one target."""

from __future__ import annotations

import abc
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class SparseFit:
    """Coefficients of one target on the candidate terms, and each term's inclusion probability
    (0 or 1 for point estimates, a frequency for ensembles, a posterior probability for Bayesian fits)."""

    coefficients: np.ndarray
    inclusion: np.ndarray


def least_squares(features: np.ndarray, target: np.ndarray, support: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """Ridge-regularised least squares on the columns in ``support``; zeros elsewhere."""
    coef = np.zeros(features.shape[1])
    if support.any():
        a = features[:, support]
        gram = a.T @ a + ridge * len(a) * np.eye(a.shape[1])
        coef[support] = np.linalg.lstsq(gram, a.T @ target, rcond=None)[0]
    return coef


class AbstractSparseOptimizer(abc.ABC):
    """Finds sparse ``c`` with ``features @ c ~ target``.

    :meth:`fit` scales every column and the target to unit root-mean-square first, so
    thresholds and penalties are scale-free: a normalised coefficient of 0.1 means the term
    carries about 10 % of the target's magnitude. ``penalty`` (one factor per term, default 1)
    comes from prior knowledge: 0 never removes a term, 2 penalises it twice as hard.
    Optimizers with ``sign_constrained = True`` also take ``nonnegative`` (one flag per term:
    that coefficient must be >= 0).
    """

    sign_constrained = False

    def fit(self, features: np.ndarray, target: np.ndarray, *, penalty: np.ndarray | None = None,
            nonnegative: np.ndarray | None = None, seed: int = 0) -> SparseFit:
        """Fit one target (n_rows,) on the features (n_rows, n_terms)."""
        features = np.asarray(features, dtype=float)
        target = np.asarray(target, dtype=float)
        n_terms = features.shape[1]
        penalty = np.ones(n_terms) if penalty is None else np.asarray(penalty, dtype=float)
        if penalty.shape != (n_terms,):
            raise ValueError(f"penalty has shape {penalty.shape}, expected ({n_terms},)")
        col = np.sqrt(np.mean(features**2, axis=0))
        col = np.where(col > 0, col, 1.0)
        scale = float(np.sqrt(np.mean(target**2))) or 1.0
        rng = np.random.default_rng(seed)
        if nonnegative is not None and np.any(nonnegative):
            if not self.sign_constrained:
                raise ValueError(f"{type(self).__name__} does not take sign constraints")
            fit = self.fit_normalized(features / col, target / scale, penalty, rng,  # type: ignore[call-arg]
                                          nonnegative=nonnegative)  # only sign-constrained optimizers take it
        else:
            fit = self.fit_normalized(features / col, target / scale, penalty, rng)
        return SparseFit(fit.coefficients * scale / col, fit.inclusion)

    @abc.abstractmethod
    def fit_normalized(self, features: np.ndarray, target: np.ndarray, penalty: np.ndarray,
                       rng: np.random.Generator) -> SparseFit:
        """The fit on unit-RMS columns and target (coefficients in those units)."""
