"""The native backend's solver kernels: a template, not imported on its own account.

:mod:`celltwin.simulate._native` writes one Python module per model: the model's generated
functions (``rhs``, ``jac``, ``f_vjp``, ``jac_vjp``) and sizes (``n``, ``nnz``,
``jac_rows``, ``jac_cols``) followed by this file's text, so that numba compiles these
kernels against that model and caches the machine code next to the module (a second
process, or a second run, loads it instead of compiling). See ``_native.py`` for the
method and the derivation of the reverse pass.
"""

import math

import numba
import numpy as np

from celltwin.simulate._rosenbrock import _RODAS5P

# Controller constants, as diffrax's PIDController (safety, factor limits) with pcoeff 0, icoeff 1.
_SAFETY, _FACTOR_MIN, _FACTOR_MAX = 0.9, 0.2, 10.0
A, C, B = _RODAS5P.a.copy(), _RODAS5P.C.copy(), _RODAS5P.b.copy()
gamma = _RODAS5P.gamma
s = A.shape[0]
order = 5.0
_jit = numba.njit(fastmath=False, error_model="numpy", cache=True)
_batch_jit = numba.njit(fastmath=False, error_model="numpy", cache=True, nogil=True)


@_jit
def lu_factor(W, piv):
    """In-place LU with partial pivoting; False if singular."""
    for k in range(n):
        best, arg = abs(W[k, k]), k
        for i in range(k + 1, n):
            if abs(W[i, k]) > best:
                best, arg = abs(W[i, k]), i
        piv[k] = arg
        if best == 0.0 or not np.isfinite(best):
            return False
        if arg != k:
            for j in range(n):
                W[k, j], W[arg, j] = W[arg, j], W[k, j]
        inv = 1.0 / W[k, k]
        for i in range(k + 1, n):
            W[i, k] *= inv
            f = W[i, k]
            if f != 0.0:
                for j in range(k + 1, n):
                    W[i, j] -= f * W[k, j]
    return True

@_jit
def lu_solve(LU, piv, b):
    """Solve ``W x = b`` in place."""
    for k in range(n):
        j = piv[k]
        if j != k:
            b[k], b[j] = b[j], b[k]
    for i in range(n):
        acc = b[i]
        for j in range(i):
            acc -= LU[i, j] * b[j]
        b[i] = acc
    for i in range(n - 1, -1, -1):
        acc = b[i]
        for j in range(i + 1, n):
            acc -= LU[i, j] * b[j]
        b[i] = acc / LU[i, i]

@_jit
def lu_solve_t(LU, piv, b):
    """Solve ``W^T x = b`` in place."""
    for i in range(n):
        acc = b[i]
        for j in range(i):
            acc -= LU[j, i] * b[j]
        b[i] = acc / LU[i, i]
    for i in range(n - 1, -1, -1):
        acc = b[i]
        for j in range(i + 1, n):
            acc -= LU[j, i] * b[j]
        b[i] = acc
    for k in range(n - 1, -1, -1):
        j = piv[k]
        if j != k:
            b[k], b[j] = b[j], b[k]

@_jit
def stages(y0, p, h, J, W, piv, U, Z, tmp):
    """One Rodas5P step from ``y0`` with step ``h``: stage inputs ``Z`` and stages ``U``
    (rows), the factorised ``W = I/gamma - h J``. False if ``W`` is singular."""
    J[:, :] = 0.0
    jac(y0, p, J)
    for a in range(n):
        for b in range(n):
            W[a, b] = -h * J[a, b]
        W[a, a] += 1.0 / gamma
    if not lu_factor(W, piv):
        return False
    for i in range(s):
        for a in range(n):
            acc = y0[a]
            for j in range(i):
                acc += A[i, j] * U[j, a]
            Z[i, a] = acc
        rhs(Z[i], p, tmp)
        for a in range(n):
            acc = h * tmp[a]
            for j in range(i):
                acc += C[i, j] * U[j, a]
            U[i, a] = acc
        lu_solve(W, piv, U[i])
    return True

