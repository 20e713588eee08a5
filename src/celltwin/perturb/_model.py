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
* ``m[medium]``: the medium operator: a learned input vector per medium (culture condition) of
  the cell, zero for the reference medium (the controls' most common one). It drives the same
  network as the perturbations, so medium x perturbation combinations are not additive.
* ``B``: direct effect of each target. When the target is a modelled gene, CRISPR acts on that
  gene's own transcription only (one free amplitude); otherwise its direct effects on the
  modelled genes are free (sparse).

A perturbed population is observed at the new steady state, found by damped fixed-point
iteration, or, when its cells carry a time ``t`` since perturbation (the time operator), at the
state reached by integrating the dynamics for ``t`` from the control steady state of its medium
(fixed-step RK4, differentiable). The measurement operator adds a per-batch offset ``beta[batch]`` (batch 0 is the
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
    media: tuple[str, ...] = ()  # the reference medium first; () when the screen has none

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
        media: tuple[str, ...] = ()
        if screen.medium is not None:
            labels = np.asarray(screen.medium).astype(str)
            names, counts = np.unique(labels[screen.is_control], return_counts=True)
            ref = str(names[np.argmax(counts)]) if len(names) else str(np.unique(labels)[0])
            media = (ref, *sorted(set(labels.tolist()) - {ref}))
        return cls(screen.genes, targets, guides, guide_target, reference, mask, len(screen.batches), media)

    def medium_index(self, screen: Screen) -> np.ndarray:
        """Per cell, the index of its medium in ``media`` (0, the reference, without media)."""
        if screen.medium is None or not self.media:
            return np.zeros(screen.n_cells, dtype=int)
        mi = {m: i for i, m in enumerate(self.media)}
        unknown = sorted(set(np.asarray(screen.medium).astype(str).tolist()) - set(mi))
        if unknown:
            raise CelltwinInputError(f"{screen.source}: medium {unknown[0]!r} was not in the training screen "
                                     f"(media: {', '.join(self.media)})")
        return np.array([mi[str(m)] for m in screen.medium], dtype=int)

    def medium_number(self, medium: str | None) -> int:
        if medium is None:
            return 0
        if medium not in self.media:
            raise CelltwinInputError(f"medium {medium!r} was not in the training screen "
                                     f"(media: {', '.join(self.media) or 'none'})")
        return self.media.index(medium)

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
        "medium": jnp.zeros((max(len(layout.media) - 1, 0), g)),
        "log_time_rate": jnp.zeros(()),
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


def medium_inputs(params) -> jax.Array:
    """``(media, genes)`` input vectors of the medium operator: zero for the reference medium 0."""
    m = params.get("medium")
    g = params["x0"].shape[0]
    if m is None:
        return jnp.zeros((1, g))
    return jnp.concatenate([jnp.zeros((1, g)), m], axis=0)


def _drive(params, layout: ScreenLayout, v, medium_input):
    drive = (params["B"] * jnp.asarray(layout.effect_mask)) @ v
    return drive if medium_input is None else drive + medium_input


def dynamics(params, layout: ScreenLayout, x, v, nonlinearity: str = "tanh", bound: float | None = None,
             medium_input=None):
    """``dx/dt`` at state ``x`` under target input ``v`` (and a medium's input vector)."""
    d = x - params["x0"]
    return network(params, bound) @ _phi(d, nonlinearity) - d + _drive(params, layout, v, medium_input) + neural_term(params, d)


def steady_change(params, layout: ScreenLayout, v, *, nonlinearity: str = "tanh", iterations: int = 40,
                  bound: float | None = None, medium_input=None):
    """Change of the steady state from ``x0`` under input ``v`` (damped fixed-point iteration)."""
    w = network(params, bound)
    drive = _drive(params, layout, v, medium_input)

    def step(d, _):
        return 0.5 * d + 0.5 * (w @ _phi(d, nonlinearity) + neural_term(params, d) + drive), None

    d, _ = jax.lax.scan(step, drive, None, length=iterations)
    return d


MAX_STEP = 0.5  # RK4 step bound, in units of the latent relaxation time (stable for the -x term)


def latent_time(params, time):
    """Time since perturbation in units of the latent relaxation time: ``time`` (the data's unit,
    e.g. hours) times the fitted rate ``exp(log_time_rate)`` (1 when the parameters have none)."""
    return time * jnp.exp(params.get("log_time_rate", 0.0))


def transient_change(params, layout: ScreenLayout, v, time, *, nonlinearity: str = "tanh", iterations: int = 40,
                     bound: float | None = None, medium_input=None, steps: int = 16):
    """Change from ``x0`` at ``time`` after input ``v`` is switched on, starting from the control
    steady state (of the medium); the steady state where ``time`` is infinite.

    Integrates ``dx/dt`` over the latent time (:func:`latent_time`) by ``steps`` classical RK4
    steps, each at most ``MAX_STEP``: latent times beyond ``steps * MAX_STEP`` are cut there
    (raise ``steps`` for long time courses). Differentiable in the parameters and in ``time``.
    """
    w = network(params, bound)
    drive = _drive(params, layout, v, medium_input)
    settled = steady_change(params, layout, v, nonlinearity=nonlinearity, iterations=iterations, bound=bound,
                            medium_input=medium_input)
    start = steady_change(params, layout, jnp.zeros_like(v), nonlinearity=nonlinearity, iterations=iterations,
                          bound=bound, medium_input=medium_input)
    finite = jnp.isfinite(time)
    # inf would poison the unused branch's gradient; the step bound keeps RK4 stable
    h = jnp.minimum(latent_time(params, jnp.where(finite, time, 0.0)) / steps, MAX_STEP)

    def f(d):
        return w @ _phi(d, nonlinearity) - d + neural_term(params, d) + drive

    def step(d, _):
        k1 = f(d)
        k2 = f(d + 0.5 * h * k1)
        k3 = f(d + 0.5 * h * k2)
        k4 = f(d + h * k3)
        return d + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4), None

    d, _ = jax.lax.scan(step, start, None, length=steps)
    return jnp.where(finite, d, settled)


def batch_offsets(params) -> jax.Array:
    """``(batches, genes)``: zero for the reference batch 0."""
    return jnp.concatenate([jnp.zeros((1, params["x0"].shape[0])), params["beta"]], axis=0)
