"""Problem layer against closed forms and scipy.stats: noise models, transformations,
priors, placeholders, conditions, pre-equilibration; and the pure-function contract
(jit, vmap, gradients, no recompilation, failures as -inf)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

import celltwin  # noqa: F401
from celltwin.model import Model
from celltwin.problem import Problem
from celltwin.simulate import Status

A0, K = 5.0, 0.3


def decay_model() -> Model:
    m = Model("decay")
    m.add_compartment("cell", 2.0)
    m.add_species("A", "a0", compartment="cell")
    m.add_parameter("a0", A0)
    m.add_parameter("k", K)
    m.add_reaction("deg", "A ->", rate="cell*k*A")
    return m


def exact(t, a0=A0, k=K):
    return a0 * np.exp(-k * np.asarray(t, dtype=float))


def params_table(rows):
    df = pd.DataFrame(rows, columns=["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue", "estimate"])
    return df.set_index("parameterId")


TIMES = np.array([0.0, 0.5, 1.0, 2.0, 4.0, 8.0])
MEASURED = np.array([5.2, 4.1, 3.6, 2.9, 1.4, 0.5])


def decay_problem(transformation="lin", distribution="normal", noise="sigma", extra_params=(), priors=None):
    obs = pd.DataFrame(
        {"observableFormula": ["scale * A"], "noiseFormula": [noise],
         "observableTransformation": [transformation], "noiseDistribution": [distribution]},
        index=pd.Index(["obs_A"], name="observableId"),
    )
    meas = pd.DataFrame({"observableId": "obs_A", "simulationConditionId": "c0", "time": TIMES, "measurement": MEASURED})
    rows = [["k", "log10", 1e-3, 1e3, K, 1], ["a0", "log", 0.1, 100, A0, 1], ["scale", "lin", 0.1, 10, 1.0, 0],
            ["sigma", "lin", 0.01, 10, 0.4, 1], *extra_params]
    par = params_table(rows)
    if priors:
        par["objectivePriorType"] = [priors.get(i, (None, None))[0] for i in par.index]
        par["objectivePriorParameters"] = [priors.get(i, (None, None))[1] for i in par.index]
    cond = pd.DataFrame(index=pd.Index(["c0"], name="conditionId"))
    return Problem.from_tables(decay_model(), measurements=meas, observables=obs, parameters=par, conditions=cond)


def test_theta_layout_and_scales():
    p = decay_problem()
    assert p.parameter_ids == ["k", "a0", "sigma"]
    np.testing.assert_allclose(p.x_nominal, [math.log10(K), math.log(A0), 0.4])
    np.testing.assert_allclose(p.lower, [-3, math.log(0.1), 0.01])


@pytest.mark.parametrize(
    "transformation,distribution",
    [("lin", "normal"), ("log", "normal"), ("log10", "normal"), ("lin", "laplace"), ("log", "laplace"), ("log10", "laplace")],
)
def test_log_likelihood_matches_scipy(transformation, distribution):
    p = decay_problem(transformation, distribution)
    y = exact(TIMES)
    sigma = 0.4
    if transformation == "lin":
        tm, ty, jac = MEASURED, y, 0.0
    elif transformation == "log":
        tm, ty, jac = np.log(MEASURED), np.log(y), -np.log(MEASURED)
    else:
        tm, ty, jac = np.log10(MEASURED), np.log10(y), -np.log(MEASURED * np.log(10))
    dist = st.norm(ty, sigma) if distribution == "normal" else st.laplace(ty, sigma)
    expected = np.sum(dist.logpdf(tm) + jac)
    # solver tolerance rtol=1e-8 bounds the relative error of the simulated values
    assert float(p.log_likelihood(p.x_nominal)) == pytest.approx(expected, rel=1e-6)
    assert float(p.chi2(p.x_nominal)) == pytest.approx(np.sum(((tm - ty) / sigma) ** 2), rel=1e-5)


def test_lognormal_density_matches_scipy_lognorm():
    # PEtab log-normal noise is the density of the measurement itself: scipy's lognorm.
    p = decay_problem("log", "normal")
    y = exact(TIMES)
    expected = np.sum(st.lognorm(s=0.4, scale=y).logpdf(MEASURED))
    assert float(p.log_likelihood(p.x_nominal)) == pytest.approx(expected, rel=1e-7)


def test_pointwise_log_likelihood_of_a_simulation_in_table_order():
    # Two conditions (the second pre-equilibrated, then started from A = 2) with interleaved
    # rows, so the solver's order (by simulation group) is not the table's.
    p = decay_problem()
    meas = pd.concat([p.tables["measurements"].assign(preequilibrationConditionId=""),
                      p.tables["measurements"].assign(simulationConditionId="c1", preequilibrationConditionId="c0")])
    meas = meas.sort_values("time", kind="stable").reset_index(drop=True)
    cond = pd.DataFrame({"A": ["a0", "2.0"]}, index=pd.Index(["c0", "c1"], name="conditionId"))
    two = p.with_tables(measurements=meas, conditions=cond)
    assert not np.array_equal(two.arrays.order, np.arange(len(meas)))
    a0 = np.where(meas["simulationConditionId"] == "c1", 2.0, A0)
    expected = st.norm(exact(meas["time"].to_numpy(), a0=a0), 0.4).logpdf(meas["measurement"])
    from_simulation = two.simulation_log_likelihood(two.simulate(two.x_nominal))
    np.testing.assert_allclose(from_simulation, expected, rtol=1e-6)
    np.testing.assert_allclose(two.pointwise_log_likelihood(two.x_nominal), expected, rtol=1e-6)


PRIOR_CASES = {
    "uniform": ("a0", "uniform", "1;10", lambda v, th: st.uniform(1, 9).logpdf(v)),
    "normal": ("sigma", "normal", "0.5;0.2", lambda v, th: st.norm(0.5, 0.2).logpdf(v)),
    "laplace": ("sigma", "laplace", "0.5;0.2", lambda v, th: st.laplace(0.5, 0.2).logpdf(v)),
    "logNormal": ("a0", "logNormal", "1.5;0.3", lambda v, th: st.lognorm(s=0.3, scale=math.exp(1.5)).logpdf(v)),
    "logLaplace": ("a0", "logLaplace", "1.5;0.3", lambda v, th: st.laplace(1.5, 0.3).logpdf(math.log(v)) - math.log(v)),
    "parameterScaleUniform": ("k", "parameterScaleUniform", "-2;1", lambda v, th: st.uniform(-2, 3).logpdf(th)),
    "parameterScaleNormal": ("k", "parameterScaleNormal", "-0.4;0.5", lambda v, th: st.norm(-0.4, 0.5).logpdf(th)),
    "parameterScaleLaplace": ("k", "parameterScaleLaplace", "-0.4;0.5", lambda v, th: st.laplace(-0.4, 0.5).logpdf(th)),
}


@pytest.mark.parametrize("case", sorted(PRIOR_CASES))
def test_priors_match_scipy(case):
    pid, kind, pars, reference = PRIOR_CASES[case]
    p = decay_problem(priors={pid: (kind, pars)})
    i = p.parameter_ids.index(pid)
    for shift in (0.0, 0.1, -0.05):
        theta = p.x_nominal.copy()
        theta[i] += shift
        value = {"k": 10 ** theta[0], "a0": math.exp(theta[1]), "sigma": theta[2]}[pid]
        assert float(p.log_prior(theta)) == pytest.approx(reference(value, theta[i]), rel=1e-9)
        assert float(p.log_posterior(theta)) == pytest.approx(float(p.log_likelihood(theta)) + reference(value, theta[i]), rel=1e-9)


def test_uniform_prior_outside_support_is_minus_inf():
    p = decay_problem(priors={"a0": ("uniform", "1;10")})
    theta = p.x_nominal.copy()
    theta[1] = math.log(20.0)
    assert float(p.log_prior(theta)) == -math.inf


def test_placeholders_numeric_and_parameter_overrides():
    obs = pd.DataFrame(
        {"observableFormula": ["observableParameter1_obs_A * A + observableParameter2_obs_A"],
         "noiseFormula": ["noiseParameter1_obs_A"]},
        index=pd.Index(["obs_A"], name="observableId"),
    )
    meas = pd.DataFrame({
        "observableId": "obs_A", "simulationConditionId": "c0", "time": [1.0, 1.0, 3.0],
        "measurement": [4.0, 8.0, 2.0], "observableParameters": ["2;0.5", "offset_scale;1", "1;0"],
        "noiseParameters": ["0.3", "sd", "0.2"],
    })
    par = params_table([["k", "lin", 0, 10, K, 1], ["a0", "lin", 0, 10, A0, 0], ["offset_scale", "lin", 0, 5, 1.7, 1],
                        ["sd", "lin", 0.01, 5, 0.6, 1]])
    p = Problem.from_tables(decay_model(), measurements=meas, observables=obs, parameters=par)
    y1, y3 = exact(1.0), exact(3.0)
    expected = (st.norm(2 * y1 + 0.5, 0.3).logpdf(4.0) + st.norm(1.7 * y1 + 1, 0.6).logpdf(8.0)
                + st.norm(y3, 0.2).logpdf(2.0))
    assert float(p.log_likelihood(p.x_nominal)) == pytest.approx(expected, rel=1e-7)
    sim = p.simulate(p.x_nominal)
    np.testing.assert_allclose(np.asarray(sim.observables), [2 * y1 + 0.5, 1.7 * y1 + 1, y3], rtol=1e-7)
    np.testing.assert_allclose(np.asarray(sim.sigmas), [0.3, 0.6, 0.2])


def conversion_problem(with_preeq: bool):
    """A <-> B; condition table switches k1 and re-initialises A."""
    m = Model("conversion")
    m.add_species("A", 1.0)
    m.add_species("B", 0.0)
    m.add_parameter("k1", 0.8)
    m.add_parameter("k2", 0.6)
    m.add_reaction("fwd", "A -> B", rate="default*k1*A")
    m.add_reaction("rev", "B -> A", rate="default*k2*B")
    obs = pd.DataFrame({"observableFormula": ["A", "B"], "noiseFormula": ["1", "1"]},
                       index=pd.Index(["obs_A", "obs_B"], name="observableId"))
    cond = pd.DataFrame({"k1": [0.3, 0.8], "A": [float("nan"), 2.0]}, index=pd.Index(["pre", "main"], name="conditionId"))
    meas = pd.DataFrame({"observableId": ["obs_A", "obs_B", "obs_A"], "simulationConditionId": "main",
                         "time": [0.0, 2.0, math.inf], "measurement": [0.0, 0.0, 0.0]})
    if with_preeq:
        meas["preequilibrationConditionId"] = "pre"
    par = params_table([["k2", "lin", 0, 10, 0.6, 1]])
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=par, conditions=cond)


def conversion_exact(a0, b0, k1, k2, t):
    total = a0 + b0
    a_inf = total * k2 / (k1 + k2)
    a = a_inf + (a0 - a_inf) * np.exp(-(k1 + k2) * t)
    return a, total - a


@pytest.mark.parametrize("with_preeq", [False, True])
def test_preequilibration_and_steady_state_measurements(with_preeq):
    p = conversion_problem(with_preeq)
    sim = np.asarray(p.simulate(p.x_nominal).observables)
    if with_preeq:
        # Pre-equilibrate with k1=0.3 from A=1, B=0; then A is re-initialised to 2, B kept.
        _, b_ss = conversion_exact(1.0, 0.0, 0.3, 0.6, np.inf)
        a0, b0 = 2.0, b_ss
    else:
        a0, b0 = 2.0, 0.0
    _, b2 = conversion_exact(a0, b0, 0.8, 0.6, 2.0)
    a_inf, _ = conversion_exact(a0, b0, 0.8, 0.6, np.inf)
    np.testing.assert_allclose(sim, [a0, b2, a_inf], rtol=1e-6)


def test_outputs_only_at_the_start_and_at_steady_state():
    """Measured only at t = 0 and t = inf: the time course is the initial state, taken
    without a solve; value and gradient as the closed form's."""
    p = conversion_problem(False)
    meas = p.measurement_df.loc[p.measurement_df["time"] != 2.0]
    p = Problem.from_tables(p.model, measurements=meas, observables=pd.DataFrame(
        {"observableFormula": ["A", "B"], "noiseFormula": ["1", "1"]},
        index=pd.Index(["obs_A", "obs_B"], name="observableId")), parameters=params_table([["k2", "lin", 0, 10, 0.6, 1]]),
        conditions=pd.DataFrame({"k1": [0.8], "A": [2.0]}, index=pd.Index(["main"], name="conditionId")))

    def exact(k2):  # A(0) = 2; A(inf) = 2 k2 / (k1 + k2); data 0, noise 1
        a_inf = 2.0 * k2 / (0.8 + k2)
        return -0.5 * (2.0**2 + a_inf**2) - math.log(2 * math.pi)

    np.testing.assert_allclose(np.asarray(p.simulate(p.x_nominal).observables), [2.0, 2.0 * 0.6 / 1.4], rtol=1e-6)
    value, grad = p.value_and_grad()(jnp.asarray([0.7]))
    assert float(value) == pytest.approx(exact(0.7), rel=1e-7)
    assert float(grad[0]) == pytest.approx(float(jax.grad(exact)(0.7)), rel=1e-5)


