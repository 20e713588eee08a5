"""Synthetic tasks: data simulated from a curated model, placed on the challenge axes.

A :class:`SyntheticSpec` names a curated model and a value on every axis:

* ``noise``: the measurement noise sd, as a fraction of each observable's largest
  noise-free value over the training conditions (Gaussian, known to the methods);
* ``n_times``: equally spaced sampling times in ``(0, t_end]`` per condition;
* ``n_conditions``: training conditions (doses or initial amounts); one further condition
  outside their range is held out;
* ``unobserved``: fraction of the species that is not measured (the model's observation
  order decides which; at least one species stays observed);
* ``prior``: Kd prior knowledge on the binding reaction: ``none``, ``correct`` (the true
  Kd, sd 0.3 log10), ``noisy`` (the true Kd off by a N(0, 0.5) draw, sd 0.5: calibrated)
  or ``wrong`` (off by +2 log10 units, claimed sd 0.3: over-confident and wrong);
* ``skeleton``: the reaction network a method is given: ``true``, ``missing`` (one
  reaction left out) or ``spurious`` (one reaction too many).

The noise draws come from ``numpy.random.default_rng(seed)``: the same seed gives the
same data, and tasks that differ only in their axes share the same standard-normal draws
(common random numbers, which makes per-axis curves smoother).
"""

from __future__ import annotations

import dataclasses
import math

import diffrax
import numpy as np
import pandas as pd

from ..evidence import AffinityEvidence
from ..problem import Problem
from ..simulate import SolverSettings
from ._models import CURATED_MODELS, CuratedModel
from ._task import Task
from ._truth import simulate_truth

