"""ODE solves of a compiled model with diffrax: time courses, events, steady states.

Every function here is pure and traceable: jit it, vmap it over conditions or parameter
sets, differentiate it. A solver failure never raises: it comes back as ``ok = False``
(with the reason in :data:`Status`), and the caller turns it into a log-likelihood of -inf.
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Sequence

import diffrax
import jax
import jax.numpy as jnp

from ..model import CompiledModel
from ._backend import choose_engine
from ._rosenbrock import JacobianTerm
from ._settings import SolverSettings
from ._sparse_lu import SparseLU


class Status(enum.IntEnum):
    """Why a simulation failed (0 = it did not)."""

    OK = 0
    SOLVER_FAILED = 1
    NOT_FINITE = 2
    NO_STEADY_STATE = 3
    TOO_MANY_EVENTS = 4

    def describe(self) -> str:
        return {
            0: "ok",
            1: "the ODE solver failed (too many steps or a step size underflow: stiff or unstable at these parameters)",
            2: "the simulation produced non-finite values",
            3: "no steady state was reached during pre-equilibration",
            4: f"an event triggered by the state fired, or its trigger became false again, more than "
               f"{STATE_EVENT_CROSSINGS} times",
        }[int(self)]


# How often each state-triggered event may fire or re-arm (its trigger going false) in one
# time course: every crossing ends a solve, and the number of solves is fixed when JAX traces.
STATE_EVENT_CROSSINGS = 4


# Above this many states a sparse LU (built once per model) beats LAPACK's dense one when
# the filled factors stay sparse (benchmarks/linear_algebra.py, results/linear_algebra.tsv).
SPARSE_LU_MIN_STATES = 200
SPARSE_LU_MAX_FILL = 0.2
_SPARSE_LUS: weakref.WeakKeyDictionary[CompiledModel, SparseLU | None] = weakref.WeakKeyDictionary()


def _sparse_lu(cm: CompiledModel) -> SparseLU | None:
    if cm not in _SPARSE_LUS:
        lu = None
        if cm.n_states >= SPARSE_LU_MIN_STATES:
            lu = SparseLU(cm.jacobian_sparsity)
            if lu.nnz > SPARSE_LU_MAX_FILL * cm.n_states**2:
                lu = None
        _SPARSE_LUS[cm] = lu
    return _SPARSE_LUS[cm]


def _term(cm: CompiledModel) -> JacobianTerm:
    return JacobianTerm(
        lambda t, x, args: cm.rhs(t, x, args[0], args[1]),
        lambda t, x, args: cm.jacobian(t, x, args[0], args[1]),
        sparse_lu=_sparse_lu(cm),
    )


def solve_time_course(
    cm: CompiledModel,
    p: jax.Array,
    x0: jax.Array,
    ts: jax.Array,
    *,
    event_times: jax.Array | None = None,
    event_order: Sequence[int] = (),
    jump_ts: jax.Array | None = None,
    t0: float = 0.0,
    settings: SolverSettings = SolverSettings(),
    adjoint: diffrax.AbstractAdjoint = diffrax.RecursiveCheckpointAdjoint(),
    site: int = 0,
    x_before: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """States at the sorted output times ``ts`` (``ts[0] >= t0``).

    Arguments:
        cm: compiled model.
        p: model parameters (``cm.parameter_ids`` order).
        x0: state at ``t0``.
        ts: output times, ascending (pad with the last time to a fixed length).
        event_times: firing time of each model event (``cm.events``), for these parameters.
        event_order: the events to apply, in time order (indices into ``cm.events``).
        jump_ts: times where the right-hand side is discontinuous (the solver restarts there).
        settings: solver settings.
        adjoint: how to differentiate (``RecursiveCheckpointAdjoint`` for reverse mode,
            ``ForwardMode`` for forward mode).
        site: the native backend's tapes are kept per call site between a forward pass and
            its gradient: give different solves of the same shapes different numbers.
        x_before: the state just before ``t0`` when this solve continues another (after
            pre-equilibration): an event triggered by the state fires at ``t0`` only if its
            trigger holds at ``x0`` and did not at ``x_before``. None: the first solve, where
            the trigger's SBML ``initialValue`` stands for the value before.

    Returns:
        ``(xs, status)``: states of shape ``(len(ts), n_states)`` and a :class:`Status` code.
    """
    if any(ev.condition is not None for ev in cm.events):
        return _time_course_with_state_events(cm, p, x0, ts, event_times, jump_ts, t0, settings, adjoint,
                                              x_before=x_before, site=site)
    if _engine(settings, cm) == "native":
        return _native_time_course(cm, p, x0, ts, event_times, event_order, jump_ts, t0, settings, site)
    d = cm.derived(p)
    term = _term(cm)
    t_end = ts[-1]
    bounds = [jnp.asarray(t0, dtype=float)]
    raw_times = []
    for k in event_order:  # empty where the model has no events (event_times None)
        raw_times.append(event_times[k])  # type: ignore[index]
        bounds.append(jnp.clip(event_times[k], t0, t_end))  # type: ignore[index]
    bounds.append(t_end)
    controller = settings.controller(jump_ts)
    xs = jnp.zeros((ts.shape[0], x0.shape[0]), dtype=x0.dtype)
    x = x0
    status = jnp.asarray(Status.OK, dtype=jnp.int32)
    n_seg = len(bounds) - 1
    for j in range(n_seg):
        a, b = bounds[j], bounds[j + 1]
        sol = diffrax.diffeqsolve(
            term, settings.solver, a, b, None, x, args=(p, d),
            saveat=diffrax.SaveAt(ts=jnp.clip(ts, a, b), t1=True),
            stepsize_controller=controller, max_steps=settings.max_steps, throw=False, adjoint=adjoint,
        )
        inside = (ts >= a) if j == n_seg - 1 else ((ts >= a) & (ts < b))
        if j == 0:
            inside = inside | (ts < a)
        xs = jnp.where(inside[:, None], sol.ys[:-1], xs)
        status = jnp.where((status == Status.OK) & (sol.result != diffrax.RESULTS.successful), Status.SOLVER_FAILED, status)
        x = sol.ys[-1]
        if j < n_seg - 1:
            event = cm.events[event_order[j]]
            fired = x.at[event.targets].set(event.values(b, x, p))
            x = jnp.where(raw_times[j] <= t_end, fired, x)
    status = jnp.where((status == Status.OK) & ~jnp.all(jnp.isfinite(xs)), Status.NOT_FINITE, status)
    return xs, status


def solve_steady_state(
    cm: CompiledModel,
    p: jax.Array,
    x0: jax.Array,
    *,
    t0: float = 0.0,
    settings: SolverSettings = SolverSettings(),
    adjoint: diffrax.AbstractAdjoint = diffrax.RecursiveCheckpointAdjoint(),
    site: int = 0,
    x_before: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Integrate from ``x0`` until ``|dx/dt| <= atol + rtol |x|``; returns ``(x_ss, status)``.

    Sensitivities come from the integration itself (not the implicit function theorem),
    so models with conservation laws, whose Jacobian is singular, differentiate correctly.
    Events triggered by the state fire on the way (``x_before`` as in
    :func:`solve_time_course`); time events do not.
    """
    if any(ev.condition is not None for ev in cm.events):
        xs, status = _time_course_with_state_events(cm, p, x0, jnp.asarray([settings.max_steady_state_time]), None,
                                                    None, t0, settings, adjoint, steady_state=True, x_before=x_before,
                                                    site=site)
        return xs[0], status
    if _engine(settings, cm) == "native":
        from ._native import native_time_course

        xs, status = native_time_course(
            cm, p, x0, jnp.asarray([settings.max_steady_state_time], dtype=float), t0=t0, rtol=settings.rtol,
            atol=settings.atol, max_steps=settings.max_steps, site=site,
            steady_state=(settings.steady_state_rtol, settings.steady_state_atol))
        return xs[0], status
    d = cm.derived(p)
    event = diffrax.Event(diffrax.steady_state_event(settings.steady_state_rtol, settings.steady_state_atol))
    sol = diffrax.diffeqsolve(
        _term(cm), settings.solver, t0, settings.max_steady_state_time, None, x0, args=(p, d),
        saveat=diffrax.SaveAt(t1=True), stepsize_controller=settings.controller(),
        max_steps=settings.max_steps, throw=False, adjoint=adjoint, event=event,
    )
    x = sol.ys[-1]
    status = jnp.where(sol.result == diffrax.RESULTS.event_occurred, Status.OK, Status.NO_STEADY_STATE)
    status = jnp.where((status == Status.OK) & ~jnp.all(jnp.isfinite(x)), Status.NOT_FINITE, status)
    return x, status.astype(jnp.int32)


