"""The unconstrained space the samplers move in, and the target density there.

Each parameter (on its PEtab scale) is ``theta = lower + (upper - lower) * sigmoid(z)``;
the target in ``z`` adds the log-Jacobian, so draws of ``theta`` follow the posterior
restricted to the bounds (the PEtab problem's support). A failed ODE solve gives
log-density ``-inf``: a rejected proposal, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from ..problem import BoundedTransform

# The problem's own transform (``AbstractProblem.bounded_transform``): one implementation of
# the map and its log-Jacobian for samplers and problems alike.
BoundedSpace = BoundedTransform


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
