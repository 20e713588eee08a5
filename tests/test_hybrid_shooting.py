"""Multiple shooting of hybrid problems.

The oscillator dx/dt = w y, dy/dt = -w x + a x (a network, affine in x) with x(0) = 1,
y(0) = 0 has the closed form x = cos(v t), y = -(v / w) sin(v t), v = sqrt(w (w - a)); the
segment solves are checked against it, and with one segment the shooting loss must be the
single-shooting loss.
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
    NeuralTerm,
    Observable,
    ParameterRow,
    TrainingSettings,
    train,
)
from celltwin.hybrid._shooting import initial_nodes, shooting_layout, shooting_terms
from celltwin.model import Model
from celltwin.model._model import as_expr, symbol

W_TRUE = 2.0


class Affine(eqx.Module):
    weight: jax.Array

    def __call__(self, u):
        return self.weight * u


def closed_form(t, w, a):
    v = np.sqrt(w * (w - a))
    return np.cos(v * t), -(v / w) * np.sin(v * t)


def oscillator(t_end=5.0, n=20, noise=0.0, seed=0, weight=0.0):
    m = Model("oscillator")
    m.add_compartment("cell", 1.0)
    m.add_species("x", 1.0, compartment="cell")
    m.add_species("y", 0.0, compartment="cell")
    m.add_parameter("w", W_TRUE)
    m.add_parameter("nn_rate", 0.0)
    m.add_reaction("rx", "-> x", rate="w*y")
    m.add_reaction("ry", "-> y", rate="-w*x + nn_rate")
    t = np.linspace(t_end / n, t_end, n)
    x, y = closed_form(t, W_TRUE, 0.0)
    rng = np.random.default_rng(seed)
    df = pd.concat([pd.DataFrame({"observableId": o, "experimentId": "e1", "time": t,
                                  "measurement": v + noise * rng.normal(size=n)})
                    for o, v in (("x_obs", x), ("y_obs", y))], ignore_index=True)
    term = NeuralTerm("net", Affine(jnp.array([weight])), ((symbol("x"),),), {"net_out": (0, 0)}, "dynamic")
    return HybridProblem(m, [term], [ParameterRow("w", "log10", 1e-2, 1e2, W_TRUE, True)],
                         [Experiment("e1", None, {})],
                         [Observable("x_obs", as_expr("x"), as_expr("0.05")),
                          Observable("y_obs", as_expr("y"), as_expr("0.05"))], df,
                         hybridization={"nn_rate": as_expr("net_out")})


def test_layout_partitions_the_times_into_segments():
    problem = oscillator(n=10)
    layout = shooting_layout(problem, 3)
    ts = problem.experiment_times[0]
    assert layout.n_nodes == 2
    np.testing.assert_array_equal(layout.start_times[0], [0.0, ts[4], ts[7]])  # groups of 4, 3, 3 times
    out = layout.output_times[0]
    np.testing.assert_array_equal(out[layout.time_segment[0], layout.time_slot[0]], ts)
    np.testing.assert_array_equal(out[[0, 1], layout.end_slot[0]], [ts[4], ts[7]])  # each segment reaches the next node
    assert shooting_layout(problem, 50).n_nodes == 9  # at most one segment per time


def test_one_segment_is_the_single_shooting_loss():
    problem = oscillator(noise=0.05, weight=0.3)
    theta = jnp.asarray(problem.x_nominal) + 0.05
    layout = shooting_layout(problem, 1)
    ll_ms, contribution_ms, residual = jax.jit(
        lambda th: shooting_terms(problem, layout, th, jnp.zeros((0, 2))))(theta)
    ll, contribution = jax.jit(problem.training_terms)(theta)
    assert residual.shape == (0, 2)
    np.testing.assert_allclose(ll_ms, ll, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(contribution_ms, contribution, rtol=1e-12)


def test_segments_started_on_the_trajectory_reproduce_it():
    """Nodes on the closed-form trajectory: every segment continues it (residual ~ solver
    tolerance) and the predictions are the closed form's."""
    a = 0.3
    problem = oscillator(weight=a)
    theta = jnp.asarray(problem.x_nominal)
    layout = shooting_layout(problem, 4)
    nodes = np.stack(closed_form(layout.node_times(0), W_TRUE, a), axis=1)
    ll, _, residual = jax.jit(lambda th, nd: shooting_terms(problem, layout, th, nd))(theta, jnp.asarray(nodes))
    np.testing.assert_allclose(residual, 0.0, atol=1e-7)
    y, sigma, _ = jax.jit(problem.simulate)(theta)
    x_true, y_true = closed_form(problem.experiment_times[0], W_TRUE, a)
    np.testing.assert_allclose(y, np.concatenate([x_true, y_true]), atol=1e-7)
    np.testing.assert_allclose(ll, jax.jit(problem.pointwise_log_likelihood)(theta), atol=1e-6)


def test_nodes_start_from_the_measurements_of_directly_observed_states():
    problem = oscillator(noise=0.05)
    layout = shooting_layout(problem, 4)
    rows = np.ones(len(problem.measurement_df), dtype=bool)
    nodes = initial_nodes(problem, layout, problem.x_nominal, rows)
    df = problem.measurement_df
    for j, t in enumerate(layout.node_times(0)):
        at = df[np.isclose(df["time"], t)].set_index("observableId")["measurement"]
        np.testing.assert_allclose(nodes[j], [at["x_obs"], at["y_obs"]], rtol=1e-14)


def test_settings_refuse_bad_shooting_values():
    with pytest.raises(ValueError, match="shooting_segments"):
        TrainingSettings(shooting_segments=0)
    with pytest.raises(ValueError, match="continuity"):
        TrainingSettings(continuity_weight=0.0)


@pytest.mark.slow  # ~2 min: two trainings of 300 epochs
def test_multiple_shooting_fits_the_oscillator_where_single_shooting_fails():
    """Frequency 2 over 20 time units (~6 periods) from a start at w = 0.5 (Adam, lr 0.01,
    300 epochs). Measured 2026-11-21: single shooting stalls at a mean NLL of 148 per point
    (effective frequency 0.28); with 8 segments the model gives -1.61 (the expected value at the
    truth is -1.58), effective frequency 2.000."""
    problem = oscillator(t_end=20.0, n=80, noise=0.05)
    start = np.array([np.log10(0.5), 0.0])
    settings = dict(epochs=300, learning_rate=0.01, validation_fraction=0.0, patience=300,
                    continuity_weight_final=100.0)
    single = train(problem, TrainingSettings(**settings), theta0=start)
    multiple = train(problem, TrainingSettings(**settings, shooting_segments=8), theta0=start)
    nll = jax.jit(lambda th: -jnp.mean(problem.pointwise_log_likelihood(th)))

    def frequency(theta):
        w = 10 ** theta[0]
        return np.sqrt(max(w * (w - theta[1]), 0.0))

    assert float(nll(single.theta)) > 50.0 and abs(frequency(single.theta) - W_TRUE) > 0.5
    assert float(nll(multiple.theta)) < -1.4
    assert frequency(multiple.theta) == pytest.approx(W_TRUE, rel=0.01)
    assert multiple.history[-1]["continuity"] < 1e-2 and multiple.nodes.shape == (7, 2)
