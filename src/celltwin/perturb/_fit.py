"""Fitting the screen model with optax: count or log-normal likelihood + control steady state."""

from __future__ import annotations

import functools
from typing import Any
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..errors import CelltwinInputError
from ._model import (
    ScreenLayout,
    batch_offsets,
    dynamics,
    efficiency,
    guide_inputs,
    init_params,
    medium_inputs,
    network,
    steady_change,
    transient_change,
)
from ._screen import Screen

LIKELIHOODS = ("negative_binomial", "normal", "mse")
SCALE = 1e4  # counts per SCALE: the unit of the latent log expression under the count model


@dataclass(frozen=True)
class ScreenFitSettings:
    """How to fit a screen model.

    Arguments:
        likelihood: ``"negative_binomial"`` (raw counts, library size and per-gene dispersion),
            ``"normal"`` (log-normalised values, per-gene noise) or ``"mse"`` (plain squared error
            on log-normalised values).
        steady_state_weight: weight of the control steady-state term: the mean squared latent
            velocity ``f(x_c, 0)`` at each control cell's own (measured, batch-corrected) state;
            unperturbed cells must sit at a steady state of the network (0 switches it off).
        network_l1, effect_l1: L1 penalties on ``W`` and on the free direct effects ``B``.
        nonlinearity: ``"tanh"`` or ``"linear"`` (a linear network predicts doubles additively).
        max_row_sum: if set, ``W`` is scaled so no gene's summed absolute input weight exceeds
            it; below 1 the steady state is unique and the iteration contracts (use it for
            large gene sets, where an unbounded network can oscillate).
        neural_width: hidden units of a neural term in the latent dynamics (0: none); its output
            weights get an L2 penalty ``neural_l2``.
        iterations: fixed-point iterations for each steady state.
        time_steps: RK4 steps integrating each population observed at a finite time (the time
            operator; used only when the screen has times); each step covers at most half a
            latent relaxation time, so latent times beyond ``time_steps / 2`` are cut there.
        time_rate: latent relaxation times per unit of the screen's time (e.g. per hour); None
            fits it (weakly identified: on simulated time courses it trades with the network).
        steps, learning_rate, seed: Adam steps, step size, and the seed of the initial ``W``.
    """

    likelihood: str = "negative_binomial"
    steady_state_weight: float = 0.2
    network_l1: float = 1e-3
    effect_l1: float = 1e-4
    nonlinearity: str = "tanh"
    max_row_sum: float | None = None
    neural_width: int = 0
    neural_l2: float = 1e-3
    iterations: int = 40
    time_steps: int = 16
    time_rate: float | None = 1.0
    steps: int = 1500
    learning_rate: float = 0.02
    seed: int = 0

    def __post_init__(self):
        if self.likelihood not in LIKELIHOODS:
            raise CelltwinInputError(f"likelihood must be one of {LIKELIHOODS}, not {self.likelihood!r}")
        if self.nonlinearity not in ("tanh", "linear"):
            raise CelltwinInputError(f"nonlinearity must be 'tanh' or 'linear', not {self.nonlinearity!r}")
        if self.time_rate is not None and not self.time_rate > 0:
            raise CelltwinInputError(f"time_rate must be > 0 or None (fitted), not {self.time_rate!r}")
        if self.steady_state_weight < 0 or self.network_l1 < 0 or self.effect_l1 < 0:
            raise CelltwinInputError("steady_state_weight, network_l1 and effect_l1 must be >= 0")


def negative_binomial_logpmf(y, mean, dispersion):
    """log NB(y | mean, dispersion), variance ``mean + mean^2 / dispersion``."""
    r = dispersion
    return (jax.scipy.special.gammaln(y + r) - jax.scipy.special.gammaln(r) - jax.scipy.special.gammaln(y + 1)
            + r * jnp.log(r / (r + mean)) + y * jnp.log(mean / (r + mean)))


