"""Events triggered by the state (``when="A <= 0.5"``): firing times, re-arming, SBML's
initialValue, the limit on crossings, derivatives through the firing time, and the
round trip through SBML, on both engines (``backend``). References: closed forms of the
solutions and scipy's root finder and LSODA on them; central finite differences for the
gradient."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from celltwin.model import Model, compile_model, from_sbml, to_sbml
from celltwin.simulate import SolverSettings, Status, solve_steady_state, solve_time_course
from celltwin.simulate._solve import STATE_EVENT_CROSSINGS

SETTINGS = SolverSettings(rtol=1e-10, atol=1e-12)
LN2 = math.log(2.0)


# The engines that solve (the native one locates crossings in its own compiled solver).
# Tests whose diffrax solves take long to compile run natively by default and on diffrax
# with the slow tests.
BOTH = pytest.mark.parametrize("backend", ["native", "diffrax"])
NATIVE_FAST = pytest.mark.parametrize("backend", ["native", pytest.param("diffrax", marks=pytest.mark.slow)])


def tight(backend: str) -> SolverSettings:
    return SolverSettings(rtol=1e-10, atol=1e-12, backend=backend)


def decay_with_reset(k=0.5, trigger="A <= 0.5"):
    """A decays at rate k and is reset to 1 whenever it falls to 0.5; N counts the resets and
    T (a clock) is set to 0 at each."""
    m = Model("reset")
    m.add_compartment("c", 1.0)
    m.add_species("A", 1.0, compartment="c")
    m.add_species("N", 0.0, compartment="c")
    m.add_species("T", 0.0, compartment="c")
    m.add_parameter("k", k)
    m.add_reaction("decay", "A ->", rate="k*A")
    m.add_rate_rule("T", "1")
    m.add_event("reset", None, {"A": "1", "N": "N + 1", "T": "0"}, when=trigger)
    return m


def run(model, ts, p=None, x0=None, settings=SETTINGS):
    cm = compile_model(model)
    p = jnp.asarray(cm.parameter_values if p is None else p, dtype=float)
    x0 = cm.x0(p) if x0 is None else x0
    times = jnp.asarray([float(ev.time) for ev in cm.events])
    xs, status = solve_time_course(cm, p, x0, jnp.asarray(ts, dtype=float), event_times=times, settings=settings)
    return cm, np.asarray(xs), Status(int(status))


@BOTH
def test_repeated_firing_matches_the_closed_form(backend):
    """The resets come every ln(2)/k: A = exp(-k (t - n ln2/k)), N = n, T = t - n ln2/k."""
    k = 0.5
    period = LN2 / k
    ts = np.array([0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0])  # three resets, at 1.386, 2.773, 4.159
    cm, xs, status = run(decay_with_reset(k), ts, settings=tight(backend))
    assert status == Status.OK
    n = np.floor(ts / period)
    states = {s: xs[:, i] for i, s in enumerate(cm.state_ids)}
    np.testing.assert_allclose(states["N"], n, atol=1e-12)
    np.testing.assert_allclose(states["A"], np.exp(-k * (ts - n * period)), rtol=1e-8)
    np.testing.assert_allclose(states["T"], ts - n * period, atol=1e-8)


@NATIVE_FAST  # diffrax: a few solves with events to compile (10-60 s on a shared machine)
def test_more_crossings_than_supported_is_a_failed_simulation_not_a_wrong_one(backend):
    ts = np.linspace(0.0, (STATE_EVENT_CROSSINGS + 1.5) * LN2 / 0.5, 5)
    _, _, status = run(decay_with_reset(0.5), ts, settings=tight(backend))
    assert status == Status.TOO_MANY_EVENTS
    assert str(STATE_EVENT_CROSSINGS) in status.describe()


@NATIVE_FAST
@pytest.mark.parametrize("trigger, g", [
    ("A + time/10 <= 0.8", lambda t, a: 0.8 - a - t / 10),   # state and time together
    ("time * A >= 0.6", lambda t, a: t * a - 0.6),           # a product of both
])
def test_firing_time_of_mixed_triggers_matches_a_root_finder(trigger, g, backend):
    """The first firing time against scipy's brentq on the closed-form A(t) = exp(-k t)."""
    k = 0.5
    t_fire = brentq(lambda t: g(t, math.exp(-k * t)), 1e-9, 2.0)  # both triggers hold first before t = 2
    ts = np.array([0.0, t_fire - 1e-3, t_fire + 1e-3, t_fire + 0.2])
    cm, xs, status = run(decay_with_reset(k, trigger), ts, settings=tight(backend))
    assert status == Status.OK
    T = xs[:, cm.state_ids.index("T")]
    # after the reset the clock restarts: T = t - t_fire
    assert T[1] == pytest.approx(ts[1], rel=1e-9)
    np.testing.assert_allclose(T[2:], ts[2:] - t_fire, atol=1e-7)


