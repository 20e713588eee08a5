"""Independence Metropolis-Hastings moves between NUTS draws.

NUTS moves a chain by a trajectory through the posterior; where a posterior has a core and a
long, thin extension (the GPCR case's k3-k7 ridge, docs/evidence.md), a chain enters and leaves
the extension rarely and the draws count few effective excursions. After each NUTS draw a chain
here also takes ``m`` independence Metropolis-Hastings steps (Tierney 1994): proposals drawn
from a fixed distribution ``q`` that does not depend on where the chain is, each accepted
with probability ``min(1, p(y) q(x) / (p(x) q(y)))``. Each step leaves the posterior
invariant, so NUTS followed by these steps does too (a composition of invariant kernels).

``q`` is fitted once, at the end of the warm-up, and then fixed (a proposal that kept adapting
to the draws would change the kernel's invariant distribution): an equal mixture of two
multivariate t distributions with :data:`DEGREES_OF_FREEDOM` degrees of freedom, both centred
at the mean of the warm-up's last slow window, one scaled by the adapted inverse mass matrix
(the warm-up's covariance estimate) and one :data:`WIDE` times wider. The t's polynomial tails
are heavier than the posterior's in ``z`` (the bounded space's logistic tails), so the
importance weight ``p / q`` stays bounded away from the core; the wide component proposes
along extensions the warm-up saw only part of. Measured on the GPCR baseline (docs/evidence.md,
"Independence proposals"), which set these constants.

A proposal costs one log density (no gradient), and the ``m`` proposals of every chain are
independent of the chain, so they are drawn and evaluated in one batched call before the
accept/reject sweep. Nothing here is in blackjax (its ``irmh`` kernel takes one proposal per
step and a proposal density without the mixture), so the sweep is written out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

DEGREES_OF_FREEDOM = 4.0
WIDE = 2.5  # the second component's scale, relative to the warm-up's covariance


class Proposal(NamedTuple):
    """The fixed proposal of one chain: the centre and the Cholesky factor of the narrow
    component's scale matrix (the wide one is :data:`WIDE` times it)."""

    mean: jax.Array
    chol: jax.Array


def proposal(mean: jax.Array, inverse_mass_matrix: jax.Array) -> Proposal:
    """The proposal centred at ``mean`` with the warm-up's covariance estimate (a dense
    matrix, or the diagonal of one)."""
    if inverse_mass_matrix.ndim == 1:
        return Proposal(mean, jnp.diag(jnp.sqrt(inverse_mass_matrix)))
    return Proposal(mean, jnp.linalg.cholesky(inverse_mass_matrix))


def draw(q: Proposal, key, n: int) -> jax.Array:
    """``n`` draws of ``q``, shape ``(n, dimension)``."""
    d = q.mean.shape[0]
    k_normal, k_gamma, k_wide = jax.random.split(key, 3)
    normal = jax.random.normal(k_normal, (n, d))
    chi2_over_df = jax.random.gamma(k_gamma, DEGREES_OF_FREEDOM / 2, (n,)) * 2 / DEGREES_OF_FREEDOM
    scale = jnp.where(jax.random.uniform(k_wide, (n,)) < 0.5, WIDE, 1.0)
    return q.mean + (scale / jnp.sqrt(chi2_over_df))[:, None] * (normal @ q.chol.T)


def log_density(q: Proposal, x: jax.Array) -> jax.Array:
    """``log q(x)`` up to a constant (the constant cancels in the acceptance ratio)."""
    d = q.mean.shape[0]
    r = jax.scipy.linalg.solve_triangular(q.chol, x - q.mean, lower=True)
    squared = r @ r

    def component(c):
        return -(DEGREES_OF_FREEDOM + d) / 2 * jnp.log1p(squared / (c * c * DEGREES_OF_FREEDOM)) - d * jnp.log(c)

    return jnp.logaddexp(component(1.0), component(WIDE))


def moves(logdensity: Callable, q: Proposal, position: jax.Array, current_logdensity: jax.Array, key,
          n: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``n`` independence Metropolis-Hastings steps of one chain from ``position`` (whose
    log density is ``current_logdensity``): the position and its log density after them, and
    how many proposals were accepted."""
    k_draw, k_accept = jax.random.split(key)
    candidates = draw(q, k_draw, n)
    target = jax.vmap(logdensity)(candidates)  # one batched call for all proposals
    weights = target - jax.vmap(lambda x: log_density(q, x))(candidates)  # -inf where the target is
    log_u = jnp.log(jax.random.uniform(k_accept, (n,)))

    def step(carry, xs):
        x, lp, w, accepted = carry
        y, lp_y, w_y, u = xs
        take = u < w_y - w
        return (jnp.where(take, y, x), jnp.where(take, lp_y, lp), jnp.where(take, w_y, w), accepted + take), None

    start = (position, current_logdensity, current_logdensity - log_density(q, position), jnp.asarray(0))
    (x, lp, _, accepted), _ = jax.lax.scan(step, start, (candidates, target, weights, log_u))
    return x, lp, accepted
