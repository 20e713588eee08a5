"""Sparse-regression discovery (:func:`celltwin.discover.discover`) as a benchmark method.

The method sees only the observed species' training time courses (see :mod:`._observed`),
each condition starting at t = 0 from its initial state, and its doses as constant
inputs (extra columns of the candidate library with no equation of their own). The few
samples of a benchmark condition are interpolated by a smoothing spline onto
``n_dense`` points before the weak form, which needs windows of many samples.

Which sparsity level: the cross-validated ``ThresholdPath`` fit, when its equations can be
solved over the training conditions (weak-form regression alone does not check that);
otherwise, of STLSQ at each of ``thresholds``, the equations with the smallest trajectory
error over the training conditions (each species scaled by its largest value). Equations
that blow up on every training condition at every level are a failure.

Prediction solves the discovered equations from the held-out condition's initial state;
the spread is the training residual sd per observable (Gaussian), the same for every
draw.

Structure: a skeleton reaction with rate ``k * f(species)`` counts as found when its term
``f`` is selected, with the sign of the reaction's net stoichiometry, in the equation of
every observed species the reaction changes (and at least one observed species changes).
A selected term no skeleton reaction explains is reported as an extra id
``term:<species>:<sign><term>``, a false positive in the structure F1. A reaction of the
truth that the skeleton lacks can therefore never be found by id.
"""

from __future__ import annotations

import abc
import dataclasses
import types
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import sympy as sp

from ._observed import ObservedDesign, observed_design, predict_table, training_runs
from .base import AbstractMethod, FittedMethod, MethodFailure

if TYPE_CHECKING:
    from ...discover import Discovery
    from ...problem import Problem

BLOW_UP = 100.0  # a solution this many times its species' training range has blown up
EXACT_DEPENDENCE = 1e-6  # IndependentLibrary tolerance: columns dependent up to rounding