def _arrays(screen: Screen, layout: ScreenLayout, likelihood: str) -> dict:
    # populations: cells that carry the same guides, in the same medium, observed at the same
    # time share one latent state
    n_guides = len(layout.guides)
    medium = layout.medium_index(screen)
    key = np.column_stack([layout.guide_matrix(screen), medium])
    if screen.time is not None:
        key = np.column_stack([key, screen.time])
    populations, cell_cond = np.unique(key, axis=0, return_inverse=True)
    cond_guides = populations[:, :n_guides]
    cell_cond = cell_cond.reshape(-1)
    counts = screen.kind == "counts"
    if likelihood == "negative_binomial" and not counts:
        raise CelltwinInputError(f"{screen.source}: the negative binomial likelihood needs raw counts; "
                                 "this screen is log-normalised (use likelihood 'normal' or 'mse')")
    if likelihood == "negative_binomial":
        y = screen.expression
        state = np.log((screen.expression + 0.5) / screen.library_size[:, None] * SCALE)
    else:
        y = screen.lognormalised(SCALE)
        state = y
    ctrl = screen.is_control
    extra = {} if screen.time is None else {"condition_time": jnp.asarray(populations[:, n_guides + 1])}
    return {**extra, "condition_medium": jnp.asarray(populations[:, n_guides].astype(int)),
            "control_medium": jnp.asarray(medium[ctrl]),
            "y": jnp.asarray(y), "cell_condition": jnp.asarray(cell_cond), "condition_guides": jnp.asarray(cond_guides),
            "log_library": jnp.asarray(np.log(screen.library_size / SCALE)), "batch": jnp.asarray(screen.batch),
            "control_state": jnp.asarray(state[ctrl]), "control_batch": jnp.asarray(screen.batch[ctrl]),
            "_init_state": state[ctrl].mean(0), "_spread": np.maximum(y.std(0), 1e-2)}


def _with_time_rate(params, settings: ScreenFitSettings) -> dict:
    if settings.time_rate is None:
        return params
    return {**params, "log_time_rate": jnp.log(jnp.asarray(settings.time_rate, dtype=float))}


def screen_loss(params, arrays: dict, layout: ScreenLayout, settings: ScreenFitSettings):
    """Mean negative log-likelihood per observed value + steady-state term + penalties."""
    v = guide_inputs(params, layout, arrays["condition_guides"])
    media = medium_inputs(params)
    mi = media[arrays["condition_medium"]]
    options: dict[str, Any] = {"nonlinearity": settings.nonlinearity, "iterations": settings.iterations, "bound": settings.max_row_sum}
    if "condition_time" in arrays:
        timed = _with_time_rate(params, settings)
        d = jax.vmap(lambda vi, ti, m: transient_change(timed, layout, vi, ti, medium_input=m,
                                                        steps=settings.time_steps, **options))(
            v, arrays["condition_time"], mi)
    else:
        d = jax.vmap(lambda vi, m: steady_change(params, layout, vi, medium_input=m, **options))(v, mi)
    offsets = batch_offsets(params)
    m = params["x0"] + d[arrays["cell_condition"]] + offsets[arrays["batch"]]
    y = arrays["y"]
    if settings.likelihood == "negative_binomial":
        mean = jnp.exp(m + arrays["log_library"][:, None])
        nll = -jnp.mean(negative_binomial_logpmf(y, mean, jnp.exp(params["log_dispersion"])))
    elif settings.likelihood == "normal":
        sigma = jnp.exp(params["log_sigma"])
        nll = jnp.mean(0.5 * ((y - m) / sigma) ** 2 + jnp.log(sigma))
    else:
        nll = jnp.mean((y - m) ** 2)
    loss = nll
    if settings.steady_state_weight > 0:
        xc = arrays["control_state"] - offsets[arrays["control_batch"]]
        velocity = jax.vmap(lambda x, m: dynamics(params, layout, x, jnp.zeros(len(layout.targets)),
                                                  settings.nonlinearity, settings.max_row_sum, m))(
            xc, media[arrays["control_medium"]])
        loss = loss + settings.steady_state_weight * jnp.mean(velocity ** 2)
    b_free = params["B"] * jnp.asarray(layout.effect_mask)
    loss = loss + settings.network_l1 * jnp.sum(jnp.abs(network(params, settings.max_row_sum)))
    loss = loss + settings.effect_l1 * jnp.sum(jnp.abs(b_free)) + 1e-3 * jnp.sum(params["log_efficiency"] ** 2)
    loss = loss + settings.neural_l2 * jnp.sum(params["neural"]["V"] ** 2)
    return loss


