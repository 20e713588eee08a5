"""Laplace approximation against exact Bayesian linear regression.

A network in the observable, y = w . tanh(W1 x(t) + b1) + b2 with x(t) = x0 exp(-k t), with its
first layer frozen, is linear in its last layer (w, b2). With normal noise sigma and a prior
N(0, 1/alpha) on the last layer the posterior is exactly Gaussian with covariance
(Phi^T Phi / sigma^2 + alpha I)^-1, Phi = [tanh(W1 x(t) + b1), 1] computed here by hand, and the
predictive variance of row i is phi_i^T Sigma phi_i (+ sigma^2 with noise).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from celltwin.hybrid import (
    Experiment,
    HybridProblem,
    NetworkArrays,
    NeuralTerm,
    Observable,
    ParameterRow,
    laplace,
    last_layer,
)
from celltwin.model import Model
from celltwin.model._model import as_expr, symbol
from celltwin.problem import Prior

K, X0, SIGMA = 0.7, 2.0, 0.1
TIMES = np.linspace(0.2, 4.0, 12)


def _problem(weight_prior=None):
    m = Model("decay")
    m.add_compartment("cell", 1.0)
    m.add_species("x", X0, compartment="cell")
    m.add_parameter("k", K)
    m.add_reaction("decay", "x ->", rate="k*x")
    net = eqx.nn.MLP(1, 1, width_size=3, depth=1, activation=jnp.tanh, key=jax.random.PRNGKey(1))
    term = NeuralTerm("net", net, ((symbol("x"),),), {"net_out": (0, 0)}, "dynamic")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"observableId": "y", "experimentId": "e1", "time": TIMES,
                       "measurement": np.exp(-K * TIMES) + SIGMA * rng.normal(size=TIMES.size)})
    arrays = [NetworkArrays("net", (("layers.0", None, False, None, None),
                                    ("layers.1", None, True, None, weight_prior)))]
    problem = HybridProblem(m, [term], [ParameterRow("k", "log10", 1e-3, 1e3, K, True)],
                            [Experiment("e1", None, {})], [Observable("y", as_expr("net_out"), as_expr(str(SIGMA)))],
                            df, network_arrays=arrays)
    return problem, net


def _features(net):
    x = X0 * np.exp(-K * TIMES)
    hidden = np.tanh(np.asarray(net.layers[0].weight)[:, 0][None, :] * x[:, None] + np.asarray(net.layers[0].bias))
    return np.column_stack([hidden, np.ones_like(x)])  # last-layer weights, then its bias


def test_last_layer_laplace_is_exact_bayesian_linear_regression():
    problem, net = _problem()
    ids = last_layer(problem, "net")
    assert ids == ["net.layers.1.weight[0]", "net.layers.1.weight[1]", "net.layers.1.weight[2]", "net.layers.1.bias[0]"]
    alpha = 2.5
    post = laplace(problem, problem.x_nominal, parameters=ids, prior_precision=alpha)
    phi = _features(net)
    covariance = np.linalg.inv(phi.T @ phi / SIGMA**2 + alpha * np.eye(4))
    np.testing.assert_allclose(post.covariance, covariance, rtol=1e-6)
    _, sd = post.predict(problem)
    np.testing.assert_allclose(sd**2, np.einsum("ij,jk,ik->i", phi, covariance, phi), rtol=1e-6)
    _, sd_noise = post.predict(problem, noise=True)
    np.testing.assert_allclose(sd_noise**2, sd**2 + SIGMA**2, rtol=1e-10)


def test_exact_hessian_equals_gauss_newton_for_a_linear_last_layer():
    problem, net = _problem()
    alpha = 2.5
    exact = laplace(problem, problem.x_nominal, parameters=last_layer(problem, "net"), prior_precision=alpha,
                    curvature="hessian")
    phi = _features(net)
    np.testing.assert_allclose(exact.covariance, np.linalg.inv(phi.T @ phi / SIGMA**2 + alpha * np.eye(4)), rtol=1e-6)


def test_weight_priors_and_row_mask_enter_the_precision():
    b = 0.4
    problem, net = _problem(Prior("normal", 0.0, b))
    rows = np.arange(len(TIMES)) % 2 == 0
    post = laplace(problem, problem.x_nominal, parameters=last_layer(problem, "net"), rows=rows, prior_precision=99.0)
    phi = _features(net)[rows]
    np.testing.assert_allclose(post.precision, phi.T @ phi / SIGMA**2 + np.eye(4) / b**2, rtol=1e-6)
    draws = post.sample(4, seed=0)
    assert draws.shape == (4, len(problem.x_nominal))
    np.testing.assert_array_equal(draws[:, 0], problem.x_nominal[0])  # unselected entries stay fixed


def test_bad_requests_are_refused():
    problem, _ = _problem()
    with pytest.raises(ValueError, match="curvature"):
        laplace(problem, problem.x_nominal, curvature="fisher")
    with pytest.raises(ValueError, match="unknown parameter"):
        laplace(problem, problem.x_nominal, parameters=["nope"])
