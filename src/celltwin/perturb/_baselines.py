"""Baselines for held-out perturbations: no change, additive singles, a linear model.

All work on the observed mean change of log-normalised expression from control (``delta``),
one row per training condition.
"""

from __future__ import annotations

import numpy as np

from ..errors import CelltwinInputError


def mean_baseline(targets, deltas: dict[tuple[str, ...], np.ndarray]) -> np.ndarray:
    """No change: the perturbed cells look like controls."""
    return np.zeros_like(next(iter(deltas.values())))


def additive_baseline(targets, deltas: dict[tuple[str, ...], np.ndarray]) -> np.ndarray:
    """Sum of the observed single-perturbation changes of each target (log expression).

    >>> import numpy as np
    >>> additive_baseline(("A", "B"), {("A",): np.array([1.0, 0.0]), ("B",): np.array([0.5, 2.0])})
    array([1.5, 2. ])
    """
    missing = [t for t in targets if (t,) not in deltas]
    if missing:
        raise CelltwinInputError(f"additive baseline: no single perturbation of {', '.join(missing)} in training")
    return np.sum([deltas[(t,)] for t in targets], axis=0)


class LinearBaseline:
    """Ridge regression of each condition's change on target indicators, with an intercept.

    ``delta(condition) ~ c + sum_{t in condition} a_t``, fitted on all training conditions
    (singles and combinations), so a shared response to any perturbation goes into ``c`` and
    combinations inform the target coefficients.
    """

    def __init__(self, deltas: dict[tuple[str, ...], np.ndarray], ridge: float = 0.1):
        self.targets = sorted({t for key in deltas for t in key})
        index = {t: i for i, t in enumerate(self.targets)}
        keys = list(deltas)
        x = np.zeros((len(keys), len(self.targets) + 1))
        x[:, -1] = 1.0
        for r, key in enumerate(keys):
            for t in key:
                x[r, index[t]] = 1.0
        y = np.stack([deltas[k] for k in keys])
        penalty = ridge * np.eye(x.shape[1])
        penalty[-1, -1] = 0.0  # the intercept is not shrunk
        self.coef = np.linalg.solve(x.T @ x + penalty, x.T @ y)
        self.index = index

    def __call__(self, targets, deltas=None) -> np.ndarray:
        missing = [t for t in targets if t not in self.index]
        if missing:
            raise CelltwinInputError(f"linear baseline: {', '.join(missing)} not perturbed in training")
        return self.coef[-1] + sum(self.coef[self.index[t]] for t in targets)
