"""The native backend (numba Rodas5P with a discrete adjoint) against closed forms and the
diffrax backend: values, gradients, batching, failures, pre-equilibration, and what it refuses."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from test_problem import (MEASURED, TIMES, blow_up_problem, conversion_exact, conversion_problem, decay_problem,
                          params_table)

from celltwin.model import Model
from celltwin.problem import Problem
from celltwin.simulate import SolverSettings, Status

NATIVE = SolverSettings(backend="native")


def test_decay_value_and_gradient_match_the_closed_form():
    p = decay_problem().with_tables(settings=NATIVE)

    def closed_form(theta):
        k, a0, sigma = 10 ** theta[0], jnp.exp(theta[1]), theta[2]
        return jnp.sum(jax.scipy.stats.norm.logpdf(MEASURED, a0 * jnp.exp(-k * TIMES), sigma))

    rng = np.random.default_rng(0)
    for theta in [p.x_nominal, *(p.x_nominal + 0.1 * rng.standard_normal((2, p.n_parameters)))]:
        value, grad = p.value_and_grad()(jnp.asarray(theta))
        assert float(value) == pytest.approx(float(closed_form(jnp.asarray(theta))), rel=1e-8)
        np.testing.assert_allclose(np.asarray(grad), np.asarray(jax.grad(closed_form)(jnp.asarray(theta))), rtol=1e-6)


def michaelis_menten_problem(settings):
    """E + S <-> ES -> E + P and a Michaelis-Menten drain of P: nonlinear, 4 states, 5 estimated rates."""
    m = Model("enzyme")
    for sid, x0 in (("E", 1.0), ("S", 10.0), ("ES", 0.0), ("P", 0.0)):
        m.add_species(sid, x0)
    for pid, v in (("kon", 0.5), ("koff", 0.2), ("kcat", 0.8), ("vmax", 0.6), ("km", 2.0)):
        m.add_parameter(pid, v)
    m.add_reaction("bind", "E + S -> ES", rate="default*kon*E*S")
    m.add_reaction("unbind", "ES -> E + S", rate="default*koff*ES")
    m.add_reaction("cat", "ES -> E + P", rate="default*kcat*ES")
    m.add_reaction("drain", "P ->", rate="default*vmax*P/(km + P)")
    obs = pd.DataFrame({"observableFormula": ["P", "S + ES"], "noiseFormula": ["0.1", "0.2"]},
                       index=pd.Index(["obs_P", "obs_S"], name="observableId"))
    times = np.array([0.5, 1.0, 2.0, 5.0, 10.0, 20.0])
    meas = pd.concat([pd.DataFrame({"observableId": o, "simulationConditionId": c, "time": times,
                                    "measurement": np.linspace(1, 3, len(times))})
                      for o in ("obs_P", "obs_S") for c in ("low", "high")], ignore_index=True)
    cond = pd.DataFrame({"S": [2.0, 10.0]}, index=pd.Index(["low", "high"], name="conditionId"))
    par = params_table([[k, "log10", 1e-3, 1e3, v, 1] for k, v in
                        (("kon", 0.5), ("koff", 0.2), ("kcat", 0.8), ("vmax", 0.6), ("km", 2.0))])
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=par, conditions=cond,
                               settings=settings)


TIGHT = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def enzyme_native():
    return michaelis_menten_problem(SolverSettings(backend="native", **TIGHT))


def test_nonlinear_model_matches_diffrax_values_and_gradients(enzyme_native):
    native = enzyme_native
    reference = michaelis_menten_problem(SolverSettings(**TIGHT))
    rng = np.random.default_rng(1)
    for theta in native.x_nominal + 0.3 * rng.standard_normal((3, native.n_parameters)):
        v_n, g_n = native.value_and_grad()(jnp.asarray(theta))
        v_r, g_r = reference.value_and_grad("reverse")(jnp.asarray(theta))
        assert float(v_n) == pytest.approx(float(v_r), rel=1e-9)
        np.testing.assert_allclose(np.asarray(g_n), np.asarray(g_r), rtol=1e-6, atol=1e-8 * float(jnp.abs(g_r).max()))


def test_a_tape_too_short_grows_to_the_steps_the_last_solves_took(enzyme_native, monkeypatch):
    """A solve with more steps than its tape holds is solved again in the reverse pass; the
    next gradient of the same shape gets a tape with room for them (while the memory
    budget allows): the same gradient either way, as with a long enough tape at once."""
    from celltwin.simulate import _native

    gen = _native.generated(enzyme_native.compiled)
    p = np.tile(np.asarray(enzyme_native.compiled.parameter_values, dtype=float), (2, 1))
    x0 = np.array([[1.0, 2.0, 0.0, 0.0], [1.0, 10.0, 0.0, 0.0]])
    t0, ts, jumps = np.zeros(2), np.tile([0.5, 1.0, 2.0, 5.0, 10.0, 20.0], (2, 1)), np.zeros((2, 0))
    xbar = np.random.default_rng(5).standard_normal((2, ts.shape[1], 4))

    def gradient(host):
        host.forward(p, x0, t0, ts, jumps)
        record = next(iter(host.cache.values()))[1]
        return host.adjoint(p, x0, t0, ts, jumps, xbar)[0], record[2], record[3], record[4][1].shape[1]

    monkeypatch.setenv("CELLTWIN_ROW_MEMO", "0")  # every call solves (no answers from memory)
    reference, steps, taped, _ = gradient(_native._Solves(gen, 1e-10, 1e-12, 10_000, -1.0, -1.0))
    assert taped.all() and steps.min() > 20
    monkeypatch.setattr(_native, "TAPE_STEPS", 5)
    host = _native._Solves(gen, 1e-10, 1e-12, 10_000, -1.0, -1.0)
    first, _, taped, capacity = gradient(host)
    assert capacity == 5 and not taped.any()  # solved again in the reverse pass
    second, _, taped, capacity = gradient(host)
    assert capacity == steps.max() + steps.max() // 4 and taped.all()
    third, _, taped, same = gradient(host)  # enough room now: the tape is kept
    assert same == capacity and taped.all()
    for g in (first, second, third):
        np.testing.assert_array_equal(g, reference)
    monkeypatch.setattr(_native, "TAPE_BYTES", 5 * 8 * (gen.linear_algebra.w_size + 2 * (gen.n_stages + 1) * 4 + 1))
    host = _native._Solves(gen, 1e-10, 1e-12, 10_000, -1.0, -1.0)
    for _ in range(2):  # the budget holds 5 steps for the batch of 2: the tape stays short
        g, _, taped, capacity = gradient(host)
        assert capacity == 2 and not taped.any()
        np.testing.assert_array_equal(g, reference)


@pytest.fixture
def new_model_cache(monkeypatch, tmp_path):
    """An empty folder for the models' generated code (the kernels stay loaded from theirs)."""
    from celltwin.simulate import _build, _native

    _native._kernels()
    monkeypatch.setenv("CELLTWIN_NATIVE_CACHE", str(tmp_path))
    monkeypatch.setenv("CELLTWIN_KERNELS_JOB", "1")  # no job compiling the kernels for this folder
    _build.cache_folder.cache_clear()
    yield tmp_path
    monkeypatch.undo()
    _build.cache_folder.cache_clear()


