"""NUTS warm-up in blocks: Stan's windowed adaptation, resumable and with progress.

blackjax's ``window_adaptation`` runs the whole warm-up as one compiled call: on a model
whose gradient takes 50-200 ms, hundreds of warm-up steps show no progress for an hour
and a kill loses all of them. Here the same schedule (blackjax's ``build_schedule``: a
fast window, doubling slow windows, a final fast window) and the same estimators
(blackjax's dual averaging of the step size and Welford mass-matrix adaptation, diagonal
or dense) run ``block`` steps per call; the state between calls is a plain pytree of
arrays that the sampler writes to its checkpoint. Step ``i`` of chain ``c`` uses the key
``fold_in(chain_key[c], i)``, so the result does not depend on how the steps are blocked
or where a run was interrupted.

Each chain adapts its own step size and mass matrix, or (``pooled``) all chains share both.
The pooled step size follows one dual averaging driven by the chains' mean acceptance: a
chain's own dual averaging sees only the region it spent the last window in, and a chain
that adapted there to a step too large for the rest of the posterior diverges wherever the
posterior narrows (on the GPCR case one chain of four adapted 0.155 against 0.047-0.076 and
then diverged in 180 of 300 draws). The pooled mass matrix: at the end of each slow window the chains' Welford estimates are merged
(within- plus between-chain scatter) into one covariance. A chain alone sees only the part of
a slowly mixing posterior it has reached, and a dense 50 x 50 estimate from one chain's few
dozen warm-up draws is noise; pooled, the estimate has ``chains`` times the draws and includes
the spread between chains, the directions that most need long trajectories.

With independence proposals (``imh_proposals``) every warm-up step after the first slow window
is followed by them, fitted to the last window that ended (its mean and the adapted
covariance), as the draws are followed by the proposals fitted to the last window. The
proposals take the chains to regions NUTS alone visits rarely (the GPCR case's k4 edge and
k3-k7 ridge), so that the later windows' covariance estimates include those regions and the
step size is tuned where the draws' kernel goes. Measured on the GPCR case (docs/evidence.md,
"Short trees and many proposals"): with NUTS alone in the warm-up the draws' mean acceptance
was 0.73-0.78 against a target of 0.9-0.95, with 12-20 divergent transitions per posterior;
with the proposals in the final fast window only, one seed's last window saw half of k4's
spread, which its proposals then took over 900 draws to make up. (Warm-up positions are
discarded, so adapting the proposal there costs the draws' validity nothing.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.mass_matrix import WelfordAlgorithmState, mass_matrix_adaptation
from blackjax.adaptation.step_size import dual_averaging_adaptation
from blackjax.adaptation.window_adaptation import build_schedule

from . import _independence

if TYPE_CHECKING:
    from blackjax.adaptation.mass_matrix import MassMatrixAdaptationState
    from blackjax.adaptation.step_size import DualAveragingAdaptationState
    from blackjax.mcmc.hmc import HMCState

INITIAL_STEP_SIZE = 1.0  # blackjax's default


class WarmupState(NamedTuple):
    """One chain's warm-up state (leading axis = chains when vectorised)."""

    chain: HMCState  # position, logdensity, logdensity_grad
    step_size_state: DualAveragingAdaptationState
    mass_state: MassMatrixAdaptationState  # Welford estimator and the current inverse mass matrix
    step_size: jax.Array
    window_mean: jax.Array  # the mean position of the last finished slow window (pooled: of all chains)