def _engine(settings: SolverSettings, cm: CompiledModel) -> str:
    return settings.backend if settings.backend != "auto" else choose_engine(settings, cm)[0]


def _native_time_course(cm, p, x0, ts, event_times, event_order, jump_ts, t0, settings, site):
    """:func:`solve_time_course` on the native backend: one compiled solve per stretch
    between events (the same segments as the diffrax path), each handling the
    discontinuities ``jump_ts`` inside itself; events are applied here, in JAX, so that
    their targets' derivatives follow from automatic differentiation."""
    from ._native import native_time_course

    t_end = ts[-1]
    bounds = [jnp.asarray(t0, dtype=float)] + [jnp.clip(event_times[k], t0, t_end) for k in event_order] + [t_end]
    xs = jnp.zeros((ts.shape[0], x0.shape[0]), dtype=float)
    x = x0
    status = jnp.asarray(Status.OK, dtype=jnp.int32)
    n_seg = len(bounds) - 1
    for j in range(n_seg):
        a, b = bounds[j], bounds[j + 1]
        seg_ts = jnp.concatenate([jnp.clip(ts, a, b), b[None]])
        ys, st = native_time_course(cm, p, x, seg_ts, t0=a, jump_ts=jump_ts, rtol=settings.rtol, atol=settings.atol,
                                    max_steps=settings.max_steps, site=site * 64 + j)
        inside = (ts >= a) if j == n_seg - 1 else ((ts >= a) & (ts < b))
        if j == 0:
            inside = inside | (ts < a)
        xs = jnp.where(inside[:, None], ys[:-1], xs)
        status = jnp.where(status == Status.OK, st, status)
        x = ys[-1]
        if j < n_seg - 1:
            event = cm.events[event_order[j]]
            fired = x.at[event.targets].set(event.values(b, x, p))
            x = jnp.where(event_times[event_order[j]] <= t_end, fired, x)
    status = jnp.where((status == Status.OK) & ~jnp.all(jnp.isfinite(xs)), Status.NOT_FINITE, status)
    return xs, status