def _smooth_dense(t: np.ndarray, states: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.interpolate import make_smoothing_spline

    grid = np.linspace(t[0], t[-1], n)
    cols = []
    for j in range(states.shape[1]):
        try:
            cols.append(make_smoothing_spline(t, states[:, j])(grid))
        except ValueError:  # too few distinct points for a smoothing spline: interpolate linearly
            cols.append(np.interp(grid, t, states[:, j]))
    return grid, np.column_stack(cols)


def _found_reactions(model, result, observed: tuple[str, ...]) -> frozenset[str]:
    """Map the selected terms onto the skeleton's reactions (see the module docstring)."""
    index = {sp.expand(term.expr): j for j, term in enumerate(result.terms)}
    row = {s: i for i, s in enumerate(result.species)}
    coefficients = result.coefficients
    explained = np.zeros_like(coefficients, dtype=bool)
    found = set()
    for rid, reaction in model.reactions.items():
        constants = [s for s in reaction.rate.free_symbols if str(s) in model.parameters and str(s) not in row]
        if len(constants) != 1:
            continue
        term = sp.expand(sp.simplify(reaction.rate / constants[0]))
        net = {s: reaction.products.get(s, 0.0) - reaction.reactants.get(s, 0.0)
               for s in set(reaction.products) | set(reaction.reactants)}
        changed = [s for s in observed if net.get(s, 0.0) != 0.0]
        j = index.get(term)
        if j is None or not changed:
            continue
        if all(np.sign(coefficients[row[s], j]) == np.sign(net[s]) for s in changed):
            found.add(rid)
            for s in changed:
                explained[row[s], j] = True
    for s in observed:
        for j in np.flatnonzero((coefficients[row[s]] != 0.0) & ~explained[row[s]]):
            sign = "+" if coefficients[row[s], j] > 0 else "-"
            found.add(f"term:{s}:{sign}{result.terms[j].name}")
    return frozenset(found)


def conservation_reduction(species, states: list[np.ndarray], rtol: float):
    """Linear conservation laws in the data: the observed species that are linearly
    independent (with the constant) on every sample of ``states`` (each ``(n, n_species)``),
    by :class:`~celltwin.discover.library.IndependentLibrary` on the first-order library
    (in observation order), and every species as a least-squares linear function of
    ``[1, independent species]``. ``None`` when every species is independent.

    Returns:
        ``(indices of the independent species, relation (n_species, 1 + n_independent))``.
    """
    from ...discover import TimeCourses
    from ...discover.library import IndependentLibrary, MassActionLibrary

    data = TimeCourses.from_arrays(species, [(np.arange(len(x), dtype=float), x) for x in states])
    kept = IndependentLibrary.from_data(MassActionLibrary(order=1), data, rtol=rtol).kept
    index = np.array([species.index(t.name) for t in kept if t.name in species], dtype=int)
    if len(index) == len(species):
        return None
    x = np.concatenate(states)
    basis = np.column_stack([np.ones(len(x)), x[:, index]])
    relation = np.linalg.lstsq(basis, x, rcond=None)[0].T  # (n_species, 1 + n_independent)
    relation[index] = np.eye(len(index) + 1)[1:]  # independent species map onto themselves exactly
    return index, relation


def training_scale(runs) -> np.ndarray:
    """The largest training magnitude of each observed species (``training_runs`` output)."""
    return np.maximum(np.max(np.abs(np.concatenate([s for _, _, s in runs])), axis=0), 1e-12)


def blow_up_event(bound: np.ndarray):
    """A terminal ``solve_ivp`` event: the first ``len(bound)`` states leave ``+-bound``
    (stopping there: LSODA crawls on exploding equations)."""
    m = len(bound)

    def escaped(_, x):
        return float(np.min(bound - np.abs(x[:m])))

    escaped.terminal = True  # type: ignore[attr-defined]  # solve_ivp reads events' attributes
    return escaped


class EquationsModel(FittedMethod):
    """A fitted set of equations for the observed species (``design``, ``simulate``,
    ``residual_sd``, ``reactions`` given by the subclass): held-out predictions are its
    simulation plus Gaussian noise of the training residuals' sd per observable."""

    what: ClassVar[str] = "the discovered equations"
    design: ObservedDesign
    residual_sd: np.ndarray  # set by finish()
    reactions: frozenset[str]  # set by finish()

    @abc.abstractmethod
    def simulate(self, x0, inputs, times) -> np.ndarray:
        """The observed species at ``times`` from ``x0`` under the dose ``inputs``."""

    def training_residuals(self, problem: Problem, runs) -> np.ndarray:
        """Simulation minus data at every training time but the first, all conditions."""
        return np.concatenate([self.simulate(states[0], self.design.input_values(problem, condition), t)[1:]
                               - states[1:] for condition, t, states in runs])

    def finish(self, problem: Problem, residuals: np.ndarray, equations) -> EquationsModel:
        """Set the residual sd (from the chosen fit's training residuals) and the reactions
        found (``equations``: ``terms``, ``species``, ``coefficients``)."""
        self.residual_sd = np.maximum(np.sqrt(np.mean(residuals**2, axis=0)), 1e-12)
        self.reactions = _found_reactions(problem.model, equations, self.design.species)
        return self

    def predict(self, heldout, n_draws: int, seed: int) -> np.ndarray:
        mean = predict_table(heldout, self.design, self.simulate)
        if not np.all(np.isfinite(mean)):
            raise MethodFailure(f"{self.what} blow up on the held-out condition")
        column = {o: k for k, o in enumerate(self.design.observables)}
        sd = self.residual_sd[[column[o] for o in heldout.measurement_df["observableId"]]]
        return mean + sd * np.random.default_rng(seed).standard_normal((n_draws, len(mean)))

    def structure(self) -> frozenset[str]:
        return self.reactions


@dataclasses.dataclass
class _DiscoveredModel(EquationsModel):
    design: ObservedDesign
    result: Discovery  # the Discovery over observed species + dose inputs
    residual_sd: np.ndarray  # per observed species
    reactions: frozenset[str]
    scale: np.ndarray  # largest training magnitude per observed species
    # Conservation laws: (indices of the species the equations are for, relation
    # (n_species, 1 + n_independent): every species as a linear function of them); None: all.
    reduction: tuple[np.ndarray, np.ndarray] | None = None

    def simulate(self, x0, inputs, times):
        """Solve from ``x0`` (scipy LSODA); rows after a state leaves ``BLOW_UP`` times its
        training range are ``nan`` (stopping there: LSODA crawls on exploding equations)."""
        from scipy.integrate import solve_ivp

        n = len(self.design.species)
        index = np.arange(n) if self.reduction is None else self.reduction[0]
        m = len(index)
        rhs = self.result.rhs
        with np.errstate(all="ignore"):
            sol = solve_ivp(lambda _, x: rhs(x[None])[0], (times[0], times[-1]),
                            np.concatenate([np.asarray(x0)[index], inputs]), method="LSODA", t_eval=times,
                            rtol=1e-8, atol=1e-10, events=blow_up_event(BLOW_UP * self.scale[index]))
        solved = np.full((len(times), m), np.nan)
        solved[: sol.y.shape[1]] = sol.y[:m].T
        if self.reduction is None:
            return solved
        return np.column_stack([np.ones(len(times)), solved]) @ self.reduction[1].T

    def full_coefficients(self) -> np.ndarray:
        """Coefficients of every observed species' equation (dependent species' equations
        follow from their conservation relation)."""
        m = len(self.design.species) if self.reduction is None else len(self.reduction[0])
        own = self.result.coefficients[:m]
        return own if self.reduction is None else self.reduction[1][:, 1:] @ own


@dataclasses.dataclass(frozen=True)
class SparseDiscovery(AbstractMethod):
    """Sparse regression of the observed species' dynamics (see the module docstring).

    Attributes:
        order: highest mass-action order of the candidate terms (:class:`MassActionLibrary`).
        n_dense: points per condition the smoothing spline is evaluated at.
        width: samples per weak-form window.
        thresholds: STLSQ thresholds tried besides the cross-validated one (``ThresholdPath``).
        conservation_rtol: where every fit on all observed species blows up, a species
            whose unit-norm smoothed time course lies within this distance of the span of
            the constant and the species before it is taken as conserved-dependent
            (:func:`conservation_reduction`).
    """

    name: ClassVar[str] = "sparse_discovery"
    order: int = 2
    n_dense: int = 201
    width: int = 41
    thresholds: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4)
    conservation_rtol: float = 0.1

    def fit(self, task, *, seed: int) -> FittedMethod:
        problem = task.problem
        design = observed_design(problem)
        runs = training_runs(problem, design)
        smooth_runs = [(condition, *_smooth_dense(t, states, self.n_dense)) for condition, t, states in runs]
        scale = training_scale(runs)
        candidates = self._candidates(problem, design, runs, smooth_runs, scale, None, seed)
        reduction = None
        if not candidates:
            # Collinear library columns under conservation laws (K1 + K1p = 1): equations for
            # the species independent on the data only, the others from their linear relation.
            reduction = conservation_reduction(design.species, [x for _, _, x in smooth_runs], self.conservation_rtol)
            if reduction is not None:
                candidates = self._candidates(problem, design, runs, smooth_runs, scale, reduction, seed)
        if not candidates and self.order > 1:
            # Last resort: first-order terms only (fewer columns to extrapolate with).
            candidates = dataclasses.replace(self, order=1)._candidates(problem, design, runs, smooth_runs, scale,
                                                                        reduction, seed)
        if not candidates:
            raise MethodFailure("the discovered equations blow up on a training condition at every sparsity level")
        # The cross-validated selection when its equations can be solved; otherwise the
        # fixed threshold whose equations follow the training data best.
        best = 0 if candidates[0][2] else int(np.argmin([c[3] for c in candidates]))
        fitted, residuals, _, _ = candidates[best]
        equations = types.SimpleNamespace(terms=fitted.result.terms, species=design.species,
                                          coefficients=fitted.full_coefficients())
        return fitted.finish(problem, residuals, equations)

    def _candidates(self, problem: Problem, design, runs, smooth_runs, scale, reduction, seed) -> list:
        """``(fitted, training residuals, cross-validated?, error)`` of every sparsity level
        whose equations can be solved over the training conditions."""
        from ...discover import TimeCourses, discover
        from ...discover.differentiation import WeakForm
        from ...discover.library import IndependentLibrary, MassActionLibrary
        from ...discover.optimizers import STLSQ, ThresholdPath

        index = np.arange(len(design.species)) if reduction is None else reduction[0]
        names = (*(design.species[i] for i in index), *design.inputs)
        dense = [(grid, np.hstack([x[:, index], np.broadcast_to(design.input_values(problem, c),
                                                                (len(grid), len(design.inputs)))]))
                 for c, grid, x in smooth_runs]
        data = TimeCourses.from_arrays(names, dense)
        # Terms that are exact linear combinations of others on these data (L^2 when only
        # two doses were given) cannot be told apart: keep the first of each.
        library = IndependentLibrary.from_data(MassActionLibrary(order=self.order), data, rtol=EXACT_DEPENDENCE)
        candidates = []
        for k, optimizer in enumerate((ThresholdPath(), *(STLSQ(threshold=x) for x in self.thresholds))):
            try:
                result = discover(data, library=library, derivative=WeakForm(width=self.width), optimizer=optimizer,
                                  seed=seed)
            except Exception:  # noqa: BLE001, S112 - e.g. a singular regression at this level: try the next
                continue
            is_species = np.arange(len(names))[:, None] < len(index)  # doses are inputs, constant in time
            result = dataclasses.replace(result, coefficients=result.coefficients * is_species,
                                         inclusion=result.inclusion * is_species)
            fitted = _DiscoveredModel(design, result, np.zeros(len(design.species)), frozenset(), scale, reduction)
            residuals = fitted.training_residuals(problem, runs)
            if np.all(np.isfinite(residuals)):
                candidates.append((fitted, residuals, k == 0, float(np.mean((residuals / scale) ** 2))))
        return candidates