@dataclass(frozen=True)
class FittedScreenModel:
    """A fitted screen model; predicts the change of log expression under any combination of
    perturbed targets seen in training."""

    layout: ScreenLayout
    params: dict
    settings: ScreenFitSettings
    loss_trace: np.ndarray

    @property
    def network(self) -> np.ndarray:
        """``(genes, genes)`` fitted interaction weights, ``W[i, j]``: gene j -> gene i."""
        return np.asarray(network(self.params, self.settings.max_row_sum))

    @property
    def guide_efficiency(self) -> dict[str, float]:
        return dict(zip(self.layout.guides, np.asarray(efficiency(self.params, self.layout)).tolist()))

    @property
    def batch_effects(self) -> np.ndarray:
        return np.asarray(batch_offsets(self.params))

    @property
    def medium_effects(self) -> dict[str, np.ndarray]:
        """Per medium, its fitted input vector to the latent dynamics (zero for the reference
        medium, the first of ``layout.media``); empty without media."""
        m = np.asarray(medium_inputs(self.params))
        return {name: m[i] for i, name in enumerate(self.layout.media)}

    @property
    def time_rate(self) -> float:
        """Latent relaxation times per unit of the screen's time (e.g. per hour)."""
        return float(np.exp(_with_time_rate(self.params, self.settings)["log_time_rate"]))

    def predict_change(self, targets, *, medium: str | None = None, time: float = np.inf) -> np.ndarray:
        """Change of the latent log expression (per modelled gene) when ``targets`` are perturbed
        together, each with its reference guide, relative to control cells of the same medium.

        Arguments:
            targets: the perturbed targets.
            medium: the medium (None: the reference medium).
            time: time since perturbation (``inf``: the new steady state).
        """
        v = jnp.asarray(self.layout.target_input(tuple(targets)))
        medium_number = self.layout.medium_number(medium)
        if np.isfinite(time):
            return np.asarray(self._predict_transient(self.params, v, medium_number, jnp.asarray(float(time))))
        return np.asarray(self._predict_steady(self.params, v, medium_number))

    def _options(self, params, medium_number) -> dict:
        return {"nonlinearity": self.settings.nonlinearity, "iterations": self.settings.iterations,
                "bound": self.settings.max_row_sum, "medium_input": medium_inputs(params)[medium_number]}

    @functools.cached_property
    def _predict_steady(self):
        # one compiled program per fitted model (a scan outside jit compiles on every call)
        def predict(params, v, medium_number):
            options = self._options(params, medium_number)
            control = steady_change(params, self.layout, jnp.zeros_like(v), **options)
            return steady_change(params, self.layout, v, **options) - control

        return jax.jit(predict)

    @functools.cached_property
    def _predict_transient(self):
        def predict(params, v, medium_number, time):
            options = self._options(params, medium_number)
            control = steady_change(params, self.layout, jnp.zeros_like(v), **options)
            timed = _with_time_rate(params, self.settings)
            return transient_change(timed, self.layout, v, time, steps=self.settings.time_steps, **options) - control

        return jax.jit(predict)


def fit_screen(screen: Screen, settings: ScreenFitSettings = ScreenFitSettings(), *, progress=None,
               **overrides) -> FittedScreenModel:
    """Fit the semi-mechanistic model to a screen by Adam on :func:`screen_loss`.

    Arguments:
        screen: the training cells.
        settings: a :class:`ScreenFitSettings`; keyword ``overrides`` replace its fields.
        progress: optional callable ``(steps_done, steps_total, loss)`` called between chunks.
    """
    settings = replace(settings, **overrides) if overrides else settings
    layout = ScreenLayout.from_screen(screen)
    arrays = _arrays(screen, layout, settings.likelihood)
    params = init_params(layout, arrays.pop("_init_state"), arrays.pop("_spread"), jax.random.PRNGKey(settings.seed),
                         settings.neural_width)
    optimiser = optax.adam(settings.learning_rate)
    opt_state = optimiser.init(params)
    loss_and_grad = jax.value_and_grad(screen_loss)
    chunk = 100 if settings.steps % 100 == 0 else settings.steps

    @jax.jit
    def run_chunk(params, opt_state):
        def step(carry, _):
            p, s = carry
            loss, g = loss_and_grad(p, arrays, layout, settings)
            updates, s = optimiser.update(g, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), None, length=chunk)
        return params, opt_state, losses

    trace = []
    done = 0
    while done < settings.steps:
        params, opt_state, losses = run_chunk(params, opt_state)
        done += chunk
        trace.append(np.asarray(losses))
        if not np.isfinite(trace[-1][-1]):
            raise FloatingPointError(f"the screen loss became {trace[-1][-1]} after {done} steps; "
                                     "lower the learning rate")
        if progress is not None:
            progress(done, settings.steps, float(trace[-1][-1]))
    return FittedScreenModel(layout, params, settings, np.concatenate(trace))
