"""What every consumer of a problem may rely on: :class:`AbstractProblem`.

Optimisers, samplers, profiles, reports, benchmarks and scenarios take an
``AbstractProblem``; :class:`~celltwin.problem.Problem` (a PEtab problem) and
:class:`~celltwin.hybrid.HybridProblem` (a model with neural terms) are its final
implementations. The pattern is equinox's abstract/final one: the abstract class declares
attributes and abstract methods and implements a few methods once, in terms of them; a
final class implements every abstract method, overrides nothing else and is not subclassed
(tests/test_problem_interface.py checks this). Attributes are set once, by the final
class's constructor; nothing outside a problem writes them.

``theta`` is always the vector of estimated parameters on their scales (``lin``, ``log``,
``log10``), in ``parameter_ids`` order, inside ``[lower, upper]``.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable
from typing import ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ._noise import MeasurementModel
from ._parameters import SCALES, unscale

GradientMode = Literal["auto", "forward", "reverse"]


class Simulation(NamedTuple):
    """Simulated observables and noise levels, in the measurement table's row order."""

    observables: jax.Array
    sigmas: jax.Array
    status: jax.Array  # one Status code per simulation condition (per experiment of a hybrid problem)


class BoundedTransform:
    """The unconstrained space samplers move in: ``theta = lower + (upper - lower) * sigmoid(z)``.

    A density of ``theta`` on the box becomes the density of ``z`` by adding
    :meth:`log_jacobian`; every ``z`` maps inside the bounds, so draws of ``theta`` follow
    the posterior restricted to them (the PEtab problem's support).
    """

    def __init__(self, lower, upper):
        self.lower = jnp.asarray(lower, dtype=float)
        self.width = jnp.asarray(upper, dtype=float) - self.lower

    def theta(self, z):
        return self.lower + self.width * jax.nn.sigmoid(z)

    def z(self, theta):
        # Clipped so that a point on a bound maps to a finite z (1e-12 of the width inside).
        u = jnp.clip((jnp.asarray(theta) - self.lower) / self.width, 1e-12, 1 - 1e-12)
        return jnp.log(u) - jnp.log1p(-u)

    def log_jacobian(self, z):
        """``log |d theta / d z|``, summed over the parameters (last axis)."""
        return jnp.sum(jnp.log(self.width) + jax.nn.log_sigmoid(z) + jax.nn.log_sigmoid(-z), axis=-1)


class AbstractProblem(abc.ABC):
    """A parameter-estimation problem: scores ``theta`` against measurements.

    Attributes (set by the final class's constructor, read-only after):
        name: a label for messages and reports.
        parameter_ids: the estimated parameters, the entries of ``theta``.
        parameter_scales: ``lin``, ``log`` or ``log10`` per entry of ``theta``.
        x_nominal: nominal ``theta`` (parameter scale).
        lower, upper: bounds of ``theta`` (parameter scale; may be infinite).
        measurement_df: the measurement table, one row per measurement.
        measurement_model: measured values and noise model of every measurement row, in the
            order the problem evaluates them.
        source: a picklable callable that builds the problem again (so that worker processes
            can rebuild it), or ``None``.
    """

    name: str
    parameter_ids: list[str]
    parameter_scales: list[str]
    x_nominal: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    measurement_df: pd.DataFrame
    measurement_model: MeasurementModel
    source: Callable[[], AbstractProblem] | None

    # The attributes above, for checks that a final class provides them (equinox's AbstractVar).
    declared_attributes: ClassVar[tuple[str, ...]] = (
        "name", "parameter_ids", "parameter_scales", "x_nominal", "lower", "upper", "measurement_df",
        "measurement_model", "source")

    # --- what a final problem implements -----------------------------------------------------
    @abc.abstractmethod
    def simulate(self, theta) -> Simulation:
        """Simulated observables, noise levels and status at ``theta`` (measurement table order)."""

    @abc.abstractmethod
    def log_likelihood(self, theta) -> jax.Array:
        """Log-likelihood of the measurements at ``theta`` (-inf where a simulation fails)."""

    @abc.abstractmethod
    def log_prior(self, theta) -> jax.Array:
        """Sum of the objective priors at ``theta`` (0 for parameters without one)."""

    @abc.abstractmethod
    def pointwise_log_likelihood(self, theta) -> jax.Array:
        """Log-density of each measurement (measurement table order); NaN where a solve failed."""

    @abc.abstractmethod
    def value_and_grad(self, mode: GradientMode = "auto") -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
        """A jitted function ``theta -> (log_likelihood, its gradient)``, compiled once per
        problem and mode (``forward``, ``reverse`` or ``auto``)."""

    @abc.abstractmethod
    def differentiable_log_posterior(self, mode: GradientMode = "auto") -> Callable[[jax.Array], jax.Array]:
        """:meth:`log_posterior` whose ``jax.grad`` (as gradient-based samplers take it) is
        computed in ``mode``."""

    # --- implemented once, here --------------------------------------------------------------
    @property
    def n_parameters(self) -> int:
        return len(self.parameter_ids)

    @property
    def n_measurements(self) -> int:
        return int(self.measurement_model.measured.shape[0])

    def log_posterior(self, theta) -> jax.Array:
        """Unnormalised log-posterior: log-likelihood + log-prior."""
        return self.log_likelihood(theta) + self.log_prior(theta)

    @functools.cached_property
    def jit_log_prior_value_and_grad(self) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
        """``jax.jit(jax.value_and_grad(log_prior))``, compiled once per problem."""
        return jax.jit(jax.value_and_grad(self.log_prior))

    def to_linear(self, theta) -> np.ndarray:
        """Parameter-scale values (last axis: the estimated parameters, any leading axes) on
        linear scale."""
        codes = np.array([SCALES.index(s) for s in self.parameter_scales])
        return np.asarray(unscale(jnp.asarray(theta, dtype=float), codes))

    @property
    def bounded_transform(self) -> BoundedTransform:
        """The map from the unconstrained space of samplers to ``theta`` (needs finite bounds)."""
        return BoundedTransform(self.lower, self.upper)

    def unconstrained_log_density(self, mode: GradientMode = "auto") -> Callable[[jax.Array], jax.Array]:
        """The target samplers draw ``z`` from: the log-posterior of ``theta(z)`` plus the
        log-Jacobian of :attr:`bounded_transform`, ``-inf`` wherever it is not finite (a
        failed solve is a rejected proposal)."""
        space = self.bounded_transform
        target = self.differentiable_log_posterior(mode)

        def logdensity_z(z):
            value = target(space.theta(z))
            return jnp.where(jnp.isfinite(value), value, -jnp.inf) + space.log_jacobian(z)

        return logdensity_z
