"""The Rosenbrock solvers (Rodas5P, Rodas4): order, stiff accuracy, gradients, vmap."""

from __future__ import annotations

import functools

import celltwin  # noqa: F401  (float64)
import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from celltwin.simulate._rosenbrock import Rodas4, Rodas5P

SOLVERS = [pytest.param(Rodas5P, 5, id="Rodas5P"), pytest.param(Rodas4, 4, id="Rodas4")]

# Dense-output orders (local error of the interpolant is O(h^(q+1))).
DENSE_ORDER = {Rodas5P: 4, Rodas4: 3}


# y' = -y + w sin(t): non-autonomous (exercises df/dt), y = (y0 + w/2) e^-t + w (sin t - cos t)/2
_W = np.array([1.0, 2.0, -0.5])


def _forced_term():
    w = jnp.asarray(_W)
    return diffrax.ODETerm(lambda t, y, args: -y + w * jnp.sin(t))


def _forced_exact(t, y0):
    return (y0 + _W / 2) * np.exp(-t) + _W * (np.sin(t) - np.cos(t)) / 2


def _fixed_step_errors(solver, dts, t_end=2.0):
    y0 = np.array([1.0, 1.0, 0.3])

    @jax.jit
    def solve(dt, ts):
        return diffrax.diffeqsolve(
            _forced_term(), solver(), 0.0, t_end, dt, jnp.asarray(y0),
            stepsize_controller=diffrax.ConstantStepSize(), saveat=diffrax.SaveAt(ts=ts),
        ).ys

    end_err, dense_err = [], []
    for dt in dts:
        # The first output point lies strictly inside a step: it measures the dense output.
        ts = np.array([t_end - dt * 0.6, t_end])
        ys = np.asarray(solve(dt, jnp.asarray(ts)))
        dense_err.append(np.abs(ys[0] - _forced_exact(ts[0], y0)).max())
        end_err.append(np.abs(ys[1] - _forced_exact(t_end, y0)).max())
    return np.array(end_err), np.array(dense_err)


@pytest.mark.parametrize("solver,order", SOLVERS)
def test_convergence_order(solver, order):
    dts = np.array([0.2, 0.1, 0.05, 0.025])
    end_err, dense_err = _fixed_step_errors(solver, dts)
    slope = np.polyfit(np.log(dts), np.log(end_err), 1)[0]
    assert abs(slope - order) < 0.3, (slope, end_err)
    dense_slope = np.polyfit(np.log(dts), np.log(dense_err), 1)[0]
    assert dense_slope > DENSE_ORDER[solver] + 1 - 0.5, (dense_slope, dense_err)


def _robertson(t, y, args):
    k1, k2, k3 = args
    y1, y2, y3 = y[0], y[1], y[2]
    return jnp.stack([
        -k1 * y1 + k3 * y2 * y3,
        k1 * y1 - k3 * y2 * y3 - k2 * y2**2,
        k2 * y2**2,
    ])


_ROB_K = (0.04, 3e7, 1e4)


def _robertson_np(t, y):
    k1, k2, k3 = _ROB_K
    return [-k1 * y[0] + k3 * y[1] * y[2], k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] ** 2, k2 * y[1] ** 2]


def _adaptive(solver, term, y0, ts, args=None, rtol=1e-8, atol=1e-10, **kwargs):
    return diffrax.diffeqsolve(
        term, solver(), 0.0, float(ts[-1]), None, jnp.asarray(y0), args=args,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol, pcoeff=0.4, icoeff=0.3),
        saveat=diffrax.SaveAt(ts=jnp.asarray(ts)), max_steps=100_000, **kwargs,
    )


def _assert_close(ys, ref, rtol, atol):
    err = np.abs(np.asarray(ys) - ref) / (atol + rtol * np.abs(ref))
    assert err.max() <= 1.0, (err.max(), np.unravel_index(err.argmax(), err.shape))


@pytest.mark.parametrize("solver,order", SOLVERS)
def test_robertson_vs_radau(solver, order):
    ts = np.array([1e-4, 0.3, 4.0, 40.0, 400.0, 4e3, 4e4])
    y0 = [1.0, 0.0, 0.0]
    ref = solve_ivp(_robertson_np, (0, ts[-1]), y0, method="Radau", rtol=1e-12, atol=1e-14,
                    t_eval=ts).y.T
    sol = _adaptive(solver, diffrax.ODETerm(_robertson), y0, ts, args=_ROB_K)
    assert sol.result == diffrax.RESULTS.successful
    # Relative agreement 1e-6, down to the solver's own absolute tolerance (y2 is ~1e-5..1e-7).
    _assert_close(sol.ys, ref, rtol=1e-6, atol=1e-10)
    # Much cheaper than the step counts of an explicit method would be.
    assert int(sol.stats["num_steps"]) < 2000


@pytest.mark.parametrize("solver,order", SOLVERS)
def test_stiff_linear_vs_exact(solver, order):
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    A = Q @ np.diag([-1e6, -1e4, -10.0, -1.0, -0.1]) @ Q.T + 0.1 * np.triu(rng.normal(size=(5, 5)), 1)
    y0 = rng.normal(size=5)
    ts = np.array([1e-3, 0.1, 1.0, 5.0, 20.0])
    # Exact solution (scipy's Radau at rtol 1e-12 / atol 1e-14 needs ~1 min on this problem).
    ref = np.stack([expm(A * t) @ y0 for t in ts])
    Aj = jnp.asarray(A)
    sol = _adaptive(solver, diffrax.ODETerm(lambda t, y, args: Aj @ y), y0, ts)
    assert sol.result == diffrax.RESULTS.successful
    _assert_close(sol.ys, ref, rtol=1e-6, atol=1e-9)


