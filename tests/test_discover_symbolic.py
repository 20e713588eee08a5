"""Symbolic recovery of an input -> output map: a known function, and a small trained MLP."""

from __future__ import annotations

import numpy as np
import pytest

from celltwin.discover import recover_term
from celltwin.discover.library import PolynomialLibrary
from celltwin.discover.optimizers import Ensemble, ThresholdPath
from celltwin.errors import CelltwinInputError


def test_recovers_a_known_polynomial_from_a_plain_callable():
    rng = np.random.default_rng(0)
    inputs = rng.uniform(0.0, 2.0, (200, 2))
    term = recover_term(lambda x: 2 * x[:, 0] * x[:, 1] - 0.5 * x[:, 1] ** 2 + 0.3, inputs, ["a", "b"],
                        batched=True)
    assert term.selected() == pytest.approx({"1": 0.3, "a*b": 2.0, "b^2": -0.5}, rel=1e-4)  # ridge 1e-6
    assert term.r2[0] == pytest.approx(1.0, abs=1e-8)
    import sympy as sp

    a, b = sp.symbols("a b", real=True)
    closed_form = sp.lambdify((a, b), term.expression())
    np.testing.assert_allclose(closed_form(inputs[:, 0], inputs[:, 1]),
                               2 * inputs[:, 0] * inputs[:, 1] - 0.5 * inputs[:, 1] ** 2 + 0.3, atol=1e-4)


def test_input_shape_errors_name_the_inputs():
    with pytest.raises(CelltwinInputError, match=r"expected \(n, 2\)"):
        recover_term(np.zeros(5), np.zeros((5, 3)), ["a", "b"])


def test_names_the_term_a_trained_mlp_learned():
    # An equinox MLP is trained on the feedback term -2*X1*X3 (plus nothing else); symbolic
    # recovery must name X1*X3 and its coefficient, with inclusion probability ~1.
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    rng = np.random.default_rng(1)
    inputs = rng.uniform(0.0, 1.0, (300, 2))
    target = -2.0 * inputs[:, 0] * inputs[:, 1]
    mlp = eqx.nn.MLP(2, "scalar", 16, 2, activation=jnp.tanh, key=jax.random.PRNGKey(0))
    optimiser = optax.adam(1e-2)
    x, y = jnp.asarray(inputs), jnp.asarray(target)

    def loss(model):
        return jnp.mean((jax.vmap(model)(x) - y) ** 2)

    @eqx.filter_jit
    def train(model, state):
        def step(carry, _):
            model, state = carry
            grads = eqx.filter_grad(loss)(model)
            updates, state = optimiser.update(grads, state, eqx.filter(model, eqx.is_array))
            return (eqx.apply_updates(model, updates), state), None

        params, static = eqx.partition(model, eqx.is_array)

        def step_params(carry, k):
            (p, s), _ = step((eqx.combine(carry[0], static), carry[1]), k)
            return (eqx.filter(p, eqx.is_array), s), None

        (params, state), _ = jax.lax.scan(step_params, (params, state), None, length=3000)
        return eqx.combine(params, static)

    mlp = train(mlp, optimiser.init(eqx.filter(mlp, eqx.is_array)))
    assert float(loss(mlp)) < 1e-4  # the network learned the term
    term = recover_term(mlp, inputs, ["X1", "X3"], library=PolynomialLibrary(2),
                        optimizer=Ensemble(ThresholdPath(), n_models=20, min_probability=None))
    selected = term.selected()
    assert list(selected) == ["X1*X3"]
    assert selected["X1*X3"] == pytest.approx(-2.0, rel=0.03)
    assert term.probabilities()["X1*X3"] == 1.0
