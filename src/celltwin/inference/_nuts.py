"""NUTS (blackjax) after Stan's windowed warm-up (``_warmup``), chains vectorised.

The state between draw blocks is :class:`NUTSState`: each chain's position, adapted step
size and inverse mass matrix. Warm-up step ``i`` of chain ``c`` uses the key
``fold_in(split(warm_key, chains)[c], i)`` and draw block ``b`` the keys
``split(fold_in(sample_key, b), chains)``, whichever chains run together (``workers > 1``
runs groups of chains apart; :mod:`._groups`). With ``imh_proposals`` each draw is followed
by independence Metropolis-Hastings steps from a proposal fitted at the end of the warm-up
(:mod:`._independence`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _independence
from ._driver import AbstractKernel, Block, Convergence, Phase, convergence, draw_phase, drawn
from ._settings import NUTSSettings, SamplerSettings
from ._space import finite_or_minus_inf
from ._warmup import Warmup, from_arrays, to_arrays

NUTS_STATS = ("diverging", "tree_depth", "n_steps", "acceptance_rate", "energy", "lp")
IMH_STATS = ("imh_accepted",)  # with independence proposals: the accepted ones per draw
UNADAPTED_STEP_SIZE = 0.1


class NUTSState(NamedTuple):
    """The adapted sampler of every chain (leading axis: chains); ``proposal_mean``: the
    centre of the independence proposals (the warm-up's last slow window)."""

    position: jax.Array
    step_size: jax.Array
    inverse_mass_matrix: jax.Array
    proposal_mean: jax.Array


def init(z0: jax.Array, dense_mass: bool) -> NUTSState:
    """Without warm-up: the starting points ``z0`` (one row per chain), step size 0.1 and
    unit mass matrices (independence proposals centred at the starting points)."""
    chains, n = z0.shape
    eye = jnp.eye(n) if dense_mass else jnp.ones(n)
    return NUTSState(z0, jnp.full((chains,), UNADAPTED_STEP_SIZE), jnp.broadcast_to(eye, (chains, *eye.shape)), z0)


def stat_names(imh_proposals: int) -> tuple[str, ...]:
    """The per-draw statistics of a run: :data:`NUTS_STATS`, and :data:`IMH_STATS` with
    independence proposals."""
    return NUTS_STATS + (IMH_STATS if imh_proposals else ())


def build_draws(logdensity: Callable, n_steps: int, max_tree_depth: int = 10, imh_proposals: int = 0) -> Callable:
    """A jitted ``(state, keys) -> (state, positions, stats)``: ``n_steps`` draws of every
    chain (``keys``: one per chain); positions ``(chains, n_steps, d)`` and the statistics of
    :func:`stat_names`, each ``(chains, n_steps)``. ``imh_proposals``: independence
    Metropolis-Hastings steps after each NUTS draw (``lp`` is then the log density after them)."""
    import blackjax

    def one_chain(state: NUTSState, key):
        kernel = blackjax.nuts(logdensity, step_size=state.step_size, inverse_mass_matrix=state.inverse_mass_matrix,
                               max_num_doublings=max_tree_depth)
        q = _independence.independence_proposal(state.proposal_mean, state.inverse_mass_matrix)

        def step(chain, k):
            if imh_proposals:
                k, k_imh = jax.random.split(k)
            chain, info = kernel.step(k, chain)
            stats = (info.is_divergent, info.num_trajectory_expansions, info.num_integration_steps,
                     info.acceptance_rate, info.energy)
            if imh_proposals:
                chain, accepted = _independence.move_chain(logdensity, q, kernel, chain, k_imh, imh_proposals)
                return chain, (chain.position, (*stats, chain.logdensity, accepted))
            return chain, (chain.position, (*stats, chain.logdensity))

        chain, (positions, stats) = jax.lax.scan(step, kernel.init(state.position), jax.random.split(key, n_steps))
        return state._replace(position=chain.position), positions, stats

    return jax.jit(jax.vmap(one_chain))


def warmup(logdensity: Callable, s: NUTSSettings) -> Warmup:
    return Warmup(logdensity, target_accept=s.target_accept, max_tree_depth=s.max_tree_depth,
                  dense_mass=s.dense_mass, pooled=s.pooled_mass, imh_proposals=s.imh_proposals)


def nuts_draws(logdensity: Callable, z0, settings: SamplerSettings | NUTSSettings, key, *,
               adapted: tuple | None = None) -> tuple[jax.Array, dict]:
    """NUTS on any log density of a flat, unconstrained position: the sampler's warm-up
    (Stan's windows) and kernel, chains vectorised, no checkpoints; traceable.

    Arguments:
        logdensity: the target, ``f(x) -> scalar`` (``-inf`` where undefined).
        z0: starting points, one row per chain (``settings.chains`` rows).
        settings: warm-up, draws, target acceptance, tree depth, mass matrix.
        key: a JAX random key.
        adapted: ``(step_size, inverse_mass_matrix)`` per chain (leading axis: chains), e.g.
            a run's checkpoint: the draws start from them, without a warm-up.

    Returns:
        ``(draws, stats)``: draws of shape ``(chains, draws, dimension)`` and the per-draw
        statistics of :func:`stat_names` (each ``(chains, draws)``).
    """
    s = settings.algorithm if isinstance(settings, SamplerSettings) else settings
    if not isinstance(s, NUTSSettings):
        raise TypeError(f"nuts_draws runs NUTS; the settings are for the {s.method} sampler")
    target = finite_or_minus_inf(logdensity)
    warm_key, draw_key = jax.random.split(key)
    if adapted is not None:
        step_size, inverse_mass_matrix = (jnp.asarray(a) for a in adapted)
        state = NUTSState(z0, step_size, inverse_mass_matrix, z0)
    elif s.warmup == 0:
        state = init(z0, s.dense_mass)
    else:
        state = NUTSState(*warmup(target, s).run(z0, warm_key, s.warmup))
    draws = build_draws(target, s.draws, s.max_tree_depth, s.imh_proposals)
    _, positions, stats = draws(state, jax.random.split(draw_key, z0.shape[0]))
    return positions, dict(zip(stat_names(s.imh_proposals), stats))


def _warmup_block(warm: Warmup, wstate, chain_keys, first, length: int, n_steps: int):
    return warm.steps(wstate, chain_keys, first, length, n_steps)[0]


class NUTSKernel(AbstractKernel):
    """The chains ``chain_ids`` (default all) of a NUTS run started at the rows of ``z0``:
    a warm-up in checkpointed blocks of ``block`` steps, then the draws."""

    method = "nuts"

    def __init__(self, logdensity_z: Callable, settings: NUTSSettings, z0, warm_key, sample_key,
                 chain_ids: np.ndarray | None = None):
        self.logdensity_z, self.settings, self.z0 = logdensity_z, settings, z0
        self.warm_key, self.sample_key = warm_key, sample_key
        self.ids = np.arange(settings.chains) if chain_ids is None else chain_ids

    def phases(self, record: dict) -> Iterator[Phase]:
        s = self.settings
        if "blocks_done" not in record:
            yield self._warmup_phase(record)
        compiled: dict[int, Callable] = {}  # once per block size

        def draw_block(b: int, size: int):
            if size not in compiled:
                compiled[size] = build_draws(self.logdensity_z, size, s.max_tree_depth, s.imh_proposals)
            keys = jax.random.split(jax.random.fold_in(self.sample_key, b), s.chains)[self.ids]
            state, positions, stats = compiled[size](_state(record), keys)
            record["position"] = np.asarray(state.position)
            return positions, stats

        stop: Callable[[np.ndarray], bool] | None = None
        note: Callable[[dict], str] = _divergences
        if s.stops_early:  # the rule's measures are shown as they are checked, after every block
            measured: dict[int, Convergence] = {}  # draws per chain -> their Convergence (one at a time)

            def measure(draws):
                if draws.shape[1] not in measured:
                    measured.clear()
                    measured[draws.shape[1]] = convergence(draws)
                return measured[draws.shape[1]]

            def meets(draws) -> bool:
                return measure(draws).meets(s.stop_rhat, s.stop_ess)

            def note_with_measures(record) -> str:
                return f"{_divergences(record)}; {measure(record['draws_z']).note(s.stop_rhat, s.stop_ess)}"

            stop, note = meets, note_with_measures
        yield draw_phase(record, draw_block, stat_names(s.imh_proposals), title=f"nuts: {len(self.ids)} chains x {s.draws} draws",
                         draws=s.draws, block=s.block, stop=stop, note=note)

    def _warmup_phase(self, record: dict) -> Phase:
        """Warm-up blocks, each checkpointed (``warmup_done`` and the adaptation state); at
        the end the adapted :class:`NUTSState` replaces the adaptation state."""
        s = self.settings
        if s.warmup == 0:
            return Phase(None, 0, "", 0, self._adapted(record, init(self.z0, s.dense_mass)))
        chain_keys = jax.random.split(self.warm_key, s.chains)[self.ids]
        warm = warmup(self.logdensity_z, s)
        template = jax.jit(warm.init)(self.z0)
        done = int(record.get("warmup_done", 0))
        mass = ", ".join(word for word, on in (("dense", s.dense_mass), ("pooled", s.pooled_mass)) if on)
        title = f"NUTS warm-up: {self.z0.shape[0]} chains x {s.warmup} steps" + (f" ({mass} mass matrix)" if mass else "")

        def blocks() -> Iterator[Block]:
            wstate = from_arrays(template, record) if "warmup_done" in record else template
            compiled: dict[int, Callable] = {}
            for first in range(done, s.warmup, s.block):
                last = min(first + s.block, s.warmup)
                if last - first not in compiled:  # the block's start is traced: one compilation per length
                    compiled[last - first] = jax.jit(
                        lambda st, keys, f, n=last - first: _warmup_block(warm, st, keys, f, n, s.warmup))
                wstate = compiled[last - first](wstate, chain_keys, first)
                record.update(to_arrays(wstate), warmup_done=np.array(last))
                yield Block(last - first)
            yield from self._adapted(record, NUTSState(*warm.final(wstate)))

        return Phase(title, s.warmup, "steps", done, blocks())

    @staticmethod
    def _adapted(record: dict, state: NUTSState) -> Iterator[Block]:
        for k in [k for k in record if k.startswith("warmup_")]:
            del record[k]
        record.update({k: np.asarray(v) for k, v in state._asdict().items()}, blocks_done=np.array(0))
        yield Block(0)

    def result(self, record: dict) -> tuple[np.ndarray, dict, dict]:
        draws, stats = drawn(record, stat_names(self.settings.imh_proposals))
        return draws, stats, ({"stopped_after_draws": int(draws.shape[1])} if self.settings.stops_early else {})


def _state(record: dict) -> NUTSState:
    """The adapted sampler in ``record``; a checkpoint written before the proposal centre was
    recorded centres it at the chains' positions."""
    fields = {k: jnp.asarray(record[k]) for k in NUTSState._fields if k in record}
    fields.setdefault("proposal_mean", fields["position"])
    return NUTSState(**fields)


def _divergences(record: dict) -> str:
    """The divergent transitions among the draws so far, for the progress display."""
    return f"{int(np.sum(record['stat_diverging']))} divergent"
