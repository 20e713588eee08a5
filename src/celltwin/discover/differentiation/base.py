"""How a trajectory becomes regression rows: ``features @ coefficients ~ targets``."""

from __future__ import annotations

import abc
from collections.abc import Callable

import numpy as np

Features = Callable[[np.ndarray], np.ndarray]
"""Maps states (n_samples, n_species) to the candidate-term matrix (n_samples, n_terms)."""


class AbstractDerivativeEstimate(abc.ABC):
    """Turns one sampled trajectory into rows of the sparse regression.

    Pointwise estimates give ``(features(x(t_k)), dx/dt(t_k))``; the weak form gives the
    same relation integrated against test functions, so no derivative is ever taken of data.
    """

    @abc.abstractmethod
    def rows(self, t: np.ndarray, states: np.ndarray, features: Features) -> tuple[np.ndarray, np.ndarray]:
        """``(A, b)`` with ``A`` (n_rows, n_terms) and ``b`` (n_rows, n_species) for one trajectory."""

    def min_samples(self) -> int:
        """Fewest samples a trajectory needs."""
        return 3