@NATIVE_FAST  # diffrax: a few solves with events to compile (10-60 s on a shared machine)
def test_trigger_rearms_only_after_it_became_false(backend):
    """A = sin(t) (rate rule cos(time)); the event fires on each upward crossing of 0.5 (t =
    pi/6 + 2 pi n), not while A stays above 0.5, and not on the downward crossings."""
    m = Model("sine")
    m.add_compartment("c", 1.0)
    m.add_parameter("A", 0.0)
    m.add_parameter("N", 0.0)
    m.add_rate_rule("A", "cos(time)")
    m.add_rate_rule("N", "0")
    m.add_event("up", None, {"N": "N + 1"}, when="A >= 0.5")
    ts = np.array([0.0, 0.5, 0.6, 2.0, 3.0, 6.7, 6.9, 12.0, 13.0])
    cm, xs, status = run(m, ts, settings=tight(backend))
    assert status == Status.OK
    expected = [0, 0, 1, 1, 1, 1, 2, 2, 2]  # upward crossings at 0.524 and 6.807 (the next at 13.09)
    np.testing.assert_allclose(xs[:, cm.state_ids.index("N")], expected, atol=1e-12)
    np.testing.assert_allclose(xs[:, cm.state_ids.index("A")], np.sin(ts), atol=1e-7)


@NATIVE_FAST
@pytest.mark.parametrize("initial_value, fired", [(False, 1.0), (True, 0.0)])
def test_trigger_true_at_the_start_fires_only_if_it_was_false_before(initial_value, fired, backend):
    """SBML's initialValue: a trigger that holds at t = 0 fires there only if it was false
    'before' the start."""
    m = Model("start")
    m.add_compartment("c", 1.0)
    m.add_species("A", 1.0, compartment="c")
    m.add_species("N", 0.0, compartment="c")
    m.add_event("at_start", None, {"N": "N + 1"}, when="A >= 0.5", initial_value=initial_value)
    cm, xs, status = run(m, [0.0, 1.0], settings=tight(backend))
    assert status == Status.OK
    np.testing.assert_allclose(xs[:, cm.state_ids.index("N")], [fired, fired])


@BOTH
def test_derivative_through_the_firing_time(backend):
    """T(t_end) = t_end - ln(2)/k after the first reset, so dT/dk = ln(2)/k^2 (the firing time
    moves with k); also against central finite differences of the simulation."""
    k = 0.5
    cm = compile_model(decay_with_reset(k))
    i_k, i_T = cm.parameter_index("k"), cm.state_ids.index("T")
    ts = jnp.asarray([0.0, 2.0])

    def clock(kk):
        p = jnp.asarray(cm.parameter_values, dtype=float).at[i_k].set(kk)
        xs, _ = solve_time_course(cm, p, cm.x0(p), ts, event_times=jnp.asarray([jnp.inf]), settings=tight(backend))
        return xs[-1, i_T]

    grad = float(jax.grad(clock)(k))
    assert grad == pytest.approx(LN2 / k**2, rel=1e-6)
    h = 1e-5
    assert grad == pytest.approx((float(clock(k + h)) - float(clock(k - h))) / (2 * h), rel=1e-5)


@NATIVE_FAST  # diffrax: a few solves with events to compile (10-60 s on a shared machine)
def test_trigger_time_through_a_rule_of_the_state(backend):
    """``time >= tt`` with tt = 10*A an assignment rule: a trigger that depends on the state
    (it used to be refused). A = exp(-t) reaches the condition t = 10 exp(-t) at the root."""
    m = Model("rule")
    m.add_compartment("c", 1.0)
    m.add_species("A", 1.0, compartment="c")
    m.add_species("B", 0.0, compartment="c")
    m.add_parameter("tt", 0.0)
    m.add_assignment_rule("tt", "10*A")
    m.add_reaction("decay", "A ->", rate="A")
    m.add_event("E_rule", "tt", {"B": "1"})
    t_fire = brentq(lambda t: t - 10 * math.exp(-t), 0.0, 10.0)
    cm, xs, status = run(m, [t_fire - 1e-4, t_fire + 1e-4], settings=tight(backend))
    assert status == Status.OK
    np.testing.assert_allclose(xs[:, cm.state_ids.index("B")], [0.0, 1.0])


