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
    front_loading: float = 0.0

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
        """The sampling grid: even, or with ``front_loading = a > 0`` denser early, as experiments
        sample a fast initial response (``t_end * (exp(a u) - 1) / (exp(a) - 1)``, ``u`` even in [0, 1])."""
        u = np.linspace(0.0, 1.0, self.n_samples)
        a = self.front_loading
        return self.t_end * (np.expm1(a * u) / np.expm1(a) if a > 0 else u)

    def simulate(self, x0: Sequence[float], t: np.ndarray | None = None) -> np.ndarray:
        """Exact trajectory (scipy LSODA, rtol 1e-10)."""
        from scipy.integrate import solve_ivp

        t = self.times() if t is None else t
        sol = solve_ivp(lambda _, x: self.rhs(x), (t[0], t[-1]), np.asarray(x0, float), method="LSODA",
                        t_eval=t, rtol=1e-10, atol=1e-12)
        return sol.y.T

    def time_courses(self, noise: float, seed: int, *, relative: bool = False) -> tuple[TimeCourses, np.ndarray]:
        """Noisy training data and the noise-free trajectories, shape (runs, n, species).

        With ``relative=True`` each sample's noise is proportional to its own value
        (standard deviation ``noise * |x|``) instead of the species' spread.
        """
        rng = np.random.default_rng(seed)
        t = self.times()
        clean = np.array([self.simulate(x0, t) for x0 in self.train_initial])
        size = np.abs(clean) if relative else clean.std(axis=1, keepdims=True)
        noisy = clean + noise * size * rng.standard_normal(clean.shape)
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

ENZYME = SyntheticSystem(
    "enzyme E + S <-> C -> E + P", ("E", "S", "C", "P"),
    # k1 = 2 (binding), k-1 = 1 (unbinding), k2 = 1.5 (catalysis); E + C and S + C + P are conserved
    {"E": {"E*S": -2.0, "C": 2.5}, "S": {"E*S": -2.0, "C": 1.0},
     "C": {"E*S": 2.0, "C": -2.5}, "P": {"C": 1.5}},
    ((1.0, 2.0, 0.0, 0.0), (0.5, 3.0, 0.2, 0.0), (1.5, 1.0, 0.0, 0.5)), (0.8, 2.5, 0.1, 0.2), 6.0, 61,
)
"""Michaelis-Menten enzyme with full mass action (3 reactions, 2 conservation laws)."""

RECEPTOR_LIGAND = SyntheticSystem(
    "receptor-ligand binding with turnover", ("L", "R", "LR"),
    # 0 -> R (0.5), R -> 0 (0.25), L + R <-> LR (1.0 / 0.3), LR -> 0 (internalised, 0.4)
    {"L": {"L*R": -1.0, "LR": 0.3}, "R": {"1": 0.5, "R": -0.25, "L*R": -1.0, "LR": 0.3},
     "LR": {"L*R": 1.0, "LR": -0.7}},
    ((2.0, 2.0, 0.0), (0.5, 1.0, 0.5), (4.0, 0.5, 0.0)), (1.0, 1.5, 0.2), 10.0, 61,
)
"""Ligand L binds receptor R; receptors are made and degraded, the complex is internalised."""


# Motifs of random networks: reactions over roles a, b, c, d (distinct species), "" = nothing.
_MOTIFS = {
    "binding": (("a+b", "c"), ("c", "a+b")),
    "irreversible binding": (("a+b", "c"),),
    "enzyme": (("a+b", "c"), ("c", "a+b"), ("c", "a+d")),
    "catalysis": (("a+b", "a+c"),),
    "conversion": (("a", "b"),),
    "reversible conversion": (("a", "b"), ("b", "a")),
    "turnover": (("", "a"), ("a", "")),
    "degradation": (("a", ""),),
}

_MOTIF_WEIGHTS = {"binding": 3.0, "enzyme": 2.0}  # binding and catalysis are what signalling is made of


def random_mass_action_network(seed: int, *, n_species: int | None = None, n_samples: int | None = None,
                               n_runs: int = 3) -> tuple[SyntheticSystem, list]:
    """A random mass-action network of 2-6 species built from binding/unbinding, enzyme
    catalysis, conversion, synthesis and degradation motifs (rate constants log-uniform in
    [0.3, 3]), with ``n_runs`` training initial states, one held-out initial state, and a time
    span that covers the approach to steady state. Returns the system and its reactions.
    """
    from ._reactions import Reaction, equations_of

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7)) if n_species is None else int(n_species)
    species = tuple("ABCDEF"[:n])
    made = 0
    raw: list[tuple[dict, dict]] = []
    while made < n or len(raw) < 2:
        fits = [m for m, rs in _MOTIFS.items()
                if len({r for side in rs for part in side for r in part.split("+") if r}) <= n]
        weight = np.array([_MOTIF_WEIGHTS.get(m, 1.0) for m in fits])
        motif = fits[rng.choice(len(fits), p=weight / weight.sum())]
        roles = sorted({r for side in _MOTIFS[motif] for part in side for r in part.split("+") if r})
        assign: dict[str, int] = {}
        for role in roles:  # new species while any are left, so every species takes part
            if made < n:
                assign[role] = made
                made += 1
            else:
                free = [i for i in range(n) if i not in assign.values()]
                assign[role] = int(free[rng.integers(len(free))])
        for lhs, rhs in _MOTIFS[motif]:
            def cx(side):
                out = [0] * n
                for r in side.split("+"):
                    if r:
                        out[assign[r]] += 1
                return out
            raw.append((cx(lhs), cx(rhs)))
    reactions, seen = [], set()
    for lhs, rhs in raw:
        if (tuple(lhs), tuple(rhs)) not in seen:
            seen.add((tuple(lhs), tuple(rhs)))
            reactions.append(Reaction(tuple(lhs), tuple(rhs), float(np.exp(rng.uniform(np.log(0.3), np.log(3.0))))))
    equations = equations_of(species, reactions)

    def initial():
        x = rng.uniform(0.2, 2.0, n)
        x[rng.random(n) < 0.3] = 0.0
        return tuple(float(v) for v in x)

    starts = tuple(initial() for _ in range(n_runs))
    probe = SyntheticSystem("probe", species, equations, starts, starts[0], 40.0, 401)
    t_end = 40.0
    for x0 in starts:
        x = probe.simulate(x0)
        span = np.ptp(x, axis=0) + 1e-12
        settled = np.all(np.abs(x - x[-1]) <= 0.05 * span, axis=1)
        first = np.flatnonzero(~settled)
        t_end = min(t_end, max(1.0, probe.times()[first[-1] + 1] if len(first) and first[-1] + 1 < 401 else 40.0))
    t_end = float(np.clip(t_end * 1.5, 2.0, 30.0))
    samples = int(rng.integers(15, 61)) if n_samples is None else int(n_samples)
    name = "; ".join(r.text(species) for r in reactions)
    return SyntheticSystem(name, species, equations, starts, initial(), t_end, samples, 3.0), reactions