@pytest.mark.parametrize("outputs, terms, lines", [(2, 512, 1000), (64, 1, 1)])
def test_large_models_generated_functions_split_into_pieces(monkeypatch, new_model_cache, outputs, terms, lines):
    from celltwin.simulate import _native

    compile_c, compiled = _native._compile_c, []
    monkeypatch.setattr(_native, "_compile_c", lambda sources, *args: compiled.append(sources) or
                        compile_c(sources, *args))
    # as a large model's would be: pieces of a few outputs (or of one output each), compiled
    # together or each in its own translation unit
    monkeypatch.setattr(_native, "C_OUTPUTS_PER_FUNCTION", outputs)
    monkeypatch.setattr(_native, "C_TERMS_PER_FUNCTION", terms)
    monkeypatch.setattr(_native, "C_LINES_PER_UNIT", lines)
    native = michaelis_menten_problem(SolverSettings(backend="native", **TIGHT))
    reference = michaelis_menten_problem(SolverSettings(backend="diffrax", **TIGHT))
    theta = jnp.asarray(native.x_nominal + 0.1)
    v_n, g_n = native.value_and_grad()(theta)
    v_r, g_r = reference.value_and_grad("reverse")(theta)
    assert float(v_n) == pytest.approx(float(v_r), rel=1e-9)
    np.testing.assert_allclose(np.asarray(g_n), np.asarray(g_r), rtol=1e-6, atol=1e-8 * float(jnp.abs(g_r).max()))
    assert len(compiled) == 1 and len(compiled[0]) > 5  # more units than the five functions