def test_jit_vmap_and_gradient_agree_with_closed_form():
    p = decay_problem()
    thetas = p.x_nominal + 0.05 * np.random.default_rng(0).standard_normal((4, p.n_parameters))
    batched = jax.jit(jax.vmap(p.log_likelihood))(jnp.asarray(thetas))
    single = [float(p.jit_log_likelihood(t)) for t in thetas]
    np.testing.assert_allclose(np.asarray(batched), single, rtol=1e-10)

    def closed_form(theta):
        k, a0, sigma = 10 ** theta[0], jnp.exp(theta[1]), theta[2]
        y = a0 * jnp.exp(-k * TIMES)
        return jnp.sum(jax.scipy.stats.norm.logpdf(MEASURED, y, sigma))

    expected_grad = jax.grad(closed_form)(jnp.asarray(p.x_nominal))
    for mode in ("forward", "reverse"):
        value, grad = p.value_and_grad(mode)(jnp.asarray(p.x_nominal))
        assert float(value) == pytest.approx(float(closed_form(jnp.asarray(p.x_nominal))), rel=1e-7)
        np.testing.assert_allclose(np.asarray(grad), np.asarray(expected_grad), rtol=1e-5)


def test_log_likelihood_compiles_once():
    p = decay_problem()
    traces = []
    f = jax.jit(lambda th: (traces.append(1), p.log_likelihood(th))[1])
    for shift in (0.0, 0.1, 0.2):
        f(jnp.asarray(p.x_nominal + shift))
    assert len(traces) == 1


