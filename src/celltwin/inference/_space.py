"""The unconstrained space the samplers move in, and the target density there.

Each parameter (on its PEtab scale) is ``theta = lower + (upper - lower) * sigmoid(z)``;
the target in ``z`` adds the log-Jacobian, so draws of ``theta`` follow the posterior
restricted to the bounds (the PEtab problem's support). A failed ODE solve gives
log-density ``-inf``: a rejected proposal, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


class BoundedSpace:
    """``theta = lower + (upper - lower) * sigmoid(z)`` and its log-Jacobian."""

    def __init__(self, lower, upper):
        self.lower = jnp.asarray(lower, dtype=float)
        self.width = jnp.asarray(upper, dtype=float) - self.lower

    def theta(self, z):
        return self.lower + self.width * jax.nn.sigmoid(z)

    def z(self, theta):
        u = jnp.clip((jnp.asarray(theta) - self.lower) / self.width, 1e-12, 1 - 1e-12)
        return jnp.log(u) - jnp.log1p(-u)

    def log_jacobian(self, z):
        return jnp.sum(jnp.log(self.width) + jax.nn.log_sigmoid(z) + jax.nn.log_sigmoid(-z), axis=-1)


def finite_or_minus_inf(logdensity: Callable) -> Callable:
    """``logdensity`` with NaN (a failed solve's arithmetic) turned into ``-inf``."""
    def f(x):
        v = logdensity(x)
        return jnp.where(jnp.isfinite(v), v, -jnp.inf)

    return f


def z_target(space: BoundedSpace, target: Callable) -> Callable:
    """The target in ``z``: the log density of ``theta(z)`` plus the log-Jacobian."""
    def logdensity_z(z):
        return target(space.theta(z)) + space.log_jacobian(z)

    return logdensity_z
