"""Events triggered by the state on the native engine: chosen by ``backend="auto"``, the same
time courses and gradients as diffrax and as central finite differences on a model with
state and time events and explicit time, batches (vmap) against the closed form, the
derivative in the threshold and in the rate through the firing time against closed forms,
and a steady state whose value depends on an event that fired on the way.

The closed-form checks shared with diffrax (repeated firing, re-arming, initialValue both
ways, the limit on crossings, triggers of state and time, SBML round trip, a steady state
with an event) run on both engines in ``tests/test_state_events.py``."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from celltwin.model import Model, compile_model
from celltwin.simulate import SolverSettings, Status, solve_steady_state, solve_time_course
from celltwin.simulate._backend import choose_engine

NATIVE = SolverSettings(rtol=1e-10, atol=1e-12, backend="native")
LN2 = math.log(2.0)


def decay_with_threshold(k=0.5, th=0.5):
    """A decays at rate k and is reset to 1 whenever it falls to th; T is a clock set to 0
    at each reset. The first reset is at t* = ln(1/th)/k."""
    m = Model("threshold")
    m.add_compartment("c", 1.0)
    m.add_species("A", 1.0, compartment="c")
    m.add_species("T", 0.0, compartment="c")
    m.add_parameter("k", k)
    m.add_parameter("th", th)
    m.add_reaction("decay", "A ->", rate="k*A")
    m.add_rate_rule("T", "1")
    m.add_event("reset", None, {"A": "1", "T": "0"}, when="A <= th")
    return m


def pulses():
    """A is made at a falling rate (explicit time, and a switch at tau: a discontinuity the
    solver is told of) and turned into B; whenever B reaches th it drops to a fifth (three
    times before t = 10), and a dose of A comes at t = 4."""
    m = Model("pulses")
    m.add_compartment("c", 1.0)
    m.add_species("A", 0.0, compartment="c")
    m.add_species("B", 0.0, compartment="c")
    for pid, value in {"kin": 1.0, "k1": 0.8, "k2": 0.5, "th": 1.0, "tau": 6.2}.items():
        m.add_parameter(pid, value)
    m.add_reaction("make", "-> A", rate="kin*exp(-time/10)*piecewise(1, time < tau, 0.3)")
    m.add_reaction("conv", "A -> B", rate="k1*A")
    m.add_reaction("deg", "B ->", rate="k2*B")
    m.add_event("pulse", None, {"B": "0.2*B"}, when="B >= th")
    m.add_event("dose", "4", {"A": "A + 1"})
    return m


def event_times(cm):
    return jnp.asarray([jnp.inf if ev.condition is not None else float(ev.time) for ev in cm.events])


def test_auto_chooses_the_native_engine_for_state_events():
    cm = compile_model(decay_with_threshold())
    engine, note = choose_engine(SolverSettings(), cm)
    assert engine == "native", note


def test_native_matches_diffrax_and_finite_differences_on_state_and_time_events():
    """The time course (20 outputs) against diffrax, which locates crossings on its own
    dense output, and the gradient of its sum of squares in all parameters (the threshold
    and the switch time included) against central finite differences of the native solve."""
    cm = compile_model(pulses())
    ts = jnp.linspace(0.5, 10.0, 20)
    times = event_times(cm)
    i_tau = cm.parameter_index("tau")

    def course(p, settings):
        return solve_time_course(cm, p, cm.x0(p), ts, event_times=times, jump_ts=p[i_tau, None], settings=settings)

    p = jnp.asarray(cm.parameter_values, dtype=float)
    diffrax = SolverSettings(rtol=1e-10, atol=1e-12, backend="diffrax")
    xs_n, st_n = jax.jit(lambda q: course(q, NATIVE))(p)
    xs_d, st_d = jax.jit(lambda q: course(q, diffrax))(p)
    assert int(st_n) == int(st_d) == Status.OK
    b = np.asarray(xs_n)[:, cm.state_ids.index("B")]
    assert np.sum(np.diff(b) < -0.2) == 3  # the three pulses happened
    np.testing.assert_allclose(xs_n, xs_d, rtol=1e-7, atol=1e-9)
    value = jax.jit(lambda q: jnp.sum(course(q, NATIVE)[0] ** 2))
    grad = jax.jit(jax.grad(lambda q: jnp.sum(course(q, NATIVE)[0] ** 2)))(p)
    for i, pid in enumerate(cm.parameter_ids):
        h = 1e-6 * max(1.0, abs(float(p[i])))
        fd = (float(value(p.at[i].add(h))) - float(value(p.at[i].add(-h)))) / (2 * h)
        assert float(grad[i]) == pytest.approx(fd, rel=1e-5, abs=1e-6), pid


@pytest.mark.slow  # diffrax's gradient through the crossings compiles for ~40 s
def test_native_gradient_matches_diffrax_on_state_and_time_events():
    cm = compile_model(pulses())
    ts = jnp.linspace(0.5, 10.0, 20)

    def loss(p, settings):
        xs, _ = solve_time_course(cm, p, cm.x0(p), ts, event_times=event_times(cm),
                                  jump_ts=p[cm.parameter_index("tau"), None], settings=settings)
        return jnp.sum(xs**2)

    p = jnp.asarray(cm.parameter_values, dtype=float)
    diffrax = SolverSettings(rtol=1e-10, atol=1e-12, backend="diffrax")
    g_n = jax.jit(jax.grad(lambda q: loss(q, NATIVE)))(p)
    g_d = jax.jit(jax.grad(lambda q: loss(q, diffrax)))(p)
    np.testing.assert_allclose(g_n, g_d, rtol=1e-6, atol=1e-8)


def test_gradient_through_the_firing_time_in_the_threshold_and_the_rate():
    """One reset before t_end = 2: T(t_end) = t_end - t*, A(t_end) = exp(-k (t_end - t*)),
    t* = ln(1/th)/k, so dT/dth = 1/(k th), dT/dk = ln(1/th)/k^2, dA/dth = -A/th."""
    k, th, t_end = 0.5, 0.6, 2.0
    cm = compile_model(decay_with_threshold(k, th))
    i_k, i_th = cm.parameter_index("k"), cm.parameter_index("th")
    i_a, i_t = cm.state_ids.index("A"), cm.state_ids.index("T")

    def final(p):
        xs, _ = solve_time_course(cm, p, cm.x0(p), jnp.asarray([0.0, t_end]), event_times=event_times(cm),
                                  settings=NATIVE)
        return xs[-1, jnp.asarray([i_a, i_t])]

    p = jnp.asarray(cm.parameter_values, dtype=float)
    jac = np.asarray(jax.jit(jax.jacrev(final))(p))
    t_fire = math.log(1 / th) / k
    a_end = math.exp(-k * (t_end - t_fire))
    np.testing.assert_allclose(np.asarray(final(p)), [a_end, t_end - t_fire], rtol=1e-9)
    assert jac[1, i_th] == pytest.approx(1 / (k * th), rel=1e-7)
    assert jac[1, i_k] == pytest.approx(math.log(1 / th) / k**2, rel=1e-7)
    assert jac[0, i_th] == pytest.approx(-a_end / th, rel=1e-7)


def test_a_batch_of_rates_fires_a_different_number_of_times_per_lane():
    """vmap over k: the resets every ln(2)/k (1 to 3 before t = 3 across the batch) against
    the closed form, and the batched gradient of the clock, d/dk T(3) = n ln2/k^2."""
    cm = compile_model(decay_with_threshold(0.5, 0.5))
    i_k, i_a, i_t = cm.parameter_index("k"), cm.state_ids.index("A"), cm.state_ids.index("T")
    ts = jnp.asarray([0.0, 1.0, 2.0, 2.5, 3.0])
    ks = np.array([0.3, 0.5, 0.9])

    def course(kk):
        p = jnp.asarray(cm.parameter_values, dtype=float).at[i_k].set(kk)
        xs, status = solve_time_course(cm, p, cm.x0(p), ts, event_times=event_times(cm), settings=NATIVE)
        return xs, status

    xs, status = jax.jit(jax.vmap(course))(jnp.asarray(ks))
    assert np.all(np.asarray(status) == Status.OK)
    n = np.floor(np.outer(ks, np.asarray(ts)) / LN2)
    since = np.asarray(ts)[None, :] - n * LN2 / ks[:, None]
    np.testing.assert_allclose(np.asarray(xs)[:, :, i_t], since, atol=1e-8)
    np.testing.assert_allclose(np.asarray(xs)[:, :, i_a], np.exp(-ks[:, None] * since), rtol=1e-8)
    grads = jax.jit(jax.vmap(jax.grad(lambda kk: course(kk)[0][-1, i_t])))(jnp.asarray(ks))
    np.testing.assert_allclose(np.asarray(grads), n[:, -1] * LN2 / ks**2, rtol=1e-6)


def test_steady_state_set_by_an_event_on_the_way():
    """x' = k1 (1 + B) - k2 x from 0; when x reaches th < k1/k2, B becomes 1, so the steady
    state is 2 k1/k2 (and its gradient 2/k2, -2 k1/k2^2, 0 in th); a threshold above k1/k2
    is never reached and the steady state is k1/k2."""
    m = Model("raised")
    m.add_compartment("c", 1.0)
    m.add_parameter("x", 0.0)
    m.add_parameter("B", 0.0)
    for pid, value in {"k1": 1.0, "k2": 0.5, "th": 1.0}.items():
        m.add_parameter(pid, value)
    m.add_rate_rule("x", "k1*(1 + B) - k2*x")
    m.add_rate_rule("B", "0")
    m.add_event("raise", None, {"B": "1"}, when="x >= th")
    cm = compile_model(m)
    i = {pid: cm.parameter_index(pid) for pid in ("k1", "k2", "th")}
    settings = SolverSettings(backend="native")

    def steady(p):
        x_ss, status = solve_steady_state(cm, p, cm.x0(p), settings=settings)
        return x_ss[cm.state_ids.index("x")], status

    p = jnp.asarray(cm.parameter_values, dtype=float)
    (x_ss, status), grad = jax.jit(jax.value_and_grad(steady, has_aux=True))(p)
    k1, k2 = 1.0, 0.5
    assert Status(int(status)) == Status.OK
    assert float(x_ss) == pytest.approx(2 * k1 / k2, rel=1e-7)
    np.testing.assert_allclose([grad[i["k1"]], grad[i["k2"]], grad[i["th"]]], [2 / k2, -2 * k1 / k2**2, 0.0],
                               rtol=1e-5, atol=1e-6)
    x_ss, status = jax.jit(steady)(p.at[i["th"]].set(3.0))
    assert Status(int(status)) == Status.OK
    assert float(x_ss) == pytest.approx(k1 / k2, rel=1e-7)


def test_without_a_c_compiler_the_triggers_are_numba_functions(monkeypatch):
    """The model's functions, the triggers among them, compiled by numba instead of a C
    compiler: the first reset of ``decay_with_threshold`` at ln(1/th)/k."""
    from celltwin.simulate._host_call import _handler
    from celltwin.simulate._native import generated

    _handler()  # (built once per process: before the compiler is hidden, as in a real process)
    monkeypatch.setenv("CELLTWIN_CC", "")
    k, th = 0.7, 0.4  # a model of its own: not the one compiled with C by the other tests
    cm = compile_model(decay_with_threshold(k, th))
    assert generated(cm).compiler is None
    p = jnp.asarray(cm.parameter_values, dtype=float)
    xs, status = solve_time_course(cm, p, cm.x0(p), jnp.asarray([0.0, 2.0]), event_times=event_times(cm),
                                   settings=NATIVE)
    assert int(status) == Status.OK
    assert float(xs[-1, cm.state_ids.index("T")]) == pytest.approx(2.0 - math.log(1 / th) / k, rel=1e-9)


def test_a_rate_that_stops_where_the_trigger_fires():
    """P grows at rate 1 while P <= 500 and jumps by 1000 at P >= 500 (PEtab v2 case 0023):
    P = P0 + t before t* = 500 - P0 and 1500 after, so dP/dP0 is 1 before and 0 after. The
    firing time's derivative needs the velocity that led to the crossing (1), not the one
    past it (0)."""
    m = Model("grow")
    m.add_compartment("c", 1.0)
    m.add_parameter("P", 10.0)
    m.add_rate_rule("P", "piecewise(1, P <= 500, 0)")
    m.add_event("jump", None, {"P": "P + 1000"}, when="P >= 500")
    cm = compile_model(m)
    p = jnp.asarray(cm.parameter_values, dtype=float)
    ts = jnp.asarray([100.0, 600.0])

    def course(x0):
        xs, _ = solve_time_course(cm, p, x0, ts, event_times=event_times(cm), settings=SolverSettings(backend="native"))
        return xs[:, 0]

    x0 = cm.x0(p)
    np.testing.assert_allclose(np.asarray(course(x0)), [110.0, 1500.0], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.jacrev(course))(x0))[:, 0], [1.0, 0.0], atol=1e-9)