def test_batched_calls_equal_single_calls(enzyme_native):
    p = enzyme_native
    thetas = jnp.asarray(p.x_nominal + 0.2 * np.random.default_rng(2).standard_normal((5, p.n_parameters)))
    f = jax.value_and_grad(p.log_likelihood)
    values, grads = jax.jit(jax.vmap(f))(thetas)
    for theta, value, grad in zip(thetas, values, grads):
        v, g = f(theta)
        # The solves are the same; only the order of JAX's sums over measurements may differ.
        assert float(value) == pytest.approx(float(v), rel=1e-13)
        np.testing.assert_allclose(np.asarray(grad), np.asarray(g), rtol=1e-12)


def test_preequilibration_and_steady_state_outputs():
    p = conversion_problem(with_preeq=True).with_tables(settings=NATIVE)
    sim = np.asarray(p.simulate(p.x_nominal).observables)
    _, b_ss = conversion_exact(1.0, 0.0, 0.3, 0.6, np.inf)
    _, b2 = conversion_exact(2.0, b_ss, 0.8, 0.6, 2.0)
    a_inf, _ = conversion_exact(2.0, b_ss, 0.8, 0.6, np.inf)
    np.testing.assert_allclose(sim, [2.0, b2, a_inf], rtol=1e-6)
    grad = jax.grad(p.log_likelihood)(jnp.asarray(p.x_nominal))
    reference = jax.grad(conversion_problem(with_preeq=True).log_likelihood)(jnp.asarray(p.x_nominal))
    np.testing.assert_allclose(np.asarray(grad), np.asarray(reference), rtol=1e-5)


def test_blow_up_is_minus_inf_with_a_status():
    p = blow_up_problem(SolverSettings(backend="native", max_steps=2000))
    assert float(p.log_likelihood(p.x_nominal)) == -math.inf
    assert int(p.simulate(p.x_nominal).status[0]) != Status.OK
    value, grad = p.value_and_grad()(jnp.asarray([0.1]))  # before the blow-up: finite, and so is the gradient
    assert math.isfinite(float(value)) and math.isfinite(float(grad[0]))


def one_species_problem(rate, events=(), parameters=(("k", 1.0),), times=(1.0, 3.0), x0=0.0, settings=NATIVE):
    """``A' = rate`` from ``A(0) = x0``, observed directly (sigma 1) at ``times``; every
    parameter estimated on the linear scale."""
    m = Model("one")
    m.add_species("A", x0)
    for pid, value in parameters:
        m.add_parameter(pid, value)
    m.add_reaction("r", "-> A", rate=f"default*({rate})")
    for eid, at, assignments in events:
        m.add_event(eid, at, assignments)
    obs = pd.DataFrame({"observableFormula": ["A"], "noiseFormula": ["1"]}, index=pd.Index(["obs"], name="observableId"))
    meas = pd.DataFrame({"observableId": "obs", "simulationConditionId": "c0", "time": list(times),
                         "measurement": 0.5})
    table = params_table([[pid, "lin", -10, 10, value, 1] for pid, value in parameters])
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=table, settings=settings)


def assert_matches_closed_form(problem, closed_form, rtol=1e-7):
    """Value and gradient of the log-likelihood against ``closed_form(theta) -> A(times)``."""
    def llh(theta):
        return jnp.sum(jax.scipy.stats.norm.logpdf(0.5, closed_form(theta), 1.0))

    theta = jnp.asarray(problem.x_nominal)
    value, grad = problem.value_and_grad()(theta)
    assert float(value) == pytest.approx(float(llh(theta)), rel=rtol)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(jax.grad(llh)(theta)), rtol=1e-5, atol=1e-8)


def test_explicit_time():
    p = one_species_problem("k*time", parameters=(("k", 0.7),))
    assert_matches_closed_form(p, lambda th: th[0] * jnp.array([1.0, 9.0]) / 2)


def test_discontinuity_at_an_estimated_time():
    """A pulse of inflow that ends at ``tau``: the gradient in ``tau`` comes from the jump
    of the right-hand side there (A(3) = k tau), which no step of the solver sees."""
    p = one_species_problem("k*piecewise(1, time < tau, 0)", parameters=(("k", 0.8), ("tau", 2.0)))
    assert_matches_closed_form(p, lambda th: th[0] * jnp.minimum(jnp.array([1.0, 3.0]), th[1]))


