"""Synthetic systems with known equations, for recovery tests and benchmarks.

Noise is Gaussian with standard deviation ``noise * std(x_i)``, the spread of each species
over its own trajectory (``noise=0.05`` is "5 % noise").
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence

import numpy as np

from ._data import TimeCourses, Trajectory


@dataclasses.dataclass(frozen=True)
class SyntheticSystem:
    """Equations ``{species: {term: coefficient}}`` (term names as the libraries write them),
    training initial states, one held-out initial state and the sampling grid."""

    name: str
    species: tuple[str, ...]
    equations: Mapping[str, Mapping[str, float]]
    train_initial: tuple[tuple[float, ...], ...]
    test_initial: tuple[float, ...]
    t_end: float
    n_samples: int

    @functools.cached_property
    def _compiled(self):
        from .library import CustomLibrary, term_function

        names = sorted({n for eq in self.equations.values() for n in eq})
        terms = CustomLibrary({n: n.replace("^", "**") for n in names}).terms(self.species)
        coef = np.array([[self.equations[s].get(n, 0.0) for n in names] for s in self.species])
        return term_function(terms, self.species), coef

    def rhs(self, x: np.ndarray) -> np.ndarray:
        """The true right-hand side at one state (n_species,)."""
        features, coef = self._compiled
        return coef @ features(x)[0]

    def times(self) -> np.ndarray:
        return np.linspace(0.0, self.t_end, self.n_samples)

    def simulate(self, x0: Sequence[float], t: np.ndarray | None = None) -> np.ndarray:
        """Exact trajectory (scipy LSODA, rtol 1e-10)."""
        from scipy.integrate import solve_ivp

        t = self.times() if t is None else t
        sol = solve_ivp(lambda _, x: self.rhs(x), (t[0], t[-1]), np.asarray(x0, float), method="LSODA",
                        t_eval=t, rtol=1e-10, atol=1e-12)
        return sol.y.T

    def time_courses(self, noise: float, seed: int) -> tuple[TimeCourses, np.ndarray]:
        """Noisy training data and the noise-free trajectories, shape (runs, n, species)."""
        rng = np.random.default_rng(seed)
        t = self.times()
        clean = np.array([self.simulate(x0, t) for x0 in self.train_initial])
        noisy = clean + noise * clean.std(axis=1, keepdims=True) * rng.standard_normal(clean.shape)
        runs = tuple(Trajectory(str(k), t, x) for k, x in enumerate(noisy))
        return TimeCourses(self.species, runs), clean


LOTKA_VOLTERRA = SyntheticSystem(
    "lotka-volterra", ("x", "y"),
    {"x": {"x": 1.0, "x*y": -0.5}, "y": {"y": -1.0, "x*y": 0.25}},
    ((2.0, 1.0), (6.0, 3.0), (3.0, 4.0)), (4.0, 1.5), 15.0, 301,
)
"""Prey x and predator y."""

SELKOV = SyntheticSystem(
    "glycolysis (Sel'kov)", ("x", "y"),
    {"x": {"x": -1.0, "y": 0.08, "x^2*y": 1.0}, "y": {"1": 0.6, "y": -0.08, "x^2*y": -1.0}},
    ((1.0, 1.0), (0.2, 2.0), (2.0, 0.3)), (1.5, 1.5), 30.0, 301,
)
"""Sel'kov's glycolytic oscillator: ADP x and F6P y; a limit cycle (needs degree-3 terms)."""

CASCADE = SyntheticSystem(
    "signalling cascade with feedback", ("X1", "X2", "X3"),
    {"X1": {"1": 1.0, "X1": -1.0, "X1*X3": -2.0},
     "X2": {"X1": 2.0, "X1*X2": -2.0, "X2": -0.5},
     "X3": {"X2": 1.5, "X2*X3": -1.5, "X3": -0.5}},
    ((0.0, 0.0, 0.0), (1.0, 0.0, 0.8), (0.5, 1.0, 0.0), (0.2, 0.5, 1.0), (1.0, 1.0, 1.0), (0.0, 0.8, 0.3)),
    (0.8, 0.2, 0.4), 4.0, 201,
)
"""Three-tier activation cascade; X3 inhibits the activation of X1 (the feedback ``-2 X1*X3``)."""

SYSTEMS = (LOTKA_VOLTERRA, SELKOV, CASCADE)