@_jit
def error_norm(y0, U, rtol, atol):
    total = 0.0
    for a in range(n):
        y1 = y0[a]
        for j in range(s):
            y1 += B[j] * U[j, a]
        scale = atol + rtol * max(abs(y0[a]), abs(y1))
        e = U[s - 1, a] / scale
        total += e * e
    return math.sqrt(total / n) if n else 0.0

@_jit
def initial_step(y0, p, t_span, rtol, atol, tmp, tmp2, y1):
    """Hairer & Wanner's starting step (as diffrax's ``PIDController``)."""
    rhs(y0, p, tmp)
    d0, d1 = 0.0, 0.0
    for a in range(n):
        scale = atol + rtol * abs(y0[a])
        d0 += (y0[a] / scale) ** 2
        d1 += (tmp[a] / scale) ** 2
    d0, d1 = math.sqrt(d0 / n), math.sqrt(d1 / n)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, t_span)
    for a in range(n):
        y1[a] = y0[a] + h0 * tmp[a]
    rhs(y1, p, tmp2)
    d2 = 0.0
    for a in range(n):
        scale = atol + rtol * abs(y0[a])
        d2 += ((tmp2[a] - tmp[a]) / scale) ** 2
    d2 = math.sqrt(d2 / n) / h0
    m = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if m <= 1e-15 else (0.01 / m) ** (1.0 / order)
    return min(100.0 * h0, h1)

@_jit
def solve_one(p, x0, ts, t0, rtol, atol, max_steps, xs, tape, out_step):
    """Integrate from ``(t0, x0)`` through the output times ``ts``; write ``xs`` and, for
    every accepted step while the tape has room, its ``y0``, ``h``, stage inputs,
    stages and factorised ``W`` (see :func:`_new_tape`); ``out_step[k]`` is the step
    after which output ``k`` was taken. Returns ``(status, n_accepted, fully taped)``."""
    tape_y, tape_h, tape_u, tape_z, tape_w, tape_piv = tape
    capacity = tape_h.shape[0]
    nt = ts.shape[0]
    J = np.empty((n, n))
    W = np.empty((n, n))
    piv = np.empty(n, dtype=np.int64)
    U = np.empty((s, n))
    Z = np.empty((s, n))
    tmp = np.empty(n)
    tmp2 = np.empty(n)
    y = x0.copy()
    t = t0
    k = 0
    while k < nt and ts[k] <= t0:
        xs[k] = y
        out_step[k] = -1
        k += 1
    if k == nt:
        return 0, 0, True
    h = initial_step(y, p, ts[nt - 1] - t0, rtol, atol, tmp, tmp2, Z[0])
    accepted = 0
    attempts = 0
    while k < nt:
        if attempts >= max_steps:
            return 1, accepted, False
        attempts += 1
        remaining = ts[k] - t
        hit = h >= remaining * (1.0 - 1e-12)
        hh = remaining if hit else h
        ok = stages(y, p, hh, J, W, piv, U, Z, tmp)
        norm = error_norm(y, U, rtol, atol) if ok else np.inf
        if not np.isfinite(norm):
            h = hh * _FACTOR_MIN
            if h < 1e-14 * max(1.0, abs(t)):
                return 1, accepted, False
            continue
        factor = _FACTOR_MAX if norm == 0.0 else min(_FACTOR_MAX, max(_FACTOR_MIN, _SAFETY * norm ** (-1.0 / order)))
        if norm <= 1.0:
            if accepted < capacity:
                tape_y[accepted] = y
                tape_h[accepted] = hh
                tape_u[accepted] = U
                tape_z[accepted] = Z
                tape_w[accepted] = W
                tape_piv[accepted] = piv
            for a in range(n):
                acc = y[a]
                for j in range(s):
                    acc += B[j] * U[j, a]
                y[a] = acc
            for a in range(n):
                if not np.isfinite(y[a]):
                    return 2, accepted, False
            t = ts[k] if hit else t + hh
            while k < nt and ts[k] <= t:
                xs[k] = y
                out_step[k] = accepted
                k += 1
            accepted += 1
            h = hh * factor
        else:
            h = hh * min(1.0, factor)
        if h < 1e-14 * max(1.0, abs(t)):
            return 1, accepted, False
    return 0, accepted, accepted <= capacity