def blow_up_problem(settings=None):
    """dA/dt = k A^2 from A = 1: blows up at t = 1/k; measured at 0.5 and 3."""
    m = Model("blowup")
    m.add_species("A", 1.0)
    m.add_parameter("k", 1.0)
    m.add_reaction("autocatalysis", "A -> 2 A", rate="default*k*A**2")  # blows up at t = 1/(k*A0)
    obs = pd.DataFrame({"observableFormula": ["A"], "noiseFormula": ["1"]}, index=pd.Index(["obs"], name="observableId"))
    meas = pd.DataFrame({"observableId": "obs", "simulationConditionId": "c0", "time": [0.5, 3.0], "measurement": [1.0, 1.0]})
    par = params_table([["k", "lin", 0, 10, 1.0, 1]])
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=par, settings=settings)


def test_failed_solve_gives_minus_inf_and_a_reason():
    p = blow_up_problem()
    assert float(p.log_likelihood(p.x_nominal)) == -math.inf
    status = np.asarray(p.simulate(p.x_nominal).status)
    assert status[0] != Status.OK
    assert "failed" in Status(int(status[0])).describe() or "non-finite" in Status(int(status[0])).describe()
    # a finite horizon before the blow-up is fine
    assert math.isfinite(float(p.log_likelihood(np.array([0.1]))))