PRIORS = ("none", "correct", "noisy", "wrong")
SKELETONS = ("true", "missing", "spurious")
RATE_BOUNDS = (1e-3, 1e2)  # every rate constant is estimated on log10 scale within these
KD_PRIOR = {"correct": (0.0, 0.3), "noisy": (None, 0.5), "wrong": (2.0, 0.3)}  # (log10 offset, claimed sd)
# The curated models are small and not stiff at their true values: the explicit Tsit5
# compiles in about 2/3 of the time of the default Rodas5P (measured on the cascade task),
# and compilation is most of a benchmark cell's time.
SETTINGS = SolverSettings(solver=diffrax.Tsit5(), rtol=1e-6, atol=1e-8, max_steps=4000)


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """A synthetic task's curated model and its place on the challenge axes."""

    model: str
    noise: float = 0.05
    n_times: int = 8
    n_conditions: int = 2
    unobserved: float = 0.0
    prior: str = "none"
    skeleton: str = "true"

    def __post_init__(self):
        errors = []
        if self.model not in CURATED_MODELS:
            errors.append(f"model {self.model!r}: choose one of {', '.join(CURATED_MODELS)}")
        if not self.noise > 0:
            errors.append(f"noise must be > 0, got {self.noise}")
        if self.n_times < 2 or self.n_conditions < 1:
            errors.append(f"need n_times >= 2 and n_conditions >= 1, got {self.n_times}, {self.n_conditions}")
        if not 0 <= self.unobserved < 1:
            errors.append(f"unobserved must be in [0, 1), got {self.unobserved}")
        if self.prior not in PRIORS:
            errors.append(f"prior {self.prior!r}: choose one of {', '.join(PRIORS)}")
        if self.skeleton not in SKELETONS:
            errors.append(f"skeleton {self.skeleton!r}: choose one of {', '.join(SKELETONS)}")
        if self.prior != "none" and self.model in CURATED_MODELS and CURATED_MODELS[self.model].binding is None:
            errors.append(f"prior {self.prior!r}: model {self.model!r} has no binding reaction to know a Kd of")
        if errors:
            raise ValueError("synthetic task: " + "; ".join(errors))

    def label(self) -> str:
        return (f"{self.model}/noise={self.noise:g}/times={self.n_times}/conditions={self.n_conditions}"
                f"/unobserved={self.unobserved:g}/prior={self.prior}/skeleton={self.skeleton}")

    def axes(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _observed(cm: CuratedModel, unobserved: float) -> list[str]:
    n = len(cm.species)
    keep = max(1, n - math.floor(unobserved * n + 1e-9))
    return list(cm.observed_order[:keep])


def _parameter_table(constants, nominal: dict[str, float] | None = None) -> pd.DataFrame:
    lo, hi = RATE_BOUNDS
    rows = [[c, "log10", lo, hi, (nominal or {}).get(c, 1.0), 1] for c in constants]
    return pd.DataFrame(rows, columns=["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
                                       "estimate"]).set_index("parameterId")


def _tables(cm: CuratedModel, spec: SyntheticSpec, sigma: dict[str, float]):
    train = cm.training_values(spec.n_conditions)
    ids = [f"c{i}" for i in range(len(train))]
    conditions = pd.DataFrame({cm.condition_parameter: [*train, cm.heldout_value]},
                              index=pd.Index([*ids, "heldout"], name="conditionId"))
    observed = _observed(cm, spec.unobserved)
    observables = pd.DataFrame({"observableFormula": observed,
                                "noiseFormula": [repr(float(sigma.get(s, 1.0))) for s in observed]},
                               index=pd.Index([f"obs_{s}" for s in observed], name="observableId"))
    times = np.linspace(cm.t_end / spec.n_times, cm.t_end, spec.n_times)
    rows = [(f"obs_{s}", c, t) for c in [*ids, "heldout"] for s in observed for t in times]
    measurements = pd.DataFrame(rows, columns=["observableId", "simulationConditionId", "time"])
    measurements["measurement"] = 0.0
    return conditions, observables, measurements


def noise_free_data(spec: SyntheticSpec) -> tuple[np.ndarray, dict[str, float]]:
    """The true model's observables at every measurement row (training conditions, then
    the held-out one; see :mod:`._truth`) and each observed species' noise sd."""
    cm = CURATED_MODELS[spec.model]
    conditions, observables, measurements = _tables(cm, spec, {})
    times = np.linspace(cm.t_end / spec.n_times, cm.t_end, spec.n_times)
    species = list(cm.species)
    clean = []
    for value in conditions[cm.condition_parameter]:
        states = simulate_truth(cm, value, times)
        clean += [states[species.index(o.removeprefix("obs_"))] for o in observables.index]
    clean = np.concatenate(clean)
    is_train = (measurements["simulationConditionId"] != "heldout").to_numpy()
    obs_ids = measurements["observableId"].to_numpy()
    sigma = {o.removeprefix("obs_"): spec.noise * max(float(np.max(np.abs(clean[is_train & (obs_ids == o)]))), 1e-3)
             for o in observables.index}
    return clean, sigma


def build_synthetic(spec: SyntheticSpec, seed: int, task_id: str) -> Task:
    """The task ``spec`` with data drawn from ``seed``."""
    cm = CURATED_MODELS[spec.model]
    clean, sigma = noise_free_data(spec)
    conditions, observables, measurements = _tables(cm, spec, sigma)
    is_train = (measurements["simulationConditionId"] != "heldout").to_numpy()
    obs_ids = measurements["observableId"].to_numpy()
    rng = np.random.default_rng(seed)
    sd = np.array([sigma[o.removeprefix("obs_")] for o in obs_ids])
    measurements["measurement"] = clean + sd * rng.standard_normal(len(clean))

    drop = cm.missing if spec.skeleton == "missing" else None
    extra = cm.spurious if spec.skeleton == "spurious" else None
    skeleton = cm.build(drop=drop, extra=extra)
    constants = [c for rid, (_, _, c) in cm.reactions.items() if rid != drop] + ([extra.constant] if extra else [])
    parameters = _parameter_table(constants)
    common = {"observables": observables, "parameters": parameters, "conditions": conditions, "settings": SETTINGS}
    problem = Problem.from_tables(skeleton, measurements=measurements[is_train].reset_index(drop=True),
                                  name=task_id, **common)
    heldout = Problem.from_tables(skeleton, measurements=measurements[~is_train].reset_index(drop=True),
                                  name=f"{task_id} (held out)", **common)
    return Task(id=task_id, seed=seed, problem=problem, heldout=heldout, evidence=_evidence(cm, spec, seed),
                true_parameters={c: cm.rates[c] for c in constants if c in cm.rates},
                true_structure=frozenset(cm.reactions), axes=spec.axes(), kind="synthetic")


def _evidence(cm: CuratedModel, spec: SyntheticSpec, seed: int) -> tuple:
    if spec.prior == "none":
        return ()
    if cm.binding is None:
        raise ValueError(f"model {cm.name!r} has no binding reaction for a Kd prior ({spec.prior!r})")
    kon, koff = cm.binding
    offset, sd = KD_PRIOR[spec.prior]
    if offset is None:  # noisy: the prediction's error is a draw from its own stated spread
        offset = float(np.random.default_rng([seed, 1]).normal(0.0, sd))
    kd = cm.rates[koff] / cm.rates[kon] * 10.0**offset
    return (AffinityEvidence(kon, koff, kd, unit="nM", model_unit="nM", sd=sd, name=f"Kd({spec.prior})"),)