def _time_course_with_state_events(cm, p, x0, ts, event_times, jump_ts, t0, settings, adjoint, steady_state=False,
                                   x_before=None, site=0):
    """:func:`solve_time_course` for models with events triggered by the state (and, with
    ``steady_state``, :func:`solve_steady_state`: ``ts`` is ``[max_steady_state_time]``, the
    solves stop at the steady state, and time events, ``event_times`` None, do not fire).

    Each solve runs until the next crossing of any event's trigger, located by root finding
    on diffrax's dense output (``diffrax.Event``; its time is differentiable, through the
    implicit function theorem). A trigger crossing upward fires its event (time events are
    triggers ``time - t_k``) and disarms it; a state event is armed again when its trigger
    becomes false (a downward crossing, or false after the assignments). The number of solves is
    fixed when JAX traces: one per time event and :data:`STATE_EVENT_CROSSINGS` per state
    event; a time course that needs more ends with :attr:`Status.TOO_MANY_EVENTS`. On the
    native engine the same bookkeeping runs over its solves
    (:class:`celltwin.simulate._native_events.NativeStretches`).
    """
    import optimistix as optx

    d = cm.derived(p)
    term = _term(cm)
    events = cm.events
    state = [ev.condition is not None for ev in events]
    t_end = ts[-1]
    t = jnp.asarray(t0, dtype=float)
    if event_times is None:
        event_times = jnp.full(len(events), jnp.inf)
    times = jnp.where(jnp.asarray(state), jnp.inf, event_times) if events else jnp.zeros(0)
    # The threshold below which a trigger counts as false again: root finding leaves the
    # trigger within about this much of zero at the crossing.
    tolerance = settings.atol + settings.rtol * jnp.max(jnp.abs(x0))

    def trigger(k, s, x):
        return events[k].condition(s, x, p) if state[k] else s - times[k]

    def fire(k, s, x):
        return x.at[events[k].targets].set(events[k].values(s, x, p))

    # At the start: time events at or before t0 fire, and state events whose trigger holds
    # there fire unless it held just before (SBML's initialValue, or the state x_before).
    x = x0
    armed = []
    for k, ev in enumerate(events):
        holds = trigger(k, t, x0) >= 0
        held = jnp.asarray(ev.initial_value) if x_before is None else trigger(k, t, x_before) >= 0
        fires = holds & ~held if state[k] else times[k] <= t
        x = jnp.where(fires, fire(k, t, x), x)
        armed.append(~holds if state[k] else ~fires)
    armed = jnp.asarray(armed)
    n_solves = 1 + sum(STATE_EVENT_CROSSINGS if s else 1 for s in state)
    n_crossings = len(events) + sum(state)
    controller = settings.controller(jump_ts)
    xs = jnp.zeros((ts.shape[0], x0.shape[0]), dtype=x0.dtype)
    status = jnp.asarray(Status.OK, dtype=jnp.int32)
    steady = jnp.asarray(False)

    def saveat(start):  # the end apart: after an event, SaveAt(ts, t1) would put it in the first unused slot
        if steady_state:
            return diffrax.SaveAt(subs=[diffrax.SubSaveAt(t1=True)])
        return diffrax.SaveAt(subs=[diffrax.SubSaveAt(t1=True), diffrax.SubSaveAt(ts=jnp.clip(ts, start, t_end))])

    def up(k):  # diffrax calls conditions with keywords: t, y, args, ...; args[2] is `armed`
        return lambda t, y, args, **_: jnp.where(args[2][k], trigger(k, t, y), -1.0)

    def down(k):
        return lambda t, y, args, **_: jnp.where(args[2][k], 1.0, trigger(k, t, y))

    # The same crossings end every solve; which are armed comes in through args.
    conditions = [up(k) for k in range(len(events))] + [down(k) for k in range(len(events)) if state[k]]
    directions = [True] * len(events) + [False] * sum(state)
    if steady_state:
        conditions.append(diffrax.steady_state_event(settings.steady_state_rtol, settings.steady_state_atol))
        directions.append(None)
    crossing = diffrax.Event(conditions, root_finder=optx.Newton(rtol=1e-10, atol=1e-10), direction=directions)

    def diffrax_stretch(j, t, x, armed, steady):  # as NativeStretches.__call__
        sol = diffrax.diffeqsolve(
            term, settings.solver, t, jnp.where(steady, t, t_end), None, x, args=(p, d, armed),
            saveat=saveat(t), stepsize_controller=controller,
            max_steps=settings.max_steps, throw=False, adjoint=adjoint, event=crossing,
        )
        failed = (sol.result != diffrax.RESULTS.successful) & (sol.result != diffrax.RESULTS.event_occurred)
        return (sol.ts[0][-1], jnp.asarray(sol.event_mask[:n_crossings]),
                sol.event_mask[-1] if steady_state else jnp.asarray(False), sol.ys[0][-1],
                None if steady_state else sol.ys[1], jnp.where(failed, Status.SOLVER_FAILED, Status.OK))

    if _engine(settings, cm) == "native":
        from ._native_events import NativeStretches

        stretch = NativeStretches(cm, p, ts, jump_ts, times, settings, steady_state, site)
    else:
        stretch = diffrax_stretch
    for j in range(n_solves):
        b, crossed, steady_hit, x_end, ys, solved = stretch(j, t, x, armed, steady)
        steady = steady | steady_hit
        stopped = jnp.any(crossed)
        if not steady_state:
            inside = (ts >= t) & ((ts < b) | (~stopped & (ts <= b)))
            xs = jnp.where(inside[:, None], ys, xs)
        status = jnp.where(status == Status.OK, solved, status)
        x, t = x_end, b
        rearmed = list(armed)
        for k in range(len(events)):
            x = jnp.where(crossed[k], fire(k, t, x), x)
            rearmed[k] = rearmed[k] & ~crossed[k]
        for i, k in enumerate(k for k in range(len(events)) if state[k]):
            rearmed[k] = rearmed[k] | crossed[len(events) + i] | (trigger(k, t, x) < -tolerance)
        # An armed trigger that the assignments just made true fires now, at the same time
        # (v2 case 0016: a period's change of S makes S >= 14 hold at t = 10); not one that
        # crossed zero itself in this solve (it sits at zero, either side by rounding).
        for i, k in enumerate(k for k in range(len(events)) if state[k]):
            jumped = stopped & rearmed[k] & ~crossed[k] & ~crossed[len(events) + i] & (trigger(k, t, x) >= 0)
            x = jnp.where(jumped, fire(k, t, x), x)
            rearmed[k] = rearmed[k] & ~jumped
        armed = jnp.asarray(rearmed)
        if j == n_solves - 1:
            status = jnp.where((status == Status.OK) & stopped, Status.TOO_MANY_EVENTS, status)
    if steady_state:
        xs = x[None, :]
        status = jnp.where((status == Status.OK) & ~steady, Status.NO_STEADY_STATE, status)
    status = jnp.where((status == Status.OK) & ~jnp.all(jnp.isfinite(xs)), Status.NOT_FINITE, status)
    return xs, status
