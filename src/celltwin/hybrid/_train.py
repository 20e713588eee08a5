"""Training hybrid problems with optax: mechanistic parameters and network weights jointly.

* The loss is the mean negative log-likelihood of the training measurements, plus
  ``penalty`` times the mean squared network output along the simulated trajectories (it
  keeps the networks' contribution small unless the data need it), minus the log-prior
  divided by the number of training points when ``use_prior``.
* A time curriculum: with ``curriculum = K`` stages, stage ``k`` fits only measurements up
  to ``k/K`` of the last time, so hard dynamics are learnt from the start of the trajectory
  on (each stage gets ``epochs / K`` epochs).
* Validation-based early stopping: a fraction of the measurements (random rows, or the
  latest times with ``split="time"``) is held out; training keeps the parameters with the
  best validation loss and stops after ``patience`` epochs without improvement. A further
  ``test_fraction`` of rows is used for nothing, so its error is an unbiased held-out error
  (the validation error is optimistic: it chose the stopping epoch).
* Multiple shooting (``shooting_segments = K``): each experiment's time course is split into
  ``K`` segments whose start states are trained too, with a continuity penalty
  ``w * mean(((segment end - next start) / state scale)^2)`` whose weight ``w`` grows
  geometrically from ``continuity_weight`` to ``continuity_weight_final`` over the epochs
  (see :mod:`celltwin.hybrid._shooting`). Validation and early stopping then score the
  model itself (one simulation from t = 0); with no validation rows the single-shooting
  training loss is watched instead.
* Mechanistic parameters are projected back into their bounds after every step.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..errors import CelltwinInputError
from ._problem import HybridProblem
from ._shooting import initial_nodes, shooting_layout, shooting_terms


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """How a hybrid problem is trained (see the module docstring)."""

    epochs: int = 300
    learning_rate: float = 1e-2
    penalty: float = 0.0
    validation_fraction: float = 0.2
    test_fraction: float = 0.0  # rows never used in training nor early stopping
    split: str = "random"  # "random" rows or the latest "time" points
    patience: int = 50
    curriculum: int = 1
    use_prior: bool = False
    clip_norm: float = 10.0
    seed: int = 0
    shooting_segments: int = 1
    continuity_weight: float = 1.0
    continuity_weight_final: float = 1000.0

    def __post_init__(self):
        # Settings come from command-line options: bad values are input errors.
        if self.split not in ("random", "time"):
            raise CelltwinInputError(f"split must be 'random' or 'time', got {self.split!r}")
        if not (0.0 <= self.validation_fraction and 0.0 <= self.test_fraction
                and self.validation_fraction + self.test_fraction < 1.0):
            raise CelltwinInputError(f"the validation fraction ({self.validation_fraction:g}, --validation) and the "
                                     f"test fraction ({self.test_fraction:g}, --test) must be >= 0 with a sum below 1: "
                                     "some measurements must be left to train on")
        if self.epochs < 1 or self.curriculum < 1 or self.shooting_segments < 1:
            raise CelltwinInputError("epochs, curriculum and shooting_segments must be >= 1")
        if self.continuity_weight <= 0 or self.continuity_weight_final <= 0:
            raise CelltwinInputError("continuity weights must be > 0")


@dataclasses.dataclass
class TrainingResult:
    """The trained parameters and the loss history (one row per epoch)."""

    theta: np.ndarray
    history: list[dict]
    best_epoch: int
    train_mask: np.ndarray
    validation_mask: np.ndarray
    seconds: float
    test_mask: np.ndarray | None = None
    nodes: np.ndarray | None = None  # multiple shooting: the segment start states at the best epoch


def split_measurements(problem: HybridProblem, fraction: float, how: str, seed: int,
                       test_fraction: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean masks ``(train, validation, test)`` over the measurement rows (disjoint)."""
    n = len(problem.measurement_df)
    k_valid, k_test = round(fraction * n), round(test_fraction * n)
    if how == "time":  # the latest rows are held out: test last, validation before it
        order = np.argsort(problem.measurement_df["time"].to_numpy(float), kind="stable")[::-1]
    else:
        order = np.random.default_rng(seed).permutation(n)
    test = np.zeros(n, dtype=bool)
    valid = np.zeros(n, dtype=bool)
    test[order[:k_test]] = True
    valid[order[k_test:k_test + k_valid]] = True
    return ~(valid | test), valid, test


def initial_theta(problem: HybridProblem, seed: int | None) -> np.ndarray:
    """The nominal ``theta``, with the estimated network weights re-drawn for ``seed``
    (uniform +-1/sqrt(fan-in) per layer, as PyTorch initialises) unless ``seed`` is None."""
    theta = np.array(problem.x_nominal, dtype=float)
    if seed is None:
        return theta
    from .sciml import Network

    rng = np.random.default_rng(seed)
    w = problem.weights
    fresh = np.array(w.values)
    modules = w.modules(jnp.asarray(w.values))
    for k in range(len(w.ids)):
        spec = getattr(modules[w.ids[k]], "spec", None)
        if spec is not None:
            params = spec.initial_parameters(int(rng.integers(2**31)))
            drawn = Network.from_spec(spec, params)
            flat = jax.flatten_util.ravel_pytree(drawn.parameters)[0]
            fresh[w.slices[k]] = np.asarray(flat)
        else:  # any other Equinox module: rescale its weights by a random factor per entry
            fresh[w.slices[k]] = w.values[w.slices[k]] * rng.uniform(0.5, 1.5, size=w.slices[k].stop - w.slices[k].start)
    theta[problem.n_mechanistic:] = fresh[w.index]
    return theta


