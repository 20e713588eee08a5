"""Deep ensembles: independently initialised trainings run through the inference executor.

Member ``k`` re-draws the network weights with seed ``settings.seed + k`` and uses the same
train/validation split (so members differ by initialisation only). The spread of the
members' predictions is the ensemble's uncertainty.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..inference import Executor, problem_handle, problem_in_worker
from ._problem import HybridProblem
from ._train import TrainingResult, TrainingSettings, initial_theta, train


@dataclasses.dataclass
class Ensemble:
    """Trained members; ``predict`` gives the mean and spread of their simulations."""

    members: list[TrainingResult]

    @property
    def thetas(self) -> np.ndarray:
        return np.stack([m.theta for m in self.members])

    def predict(self, problem: HybridProblem) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over members of the simulated measurement rows."""
        sim = jax.jit(jax.vmap(lambda th: problem.simulate(th)[0]))(jnp.asarray(self.thetas))
        return np.asarray(sim.mean(axis=0)), np.asarray(sim.std(axis=0))


def _member(key: str, source, settings: TrainingSettings, k: int) -> TrainingResult:
    problem = problem_in_worker(key, source)
    return _train_member(problem, settings, k)


def _train_member(problem: HybridProblem, settings: TrainingSettings, k: int) -> TrainingResult:
    theta0 = initial_theta(problem, settings.seed + k) if k else initial_theta(problem, None)
    return train(problem, settings, theta0=theta0)


def train_ensemble(problem: HybridProblem, n: int, settings: TrainingSettings | None = None, *,
                   executor=None, workers: int | None = None,
                   on_member: Callable[[int, TrainingResult], None] | None = None) -> Ensemble:
    """Train ``n`` members (member 0 starts from the nominal weights, the others from fresh draws).

    Arguments:
        executor: ``"serial"``, ``None``/``"local"`` (processes), or a Dask address/client,
            as in :mod:`celltwin.inference`; other than serial, the problem needs a ``source``
            (problems read with ``from_petab_sciml`` have one).
        on_member: called with ``(index, result)`` as each member finishes.
    """
    settings = settings or TrainingSettings()
    results: dict[int, TrainingResult] = {}
    if executor == "serial":
        for k in range(n):
            results[k] = _train_member(problem, settings, k)
            if on_member is not None:
                on_member(k, results[k])
        return Ensemble([results[k] for k in range(n)])
    key, source = problem_handle(problem)
    with Executor(executor, workers=workers or min(n, 2)) as pool:
        for k, result in pool.map_unordered(_member, [(key, source, settings, k) for k in range(n)]):
            results[k] = result
            if on_member is not None:
                on_member(k, result)
    return Ensemble([results[k] for k in range(n)])
