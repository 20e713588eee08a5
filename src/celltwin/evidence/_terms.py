"""Evidence terms: outside knowledge as extra log-density terms of a problem's posterior.

* :class:`AffinityEvidence` - a (predicted or measured) Kd of a binding reaction acting on
  ``log10(koff / kon)``: a Gaussian of a given spread in log10 units, or the predictive
  distribution of a calibrated predictor (:class:`~._calibration.PredictorCalibration`),
  times a weight (e.g. a structure-confidence score).
* :class:`RateEvidence` - a value of one rate constant, or of a residence time ``1/koff``,
  with a spread in log10 units.
* :class:`LogNormalPrior` - a population prior on a rate constant (e.g. kon values of a
  measured database: :func:`kon_population_prior`).

:class:`Evidence` binds terms to a :class:`~celltwin.problem.Problem`; its
``log_density(theta)`` is the problem's log-posterior plus the (enabled) terms, ready for
``sample(problem, log_density=...)``. Switching the terms off gives the baseline.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
import sympy as sp

from ..errors import CelltwinInputError
from ..units import BODY_TEMPERATURE, CONCENTRATION_UNITS, to_log10_molar
from ._calibration import PredictorCalibration

if TYPE_CHECKING:
    from ..problem import Problem

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _normal_logpdf(x, mu, sd):
    return -LOG_SQRT_2PI - math.log(sd) - 0.5 * ((x - mu) / sd) ** 2


def binding_rate_constants(model, reaction_id: str) -> tuple[str, str]:
    """``(kon, koff)`` parameter ids of a reversible mass-action reaction whose rate is
    ``k_forward * (reactants) - k_backward * (products)``; a clear error otherwise.

    The binding direction is the one with more reactant than product molecules: for a
    dissociation written forwards (``C -> A + B``, as Kholodenko's ``GS -> Grb + SOS``),
    kon is the backward constant."""
    if reaction_id not in model.reactions:
        raise KeyError(f"no reaction {reaction_id!r} in model {model.name!r}")
    reaction = model.reactions[reaction_id]
    rate = sp.expand(reaction.rate)
    params = set(model.parameters)
    forward: list[list[str]] = []
    backward: list[list[str]] = []
    for term in sp.Add.make_args(rate):
        names = sorted(str(s) for s in term.free_symbols if str(s) in params)
        (backward if term.could_extract_minus_sign() else forward).append(names)
    if len(forward) != 1 or len(backward) != 1 or len(forward[0]) != 1 or len(backward[0]) != 1:
        raise ValueError(f"reaction {reaction_id!r}: rate {model.reactions[reaction_id].rate} is not "
                         "kon * reactants - koff * products with one rate constant per direction; name kon and "
                         "koff explicitly")
    if sum(reaction.reactants.values()) < sum(reaction.products.values()):
        return backward[0][0], forward[0][0]
    return forward[0][0], backward[0][0]


@dataclasses.dataclass(frozen=True)
class AffinityEvidence:
    """A Kd for the binding reaction with rate constants ``kon`` and ``koff``.

    Attributes:
        kon, koff: parameter ids (see :func:`binding_rate_constants` to find them from a
            reaction id).
        value: the Kd in ``unit`` (a concentration unit, ``pKd``, ``log10_M`` or a binding
            free energy in ``kcal/mol`` / ``kJ/mol`` at ``temperature``).
        unit: see :data:`~._units.UNITS`.
        sd: spread of ``log10 Kd`` (Gaussian); or give ``calibration``.
        calibration: the predictor's calibrated error model (used instead of ``sd``).
        weight: multiplies the log-density (e.g. a confidence score in [0, 1]).
        model_unit: the concentration unit in which the model's ``koff / kon`` is a Kd
            (``nM`` when kon is per nM per s).
        temperature: K, for free energies.
        reaction: the reaction id (optional; needed for :func:`detailed_balance_violations`).
    """

    kon: str
    koff: str
    value: float
    unit: str = "M"
    sd: float | None = None
    calibration: PredictorCalibration | None = None
    weight: float = 1.0
    model_unit: str = "nM"
    temperature: float = BODY_TEMPERATURE
    name: str | None = None
    reaction: str | None = None

    @classmethod
    def for_reaction(cls, model, reaction: str, value: float, **kwargs) -> "AffinityEvidence":
        """Evidence on the binding reaction ``reaction`` of ``model`` (kon and koff read
        from its rate law by :func:`binding_rate_constants`)."""
        kon, koff = binding_rate_constants(model, reaction)
        return cls(kon, koff, value, reaction=reaction, **{"name": f"Kd({reaction})", **kwargs})

    def __post_init__(self):
        if (self.sd is None) == (self.calibration is None):
            raise ValueError(f"{self.label}: give exactly one of sd and calibration")
        if self.sd is not None and not self.sd > 0:
            raise ValueError(f"{self.label}: sd must be > 0, got {self.sd}")
        if self.model_unit not in CONCENTRATION_UNITS:
            raise ValueError(f"{self.label}: model_unit {self.model_unit!r} is not a concentration unit")
        if not self.weight >= 0:
            raise ValueError(f"{self.label}: weight must be >= 0, got {self.weight}")
        to_log10_molar(self.value, self.unit, self.temperature)  # validates value and unit

    @property
    def label(self) -> str:
        return self.name or f"Kd({self.koff}/{self.kon})"

    @property
    def parameter_ids(self) -> tuple[str, ...]:
        return (self.kon, self.koff)

    @property
    def predicted_log10_molar(self) -> float:
        return float(to_log10_molar(self.value, self.unit, self.temperature))

    def log_density(self, values: dict):
        """The term at linear-scale parameter values ``{id: value}`` (JAX)."""
        model_kd = jnp.log10(values[self.koff]) - jnp.log10(values[self.kon]) + CONCENTRATION_UNITS[self.model_unit]
        if self.calibration is not None:
            return self.weight * self.calibration.log_predictive(model_kd, self.predicted_log10_molar)
        return self.weight * _normal_logpdf(model_kd, self.predicted_log10_molar, self.sd)


@dataclasses.dataclass(frozen=True)
class RateEvidence:
    """A value of one rate constant (``kind="rate"``) or of the residence time ``1/koff``
    (``kind="residence_time"``), in the model's units, with a log10 spread ``sd``."""

    parameter: str
    value: float
    sd: float
    kind: str = "rate"
    weight: float = 1.0
    name: str | None = None

    def __post_init__(self):
        if self.kind not in ("rate", "residence_time"):
            raise ValueError(f"{self.label}: kind must be 'rate' or 'residence_time', got {self.kind!r}")
        if not (self.value > 0 and self.sd > 0):
            raise ValueError(f"{self.label}: value and sd must be > 0")

    @property
    def label(self) -> str:
        return self.name or f"{self.kind}({self.parameter})"

    @property
    def parameter_ids(self) -> tuple[str, ...]:
        return (self.parameter,)

    def log_density(self, values: dict):
        log10_rate = jnp.log10(values[self.parameter])
        x = -log10_rate if self.kind == "residence_time" else log10_rate
        return self.weight * _normal_logpdf(x, math.log10(self.value), self.sd)


@dataclasses.dataclass(frozen=True)
class LogNormalPrior:
    """``log10(parameter) ~ Normal(mean, sd)``: e.g. a population prior on kon."""

    parameter: str
    mean: float
    sd: float
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or f"population prior({self.parameter})"

    @property
    def parameter_ids(self) -> tuple[str, ...]:
        return (self.parameter,)

    def log_density(self, values: dict):
        return _normal_logpdf(jnp.log10(values[self.parameter]), self.mean, self.sd)


def kon_population_prior(parameter: str, kon_per_molar_second: Sequence[float], model_unit: str = "nM",
                         name: str | None = None) -> LogNormalPrior:
    """A log-normal population prior on ``parameter`` (a kon in 1 / (model_unit s)) from
    measured kon values in 1/(M s) (e.g. SKEMPI's ``kon_wt``)."""
    k = np.asarray(kon_per_molar_second, dtype=float)
    k = k[np.isfinite(k) & (k > 0)]
    if k.size < 3:
        raise ValueError(f"a population prior needs at least 3 positive kon values, got {k.size}")
    log10_model = np.log10(k) + CONCENTRATION_UNITS[model_unit]  # per M -> per model_unit
    return LogNormalPrior(parameter, float(log10_model.mean()), float(log10_model.std(ddof=1)), name)


def detailed_balance_violations(model, terms: Sequence, tolerance: float = 2.0) -> list[str]:
    """Closed cycles of binding reactions whose Kd evidence violates detailed balance.

    For every combination of evidence reactions (those with a ``reaction`` id) whose net
    stoichiometry is zero - a thermodynamic cycle - the Kds must satisfy
    ``sum_r c_r log10 Kd_r = 0`` (Wegscheider's condition; reactions are taken as written,
    forward = binding). Returns a message for each independent cycle where the evidence
    misses that by more than ``tolerance`` times the combined spread (``sd``, or the
    calibrated predictive sd); an empty list when there is no violation.
    """
    affinity = [t for t in terms if isinstance(t, AffinityEvidence) and t.reaction is not None]
    if len(affinity) < 2:
        return []
    species = sorted({s for t in affinity for s in (*model.reactions[t.reaction].reactants,
                                                     *model.reactions[t.reaction].products)})
    N = sp.zeros(len(species), len(affinity))
    for j, t in enumerate(affinity):
        r = model.reactions[t.reaction]
        for s_id, k in r.reactants.items():
            N[species.index(s_id), j] -= sp.nsimplify(k)
        for s_id, k in r.products.items():
            N[species.index(s_id), j] += sp.nsimplify(k)
    messages = []
    for vec in N.nullspace():
        c = np.array([float(v) for v in vec * sp.ilcm(*[sp.fraction(v)[1] for v in vec])])
        # Kd of binding = exp(dG / RT): around a cycle of associations the log Kds sum to 0
        gap = float(sum(ci * t.predicted_log10_molar for ci, t in zip(c, affinity) if ci))
        spread = math.sqrt(sum((ci * _log10_sd(t)) ** 2 for ci, t in zip(c, affinity) if ci))
        if abs(gap) > tolerance * spread:
            cycle = " ".join(f"{'+' if ci > 0 else '-'}{abs(ci):g} {t.reaction}" for ci, t in zip(c, affinity) if ci)
            messages.append(f"binding reactions {cycle} form a closed cycle, but their Kd evidence sums to "
                            f"{gap:+.2f} log10 units around it (detailed balance needs 0; combined sd "
                            f"{spread:.2f}): at most one of them can be right as given")
    return messages


def _log10_sd(term: AffinityEvidence) -> float:
    if term.sd is not None:
        return term.sd
    assert term.calibration is not None, "an AffinityEvidence has an sd or a calibration"
    draws = term.calibration.predictive_draws(term.predicted_log10_molar, 4000)
    return float(np.std(draws))


class Evidence:
    """Evidence terms bound to a problem.

    Arguments:
        problem: the :class:`~celltwin.problem.Problem`.
        terms: :class:`AffinityEvidence`, :class:`RateEvidence`, :class:`LogNormalPrior`
            (anything with ``parameter_ids`` and ``log_density(values)``).
        enabled: ``False`` gives the baseline (the problem's posterior alone).
    """

    def __init__(self, problem: Problem, terms: Sequence, *, enabled: bool = True):
        import warnings

        for message in detailed_balance_violations(problem.model, terms):
            warnings.warn(message, stacklevel=2)
        ids = list(problem.parameters.ids)
        for term in terms:
            missing = [p for p in term.parameter_ids if p not in ids]
            if missing:
                raise CelltwinInputError(f"{term.label}: no parameter {', '.join(map(repr, missing))} in problem "
                                         f"{problem.name!r} (add it to the problem's parameter table)")
        self._bind(problem, terms, enabled)

    def _bind(self, problem: Problem, terms: Sequence, enabled: bool) -> None:
        ids = list(problem.parameters.ids)
        self.problem = problem
        self.terms = tuple(terms)
        self.enabled = enabled
        self._index = {p: ids.index(p) for t in self.terms for p in t.parameter_ids}

    def __copy__(self) -> Evidence:  # a plain copy (copy.copy would otherwise use __reduce__)
        new = Evidence.__new__(Evidence)
        new.__dict__.update(self.__dict__)
        return new

    def __reduce__(self):
        """Pickled as the problem's ``source`` and the terms, so that worker processes
        (``sample(..., workers=2)``) rebuild it (the problem once per process)."""
        from ..inference import problem_handle

        key, source = problem_handle(self.problem)
        return _evidence_in_worker, (key, source, self.terms, self.enabled)

    def switched(self, enabled: bool) -> "Evidence":
        """The same terms, on (``True``) or off (``False``: the baseline); not re-checked."""
        new = copy.copy(self)
        new.enabled = enabled
        return new

    def term_log_densities(self, theta):
        """Each term's log-density at ``theta`` (parameter scale), in ``terms`` order."""
        all_values = self.problem.parameters.values(theta)
        values = {p: all_values[i] for p, i in self._index.items()}
        return jnp.stack([t.log_density(values) for t in self.terms]) if self.terms else jnp.zeros(0)

    def log_evidence_terms(self, theta):
        """Sum of the terms (0 when disabled)."""
        if not self.enabled or not self.terms:
            return jnp.zeros(())
        return jnp.sum(self.term_log_densities(theta))

    @functools.cached_property
    def _log_posterior(self):  # built once, on first use; shared by switched() copies made after
        return self.problem.differentiable_log_posterior()

    def log_density(self, theta):
        """The problem's log-posterior plus the enabled terms."""
        return self._log_posterior(theta) + self.log_evidence_terms(theta)


def _evidence_in_worker(problem_key: str, source, terms, enabled: bool) -> Evidence:
    """:class:`Evidence` unpickled in a worker: bound to the worker's copy of the problem
    (built once per process), without repeating the checks made when it was created."""
    from ..inference import problem_in_worker

    evidence = Evidence.__new__(Evidence)
    evidence._bind(problem_in_worker(problem_key, source), terms, enabled)
    return evidence
