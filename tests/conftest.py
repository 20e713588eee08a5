"""Shared test fixtures.

* ``shared_data``: the folder of public reference data (PEtab test suite, benchmark
  problems). Its path comes from ``$CELLTWIN_SHARED_DATA``, default ``<repo>/../shared/data``;
  tests that need it are skipped (with the path in the message) when it is absent.
* ``simulate``: simulate a :class:`celltwin.model.Model` (or SBML text) at output times,
  with its events and piecewise switch times handled, at tight tolerances.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_path() -> Path:
    """Where the shared reference data lives (it may not exist)."""
    env = os.environ.get("CELLTWIN_SHARED_DATA")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data").resolve()


def require_shared(*parts: str) -> Path:
    """The path ``<shared data>/<parts...>``; skips the calling test when it is missing."""
    path = shared_data_path().joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"shared reference data not found at {path} "
            "(set CELLTWIN_SHARED_DATA to the folder that holds petab-test-suite/ and petab-benchmark/)"
        )
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared reference data folder; skips the test when it is absent."""
    return require_shared()


def simulate_model(model, ts: Sequence[float], expressions: Sequence[str] = (), *, rtol: float = 1e-10,
                   atol: float = 1e-12, parameters: dict[str, float] | None = None):
    """Simulate ``model`` (a Model, or SBML text / path) from t=0 to the output times ``ts``.

    Returns ``(states, values)``: a dict ``state id -> array over ts`` and, for each string in
    ``expressions`` (any model id or expression over ids, e.g. an assignment-rule variable),
    its value over ``ts``.
    """
    import jax.numpy as jnp
    import sympy as sp

    from celltwin.model import Model, compile_model, from_sbml
    from celltwin.model._model import as_expr
    from celltwin.simulate import SolverSettings, Status, solve_time_course

    if not isinstance(model, Model):
        model = from_sbml(model)
    cm = compile_model(model)
    p = np.array(cm.parameter_values, dtype=float)
    for pid, value in (parameters or {}).items():
        p[cm.parameter_index(pid)] = value
    subs = dict(zip(cm.parameter_symbols, [sp.Float(v) for v in p]))
    event_times = np.array([float(ev.time.xreplace(subs)) for ev in cm.events])
    order = tuple(int(i) for i in np.argsort(event_times, kind="stable"))
    jumps = sorted(float(e.xreplace(subs)) for e in cm.jump_time_exprs)
    ts = np.asarray(ts, dtype=float)
    settings = SolverSettings(rtol=rtol, atol=atol)
    pj = jnp.asarray(p)
    xs, status = solve_time_course(
        cm, pj, cm.x0(pj), jnp.asarray(ts),
        event_times=jnp.asarray(event_times) if len(event_times) else None, event_order=order,
        jump_ts=jnp.asarray(jumps) if jumps else None, settings=settings,
    )
    assert int(status) == Status.OK, Status(int(status)).describe()
    xs = np.asarray(xs)
    states = {sid: xs[:, i] for i, sid in enumerate(cm.state_ids)}
    values = []
    if expressions:
        f = cm.function_of_state([as_expr(e) for e in expressions])
        values = [np.array([float(f(t, x, pj)[k]) for t, x in zip(ts, xs)]) for k in range(len(expressions))]
    return states, values


@pytest.fixture(scope="session")
def simulate():
    """The :func:`simulate_model` helper."""
    return simulate_model


def reference_solution(rhs, y0: Sequence[float], ts: Sequence[float], *, t0: float = 0.0, events=()):
    """scipy ``solve_ivp`` (LSODA, rtol 1e-10) of ``dy/dt = rhs(t, y)``; ``events`` are
    ``(time, function y -> new y)`` applied at fixed times. Returns an array (len(ts), n)."""
    from scipy.integrate import solve_ivp

    ts = np.asarray(ts, dtype=float)
    y = np.asarray(y0, dtype=float)
    out = np.empty((len(ts), len(y)))
    bounds = [t0, *sorted(t for t, _ in events), max(ts.max(), t0)]
    actions = [f for _, f in sorted(events, key=lambda e: e[0])]
    for j in range(len(bounds) - 1):
        a, b = bounds[j], bounds[j + 1]
        last = j == len(bounds) - 2
        mask = (ts >= a) & ((ts <= b) if last else (ts < b))
        if b > a:
            t_eval = np.unique(np.concatenate([ts[mask], [b]]))
            sol = solve_ivp(rhs, (a, b), y, method="LSODA", rtol=1e-10, atol=1e-12, t_eval=t_eval)
            assert sol.success, sol.message
            if mask.any():
                out[mask] = sol.y[:, np.searchsorted(t_eval, ts[mask])].T
            y = sol.y[:, -1]
        elif mask.any():
            out[mask] = y
        if not last:
            y = np.asarray(actions[j](y.copy()), dtype=float)
    return out


@pytest.fixture(scope="session")
def reference():
    """The :func:`reference_solution` helper."""
    return reference_solution
