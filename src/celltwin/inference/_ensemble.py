"""The affine-invariant ensemble sampler: Goodman and Weare's (2010) stretch move, in two
halves (each half's walkers move towards or away from a random walker of the other half).

The state is :class:`EnsembleState`: every walker's position and log density. The burn-in
uses the keys ``split(warm_key, burn_in)``, draw block ``b`` the keys
``split(fold_in(sample_key, b), size)``; each key drives one kept iteration of ``thin``
sweeps. A proposal whose log density is not finite (a failed solve) is rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import CelltwinInputError
from ._driver import AbstractKernel, Block, Phase, draw_phase, drawn
from ._settings import EnsembleSettings

ENSEMBLE_STATS = ("acceptance_rate", "lp")
CHECKPOINT_KEYS = {"position": "position", "logdensity": "lp_state"}  # state field -> checkpoint array


class EnsembleState(NamedTuple):
    """The walkers: positions ``(walkers, d)`` and log densities ``(walkers,)``."""

    position: jax.Array
    logdensity: jax.Array


def init(logdensity: Callable, z0: jax.Array) -> EnsembleState:
    return EnsembleState(z0, jax.vmap(logdensity)(z0))


def build_kernel(logdensity: Callable, stretch: float) -> Callable:
    """``step(state, key) -> (state, accepted)``: one sweep of the stretch move over all walkers."""
    batch_logp = jax.vmap(logdensity)
    a = stretch

    def half_move(walkers, lps, key, first: bool):
        n = walkers.shape[0]
        half = n // 2
        idx_active = jnp.arange(half) if first else jnp.arange(half, n)
        idx_other = jnp.arange(half, n) if first else jnp.arange(half)
        active, other = walkers[idx_active], walkers[idx_other]
        k1, k2, k3 = jax.random.split(key, 3)
        d = walkers.shape[1]
        z = ((a - 1.0) * jax.random.uniform(k1, (active.shape[0],)) + 1.0) ** 2 / a  # g(z) ~ 1/sqrt(z) on [1/a, a]
        partners = other[jax.random.randint(k2, (active.shape[0],), 0, other.shape[0])]
        proposal = partners + z[:, None] * (active - partners)
        lp_new = batch_logp(proposal)
        log_ratio = (d - 1) * jnp.log(z) + lp_new - lps[idx_active]
        accept = jnp.log(jax.random.uniform(k3, (active.shape[0],))) < log_ratio
        accept = accept & jnp.isfinite(lp_new)
        walkers = walkers.at[idx_active].set(jnp.where(accept[:, None], proposal, active))
        lps = lps.at[idx_active].set(jnp.where(accept, lp_new, lps[idx_active]))
        accepted = jnp.zeros(n, dtype=bool).at[idx_active].set(accept)
        return walkers, lps, accepted

    def step(state: EnsembleState, key) -> tuple[EnsembleState, jax.Array]:
        k1, k2 = jax.random.split(key)
        walkers, lps, acc1 = half_move(state.position, state.logdensity, k1, True)
        walkers, lps, acc2 = half_move(walkers, lps, k2, False)
        return EnsembleState(walkers, lps), acc1 | acc2

    return step


def build_iterations(logdensity: Callable, thin: int, stretch: float) -> Callable:
    """A jitted ``(state, keys) -> (state, positions, stats)``: one kept iteration (``thin``
    sweeps) per key; positions ``(walkers, iterations, d)`` (walkers are arviz chains) and
    the statistics of :data:`ENSEMBLE_STATS`."""
    step = build_kernel(logdensity, stretch)

    def kept(state, key):
        state, accepted = jax.lax.scan(step, state, jax.random.split(key, thin))
        return state, (state.position, (jnp.mean(accepted, axis=0), state.logdensity))

    def run(state, keys):
        state, (positions, stats) = jax.lax.scan(kept, state, keys)
        return state, jnp.swapaxes(positions, 0, 1), tuple(jnp.swapaxes(s, 0, 1) for s in stats)

    return jax.jit(run)


class EnsembleKernel(AbstractKernel):
    """An ensemble run from the walkers ``z0``: the burn-in in one call, then the draws."""

    method = "ensemble"

    def __init__(self, logdensity_z: Callable, settings: EnsembleSettings, z0, warm_key, sample_key):
        self.logdensity_z, self.settings, self.z0 = logdensity_z, settings, z0
        self.warm_key, self.sample_key = warm_key, sample_key
        self._compiled: dict[int, Callable] = {}  # by thinning: burn-in 1, draws thin

    def _iterations(self, thin: int) -> Callable:
        if thin not in self._compiled:
            self._compiled[thin] = build_iterations(self.logdensity_z, thin, self.settings.stretch)
        return self._compiled[thin]

    def phases(self, record: dict) -> Iterator[Phase]:
        s = self.settings
        if "blocks_done" not in record:
            yield Phase(None, 0, "", 0, self._burn_in(record))

        def draw_block(b: int, size: int):
            state = EnsembleState(*(jnp.asarray(record[CHECKPOINT_KEYS[k]]) for k in EnsembleState._fields))
            state, positions, stats = self._iterations(s.thin)(state, jax.random.split(
                jax.random.fold_in(self.sample_key, b), size))
            record.update({CHECKPOINT_KEYS[k]: np.asarray(v) for k, v in state._asdict().items()})
            return positions, stats

        yield draw_phase(record, draw_block, ENSEMBLE_STATS, title=f"ensemble: {s.walkers} chains x {s.draws} draws",
                         draws=s.draws, block=s.block)

    def _burn_in(self, record: dict) -> Iterator[Block]:
        state = init(self.logdensity_z, self.z0)
        if not bool(jnp.any(jnp.isfinite(state.logdensity))):
            raise CelltwinInputError("the posterior is -inf at every starting point (the model cannot be simulated there)")
        if self.settings.burn_in:
            state, _, _ = self._iterations(1)(state, jax.random.split(self.warm_key, self.settings.burn_in))
        record.update({CHECKPOINT_KEYS[k]: np.asarray(v) for k, v in state._asdict().items()}, blocks_done=np.array(0))
        yield Block(0)

    def result(self, record: dict) -> tuple[np.ndarray, dict, dict]:
        return (*drawn(record, ENSEMBLE_STATS), {})