@BOTH
def test_state_events_in_a_steady_state_and_after_it(backend):
    """P grows at rate 1 while P <= 500; at P >= 500 an event adds 1000 (as in PEtab test
    case 0023). The steady state is 1500, exactly, and a continued solve whose trigger already
    held does not fire again."""
    m = Model("grow")
    m.add_compartment("c", 1.0)
    m.add_parameter("P", 10.0)
    m.add_rate_rule("P", "piecewise(1, P <= 500, 0)")
    m.add_event("jump", None, {"P": "P + 1000"}, when="P >= 500", initial_value=False)
    cm = compile_model(m)
    p = jnp.asarray(cm.parameter_values, dtype=float)
    # Default tolerances: the rate's switch at P = 500 is not located as a root, and at 1e-10
    # the steps that cross it are rejected until max_steps (as without events).
    settings = SolverSettings(backend=backend)
    x_ss, status = solve_steady_state(cm, p, cm.x0(p), settings=settings)
    assert Status(int(status)) == Status.OK
    assert float(x_ss[0]) == pytest.approx(1500.0, abs=1e-6)
    xs, status = solve_time_course(cm, p, x_ss, jnp.asarray([0.0, 5.0]), event_times=jnp.asarray([jnp.inf]),
                                   settings=settings, x_before=x_ss)
    assert Status(int(status)) == Status.OK
    np.testing.assert_allclose(np.asarray(xs[:, 0]), [1500.0, 1500.0], atol=1e-6)


@NATIVE_FAST  # diffrax: a few solves with events to compile (10-60 s on a shared machine)
def test_sbml_round_trip_and_scipy_reference(backend):
    """Written as SBML and read back, the model gives the same time course as scipy's LSODA with
    its own event location (solve_ivp events, terminal, restarted after each reset)."""
    k = 0.7
    model = from_sbml(to_sbml(decay_with_reset(k)))
    ts = np.array([0.0, 0.5, 1.2, 2.4, 3.0])
    cm, xs, status = run(model, ts, settings=tight(backend))
    assert status == Status.OK

    def hit(t, y):
        return y[0] - 0.5
    hit.terminal, hit.direction = True, -1
    t, y, out = 0.0, np.array([1.0]), []
    while t < ts[-1]:
        sol = solve_ivp(lambda _t, y: -k * y, (t, ts[-1]), y, method="LSODA", rtol=1e-11, atol=1e-13,
                        events=hit, dense_output=True)
        end = sol.t_events[0][0] if sol.status == 1 else ts[-1]
        out += [(s, float(sol.sol(s)[0])) for s in ts if t <= s < end or (sol.status == 0 and s == end)]
        t, y = end, np.array([1.0])
    expected = np.array([a for _, a in sorted(out)])
    np.testing.assert_allclose(xs[:, cm.state_ids.index("A")], expected, rtol=1e-7)


@BOTH
def test_state_event_resizing_a_compartment_keeps_the_amounts(backend):
    """A is made at k*cv (amount per time), so d[A]/dt = k; when A reaches 1.6 the compartment
    grows from 1 to 4 and A's amount is kept: A = 0.4 + k (t - t*), t* = 0.6/k. The diffrax
    engine (state events) reads the compartment's size from the state."""
    k = 0.3
    m = Model("grow")
    m.add_compartment("cv", 1.0)
    m.add_species("A", 1.0, compartment="cv")
    m.add_parameter("k", k)
    m.add_reaction("make", "-> A", rate="k*cv")
    m.add_event("grow", None, {"cv": "4"}, when="A >= 1.6")
    ts = np.array([0.0, 1.0, 2.5, 4.0])
    cm, xs, status = run(m, ts, settings=tight(backend))
    assert status == Status.OK
    t_fire = 0.6 / k
    expected = np.where(ts < t_fire, 1 + k * ts, 0.4 + k * (ts - t_fire))
    np.testing.assert_allclose(xs[:, cm.state_ids.index("A")], expected, rtol=1e-7)
    np.testing.assert_allclose(xs[:, cm.state_ids.index("cv")], np.where(ts < t_fire, 1.0, 4.0))
