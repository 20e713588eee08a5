"""The semi-mechanistic screen model: perturbation -> latent dynamics -> measurement.

Latent state ``x`` (log expression of the modelled genes) follows

    dx/dt = W phi(x - x0) - (x - x0) + B v(u)

* ``x0``: the unperturbed steady state (controls sit there: ``f(x0, 0) = 0``).
* ``W``: the regulatory network, gene j -> gene i (zero diagonal; sparse by an L1 penalty).
* ``phi``: ``tanh`` (saturating, so combined perturbations interact) or the identity.
* ``v(u)``: the perturbation operator: per target, the sum over the cell's guides of the guide
  efficiency (the first guide of each target is the reference, efficiency 1).
* optionally a neural term: a one-hidden-layer tanh network ``N(x - x0)`` with ``N(0) = 0``
  added to ``dx/dt`` (``neural_width > 0``), for regulation the network ``W`` does not capture.
* ``B``: direct effect of each target. When the target is a modelled gene, CRISPR acts on that
  gene's own transcription only (one free amplitude); otherwise its direct effects on the
  modelled genes are free (sparse).

A perturbed population is observed at the new steady state, found by damped fixed-point
iteration. The measurement operator adds a per-batch offset ``beta[batch]`` (batch 0 is the
reference) and, for counts, the cell's library size.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import CelltwinInputError
from ._screen import Screen


@dataclass(frozen=True)
class ScreenLayout:
    """The static structure of a screen model (numpy; nothing here is fitted)."""

    genes: tuple[str, ...]
    targets: tuple[str, ...]
    guides: tuple[str, ...]
    guide_target: np.ndarray  # (n_guides,) index into targets
    reference_guide: np.ndarray  # (n_guides,) bool: efficiency fixed at 1
    effect_mask: np.ndarray  # (genes, targets) which direct effects are free
    n_batches: int

    @classmethod
    def from_screen(cls, screen: Screen) -> ScreenLayout:
        targets = screen.targets
        tindex = {t: i for i, t in enumerate(targets)}
        guides = screen.guide_names
        guide_target = np.array([tindex[screen.guide_target[g]] for g in guides], dtype=int)
        reference = np.zeros(len(guides), dtype=bool)
        seen: set[int] = set()
        for i, t in enumerate(guide_target):
            if t not in seen:
                reference[i] = True
                seen.add(t)
        gindex = {g: i for i, g in enumerate(screen.genes)}
        mask = np.ones((len(screen.genes), len(targets)))
        for j, t in enumerate(targets):
            if t in gindex:
                mask[:, j] = 0.0
                mask[gindex[t], j] = 1.0
        return cls(screen.genes, targets, guides, guide_target, reference, mask, len(screen.batches))

    def guide_matrix(self, screen: Screen) -> np.ndarray:
        """``(cells, guides)`` indicator of the guides each cell carries."""
        gi = {g: i for i, g in enumerate(self.guides)}
        out = np.zeros((screen.n_cells, len(self.guides)))
        for c, gs in enumerate(screen.guides):
            for g in gs:
                if g not in gi:
                    raise CelltwinInputError(f"{screen.source}: guide {g!r} was not in the training screen")
                out[c, gi[g]] = 1.0
        return out

    def target_input(self, targets) -> np.ndarray:
        """``v`` for a population carrying the reference guide of each named target."""
        ti = {t: i for i, t in enumerate(self.targets)}
        v = np.zeros(len(self.targets))
        for t in targets:
            if t not in ti:
                raise CelltwinInputError(f"target {t!r} was not perturbed in the training screen; "
                                         "its effect cannot be predicted")
            v[ti[t]] += 1.0
        return v


def init_params(layout: ScreenLayout, x0: np.ndarray, spread: np.ndarray, key, neural_width: int = 0) -> dict:
    """Start: controls' mean state, no network, no effects, no batch offsets."""
    g, t = layout.effect_mask.shape
    neural = {"U": jax.random.normal(jax.random.fold_in(key, 1), (neural_width, g)) / np.sqrt(g), "c": jnp.zeros(neural_width),
              "V": jnp.zeros((g, neural_width))}
    return {
        "neural": neural,
        "x0": jnp.asarray(x0),
        "W": 1e-3 * jax.random.normal(key, (g, g)),
        "B": jnp.zeros((g, t)),
        "log_efficiency": jnp.zeros(len(layout.guides)),
        "beta": jnp.zeros((max(layout.n_batches - 1, 0), g)),
        "log_dispersion": jnp.full(g, np.log(5.0)),
        "log_sigma": jnp.log(jnp.asarray(spread)),
    }


def network(params, bound: float | None = None) -> jax.Array:
    """``W`` with a zero diagonal; with ``bound``, scaled so that no row's absolute sum exceeds
    it (``bound < 1`` makes the steady-state iteration a contraction)."""
    w = params["W"]
    w = w * (1.0 - jnp.eye(w.shape[0]))
    if bound is not None:
        w = w * jnp.minimum(1.0, bound / (jnp.max(jnp.sum(jnp.abs(w), axis=1)) + 1e-12))
    return w


def efficiency(params, layout: ScreenLayout) -> jax.Array:
    return jnp.where(jnp.asarray(layout.reference_guide), 1.0, jnp.exp(params["log_efficiency"]))


def guide_inputs(params, layout: ScreenLayout, guide_matrix) -> jax.Array:
    """Per row of ``guide_matrix`` (cells or conditions x guides), the target input ``v``."""
    onehot = jax.nn.one_hot(jnp.asarray(layout.guide_target), len(layout.targets))
    return (guide_matrix * efficiency(params, layout)) @ onehot


def _phi(d, nonlinearity: str):
    return jnp.tanh(d) if nonlinearity == "tanh" else d


def neural_term(params, d):
    """The neural part of the dynamics at deviation ``d``; zero at ``d = 0`` (and with width 0)."""
    n = params.get("neural")
    if n is None:
        return jnp.zeros_like(d)
    return n["V"] @ (jnp.tanh(n["U"] @ d + n["c"]) - jnp.tanh(n["c"]))


def dynamics(params, layout: ScreenLayout, x, v, nonlinearity: str = "tanh", bound: float | None = None):
    """``dx/dt`` at state ``x`` under target input ``v``."""
    d = x - params["x0"]
    b = params["B"] * jnp.asarray(layout.effect_mask)
    return network(params, bound) @ _phi(d, nonlinearity) - d + b @ v + neural_term(params, d)


def steady_change(params, layout: ScreenLayout, v, *, nonlinearity: str = "tanh", iterations: int = 40,
                  bound: float | None = None):
    """Change of the steady state from ``x0`` under input ``v`` (damped fixed-point iteration)."""
    w = network(params, bound)
    drive = (params["B"] * jnp.asarray(layout.effect_mask)) @ v

    def step(d, _):
        return 0.5 * d + 0.5 * (w @ _phi(d, nonlinearity) + neural_term(params, d) + drive), None

    d, _ = jax.lax.scan(step, drive, None, length=iterations)
    return d


def batch_offsets(params) -> jax.Array:
    """``(batches, genes)``: zero for the reference batch 0."""
    return jnp.concatenate([jnp.zeros((1, params["x0"].shape[0])), params["beta"]], axis=0)