def schedule(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per warm-up step: the stage (0 fast: step size only, 1 slow: step size and mass
    matrix) and whether a slow window ends there (Stan's schedule, via blackjax)."""
    if n_steps == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=bool)
    with jax.ensure_compile_time_eval():  # a constant, also when called while tracing
        stages = np.asarray(build_schedule(n_steps))
    return stages[:, 0].astype(np.int32), stages[:, 1].astype(bool)


def proposal_steps(n_steps: int) -> np.ndarray:
    """Per warm-up step: whether independence proposals follow it, i.e. whether it comes
    after the end of the first slow window (the first mean and covariance to fit them to);
    all False where no slow window ends."""
    _, window_end = schedule(n_steps)
    ends = np.flatnonzero(window_end)
    return np.arange(n_steps) > ends[0] if ends.size else np.zeros(n_steps, dtype=bool)


class Warmup:
    """Windowed adaptation of NUTS for ``logdensity`` (a function of one flat position).

    Arguments:
        logdensity: the target.
        target_accept: the dual-averaging target acceptance rate.
        max_tree_depth: NUTS doublings during warm-up.
        dense_mass: adapt a dense inverse mass matrix instead of a diagonal one.
        pooled: one mass matrix for all chains, from their merged estimates.
        imh_proposals: independence proposals (:mod:`._independence`) after each step that
            follows the first slow window, fitted to the last window that ended.
    """

    def __init__(self, logdensity: Callable, *, target_accept: float = 0.8, max_tree_depth: int = 10,
                 dense_mass: bool = False, pooled: bool = False, imh_proposals: int = 0):
        self.logdensity = logdensity
        self.max_tree_depth = max_tree_depth
        self.dense_mass = dense_mass
        self.pooled = pooled
        self.imh_proposals = imh_proposals
        self._mm = mass_matrix_adaptation(is_diagonal_matrix=not dense_mass)
        self._da = dual_averaging_adaptation(target_accept)

    # --- one chain -----------------------------------------------------------------------
    def _init_one(self, z) -> WarmupState:
        mm_init, _, _ = self._mm
        da_init, _, _ = self._da
        kernel = blackjax.nuts(self.logdensity, step_size=INITIAL_STEP_SIZE,
                               inverse_mass_matrix=jnp.ones(z.shape[0]))
        return WarmupState(kernel.init(z), da_init(INITIAL_STEP_SIZE), mm_init(z.shape[0]),
                           jnp.asarray(INITIAL_STEP_SIZE), z)

    def _step_one(self, state: WarmupState, chain_key, i, stage, window_end, propose) -> tuple[WarmupState, tuple]:
        _, mm_update, _ = self._mm
        _, da_update, _ = self._da
        kernel = blackjax.nuts(self.logdensity, step_size=state.step_size,
                               inverse_mass_matrix=state.mass_state.inverse_mass_matrix,
                               max_num_doublings=self.max_tree_depth)
        key = jax.random.fold_in(chain_key, i)
        chain, info = kernel.step(key, state.chain)
        if self.imh_proposals:  # after the first slow window: see the module's docstring
            chain = jax.lax.cond(propose, lambda c: self._proposals(state, kernel, c, jax.random.fold_in(key, 1)),
                                 lambda c: c, chain)
        da = da_update(state.step_size_state, info.acceptance_rate)
        updated = mm_update(state.mass_state, chain.position)
        mm = jax.tree.map(lambda new, old: jnp.where(stage == 1, new, old), updated, state.mass_state)
        new = WarmupState(chain, da, mm, jnp.exp(da.log_step_size), state.window_mean)
        if not self.pooled:
            new = self._end_window(new, window_end, self._mm[2](mm), mm.wc_state.mean)
        return new, (info.is_divergent, info.num_integration_steps, info.acceptance_rate)

    def _proposals(self, state: WarmupState, kernel, chain, key):
        """``imh_proposals`` independence moves from the proposal fitted to the last slow
        window that ended (its mean and the inverse mass matrix adapted from it)."""
        q = _independence.independence_proposal(state.window_mean, state.mass_state.inverse_mass_matrix)
        return _independence.move_chain(self.logdensity, q, kernel, chain, key, self.imh_proposals)[0]

    def _end_window(self, state: WarmupState, window_end, ended_mm, mean) -> WarmupState:
        """At the end of a slow window: the new mass matrix ``ended_mm`` (with a fresh Welford
        estimate), the window's mean position ``mean`` kept, and dual averaging restarted from
        the step size reached (as in Stan and blackjax)."""
        da_init, _, da_final = self._da
        ended_da = da_init(da_final(state.step_size_state))
        mm = jax.tree.map(lambda new, old: jnp.where(window_end, new, old), ended_mm, state.mass_state)
        da = jax.tree.map(lambda new, old: jnp.where(window_end, new, old), ended_da, state.step_size_state)
        return state._replace(step_size_state=da, mass_state=mm, step_size=jnp.exp(da.log_step_size),
                              window_mean=jnp.where(window_end, mean, state.window_mean))

    def _pooled_step_size(self, state: WarmupState, before, acceptance) -> WarmupState:
        """One dual-averaging update from the chains' mean acceptance, the same for every
        chain (their step-size states are identical before it)."""
        _, da_update, _ = self._da
        one = da_update(jax.tree.map(lambda leaf: leaf[0], before), jnp.mean(acceptance))
        shared = jax.tree.map(lambda leaf, like: jnp.broadcast_to(leaf, like.shape), one, state.step_size_state)
        return state._replace(step_size_state=shared, step_size=jnp.broadcast_to(jnp.exp(one.log_step_size),
                                                                                 state.step_size.shape))

    def _pooled_final(self, mass_state):
        """The chains' Welford estimates (leading axis) merged into one, its regularised
        inverse mass matrix computed once and given to every chain; and the merged mean."""
        mean, m2, count = mass_state.wc_state
        total = jnp.sum(count)
        grand = jnp.sum(count[:, None] * mean, axis=0) / total
        dev = mean - grand
        between = (count[:, None] * dev if self.dense_mass else count[:, None] * dev * dev)
        scatter = jnp.sum(m2, axis=0) + (between.T @ dev if self.dense_mass else jnp.sum(between, axis=0))
        one = mass_state._replace(inverse_mass_matrix=mass_state.inverse_mass_matrix[0],
                                  wc_state=WelfordAlgorithmState(grand, scatter, total))
        ended = self._mm[2](one)
        chains = count.shape[0]
        return jax.tree.map(lambda leaf: jnp.broadcast_to(leaf, (chains, *jnp.shape(leaf))), ended), grand

    # --- all chains --------------------------------------------------------------------------
    def init(self, z0: jax.Array) -> WarmupState:
        """The state before the first step; ``z0`` has one row per chain."""
        return jax.vmap(self._init_one)(z0)

    def steps(self, state: WarmupState, chain_keys, first, length: int, n_steps: int):
        """Steps ``first .. first + length - 1`` of an ``n_steps``-step warm-up, all chains;
        traceable (``first`` may be traced, ``length`` and ``n_steps`` are static).

        Returns the new state and per-step statistics (divergent, leapfrog steps,
        acceptance), each of shape ``(chains, length)``.
        """
        stage, window_end, propose = (jax.lax.dynamic_slice(jnp.asarray(a), (first,), (length,))
                                    for a in (*schedule(n_steps), proposal_steps(n_steps)))
        idx = first + jnp.arange(length)

        if not self.pooled:
            def one_chain(st, key):
                def body(carry, xs):
                    return self._step_one(carry, key, *xs)

                return jax.lax.scan(body, st, (idx, stage, window_end, propose))

            return jax.vmap(one_chain)(state, chain_keys)

        def all_chains(carry, xs):
            i, st, end, prop = xs
            before = carry.step_size_state
            carry, info = jax.vmap(self._step_one, in_axes=(0, 0, None, None, None, None))(carry, chain_keys, i, st,
                                                                                           end, prop)
            carry = self._pooled_step_size(carry, before, info[2])
            ended, grand = self._pooled_final(carry.mass_state)
            carry = jax.vmap(self._end_window, in_axes=(0, None, 0, None))(carry, end, ended, grand)
            return carry, info

        state, info = jax.lax.scan(all_chains, state, (idx, stage, window_end, propose))
        return state, tuple(jnp.swapaxes(a, 0, 1) for a in info)  # (steps, chains) -> (chains, steps)

    def final(self, state: WarmupState) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """Positions, step sizes (the dual-averaging average), inverse mass matrices and the
        mean of the last slow window (each chain's starting point where none ended)."""
        _, _, da_final = self._da
        return (state.chain.position, jax.vmap(da_final)(state.step_size_state),
                state.mass_state.inverse_mass_matrix, state.window_mean)

    def run(self, z0: jax.Array, key, n_steps: int) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """The whole warm-up in one traceable call (used where no checkpoints are needed)."""
        state, _ = self.steps(self.init(z0), jax.random.split(key, z0.shape[0]), 0, n_steps, n_steps)
        return self.final(state)


def to_arrays(state: WarmupState) -> dict[str, np.ndarray]:
    """The state's leaves as numbered arrays (for a checkpoint)."""
    return {f"warmup_leaf_{k}": np.asarray(leaf) for k, leaf in enumerate(jax.tree.leaves(state))}


def from_arrays(template: WarmupState, arrays: dict) -> WarmupState:
    """The inverse of :func:`to_arrays`, with the tree structure of ``template``. Leaves
    that a checkpoint written before they existed lacks (the last ones: new fields are added
    at the end of :class:`WarmupState`) keep the template's values."""
    leaves, treedef = jax.tree.flatten(template)
    return jax.tree.unflatten(treedef, [jnp.asarray(arrays.get(f"warmup_leaf_{k}", leaf)) for k, leaf in enumerate(leaves)])