def test_event_at_an_estimated_time():
    """Decay, and at ``te`` one unit is added: A(t) = e^-kt before, (e^-k te + 1) e^-k(t-te) after."""
    p = one_species_problem("-k*A", events=[("dose", "te", {"A": "A + 1"})], parameters=(("k", 0.4), ("te", 1.5)),
                            times=(1.0, 2.0, 4.0), x0=1.0)

    def closed_form(th):
        k, te = th[0], th[1]
        t = jnp.array([1.0, 2.0, 4.0])
        return jnp.where(t < te, jnp.exp(-k * t), (jnp.exp(-k * te) + 1) * jnp.exp(-k * (t - te)))

    assert_matches_closed_form(p, closed_form)


def test_events_and_discontinuities_match_diffrax():
    """A nonlinear model with explicit time, a discontinuity and two events, against the
    diffrax backend at tight tolerances (values and gradients)."""
    kw = dict(rate="k*time/(1 + A) + piecewise(c, time < tau, 0) - d*A",
              events=[("e1", "t1", {"A": "2*A"}), ("e2", "t2", {"A": "A + c"})],
              parameters=(("k", 0.5), ("c", 0.3), ("d", 0.2), ("tau", 2.5), ("t1", 1.2), ("t2", 3.3)),
              times=(0.5, 1.0, 2.0, 3.0, 4.0, 6.0), x0=0.1)
    native = one_species_problem(**kw, settings=SolverSettings(backend="native", **TIGHT))
    reference = one_species_problem(**kw, settings=SolverSettings(**TIGHT))
    theta = jnp.asarray(native.x_nominal)
    v_n, g_n = native.value_and_grad()(theta)
    v_r, g_r = reference.value_and_grad("reverse")(theta)
    assert float(v_n) == pytest.approx(float(v_r), rel=1e-8)
    np.testing.assert_allclose(np.asarray(g_n), np.asarray(g_r), rtol=1e-5)


def test_without_a_c_compiler_numba_compiles_the_model(monkeypatch):
    from celltwin.simulate._host_call import _handler
    from celltwin.simulate._native import generated

    _handler()  # (built once per process: before the compiler is hidden, as in a real process)
    monkeypatch.setenv("CELLTWIN_CC", "")  # no C compiler: the model's functions become numba cfuncs
    p = one_species_problem("k*piecewise(1, time < tau, 0)", parameters=(("k", 0.8), ("tau", 2.0)))
    assert generated(p.compiled).compiler is None
    assert_matches_closed_form(p, lambda th: th[0] * jnp.minimum(jnp.array([1.0, 3.0]), th[1]))


def test_refuses_what_it_cannot_solve():
    with pytest.raises(ValueError, match="backend"):
        SolverSettings(backend="julia")
    with pytest.raises(ValueError, match="reverse mode"):
        decay_problem().with_tables(settings=NATIVE).value_and_grad("forward")


TREE_HASH = """
import hashlib
from celltwin.model import Model, compile_model, rhs_expressions
from celltwin.simulate._native import _tree_text
m = Model("tree")
for s in ("A", "B", "C"):
    m.add_species(s, 1.0)
for k in ("kf", "kr", "Vm", "Km"):
    m.add_parameter(k, 0.5)
m.add_reaction("bind", "A + B -> C", rate="default*(kf*A*B - kr*C)")
m.add_reaction("use", "C -> ", rate="default*Vm*C/(Km + C) * piecewise(1.5, time > 2.25, 0.1)")
print(hashlib.sha256("|".join(_tree_text(rhs_expressions(m))).encode()).hexdigest())
"""


def test_the_models_hash_text_is_exact_and_the_same_in_every_process():
    import subprocess
    import sys

    import sympy as sp

    from celltwin.simulate._native import _tree_text

    x = sp.Symbol("x")
    # floats that print alike (15 digits) but differ are told apart
    assert str(sp.Float(0.1)) == str(sp.Float(0.1 + 2**-56))
    assert _tree_text([x * 0.1]) != _tree_text([x * (0.1 + 2**-56)])
    assert _tree_text([x + 2 * x**2]) != _tree_text([x * 2 + x**2])
    digests = {subprocess.run([sys.executable, "-c", TREE_HASH], env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, check=True).stdout for seed in ("1", "2")}
    assert len(digests) == 1  # not the per-process string hashes
