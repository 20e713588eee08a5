"""A simple baseline affinity predictor: Kronecker kernel ridge regression (KronRLS).

The pKd of compound ``d`` on target ``t`` is modelled with the product kernel
``k((d, t), (d', t')) = K_compound(d, d') * K_target(t, t')`` (Pahikkala et al. 2015, the
standard baseline on the Davis data): Tanimoto similarity of Morgan fingerprints times the
k-mer similarity of the sequences. With all pairs of the training compounds observed, the
ridge solution ``(K_t (x) K_d + lambda I) vec(A) = vec(Y - mean)`` is closed form through the
eigendecompositions ``K_d = U diag(s) U'`` and ``K_t = V diag(r) V'``:

    A = U [ (U' (Y - mean) V) / (s r' + lambda) ] V'

and the prediction for new compounds with similarities ``K_new`` to the training compounds
is ``mean + K_new A K_t``. ``lambda`` is chosen by grouped cross-validation inside the
training compounds; predictions returned by :func:`grouped_cross_validation` are always for
compounds whose group (e.g. chemotype) was held out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

RIDGE_GRID = tuple(10.0 ** np.linspace(-2, 3, 11))


@dataclasses.dataclass(frozen=True)
class KroneckerRidge:
    """A fitted model: dual coefficients ``coef`` (training compounds x targets), the target
    kernel and the training mean."""

    coef: np.ndarray
    target_kernel: np.ndarray
    mean: float
    ridge: float

    def predict(self, compound_kernel: np.ndarray) -> np.ndarray:
        """pKd of new compounds given their ``(new, training)`` compound similarities."""
        return self.mean + compound_kernel @ self.coef @ self.target_kernel


def _eigh(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh((kernel + kernel.T) / 2)
    return np.clip(values, 0.0, None), vectors


def fit_kronecker_ridge(compound_kernel: np.ndarray, target_kernel: np.ndarray, y: np.ndarray, ridge: float,
                        *, target_eigh: tuple[np.ndarray, np.ndarray] | None = None) -> KroneckerRidge:
    """Fit on a complete ``(compounds, targets)`` matrix ``y`` (closed form, see the module docstring)."""
    s, u = _eigh(compound_kernel)
    r, v = target_eigh if target_eigh is not None else _eigh(target_kernel)
    mean = float(y.mean())
    inner = (u.T @ (y - mean) @ v) / (s[:, None] * r[None, :] + ridge)
    return KroneckerRidge(coef=u @ inner @ v.T, target_kernel=target_kernel, mean=mean, ridge=ridge)


def group_folds(groups: Sequence[str], n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold number per item such that a group never spans two folds: groups are shuffled
    (``seed``) and each goes to the currently smallest fold."""
    groups = np.asarray(groups).astype(str)
    names = np.unique(groups)
    n_folds = min(n_folds, len(names))
    order = np.random.default_rng(seed).permutation(len(names))
    size = np.zeros(n_folds)
    fold_of = {}
    for g in sorted(names[order], key=lambda g: -np.sum(groups == g)):  # big groups first, then shuffled
        f = int(np.argmin(size))
        fold_of[g] = f
        size[f] += np.sum(groups == g)
    return np.array([fold_of[g] for g in groups])


def choose_ridge(compound_kernel, target_kernel, y, groups, *, grid=RIDGE_GRID, n_folds: int = 4,
                 seed: int = 0, target_eigh=None) -> float:
    """The ridge of ``grid`` with the least grouped cross-validated squared error."""
    folds = group_folds(groups, n_folds, seed)
    if len(np.unique(folds)) < 2:
        return float(np.median(grid))
    target_eigh = target_eigh if target_eigh is not None else _eigh(target_kernel)
    errors = np.zeros(len(grid))
    for f in np.unique(folds):
        tr, te = folds != f, folds == f
        for j, ridge in enumerate(grid):
            model = fit_kronecker_ridge(compound_kernel[np.ix_(tr, tr)], target_kernel, y[tr], ridge,
                                        target_eigh=target_eigh)
            errors[j] += np.sum((model.predict(compound_kernel[np.ix_(te, tr)]) - y[te]) ** 2)
    return float(grid[int(np.argmin(errors))])


def grouped_cross_validation(compound_kernel: np.ndarray, target_kernel: np.ndarray, y: np.ndarray,
                             groups: Sequence[str], *, n_folds: int = 10, seed: int = 0,
                             progress: Callable[[], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-sample pKd for every compound: each fold's compounds (whole groups) are predicted
    by a model fitted, ridge chosen by inner grouped CV, on the other folds only.

    Returns:
        ``(predicted (compounds, targets), ridge per compound)``.
    """
    folds = group_folds(groups, n_folds, seed)
    groups = np.asarray(groups).astype(str)
    target_eigh = _eigh(target_kernel)
    predicted = np.full(y.shape, np.nan)
    ridge_used = np.full(len(y), np.nan)
    for f in np.unique(folds):
        tr, te = folds != f, folds == f
        ridge = choose_ridge(compound_kernel[np.ix_(tr, tr)], target_kernel, y[tr], groups[tr], seed=seed,
                             target_eigh=target_eigh)
        model = fit_kronecker_ridge(compound_kernel[np.ix_(tr, tr)], target_kernel, y[tr], ridge,
                                    target_eigh=target_eigh)
        predicted[te] = model.predict(compound_kernel[np.ix_(te, tr)])
        ridge_used[te] = ridge
        if progress is not None:
            progress()
    return predicted, ridge_used
