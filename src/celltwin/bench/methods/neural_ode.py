"""A black-box neural ODE on the observed species, as a benchmark method.

``dz/dtau = MLP(z, u)`` with ``z`` the observed species divided by their largest training
magnitude, ``tau`` time divided by the last training time and ``u`` the condition's doses
divided by their largest training magnitude (see :mod:`._observed` for what the method
sees). A small deep ensemble (``members`` MLPs from different initialisations) is trained
jointly with Adam on the squared error over every training condition (one compiled step;
the members' losses add, and Adam is elementwise, so they train independently). Each
condition starts at t = 0 from its initial state. Fixed-step Tsit5 keeps the cost of a fit
predictable (seconds to a minute on one core).

Prediction solves every member from the held-out condition's initial state; a draw is a
random member's solution plus Gaussian noise with the training residual sd per observable.
No parameters, no structure.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from ._observed import ObservedDesign, observed_design, predict_table, training_runs
from .base import AbstractMethod, FittedMethod, MethodFailure


def _solve(model, z0, u, tau, steps):
    import diffrax
    import jax.numpy as jnp

    def vector_field(t, z, args):
        return model(jnp.concatenate([z, u]))

    sol = diffrax.diffeqsolve(diffrax.ODETerm(vector_field), diffrax.Tsit5(), 0.0, tau[-1], tau[-1] / steps, z0,
                              saveat=diffrax.SaveAt(ts=tau), stepsize_controller=diffrax.ConstantStepSize(),
                              max_steps=steps + 1, throw=False)
    return sol.ys


def _solve_members_impl(ensemble, z0, u, tau, steps):
    import equinox as eqx

    return eqx.filter_vmap(lambda m: _solve(m, z0, u, tau, steps))(ensemble)


_SOLVE_MEMBERS = None


def _solve_members(ensemble, z0, u, tau, steps):
    global _SOLVE_MEMBERS
    if _SOLVE_MEMBERS is None:
        import equinox as eqx

        _SOLVE_MEMBERS = eqx.filter_jit(_solve_members_impl)
    return _SOLVE_MEMBERS(ensemble, z0, u, tau, steps)


def _train_impl(ensemble, data, learning_rate, *, iterations, steps):
    """Adam on the summed members' mean squared errors; ``data`` = (z0, u, tau, z, mask)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    z0, u, tau, z, zmask = data
    params, static = eqx.partition(ensemble, eqx.is_inexact_array)

    def member_loss(p):
        model = eqx.combine(p, static)
        ys = jax.vmap(lambda z0_, u_: _solve(model, z0_, u_, tau, steps))(z0, u)
        return jnp.sum(zmask * (ys - z) ** 2) / jnp.sum(zmask)

    def loss(p):
        return jnp.sum(jax.vmap(member_loss)(p))

    optimiser = optax.adam(learning_rate)

    def step(carry, _):
        p, state = carry
        value, grads = jax.value_and_grad(loss)(p)
        updates, state = optimiser.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), value

    (params, _), values = jax.lax.scan(step, (params, optimiser.init(params)), None, length=iterations)
    return eqx.combine(params, static), values


_TRAIN = None


def _train(ensemble, data, learning_rate, *, iterations, steps):
    # One module-level compiled function: fits of the same shapes (seeds, tasks along an
    # axis) reuse its compilation instead of tracing a new closure per fit.
    global _TRAIN
    if _TRAIN is None:
        import equinox as eqx

        _TRAIN = eqx.filter_jit(_train_impl)
    return _TRAIN(ensemble, data, learning_rate, iterations=iterations, steps=steps)


