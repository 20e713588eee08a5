"""The interface every benchmark method implements, and the fitted parameter-based model.

A method is fitted to a :class:`~celltwin.bench.Task` (``fit(task, seed=...)``) and returns
a :class:`FittedMethod` that predicts the held-out measurements as predictive draws
(``predict(heldout, n_draws, seed)`` -> ``(n_draws, n_rows)``, measurement noise
included), may report estimated parameters (linear scale) and a structure (ids of the
reactions it believes present). Methods are final, frozen dataclasses whose fields are
their settings; they are looked up by name in :data:`celltwin.bench.METHODS`.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import TYPE_CHECKING, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

if TYPE_CHECKING:
    from ...problem import AbstractProblem


class MethodFailure(RuntimeError):
    """A method could not produce a fit or a prediction (recorded as a failure row)."""


class FittedMethod(abc.ABC):
    """What a method returns: predictions of held-out data, optionally parameters and structure."""

    @abc.abstractmethod
    def predict(self, heldout, n_draws: int, seed: int) -> np.ndarray:
        """``(n_draws, n_rows)`` draws of the held-out measurements (table order of ``heldout``)."""

    def parameters(self) -> dict[str, float] | None:
        """Estimated parameter values (linear scale) by id, or ``None``."""
        return None

    def structure(self) -> frozenset[str] | None:
        """Ids of the reactions the fit says are present, or ``None`` (no structure)."""
        return None


class AbstractMethod(abc.ABC):
    """A benchmark method: ``name`` plus ``fit``; ``applicable`` says which tasks it can take."""

    name: ClassVar[str]
    needs_evidence: ClassVar[bool] = False  # runs only on tasks with prior knowledge

    def applicable(self, task) -> bool:
        return True

    @classmethod
    def available(cls) -> str | None:
        """``None`` when the method can run here, else why not (e.g. an optional peer
        library that is not installed); the runner leaves out the cells of an unavailable
        method and says so, instead of storing failure rows."""
        return None

    @abc.abstractmethod
    def fit(self, task, *, seed: int) -> FittedMethod:
        """Fit to ``task.problem`` (and the task's evidence, if the method uses it)."""


def linear_values(problem, theta) -> dict[str, float]:
    """``theta`` (parameter scales) as linear values by parameter id."""
    return dict(zip(problem.parameter_ids, map(float, problem.to_linear(theta))))


PRESENT_ABOVE_LOWER_BOUND = 1.0  # log10 units: a rate constant this far above its bound counts as present


def reactions_present(problem, theta) -> frozenset[str]:
    """The skeleton's reactions whose own rate constant is more than
    :data:`PRESENT_ABOVE_LOWER_BOUND` log10 units above its lower bound (a fit pushes the
    constant of a reaction the data do not need to its bound). Reactions without exactly
    one estimated log10 rate constant count as present."""
    theta = np.asarray(theta, dtype=float)
    index = {pid: k for k, pid in enumerate(problem.parameter_ids) if problem.parameter_scales[k] == "log10"}
    present = set()
    for rid, reaction in problem.model.reactions.items():
        own = [index[str(s)] for s in reaction.rate.free_symbols if str(s) in index]
        if len(own) != 1 or theta[own[0]] > problem.lower[own[0]] + PRESENT_ABOVE_LOWER_BOUND:
            present.add(rid)
    return frozenset(present)


@dataclasses.dataclass
class ParameterDraws(FittedMethod):
    """A fit given by parameter vectors of ``problem`` (one: a point estimate; many:
    posterior draws); predictions simulate the held-out problem at them and add its noise."""

    problem: AbstractProblem
    thetas: np.ndarray  # (n, n_parameters) on the parameter scales

    def predict(self, heldout, n_draws: int, seed: int) -> np.ndarray:
        # One compiled simulation, called once per distinct parameter vector: compiling a
        # simulation vmapped over the draws took as long as the fit on these small models.
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(self.thetas), size=n_draws, replace=len(self.thetas) < n_draws))
        noisy = jax.jit(jax.vmap(heldout.noisy_measurements, in_axes=(None, 0)))
        keys = jax.random.split(jax.random.PRNGKey(seed), n_draws)
        draws = np.empty((n_draws, heldout.n_measurements))
        unique, where = np.unique(pick, return_inverse=True)
        for u, i in enumerate(unique):
            sim = heldout.jit_simulate(jnp.asarray(self.thetas[i]))
            rows = np.flatnonzero(where == u)
            draws[rows] = np.asarray(noisy(sim, keys[rows]))
        if not np.all(np.isfinite(draws)):
            bad = int(np.sum(~np.all(np.isfinite(draws), axis=1)))
            raise MethodFailure(f"the held-out condition cannot be simulated at {bad} of {n_draws} parameter draws")
        return draws

    def point(self) -> np.ndarray:
        return np.median(self.thetas, axis=0)

    def parameters(self) -> dict[str, float]:
        return linear_values(self.problem, self.point())

    def structure(self) -> frozenset[str]:
        return reactions_present(self.problem, self.point())