def train(problem: HybridProblem, settings: TrainingSettings = TrainingSettings(), *, theta0=None,
          progress=None) -> TrainingResult:
    """Fit ``problem`` with Adam (see the module docstring).

    Arguments:
        problem: the hybrid problem.
        settings: epochs, learning rate, penalty, validation split, curriculum, shooting, ...
        theta0: the starting ``theta`` (default: the nominal one).
        progress: optional callable ``progress(epoch, record)`` called after every epoch.
    """
    start = time.perf_counter()
    train_mask, valid_mask, test_mask = split_measurements(problem, settings.validation_fraction, settings.split,
                                                           settings.seed, settings.test_fraction)
    times = problem.measurement_df["time"].to_numpy(float)
    t_max = float(times.max()) if times.size else 0.0
    n_mech = problem.n_mechanistic
    lower, upper = jnp.asarray(problem.lower[:n_mech]), jnp.asarray(problem.upper[:n_mech])
    theta = jnp.asarray(problem.x_nominal if theta0 is None else theta0, dtype=float)
    shooting = settings.shooting_segments > 1
    if shooting:
        layout = shooting_layout(problem, settings.shooting_segments)
        nodes0 = initial_nodes(problem, layout, theta, train_mask)
        scale = jnp.asarray(np.maximum(np.sqrt(np.mean(nodes0**2, axis=0)) if len(nodes0) else 1.0, 1e-8))
    else:
        nodes0 = np.zeros((0, problem.cm.n_states))
    n_valid = max(int(valid_mask.sum()), 1)

    def nll(ll, mask):
        return -jnp.sum(jnp.where(mask, ll, 0.0)) / jnp.maximum(jnp.sum(mask), 1)

    def losses(params, fit_mask, weight):
        theta, nodes = params
        if shooting:
            ll, contribution, residual = shooting_terms(problem, layout, theta, nodes)
            continuity = jnp.mean((residual / scale) ** 2) if residual.size else jnp.zeros(())
        else:
            (ll, contribution), continuity = problem.training_terms(theta), jnp.zeros(())
        ll = jnp.where(jnp.isnan(ll), -1e10, ll)  # a failed solve is a very bad fit, not a crash
        fit = nll(ll, fit_mask)
        loss = fit + settings.penalty * contribution + weight * continuity
        if settings.use_prior:
            loss = loss - problem.log_prior(theta) / jnp.maximum(jnp.sum(fit_mask), 1)
        validation = -jnp.sum(jnp.where(jnp.asarray(valid_mask), ll, 0.0)) / n_valid
        return loss, (fit, validation, contribution, continuity)

    optimizer = optax.chain(optax.clip_by_global_norm(settings.clip_norm), optax.adam(settings.learning_rate))

    @jax.jit
    def step(params, state, fit_mask, weight):
        (loss, aux), grad = jax.value_and_grad(losses, has_aux=True)(params, fit_mask, weight)
        grad = jax.tree_util.tree_map(lambda g: jnp.where(jnp.isfinite(g), g, 0.0), grad)
        updates, state = optimizer.update(grad, state, params)
        theta, nodes = optax.apply_updates(params, updates)
        theta = theta.at[:n_mech].set(jnp.clip(theta[:n_mech], lower, upper))
        return (theta, nodes), state, loss, aux

    @jax.jit
    def single_shooting(theta):  # under multiple shooting, the model itself is what early stopping scores
        ll = problem.training_terms(theta)[0]
        ll = jnp.where(jnp.isnan(ll), -1e10, ll)
        return nll(ll, jnp.asarray(train_mask)), -jnp.sum(jnp.where(jnp.asarray(valid_mask), ll, 0.0)) / n_valid

    params = (theta, jnp.asarray(nodes0))
    state = optimizer.init(params)
    best = (np.inf, np.asarray(theta), 0, nodes0)
    history, since_best, epoch = [], 0, 0
    ramp = np.log(settings.continuity_weight_final / settings.continuity_weight) / max(settings.epochs - 1, 1)
    per_stage = max(1, settings.epochs // settings.curriculum)
    for stage in range(1, settings.curriculum + 1):
        horizon = t_max * stage / settings.curriculum
        fit_mask = jnp.asarray(train_mask & (times <= horizon + 1e-12))
        last_stage = stage == settings.curriculum
        n_epochs = settings.epochs - per_stage * (settings.curriculum - 1) if last_stage else per_stage
        since_best = 0
        for _ in range(n_epochs):
            before = params
            weight = settings.continuity_weight * np.exp(ramp * epoch) if shooting else 0.0
            params, state, loss, (fit, validation, contribution, continuity) = step(params, state, fit_mask, weight)
            epoch += 1
            record = {"epoch": epoch, "stage": stage, "loss": float(loss), "train_nll": float(fit),
                      "validation_nll": float(validation), "network_output_ms": float(contribution)}
            if shooting:
                whole_train, whole_valid = single_shooting(before[0])
                record.update({"continuity": float(continuity), "continuity_weight": float(weight),
                               "train_nll_single_shooting": float(whole_train)})
                if valid_mask.any():
                    record["validation_nll"] = float(whole_valid)
            history.append(record)
            if progress is not None:
                progress(epoch, record)
            # the losses were computed at `before`; early stopping watches the final stage only
            if valid_mask.any():
                score = record["validation_nll"]
            else:
                score = record["train_nll_single_shooting"] if shooting else float(loss)
            if last_stage:
                if score < best[0]:
                    best, since_best = (score, np.asarray(before[0]), epoch, np.asarray(before[1])), 0
                else:
                    since_best += 1
                    if since_best >= settings.patience:
                        break
    if not np.isfinite(best[0]):
        best = (best[0], np.asarray(params[0]), epoch, np.asarray(params[1]))
    return TrainingResult(best[1], history, best[2], train_mask, valid_mask, time.perf_counter() - start, test_mask,
                          nodes=best[3] if shooting else None)
