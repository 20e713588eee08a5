"""Mechanistic methods: the task's skeleton model fitted by multi-start MAP, sampled in a
Bayesian way, and sampled with the task's prior knowledge (ML-predicted Kd) as evidence.

Each runs inside one benchmark worker, so its own parallelism is off (``executor="serial"``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from ...inference import SamplerSettings, multistart, sample
from .base import AbstractMethod, MethodFailure, ParameterDraws


def _map_fit(problem, n_starts: int, max_iterations: int, seed: int) -> np.ndarray:
    result = multistart(problem, n_starts, seed=seed, executor="serial", progress=False,
                        max_iterations=max_iterations)
    if not np.isfinite(result.table["objective"].iloc[0]):
        raise MethodFailure(f"none of {n_starts} optimisations could simulate the model")
    return result.best_theta


@dataclasses.dataclass(frozen=True)
class MechanisticMAP(AbstractMethod):
    """Multi-start L-BFGS-B maximum a posteriori fit of the skeleton; predictions at the
    best fit with the measurement noise model."""

    name: ClassVar[str] = "mechanistic_map"
    n_starts: int = 8
    max_iterations: int = 300

    def fit(self, task, *, seed: int) -> ParameterDraws:
        theta = _map_fit(task.problem, self.n_starts, self.max_iterations, seed)
        return ParameterDraws(task.problem, theta[None, :])


@dataclasses.dataclass(frozen=True)
class MechanisticBayes(AbstractMethod):
    """Posterior sampling of the skeleton (flat priors within the bounds), started around a
    multi-start MAP fit; predictions from posterior draws with the noise model.

    The ensemble sampler (stretch move) is the default: it needs no gradients, so it
    compiles fast on the small benchmark models; ``sampler="nuts"`` is available. The
    sampler runs ``burn_in + draws`` iterations as one compiled block and the first
    ``burn_in`` are dropped (one compilation instead of two for a separate warm-up).
    """

    name: ClassVar[str] = "mechanistic_bayes"
    sampler: str = "ensemble"
    walkers: int = 16
    draws: int = 100
    burn_in: int = 300
    n_starts: int = 4
    max_iterations: int = 300

    def log_density(self, task):
        return None  # the problem's own log-posterior

    def fit(self, task, *, seed: int) -> ParameterDraws:
        problem = task.problem
        theta = _map_fit(problem, self.n_starts, self.max_iterations, seed)
        chains = max(self.walkers, 2 * problem.n_parameters + 2) if self.sampler == "ensemble" else 4
        total = self.burn_in + self.draws
        if self.sampler == "nuts":  # NUTS adapts its step size in a warm-up of its own
            settings = SamplerSettings(method="nuts", chains=chains, draws=self.draws, warmup=self.burn_in,
                                       seed=seed, block=self.draws)
        else:
            settings = SamplerSettings(method=self.sampler, chains=chains, draws=total, warmup=0, seed=seed,
                                       block=total, init_scale=0.05)
        idata = sample(problem, settings, init=theta, log_density=self.log_density(task), predictive=False,
                       progress=False)
        kept = slice(-self.draws, None)
        draws = np.stack([idata.posterior[p].values[:, kept].reshape(-1) for p in problem.parameter_ids], axis=1)
        if not np.all(np.isfinite(draws)):
            raise MethodFailure("the sampler returned non-finite draws")
        return ParameterDraws(problem, draws)


@dataclasses.dataclass(frozen=True)
class EvidenceBayes(MechanisticBayes):
    """:class:`MechanisticBayes` with the task's prior knowledge (e.g. an ML-predicted Kd
    as :class:`~celltwin.evidence.AffinityEvidence`) added to the log-posterior through
    :class:`~celltwin.evidence.Evidence`; applies to tasks that carry evidence."""

    name: ClassVar[str] = "bayes_ml_evidence"
    needs_evidence: ClassVar[bool] = True

    def applicable(self, task) -> bool:
        ids = set(task.problem.parameters.ids)
        return bool(task.evidence) and all(p in ids for t in task.evidence for p in t.parameter_ids)

    def log_density(self, task):
        from ...evidence import Evidence

        return Evidence(task.problem, task.evidence).log_density