def test_bad_tables_name_file_row_and_column():
    from celltwin.errors import PEtabError

    obs = pd.DataFrame({"observableFormula": ["A"], "noiseFormula": ["1"]}, index=pd.Index(["obs_A"], name="observableId"))
    par = params_table([["k", "lin", 0, 10, K, 1], ["a0", "lin", 0, 10, A0, 0]])
    meas = pd.DataFrame({"observableId": ["obs_A", "obs_X"], "simulationConditionId": "c0", "time": [0, 1], "measurement": [1, 2]})
    with pytest.raises(PEtabError, match=r"row 3, column 'observableId': 'obs_X'"):
        Problem.from_tables(decay_model(), measurements=meas, observables=obs, parameters=par)
    meas = pd.DataFrame({"observableId": "obs_A", "simulationConditionId": "c0", "time": [0, "soon"], "measurement": [1, 2]})
    with pytest.raises(PEtabError, match=r"row 3, column 'time'"):
        Problem.from_tables(decay_model(), measurements=meas, observables=obs, parameters=par)
    obs_bad = pd.DataFrame({"observableFormula": ["A * nowhere"], "noiseFormula": ["1"]},
                           index=pd.Index(["obs_A"], name="observableId"))
    meas = pd.DataFrame({"observableId": "obs_A", "simulationConditionId": "c0", "time": [0], "measurement": [1]})
    with pytest.raises(PEtabError, match=r"observableFormula.*nowhere"):
        Problem.from_tables(decay_model(), measurements=meas, observables=obs_bad, parameters=par)
