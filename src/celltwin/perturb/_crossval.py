"""Choosing fit settings by cross-validation inside each fold's training data.

Nested leave-pair-out: for every pair of folds ``(a, b)`` and every grid point, one fit leaves
out both; its score on ``b``'s units is a validation score for outer fold ``a`` (``b`` is
training data of ``a``, and ``a`` was never seen), and its score on ``a``'s units one for outer
fold ``b``. A fold's validation curve is the mean over the other folds, and its setting is the
curve's minimum. So the choice never looks at the fold's own held-out cells, and one pair fit
serves two outer folds (``F (F - 1) / 2`` fits per grid point instead of ``F (F - 1)``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import CelltwinInputError


def leave_pair_out_curves(n_folds: int, n_grid: int,
                          score_pair: Callable[[int, int, int], tuple[float, float]],
                          progress: Callable[[], None] | None = None) -> np.ndarray:
    """``(n_folds, n_grid)`` validation curves (lower is better).

    Arguments:
        score_pair: ``(a, b, g) -> (score on a's units, score on b's units)`` of one fit with
            grid point ``g`` that leaves out folds ``a`` and ``b``.
        progress: called after each fit.

    >>> # a score that is the index of the scored fold: fold 0's curve averages folds 1 and 2
    >>> leave_pair_out_curves(3, 1, lambda a, b, g: (float(a), float(b)))
    array([[1.5],
           [1. ],
           [0.5]])
    """
    if n_folds < 2:
        raise CelltwinInputError("cross-validation of the fit settings needs at least 2 held-out folds "
                                 "(give one value per setting, or more folds)")
    total = np.zeros((n_folds, n_grid))
    for a in range(n_folds):
        for b in range(a + 1, n_folds):
            for g in range(n_grid):
                score_a, score_b = score_pair(a, b, g)
                total[a, g] += score_b
                total[b, g] += score_a
                if progress is not None:
                    progress()
    return total / (n_folds - 1)
