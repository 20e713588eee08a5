"""Discovery: candidate library x derivative estimate x sparse optimizer -> equations."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp

from ..errors import CelltwinInputError
from ..model import symbol
from ._data import TimeCourses
from ._knowledge import Knowledge
from ._reactions import Reaction
from .differentiation import AbstractDerivativeEstimate, WeakForm
from .library import AbstractLibrary, MassActionLibrary, Term, term_function
from .optimizers import AbstractSparseOptimizer, ThresholdPath


@dataclasses.dataclass(frozen=True)
class Discovery:
    """Discovered equations ``d species_i / dt = sum_j coefficients[i, j] * terms[j]``.

    ``inclusion[i, j]`` is the probability that term ``j`` belongs in the equation of
    species ``i`` (0/1 for point-estimate optimizers). ``reactions``: the same equations as a
    mass-action network, where the discovery found one.
    """

    species: tuple[str, ...]
    terms: tuple[Term, ...]
    coefficients: np.ndarray
    inclusion: np.ndarray
    settings: Mapping[str, str] = dataclasses.field(default_factory=dict)
    reactions: tuple[Reaction, ...] | None = None

    def equations(self) -> dict[str, dict[str, float]]:
        """``{species: {term: coefficient}}`` for the selected (non-zero) terms."""
        return {s: {t.name: float(c) for t, c in zip(self.terms, row) if c != 0.0}
                for s, row in zip(self.species, self.coefficients)}

    def inclusion_probabilities(self) -> dict[str, dict[str, float]]:
        """``{species: {term: probability}}`` for every term with a non-zero probability."""
        return {s: {t.name: float(p) for t, p in zip(self.terms, row) if p > 0.0}
                for s, row in zip(self.species, self.inclusion)}

    def to_json(self) -> dict:
        """What ``celltwin discover`` writes: species -> {term: coefficient}, plus the
        inclusion probabilities under ``"#inclusion_probability"`` and the settings under
        ``"#about"`` (keys that cannot be species ids)."""
        out: dict = dict(self.equations())
        out["#inclusion_probability"] = self.inclusion_probabilities()
        if self.reactions is not None:
            out["#reactions"] = [{"reaction": r.text(self.species), "rate_constant": r.rate_constant}
                                 for r in self.reactions]
        out["#about"] = {"terms": {t.name: str(t.expr) for t in self.terms if t.name in
                                   {n for eq in self.equations().values() for n in eq}},
                         **dict(self.settings)}
        return out

    def rhs(self, states: np.ndarray) -> np.ndarray:
        """The discovered right-hand side at states (n, n_species) -> (n, n_species)."""
        active = np.flatnonzero(np.any(self.coefficients != 0.0, axis=0))
        return self._active_features(active)(states) @ self.coefficients[:, active].T

    def _active_features(self, active):
        key = tuple(int(j) for j in active)
        cache = self.__dict__.setdefault("_compiled", {})
        if key not in cache:
            cache[key] = term_function([self.terms[j] for j in active], self.species)
        return cache[key]

    def simulate(self, x0: Sequence[float], t: Sequence[float]) -> np.ndarray:
        """Solve the discovered equations (scipy LSODA); rows past a blow-up are ``nan``."""
        from scipy.integrate import solve_ivp

        t = np.asarray(t, dtype=float)
        sol = solve_ivp(lambda _, x: self.rhs(x)[0], (t[0], t[-1]), np.asarray(x0, dtype=float),
                        method="LSODA", t_eval=t, rtol=1e-8, atol=1e-10)
        out = np.full((len(t), len(self.species)), np.nan)
        out[: sol.y.shape[1]] = sol.y.T
        return out

    def to_model(self, initial: Mapping[str, float] | None = None, *, name: str = "discovered"):
        """A :class:`celltwin.model.Model`, so the result can be fitted and sampled: where the
        discovery found a mass-action network, its reactions (``r<k>``, rate
        ``k<k> * reactants``, one parameter per rate constant, so the SBML export writes
        reactions); otherwise one rate rule per species and one parameter per selected
        coefficient (``c_<species>_<k>``)."""
        from ..model import Model

        model = Model(name)
        for s in self.species:
            model.add_species(s, float((initial or {}).get(s, 0.0)))
        if self.reactions is not None:
            for k, r in enumerate(self.reactions):
                model.add_parameter(f"k{k}", r.rate_constant)
                flux = symbol(f"k{k}")
                for s, count in zip(self.species, r.reactants):
                    flux *= symbol(s) ** count
                model.add_reaction(f"r{k}", rate=flux,
                                   reactants={s: c for s, c in zip(self.species, r.reactants) if c},
                                   products={s: c for s, c in zip(self.species, r.products) if c})
            return model
        for i, s in enumerate(self.species):
            rate = sp.Integer(0)
            for k, j in enumerate(np.flatnonzero(self.coefficients[i])):
                pid = f"c_{s}_{k}"
                model.add_parameter(pid, float(self.coefficients[i, j]))
                rate += symbol(pid) * self.terms[j].expr
            model.add_rate_rule(s, rate)
        return model


def discover(
    data: TimeCourses,
    *,
    library: AbstractLibrary = MassActionLibrary(),
    derivative: AbstractDerivativeEstimate = WeakForm(),
    optimizer: AbstractSparseOptimizer = ThresholdPath(),
    knowledge: Knowledge | None = None,
    kinetic: bool | None = None,
    seed: int = 0,
) -> Discovery:
    """Find sparse equations for every observed species, all trajectories fitted jointly.

    Arguments:
        data: the time courses (one trajectory per condition).
        library: candidate terms; combine families with ``+``.
        derivative: how trajectories become regression rows (weak form by default).
        optimizer: the sparse optimizer (STLSQ with a cross-validated threshold by default;
            ``Ensemble(ThresholdPath(), min_probability=None)`` adds inclusion probabilities).
        knowledge: per-term prior weights from an interaction list.
        kinetic: forbid negative coefficients on terms of ``dX/dt`` that do not involve ``X``
            (a process that consumes ``X`` stops when ``X`` is absent, so concentrations stay
            non-negative; mass action satisfies it). ``None``: on when the optimizer takes sign
            constraints and no species goes clearly negative in the data.
        seed: for resampling / sampling optimizers.

    Raises:
        CelltwinInputError: a trajectory is too short, or the library is empty.
    """
    terms = library.terms(data.species)
    if not terms:
        raise CelltwinInputError("the candidate library has no terms")
    features_of = term_function(terms, data.species)
    a_rows, b_rows = [], []
    for traj in data.trajectories:
        if len(traj.t) < derivative.min_samples():
            raise CelltwinInputError(f"condition {traj.condition!r} has {len(traj.t)} samples; "
                                     f"{type(derivative).__name__} needs at least {derivative.min_samples()}")
        a, b = derivative.rows(traj.t, traj.states, features_of)
        a_rows.append(a)
        b_rows.append(b)
    features, targets = np.concatenate(a_rows), np.concatenate(b_rows)
    if not np.all(np.isfinite(features)):
        bad = [terms[j].name for j in np.flatnonzero(~np.all(np.isfinite(features), axis=0))]
        raise CelltwinInputError(f"candidate terms {', '.join(bad[:5])} are not finite on the data")
    penalties = (knowledge.penalties(data.species, terms) if knowledge is not None
                 else np.ones((len(data.species), len(terms))))
    if kinetic is None:
        kinetic = optimizer.sign_constrained and _nonnegative_data(data)
    signs = (np.array([[s not in t.species() for t in terms] for s in data.species]) if kinetic
             else np.zeros((len(data.species), len(terms)), bool))
    fits = [optimizer.fit(features, targets[:, i], penalty=penalties[i], nonnegative=signs[i] if kinetic else None,
                          seed=seed + i)
            for i in range(len(data.species))]
    settings = {"derivative": repr(derivative), "optimizer": repr(optimizer), "library": repr(library),
                "knowledge": "yes" if knowledge is not None else "no", "kinetic": "yes" if kinetic else "no"}
    return Discovery(data.species, tuple(terms), np.array([f.coefficients for f in fits]),
                     np.array([f.inclusion for f in fits]), settings)


def _nonnegative_data(data: TimeCourses) -> bool:
    """No species dips below zero by more than noise would explain (5 % of its largest value)."""
    states = np.concatenate([tr.states for tr in data.trajectories])
    return bool(np.all(states.min(axis=0) >= -0.05 * np.abs(states).max(axis=0)))
