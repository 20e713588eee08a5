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
accept/reject sweep. The t mixture is numpyro's; the sweep is written out (blackjax's ``irmh``
kernel takes one proposal per step).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

DEGREES_OF_FREEDOM = 4.0
WIDE = 2.5  # the second component's scale, relative to the warm-up's covariance


def independence_proposal(mean: jax.Array, inverse_mass_matrix: jax.Array):
    """The proposal (a numpyro distribution) centred at ``mean`` with the warm-up's covariance
    estimate (a dense matrix, or the diagonal of one) as the narrow component's scale."""
    from numpyro.distributions import Categorical, MixtureSameFamily, MultivariateStudentT

    chol = (jnp.diag(jnp.sqrt(inverse_mass_matrix)) if inverse_mass_matrix.ndim == 1
            else jnp.linalg.cholesky(inverse_mass_matrix))
    components = MultivariateStudentT(DEGREES_OF_FREEDOM, jnp.stack([mean, mean]), jnp.stack([chol, WIDE * chol]))
    return MixtureSameFamily(Categorical(probs=jnp.array([0.5, 0.5])), components)


def moves(logdensity: Callable, q, position: jax.Array, current_logdensity: jax.Array, key,
          n: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``n`` independence Metropolis-Hastings steps of one chain from ``position`` (whose
    log density is ``current_logdensity``): the position and its log density after them, and
    how many proposals were accepted."""
    k_draw, k_accept = jax.random.split(key)
    candidates = q.sample(k_draw, (n,))
    target = jax.vmap(logdensity)(candidates)  # one batched call for all proposals
    weights = target - q.log_prob(candidates)  # -inf where the target is
    log_u = jnp.log(jax.random.uniform(k_accept, (n,)))

    def step(carry, xs):
        x, lp, w, accepted = carry
        y, lp_y, w_y, u = xs
        take = u < w_y - w
        return (jnp.where(take, y, x), jnp.where(take, lp_y, lp), jnp.where(take, w_y, w), accepted + take), None

    start = (position, current_logdensity, current_logdensity - q.log_prob(position), jnp.asarray(0))
    (x, lp, _, accepted), _ = jax.lax.scan(step, start, (candidates, target, weights, log_u))
    return x, lp, accepted


def move_chain(logdensity: Callable, q, kernel, chain, key, n: int):
    """:func:`moves` from a blackjax HMC/NUTS state ``chain``: the state after them (at an
    accepted proposal rebuilt by ``kernel.init``, which NUTS needs for the gradient there: one
    more gradient) and how many proposals were accepted."""
    x, _, accepted = moves(logdensity, q, chain.position, chain.logdensity, key, n)
    return jax.lax.cond(accepted > 0, lambda: kernel.init(x), lambda: chain), accepted