@dataclasses.dataclass
class _NeuralODE(FittedMethod):
    design: ObservedDesign
    ensemble: Any  # equinox MLPs with a leading member axis
    state_scale: np.ndarray
    input_scale: np.ndarray
    time_scale: float
    steps: int
    residual_sd: np.ndarray

    def simulate_members(self, x0, inputs, times) -> np.ndarray:
        """``(members, len(times), n_species)`` solutions from ``x0`` (``times[0] = 0``)."""
        import jax.numpy as jnp

        key = (np.asarray(x0).tobytes(), np.asarray(inputs).tobytes(), np.asarray(times).tobytes())
        cache = self.__dict__.setdefault("_solutions", {})
        if key not in cache:
            tau = jnp.asarray(times / self.time_scale)
            z0, u = jnp.asarray(x0 / self.state_scale), jnp.asarray(inputs / self.input_scale)
            steps = int(np.ceil(self.steps * max(float(tau[-1]), 1e-12)))
            cache[key] = np.asarray(_solve_members(self.ensemble, z0, u, tau, steps)) * self.state_scale
        return cache[key]

    def predict(self, heldout, n_draws: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        members = self.residual_sd.shape[0]
        def member(k: int):
            return lambda x0, u, t: self.simulate_members(x0, u, t)[k]

        per_member = [predict_table(heldout, self.design, member(k)) for k in range(members)]
        per_member = np.asarray(per_member)
        if not np.all(np.isfinite(per_member)):
            raise MethodFailure("the neural ODE cannot be solved on the held-out condition")
        index = {o: k for k, o in enumerate(self.design.observables)}
        column = [index[o] for o in heldout.measurement_df["observableId"]]
        pick = rng.integers(members, size=n_draws)
        sd = self.residual_sd[pick][:, column]
        return per_member[pick] + sd * rng.standard_normal((n_draws, per_member.shape[1]))


@dataclasses.dataclass(frozen=True)
class NeuralODE(AbstractMethod):
    """A deep ensemble of neural ODEs on the observed species (see the module docstring).

    Attributes:
        members: ensemble size.
        width, depth: of each MLP (tanh).
        iterations: Adam steps.
        learning_rate: Adam's.
        steps: fixed Tsit5 steps per unit of scaled time (the training window).
    """

    name: ClassVar[str] = "neural_ode"
    members: int = 3
    width: int = 32
    depth: int = 2
    iterations: int = 1000
    learning_rate: float = 1e-2
    steps: int = 20

    def fit(self, task, *, seed: int) -> FittedMethod:
        import equinox as eqx
        import jax
        import jax.numpy as jnp

        problem = task.problem
        design = observed_design(problem)
        runs = training_runs(problem, design)
        times = np.unique(np.concatenate([t for _, t, _ in runs]))
        n = len(design.species)
        data = np.zeros((len(runs), len(times), n))
        mask = np.zeros_like(data)
        for k, (_, t, states) in enumerate(runs):
            where = np.searchsorted(times, t)
            data[k, where], mask[k, where] = states, 1.0
        state_scale = np.maximum(np.max(np.abs(data), axis=(0, 1)), 1e-6)
        inputs = np.array([design.input_values(problem, c) for c, _, _ in runs]).reshape(len(runs), -1)
        input_scale = np.maximum(np.max(np.abs(inputs), axis=0), 1e-12) if inputs.size else np.ones(0)
        time_scale = float(times[-1])
        z, zmask = jnp.asarray(data / state_scale), jnp.asarray(mask)
        z0 = jnp.asarray(np.array([design.initial_state(problem, c) for c, _, _ in runs]) / state_scale)
        u, tau = jnp.asarray(inputs / input_scale), jnp.asarray(times / time_scale)

        def make(key):
            mlp = eqx.nn.MLP(n + u.shape[1], n, self.width, self.depth, activation=jnp.tanh, key=key)
            # Start near dz/dtau = 0: a large random field makes early solves stiff.
            return eqx.tree_at(lambda m: m.layers[-1].weight, mlp, mlp.layers[-1].weight * 0.1)

        ensemble = eqx.filter_vmap(make)(jax.random.split(jax.random.PRNGKey(seed), self.members))
        ensemble, values = _train(ensemble, (z0, u, tau, z, zmask), jnp.asarray(self.learning_rate),
                                  iterations=self.iterations, steps=self.steps)
        if not np.isfinite(float(values[-1])):
            raise MethodFailure("neural ODE training diverged (non-finite loss)")
        fitted = _NeuralODE(design, ensemble, state_scale, input_scale, time_scale, self.steps, np.zeros(0))
        residuals = np.zeros((self.members, n))
        for k, (condition, t, states) in enumerate(runs):
            sims = fitted.simulate_members(states[0], inputs[k], t)  # (members, len(t), n)
            residuals += np.sum((sims[:, 1:] - states[1:]) ** 2, axis=1)
        count = sum(len(t) - 1 for _, t, _ in runs)
        fitted.residual_sd = np.maximum(np.sqrt(residuals / count), 1e-12)
        return fitted
