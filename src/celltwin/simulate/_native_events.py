"""Events triggered by the state on the native engine: one compiled search per stretch
between crossings, the taped solve only for derivatives, and the firing time
differentiated by the implicit function theorem.

The search (:func:`first_crossing` in ``_native_kernels.py``) integrates until the first
armed trigger changes sign within a step and locates the root on the method's own dense
output (continuous in time; as diffrax's event root finding), and writes the states at the
output times from the same dense output (as diffrax's ``SaveAt(ts)``). It keeps no tape
and has no derivative: where one is taken, the stretch is solved again up to the time
found by the taped solve whose discrete adjoint gives it (:func:`native_time_course`;
:func:`_solved_values`), so the adjoint stays the one of time courses without events and
a value alone costs one compiled call per stretch. The firing time ``t*`` solves
``g(x(t*), t*, p) = 0``; its derivative is ``dt*/dtheta = -(dg/dtheta at fixed t) /
(dg/dt)`` with the total ``dg/dt = g_t + grad_x g . f``, and the state there moves with
it by ``f(t*, x(t*)) dt*``. Both enter as terms that are zero in value and carry exactly those
derivatives (``v - stop_gradient(v)``).

The bookkeeping (which events are armed, what fires, the limit on crossings) is the
diffrax path's, in :func:`celltwin.simulate._solve._time_course_with_state_events`; time
events end a stretch at their (differentiable) time instead of being searched for.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ..model import CompiledModel
from ._host_call import host_call, register
from ._native import _flat, _kernels, _Timed, generated, native_time_course


@functools.lru_cache(maxsize=None)
def _search(gen, rtol: float, atol: float, max_steps: int, ss_rtol: float, ss_atol: float):
    """The JAX function ``(p, x0, t0, bound, jumps, armed, ts) -> (time, which, status,
    state, state just before, states at ts)`` of :func:`first_crossing` (no derivatives: its
    inputs are held constant)."""
    model = (*gen.model, gen.linear_algebra.w_size, gen.trigger)
    kernel = functools.partial(_kernels().first_crossing, *model)
    timed = _Timed()

    def search(p, x0, t0, bound, jumps, armed, ts, t_stop, which, status, x_stop, x_left, xs):
        batch = np.broadcast_shapes(p.shape[:-1], x0.shape[:-1], np.shape(t0), np.shape(bound), jumps.shape[:-1],
                                    armed.shape[:-1], ts.shape[:-1])
        X0 = _flat(x0, batch + (gen.n_ode,), 1)
        if gen.time_state:  # its value is set from t0 by the kernel
            X0 = np.concatenate([X0, np.zeros((X0.shape[0], 1))], axis=1)
        b = X0.shape[0]
        nt, n = ts.shape[-1], X0.shape[1]
        out = (np.empty(b), np.empty(b, dtype=np.int32), np.empty(b, dtype=np.int32), np.empty((b, n)),
               np.empty((b, n)), np.empty((b, nt, n)))
        args = (_flat(p, batch + p.shape[-1:], 1), X0, _flat(t0, batch, 0), _flat(bound, batch, 0),
                _flat(jumps, batch + jumps.shape[-1:], 1), _flat(armed, batch + armed.shape[-1:], 1),
                _flat(ts, batch + (nt,), 1), rtol, atol, max_steps, ss_rtol, ss_atol, *out)
        timed(kernel, b, *args)
        for target, value in zip((t_stop, which, status), out):
            target[...] = value.reshape(batch)
        x_stop[...] = out[3][:, :gen.n_ode].reshape(batch + (gen.n_ode,))
        x_left[...] = out[4][:, :gen.n_ode].reshape(batch + (gen.n_ode,))
        xs[...] = out[5][:, :, :gen.n_ode].reshape(batch + (nt, gen.n_ode))

    key = register(f"native crossing {gen.digest} {gen.linear_algebra.sparse} {rtol!r} {atol!r} {max_steps} "
                   f"{ss_rtol!r} {ss_atol!r}", search)

    def call(p, x0, t0, bound, jumps, armed, ts):
        shapes = (jax.ShapeDtypeStruct((), jnp.float64), jax.ShapeDtypeStruct((), jnp.int32),
                  jax.ShapeDtypeStruct((), jnp.int32), jax.ShapeDtypeStruct((gen.n_ode,), jnp.float64),
                  jax.ShapeDtypeStruct((gen.n_ode,), jnp.float64), jax.ShapeDtypeStruct(ts.shape + (gen.n_ode,),
                                                                                          jnp.float64))
        args = [jax.lax.stop_gradient(jnp.asarray(a, dtype=jnp.float64))
                for a in (p, x0, t0, bound, jumps, armed, ts)]
        return host_call(key, shapes, *args)

    return call


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _solved_values(solve, values, p, x, t, seg_ts, jumps):
    """``values`` (the search's states at ``seg_ts``) with the derivatives of the taped solve
    ``solve(p, x, t, seg_ts, jumps)`` (its discrete adjoint): the solve runs only where a
    derivative is taken, so a log-likelihood alone costs one compiled call per stretch."""
    return values


def _solved_values_fwd(solve, values, p, x, t, seg_ts, jumps):
    _, pullback = jax.vjp(solve, p, x, t, seg_ts, jumps)
    return values, pullback


def _solved_values_bwd(solve, pullback, cotangent):
    return (jnp.zeros_like(cotangent), *pullback(cotangent))


_solved_values.defvjp(_solved_values_fwd, _solved_values_bwd)


class NativeStretches:
    """Solves the stretches of a time course with state events on the native engine (one
    per call), in the form the bookkeeping loop takes them.

    Arguments:
        times: firing times of the time events (``inf`` for the state events).
        steady_state: stop at the first steady step (``ts`` is then ``[max time]``).
    """

    def __init__(self, cm: CompiledModel, p, ts, jump_ts, times, settings, steady_state: bool, site: int):
        self.cm, self.p, self.ts, self.times, self.settings = cm, p, ts, times, settings
        self.steady_state, self.site = steady_state, site
        self.jumps = jnp.zeros((0,)) if jump_ts is None else jnp.asarray(jump_ts, dtype=jnp.float64)
        self.state = [k for k, ev in enumerate(cm.events) if ev.condition is not None]
        self.timed = [k for k, ev in enumerate(cm.events) if ev.condition is None]
        ss = (settings.steady_state_rtol, settings.steady_state_atol) if steady_state else (-1.0, -1.0)
        self.search = _search(generated(cm), float(settings.rtol), float(settings.atol), int(settings.max_steps),
                              float(ss[0]), float(ss[1]))
        self.derived = cm.derived(p)

    def __call__(self, j: int, t, x, armed, steady):
        """Solve from ``(t, x)`` to the first crossing (or time event, or the end).

        Returns:
            ``(b, crossed, steady_hit, x_end, ys, status)``: where the stretch ended, which
            crossings ended it (the up-crossing of every event, then the down-crossing of
            every state event), whether a steady state did, the state there, the states at
            ``ts`` (valid inside the stretch; None for a steady state) and a status code.
        """
        end = jnp.where(steady, t, self.ts[-1])
        bound = end
        if self.timed:
            idx = jnp.asarray(self.timed)
            bound = jnp.minimum(end, jnp.min(jnp.where(armed[idx], self.times[idx], jnp.inf)))
        if j == 0:
            return self._solve(j, t, x, armed, bound)
        # The stretches after the end (their number is fixed when JAX traces) are skipped
        # where no event is left to fire there: each solve is two host calls (under vmap,
        # where lax.cond computes both branches, they are solves of length zero).
        n_events, ne = len(self.cm.events), len(self.state)
        done = bound <= t
        if self.timed:
            done = done & ~jnp.any(armed[idx] & (self.times[idx] <= t))
        skipped = (t, jnp.zeros(n_events + ne, dtype=bool), jnp.asarray(False), x,
                   None if self.steady_state else jnp.broadcast_to(x, (self.ts.shape[0],) + x.shape),
                   jnp.asarray(0, dtype=jnp.int32))
        return jax.lax.cond(done, lambda: skipped, lambda: self._solve(j, t, x, armed, bound))

    def _solve(self, j, t, x, armed, bound):
        cm, p, ts, times, s = self.cm, self.p, self.ts, self.times, self.settings
        ne = len(self.state)
        outputs = jnp.zeros((0,)) if self.steady_state else jnp.clip(ts, t, bound)
        t_stop, which, searched, x_stop, x_left, xs = self.search(p, x, t, bound, self.jumps,
                                                                  armed[jnp.asarray(self.state)], outputs)
        crossed_state = (which >= 0) & (which < 2 * ne)
        steady_hit = (which == 2 * ne) if self.steady_state else jnp.asarray(False)
        last = jnp.where(crossed_state | steady_hit, t_stop, bound)
        seg_ts = last[None] if self.steady_state else jnp.concatenate([jnp.clip(ts, t, last), last[None]])

        def solve(p, x, t, seg_ts, jumps):
            return native_time_course(cm, p, x, seg_ts, t0=t, jump_ts=jumps, rtol=s.rtol, atol=s.atol,
                                      max_steps=s.max_steps, site=self.site * 64 + j)[0]

        # The search's states (where it stopped: at a crossing, on the crossed side of the
        # trigger, which the bookkeeping relies on) with the derivatives of the solve.
        ys = _solved_values(solve, jnp.concatenate([xs, x_stop[None]]), p, x, t, seg_ts, self.jumps)
        t_cross, x_end = self._firing_time(last, ys[-1], x_left, which % max(ne, 1), crossed_state)
        b = jnp.where(crossed_state, t_cross, last)
        crossed = [jnp.asarray(False)] * len(cm.events)
        for i, k in enumerate(self.state):
            crossed[k] = which == i
        for k in self.timed:
            crossed[k] = ~crossed_state & ~steady_hit & armed[k] & (times[k] <= bound)
        crossed += [which == ne + i for i in range(ne)]
        status = searched.astype(jnp.int32)
        return b, jnp.asarray(crossed), steady_hit, x_end, None if self.steady_state else ys[:-1], status

    def _firing_time(self, t, x, x_left, i, crossed):
        """``t`` and ``x`` with the derivatives of a crossing of trigger ``i`` there (see
        the module docstring); unchanged where ``crossed`` is false. The velocity is the one
        just before the crossing (at ``x_left``): a right-hand side that switches where the
        trigger does (a rate that stops at the threshold, PEtab v2 case 0023) led there."""
        cm, p = self.cm, self.p
        f = cm.rhs(t, jax.lax.stop_gradient(x_left), p, self.derived)
        g, dg_dt = [], []
        for k in self.state:
            value, rate = jax.jvp(lambda s, y, k=k: cm.events[k].condition(s, y, p), (t, x),
                                  (jnp.ones_like(t), jax.lax.stop_gradient(f)))
            g.append(value)
            dg_dt.append(rate)
        chosen = jnp.arange(len(self.state)) == i
        g, dg_dt = jnp.sum(jnp.where(chosen, jnp.stack(g), 0.0)), jnp.sum(jnp.where(chosen, jnp.stack(dg_dt), 0.0))
        dg_dt = jax.lax.stop_gradient(jnp.where(crossed & (dg_dt != 0.0), dg_dt, 1.0))
        shift = jnp.where(crossed, -(g - jax.lax.stop_gradient(g)) / dg_dt, 0.0)  # zero in value
        return t + shift, x + jax.lax.stop_gradient(f) * shift