def _decay_loss(solver, theta, controller, adjoint):
    """A two-parameter stiff-ish reversible reaction A <-> B -> C, observed at a few times."""

    def rhs(t, y, th):
        kf, kr = jnp.exp(th[0]), jnp.exp(th[1])
        a, b = y[0], y[1]
        return jnp.stack([-kf * a + kr * b, kf * a - kr * b - 2.0 * b + 0.1 * jnp.sin(t), 2.0 * b])

    ts = jnp.asarray([0.5, 1.0, 3.0])
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs), solver(), 0.0, 3.0, 0.05, jnp.asarray([1.0, 0.0, 0.0]), args=theta,
        stepsize_controller=controller, saveat=diffrax.SaveAt(ts=ts), adjoint=adjoint,
        max_steps=10_000,
    )
    return jnp.sum(sol.ys[:, 1] ** 2) + jnp.sum(sol.ys[:, 2])


def test_gradients():
    """Reverse mode, forward mode and central finite differences agree (Rodas5P; Rodas4 runs
    the same code with another tableau)."""
    solver = Rodas5P
    theta = jnp.asarray([np.log(50.0), np.log(5.0)])
    pid = diffrax.PIDController(rtol=1e-10, atol=1e-12, pcoeff=0.4, icoeff=0.3)
    loss = jax.jit(lambda th: _decay_loss(solver, th, pid, diffrax.RecursiveCheckpointAdjoint()))
    rev = jax.jit(jax.grad(lambda th: _decay_loss(solver, th, pid, diffrax.RecursiveCheckpointAdjoint())))
    fwd = jax.jit(jax.jacfwd(lambda th: _decay_loss(solver, th, pid, diffrax.ForwardMode())))
    g_rev, g_fwd = np.asarray(rev(theta)), np.asarray(fwd(theta))
    np.testing.assert_allclose(g_rev, g_fwd, rtol=1e-10, atol=1e-12)
    # With adaptive steps FD sees the step sequence change too: agreement to ~tolerance / eps.
    eps, e = 1e-4, np.eye(2)
    fd = np.array([(loss(theta + eps * e[i]) - loss(theta - eps * e[i])) / (2 * eps) for i in range(2)])
    np.testing.assert_allclose(g_rev, fd, rtol=1e-5, atol=1e-8)


def test_vmap():
    solver = Rodas5P
    ks = jnp.asarray([[0.04, 3e7, 1e4], [0.08, 1e7, 2e4], [0.01, 3e6, 5e3]])
    ts = np.array([1.0, 10.0, 100.0])

    @jax.jit
    def solve(k):
        return _adaptive(solver, diffrax.ODETerm(_robertson), jnp.asarray([1.0, 0.0, 0.0]), ts,
                         args=tuple(k)).ys

    batched = np.asarray(jax.vmap(solve)(ks))
    for i in range(ks.shape[0]):
        # not bit-identical: a batched matrix product sums in another order than a single one
        np.testing.assert_allclose(batched[i], np.asarray(solve(ks[i])), rtol=1e-10, atol=1e-18)


@pytest.mark.parametrize("solver", [Rodas5P, Rodas4])
def test_linear_solve_lu_and_inverse_agree(solver):
    """The stage systems solved by LU or by the explicit inverse give the same solution of
    the stiff Robertson problem to far below the tolerances, and both match Radau."""
    ts = np.array([1e-4, 0.3, 40.0, 4e3, 4e4])
    y0 = [1.0, 0.0, 0.0]
    ys = {m: np.asarray(_adaptive(functools.partial(solver, linear_solve=m), diffrax.ODETerm(_robertson), y0, ts,
                                  args=_ROB_K).ys)
          for m in ("lu", "inverse", "auto")}
    np.testing.assert_allclose(ys["inverse"], ys["lu"], rtol=1e-9, atol=1e-16)
    np.testing.assert_array_equal(ys["auto"], ys["inverse"])  # 3 states: auto is the inverse
    ref = solve_ivp(_robertson_np, (0, ts[-1]), y0, method="Radau", rtol=1e-12, atol=1e-14, t_eval=ts).y.T
    _assert_close(ys["inverse"], ref, rtol=1e-6, atol=1e-10)
    with pytest.raises(ValueError, match="linear_solve"):
        solver(linear_solve="qr")


def test_pytree_state_and_backwards_time():
    """PyTree states and integration backwards in time (diffrax's time-reversing term wrapper)."""

    def rhs(t, y, args):
        return {"a": -y["a"] + jnp.sin(t), "b": -2.0 * y["b"]}

    y0 = {"a": jnp.asarray(1.0), "b": jnp.asarray([1.0, 2.0])}
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs), Rodas5P(), 2.0, 0.0, -0.1, y0,
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-12),
        saveat=diffrax.SaveAt(ts=jnp.asarray([1.3, 0.0])),
    )
    # a(t) = C e^-t + (sin t - cos t)/2 with a(2) = 1
    C = (1.0 - (np.sin(2.0) - np.cos(2.0)) / 2) * np.exp(2.0)
    for i, t in enumerate([1.3, 0.0]):
        np.testing.assert_allclose(float(sol.ys["a"][i]), C * np.exp(-t) + (np.sin(t) - np.cos(t)) / 2, rtol=1e-8)
        np.testing.assert_allclose(np.asarray(sol.ys["b"][i]), np.array([1.0, 2.0]) * np.exp(-2.0 * (t - 2.0)),
                                   rtol=1e-8)
