"""PySINDy (de Silva et al. 2020; Kaptanoglu et al. 2022) as an external peer of
:class:`~.discovery.SparseDiscovery`.

It sees what the in-house discovery sees (:mod:`._observed`: the observed species'
training time courses, each condition from its initial state; doses as control inputs
``u``), smoothed the same way onto a dense grid. ``pysindy.SINDy`` with a polynomial
library (degree ``degree``, the mass-action monomials and a constant), its default
finite-difference derivatives and STLSQ; of the thresholds tried, the equations that follow
the training conditions best (``SINDy.simulate``) are kept. Predictions and the
structure are read as for the in-house discovery.

pysindy is an optional peer, never a dependency: when it cannot be imported the method is
unavailable (:meth:`PySINDy.available`) and the runner leaves its cells out, saying so.
"""

from __future__ import annotations

import dataclasses
import re
import types
from typing import Any, ClassVar

import numpy as np
import sympy as sp

from ._observed import ObservedDesign, observed_design, training_runs
from .base import AbstractMethod, FittedMethod, MethodFailure
from .discovery import BLOW_UP, EquationsModel, _smooth_dense, blow_up_event, training_scale


def _term(name: str) -> types.SimpleNamespace:
    """A pysindy feature name (``'K1 L'``, ``'X^2'``, ``'1'``) as a term with a sympy expression."""
    from ...model import as_expr

    text = re.sub(r"\^", "**", name.strip()).replace(" ", "*")
    return types.SimpleNamespace(name=name.strip().replace(" ", "*"), expr=sp.expand(as_expr(text)))


@dataclasses.dataclass
class _SINDyModel(EquationsModel):
    what: ClassVar[str] = "the PySINDy equations"
    design: ObservedDesign
    model: Any  # a fitted pysindy.SINDy
    scale: np.ndarray
    residual_sd: np.ndarray
    reactions: frozenset[str] = frozenset()

    def simulate(self, x0, inputs, times) -> np.ndarray:
        n = len(self.design.species)
        out = np.full((len(times), n), np.nan)
        kwargs = {"u": lambda t: np.asarray(inputs, dtype=float)} if len(inputs) else {}
        bound = BLOW_UP * self.scale
        with np.errstate(all="ignore"):
            try:
                sol = self.model.simulate(np.asarray(x0, dtype=float), np.asarray(times, dtype=float),
                                          integrator_kws={"method": "LSODA", "rtol": 1e-8, "atol": 1e-10,
                                                          "events": blow_up_event(bound)}, **kwargs)
            except Exception:  # noqa: BLE001 - a failed solve of discovered equations is a blow-up
                return out
        sol = np.asarray(sol)
        out[: len(sol)] = sol[:, :n]
        outside = np.any(np.abs(out) > bound, axis=1)
        if outside.any():
            out[np.argmax(outside):] = np.nan
        return out


@dataclasses.dataclass(frozen=True)
class PySINDy(AbstractMethod):
    """``pysindy.SINDy`` on the observed species (see the module docstring).

    Attributes:
        degree: of the polynomial library.
        n_dense: points per condition the smoothing spline is evaluated at.
        thresholds: STLSQ thresholds tried.
    """

    name: ClassVar[str] = "pysindy"
    degree: int = 2
    n_dense: int = 201
    thresholds: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4)

    @classmethod
    def available(cls) -> str | None:
        try:
            import pysindy  # noqa: F401
        except ImportError:
            return "pysindy is not installed (pip install pysindy)"
        return None

    def fit(self, task, *, seed: int) -> FittedMethod:
        import pysindy as ps

        problem = task.problem
        design = observed_design(problem)
        runs = training_runs(problem, design)
        xs, us, ts = [], [], []
        for condition, t, states in runs:
            grid, smooth = _smooth_dense(t, states, self.n_dense)
            xs.append(smooth)
            ts.append(grid)
            us.append(np.broadcast_to(design.input_values(problem, condition), (len(grid), len(design.inputs))).copy())
        names = [*design.species, *design.inputs]
        scale = training_scale(runs)
        best = None
        for threshold in self.thresholds:
            model = ps.SINDy(optimizer=ps.STLSQ(threshold=threshold),
                             feature_library=ps.PolynomialLibrary(degree=self.degree))
            try:
                model.fit(xs, t=ts, u=us if design.inputs else None, feature_names=names)
            except Exception:  # noqa: BLE001, S112 - e.g. every term thresholded away: try the next
                continue
            fitted = _SINDyModel(design, model, scale, np.zeros(len(design.species)))
            residuals = fitted.training_residuals(problem, runs)
            if np.all(np.isfinite(residuals)):
                error = float(np.mean((residuals / scale) ** 2))
                if best is None or error < best[0]:
                    best = (error, fitted, residuals)
        if best is None:
            raise MethodFailure("the PySINDy equations blow up on a training condition at every threshold")
        _, fitted, residuals = best
        terms = [_term(f) for f in fitted.model.get_feature_names()]
        coefficients = np.asarray(fitted.model.coefficients())[: len(design.species)]
        equations = types.SimpleNamespace(terms=terms, species=list(design.species), coefficients=coefficients)
        return fitted.finish(problem, residuals, equations)
