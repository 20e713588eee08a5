"""Neural terms placed in a model, checked against closed forms.

A network that is affine in its input makes every placement solvable by hand:
* in the right-hand side: dx/dt = -k x + (a x + b)  =>  x(t) = (x0 + c) e^{(a-k) t} - c, c = b/(a-k);
* in an observable: y = a x + b with x(t) = x0 e^{-k t};
* upstream: k = a u + b from a parameter u.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from celltwin.errors import CelltwinInputError
from celltwin.hybrid import (
    Experiment,
    HybridProblem,
    NetworkArrays,
    NeuralTerm,
    Observable,
    ParameterRow,
    TrainingSettings,
    neural_term_map,
    train,
)
from celltwin.model import Model
from celltwin.model._model import as_expr, symbol

A, B, K, X0 = 0.3, 0.2, 1.0, 2.0
TIMES = np.array([0.5, 1.0, 2.0, 3.0])


class Affine(eqx.Module):
    weight: jax.Array
    bias: jax.Array

    def __call__(self, x):
        return self.weight * x + self.bias


def _model(rate_param: str = "nn_rate"):
    m = Model("decay")
    m.add_compartment("cell", 1.0)
    m.add_species("x", X0, compartment="cell")
    m.add_parameter("k", K)
    m.add_parameter(rate_param, 0.0)
    m.add_reaction("decay", "x ->", rate="k*x")
    m.add_reaction("neural", "-> x", rate=rate_param)
    return m


def _problem(stage, outputs_to, observable="x", theta_rows=(), measured=None):
    term_inputs = ((symbol("x"),),) if stage == "dynamic" else ((symbol("u"),),)
    term = NeuralTerm("net", Affine(jnp.array([A]), jnp.array([B])), term_inputs, {"net_out": (0, 0)}, stage,
                      input_ids=((None,),))
    rows = [ParameterRow("k", "log10", 1e-3, 1e3, K, True), ParameterRow("u", "lin", -10, 10, 1.5, False),
            *theta_rows]
    df = pd.DataFrame({"observableId": "obs", "experimentId": "e1", "time": TIMES,
                       "measurement": np.zeros(len(TIMES)) if measured is None else measured})
    return HybridProblem(_model(), [term], rows, [Experiment("e1", None, {})],
                         [Observable("obs", as_expr(observable), as_expr("0.1"))], df,
                         hybridization=outputs_to)


def test_network_in_rhs_matches_closed_form():
    problem = _problem("dynamic", {"nn_rate": as_expr("net_out")})
    assert problem.parameter_ids == ["k", "net.weight[0]", "net.bias[0]"]
    y, _, _ = jax.jit(problem.simulate)(jnp.asarray(problem.x_nominal))
    c = B / (A - K)
    np.testing.assert_allclose(y, (X0 + c) * np.exp((A - K) * TIMES) - c, rtol=1e-7)


@pytest.mark.slow  # ~45 s of compilation (reverse mode through the solver)
def test_gradient_wrt_network_weight_matches_closed_form():
    problem = _problem("dynamic", {"nn_rate": as_expr("net_out")})
    # gradient of the state at t=3 wrt the network's slope, against a central difference of the closed form
    f = lambda a: ((X0 + B / (a - K)) * np.exp((a - K) * 3.0) - B / (a - K))
    g = jax.grad(lambda th: problem.simulate(th)[0][-1])(jnp.asarray(problem.x_nominal))
    np.testing.assert_allclose(g[1], (f(A + 1e-6) - f(A - 1e-6)) / 2e-6, rtol=1e-5)


def test_network_in_observable_matches_closed_form():
    problem = _problem("dynamic", {}, observable="net_out")
    y, _, _ = jax.jit(problem.simulate)(jnp.asarray(problem.x_nominal))
    np.testing.assert_allclose(y, A * X0 * np.exp(-K * TIMES) + B, rtol=1e-7)


def test_network_upstream_sets_a_parameter():
    problem = _problem("pre", {"k": as_expr("net_out")})
    y, _, _ = jax.jit(problem.simulate)(jnp.asarray(problem.x_nominal))
    np.testing.assert_allclose(y, X0 * np.exp(-(A * 1.5 + B) * TIMES), rtol=1e-7)


def test_frozen_weights_leave_theta():
    frozen = NetworkArrays("net", ((None, "weight", False, 0.0, None),))
    problem = HybridProblem(**_problem_kwargs(frozen))
    assert problem.parameter_ids == ["k", "net.bias[0]"]
    assert problem.x_nominal[1] == B


def _problem_kwargs(arrays):
    base = _problem("dynamic", {"nn_rate": as_expr("net_out")})
    return {"model": base.model, "terms": list(base.terms.values()), "parameters": base.parameter_rows,
            "experiments": base.experiments, "observables": base.observables, "measurements": base.measurement_df,
            "hybridization": {"nn_rate": as_expr("net_out")}, "network_arrays": [arrays]}


def test_unknown_hybridization_target_is_named():
    with pytest.raises(CelltwinInputError, match="no_such_parameter"):
        _problem("dynamic", {"no_such_parameter": as_expr("net_out")})


def test_neural_term_map_evaluates_the_trained_network():
    problem = _problem("dynamic", {"nn_rate": as_expr("net_out")})
    f = neural_term_map(problem, problem.x_nominal, "net")
    np.testing.assert_allclose(f(np.array([[0.0], [1.0], [2.0]])), [[B], [A + B], [2 * A + B]], rtol=1e-14)
    assert f.input_names == ["x"] and f.output_names == ["net_out"]


@pytest.mark.slow
def test_training_recovers_data_generated_by_the_hybrid_model():
    """Data from the closed form with known (k, a, b); training from a perturbed start must get
    the trajectory back (the three parameters are not separately identifiable from one
    decay, so the fit is compared on the data scale)."""
    c = B / (A - K)
    truth = (X0 + c) * np.exp((A - K) * TIMES) - c
    problem = _problem("dynamic", {"nn_rate": as_expr("net_out")}, measured=truth)
    start = np.array([0.3, 0.0, 0.0])  # k = 2, no network
    result = train(problem, TrainingSettings(epochs=300, learning_rate=0.05, validation_fraction=0.0), theta0=start)
    y, _, _ = jax.jit(problem.simulate)(jnp.asarray(result.theta))
    np.testing.assert_allclose(y, truth, atol=0.02)
    assert result.history[-1]["train_nll"] < result.history[0]["train_nll"]


@pytest.mark.slow
def test_serial_ensemble_members_start_differently_and_predict_a_spread():
    from celltwin.hybrid import train_ensemble

    c = B / (A - K)
    truth = (X0 + c) * np.exp((A - K) * TIMES) - c
    problem = _problem("dynamic", {"nn_rate": as_expr("net_out")}, measured=truth)
    ensemble = train_ensemble(problem, 2, TrainingSettings(epochs=5, validation_fraction=0.25), executor="serial")
    assert len(ensemble.members) == 2
    assert not np.allclose(ensemble.thetas[0], ensemble.thetas[1])
    mean, sd = ensemble.predict(problem)
    assert mean.shape == sd.shape == (len(TIMES),) and np.all(sd > 0)
    np.testing.assert_array_equal(ensemble.members[0].validation_mask, ensemble.members[1].validation_mask)


def test_weights_written_in_the_array_file_layout(tmp_path):
    import h5py

    from celltwin.hybrid import write_network_weights

    problem = _problem("dynamic", {"nn_rate": as_expr("net_out")})
    write_network_weights(problem, problem.x_nominal, tmp_path / "w.hdf5")
    with h5py.File(tmp_path / "w.hdf5", "r") as f:
        assert float(f["parameters/net/module/weight"][0]) == A
        assert float(f["parameters/net/module/bias"][0]) == B


@pytest.mark.parametrize("how", ["random", "time"])
def test_split_is_disjoint_with_the_requested_sizes(how):
    from celltwin.hybrid import split_measurements

    problem = _problem("dynamic", {"nn_rate": as_expr("net_out")})
    train_mask, valid, test = split_measurements(problem, 0.25, how, seed=3, test_fraction=0.25)
    assert valid.sum() == 1 and test.sum() == 1 and train_mask.sum() == 2
    assert not (train_mask & valid).any() and not (train_mask & test).any() and not (valid & test).any()
    if how == "time":  # the latest time is the test row, the one before it validation
        assert test[-1] and valid[-2]