@_jit
def add_to_earlier_stages(Ubar, coefficients, i, v):
    """``Ubar[j] += coefficients[j] * v`` for the stages ``j < i`` (skipping zero coefficients)."""
    for j in range(i):
        c = coefficients[j]
        if c != 0.0:
            for a in range(v.shape[0]):
                Ubar[j, a] += c * v[a]


@_jit
def adjoint_one(p, tape, out_step, n_steps, xbar, pbar, x0bar):
    """Reverse pass over the taped steps: ``pbar`` (added to) and ``x0bar`` from the
    outputs' cotangents ``xbar``."""
    tape_y, tape_h, tape_u, tape_z, tape_w, tape_piv = tape
    nt = xbar.shape[0]
    tmp = np.empty(n)
    Ubar = np.empty((s, n))
    M = np.empty(nnz)
    rbar = np.empty(n)
    ybar = np.zeros(n)
    kk = nt - 1
    for m in range(n_steps - 1, -1, -1):
        while kk >= 0 and out_step[kk] == m:
            for a in range(n):
                ybar[a] += xbar[kk, a]
            kk -= 1
        h = tape_h[m]
        U, Z, W, piv = tape_u[m], tape_z[m], tape_w[m], tape_piv[m]
        for j in range(s):
            for a in range(n):
                Ubar[j, a] = B[j] * ybar[a]
        M[:] = 0.0
        for i in range(s - 1, -1, -1):
            for a in range(n):
                rbar[a] = Ubar[i, a]
            lu_solve_t(W, piv, rbar)
            # W = I/gamma - h J(y0, p): J gets h * rbar u_i^T (only its non-zeros matter).
            for q in range(nnz):
                M[q] += rbar[jac_rows[q]] * U[i, jac_cols[q]]
            add_to_earlier_stages(Ubar, C[i], i, rbar)
            # F_i = h f(Z_i): Z_i gets h J(Z_i)^T rbar, p gets h (df/dp)^T rbar.
            for a in range(n):
                rbar[a] *= h
            f_vjp(Z[i], p, rbar, tmp, pbar)
            for a in range(n):
                ybar[a] += tmp[a]
            add_to_earlier_stages(Ubar, A[i], i, tmp)
        for q in range(nnz):
            M[q] *= h
        jac_vjp(tape_y[m], p, M, ybar, pbar)
    while kk >= 0:
        for a in range(n):
            ybar[a] += xbar[kk, a]
        kk -= 1
    for a in range(n):
        x0bar[a] = ybar[a]

@_batch_jit
def forward(lo, hi, P, X0, TS, t0, rtol, atol, max_steps, XS, status, n_steps, taped, tape, out_step):
    ty, th, tu, tz, tw, tp = tape
    for b in range(lo, hi):
        st, m, full = solve_one(P[b], X0[b], TS[b], t0, rtol, atol, max_steps, XS[b],
                                (ty[b], th[b], tu[b], tz[b], tw[b], tp[b]), out_step[b])
        status[b] = st
        n_steps[b] = m
        taped[b] = full

@_batch_jit
def adjoint(lo, hi, P, X0, TS, t0, rtol, atol, max_steps, status, n_steps, taped, tape, out_step, XBAR, PBAR,
            X0BAR):
    ty, th, tu, tz, tw, tp = tape
    for b in range(lo, hi):
        PBAR[b] = 0.0
        X0BAR[b] = 0.0
        if status[b] != 0:
            continue
        if taped[b]:
            adjoint_one(P[b], (ty[b], th[b], tu[b], tz[b], tw[b], tp[b]), out_step[b], n_steps[b],
                        XBAR[b], PBAR[b], X0BAR[b])
        else:  # the tape overflowed: solve again with room for every step
            nt = TS.shape[1]
            own = (np.empty((max_steps, n)), np.empty(max_steps), np.empty((max_steps, s, n)),
                   np.empty((max_steps, s, n)), np.empty((max_steps, n, n)),
                   np.empty((max_steps, n), dtype=np.int64))
            steps = np.empty(nt, dtype=np.int64)
            _, m, _ = solve_one(P[b], X0[b], TS[b], t0, rtol, atol, max_steps, np.empty((nt, n)), own, steps)
            adjoint_one(P[b], own, steps, m, XBAR[b], PBAR[b], X0BAR[b])



