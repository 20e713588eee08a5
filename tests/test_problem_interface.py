"""The declared problem interface: Problem and HybridProblem are final implementations of
AbstractProblem (equinox's abstract/final pattern), and what the interface implements once
(the unconstrained target, the measurement model) against independent references."""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from celltwin.hybrid import HybridProblem
from celltwin.problem import AbstractProblem, BoundedTransform, MeasurementModel, Problem

from hybrid_cases import decay_with_mlp
from test_problem import decay_problem

FINAL = (Problem, HybridProblem)


def _implemented_once() -> set[str]:
    """The members AbstractProblem implements (everything but its abstract methods)."""
    return {name for name, member in vars(AbstractProblem).items()
            if not name.startswith("__") and name not in AbstractProblem.__abstractmethods__
            and (callable(member) or isinstance(member, (property,)) or hasattr(member, "__get__"))}


def test_the_abstract_problem_cannot_be_built_and_declares_what_consumers_use():
    with pytest.raises(TypeError):
        AbstractProblem()
    assert {"simulate", "log_likelihood", "log_prior", "value_and_grad", "differentiable_log_posterior",
            "pointwise_log_likelihood"} == set(AbstractProblem.__abstractmethods__)


@pytest.mark.parametrize("cls", FINAL)
def test_final_problems_implement_every_abstract_method_and_override_nothing_else(cls):
    assert issubclass(cls, AbstractProblem) and not inspect.isabstract(cls)
    assert getattr(cls, "__final__", False), f"{cls.__name__} is not marked @typing.final"
    overridden = sorted(name for name in _implemented_once() if name in vars(cls))
    assert not overridden, f"{cls.__name__} overrides {overridden} of AbstractProblem"


@pytest.mark.parametrize("build", [decay_problem, decay_with_mlp])
def test_instances_provide_every_declared_attribute(build):
    problem = build()
    missing = [a for a in AbstractProblem.declared_attributes if a not in vars(problem)]
    assert not missing
    n = problem.n_parameters
    assert len(problem.parameter_scales) == len(problem.lower) == len(problem.upper) == len(problem.x_nominal) == n
    assert problem.n_measurements == len(problem.measurement_df)


def test_unconstrained_target_is_the_posterior_plus_the_sigmoid_jacobian():
    problem = decay_problem(priors={"k": ("parameterScaleNormal", "-1;0.5")})
    lower, upper = problem.lower, problem.upper
    z = np.array([0.3, -1.2, 0.7])
    u = 1 / (1 + np.exp(-z))
    theta = lower + (upper - lower) * u
    expected = float(problem.log_posterior(theta)) + float(np.sum(np.log((upper - lower) * u * (1 - u))))
    got = float(problem.unconstrained_log_density()(jnp.asarray(z)))
    assert math.isclose(got, expected, rel_tol=1e-12)
    space = problem.bounded_transform
    np.testing.assert_allclose(space.theta(space.z(theta)), theta, rtol=1e-12)


def test_the_unconstrained_target_is_minus_infinity_where_the_posterior_is_not_finite():
    problem = decay_problem(priors={"k": ("parameterScaleUniform", "-3;-2.9")})
    assert float(problem.unconstrained_log_density()(jnp.zeros(3))) == -math.inf
    # at z = 0 the sigmoid's Jacobian is width / 4
    space = BoundedTransform([0.0], [2.0])
    assert float(space.log_jacobian(jnp.array([0.0]))) == pytest.approx(math.log(0.5))


def test_measurement_model_densities_match_scipy():
    measured = np.array([1.2, 0.7, 2.5, 0.4])
    simulated = np.array([1.0, 0.9, 2.0, 0.5])
    sigma = np.array([0.3, 0.2, 0.4, 0.1])
    model = MeasurementModel.from_names(measured, ["lin", "log", "log10", "lin"],
                                        ["normal", "normal", "laplace", "laplace"])
    expected = [stats.norm.logpdf(1.2, 1.0, 0.3),
                stats.lognorm.logpdf(0.7, s=0.2, scale=0.9),
                stats.laplace.logpdf(np.log10(2.5), np.log10(2.0), 0.4) - np.log(2.5 * np.log(10)),
                stats.laplace.logpdf(0.4, 0.5, 0.1)]
    np.testing.assert_allclose(model.log_densities(simulated, sigma), expected, rtol=1e-12)
    assert not model.is_normal_on_linear_scale
    assert MeasurementModel.from_names(measured, ["lin"] * 4, ["normal"] * 4).is_normal_on_linear_scale


def test_fitting_writes_no_attribute_of_the_problem():
    from celltwin.inference._optimize import objective_function

    problem = decay_problem()
    before = set(vars(problem))
    value, grad = objective_function(problem)(problem.x_nominal)
    assert value == pytest.approx(-float(problem.log_posterior(problem.x_nominal)), rel=1e-12)
    # Only the problem's own compiled-function caches appear (set by its own properties).
    assert set(vars(problem)) - before <= {"jit_log_prior_value_and_grad", "_shared_blocks"}


def test_hybrid_problem_gradient_modes_agree():
    problem = decay_with_mlp()
    theta = jnp.asarray(problem.x_nominal)
    v_rev, g_rev = problem.value_and_grad("reverse")(theta)
    v_fwd, g_fwd = problem.value_and_grad("forward")(theta)
    assert float(v_rev) == pytest.approx(float(v_fwd), rel=1e-12)
    np.testing.assert_allclose(g_fwd, g_rev, rtol=1e-6, atol=1e-8)
    assert jax.numpy.all(problem.simulate(theta).status == 0)
