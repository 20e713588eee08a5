"""The native backend's solver kernels, the same machine code for every model.

The model arrives as a tuple ``M = (rhs, jac, f_vjp, jac_vjp, jac_rows, jac_cols, sizes, L,
w_size)``: its four functions as the integer addresses of C functions taking ``double *``
arguments (C compiled per model, or numba ``cfunc``s where no C compiler is found; see
:mod:`celltwin.simulate._native`), ``sizes = [n, n_ode, time_state, sparse]`` and ``L`` the
LU's pattern arrays. So numba compiles these kernels once and caches them for every model;
a new model costs only the compilation of its own functions, and a call through a pointer
(~10 ns) nothing next to a right-hand side's arithmetic. The entry points :func:`forward`,
:func:`adjoint` and :func:`first_crossing` (events triggered by the state, with the model's
``trigger`` function's address besides) take the parts as separate arguments and build
the tuple inside.

:mod:`celltwin.simulate._native` loads this file as a module from the private cache folder
(named by the hash of its text), so that numba keeps the compiled kernels there. See
``_native.py`` for the method and the derivation of the reverse pass.
"""

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from celltwin.simulate._native_sparse import MAX_GROWTH
from celltwin.simulate._rosenbrock import _RODAS5P

# Controller constants, as diffrax's PIDController (safety, factor limits) with pcoeff 0, icoeff 1.
_SAFETY, _FACTOR_MIN, _FACTOR_MAX = 0.9, 0.2, 10.0
A, C, B = _RODAS5P.a.copy(), _RODAS5P.C.copy(), _RODAS5P.b.copy()
H = _RODAS5P.H.copy()
gamma = _RODAS5P.gamma
s = A.shape[0]
order = 5.0
_jit = numba.njit(fastmath=False, error_model="numpy", cache=True)


@intrinsic
def _ptr(typingctx, array):
    """The address of an array's first element, as the ``double *`` the model's functions take."""
    def codegen(context, builder, signature, args):
        return context.make_array(array)(context, builder, args[0]).data

    return types.CPointer(array.dtype)(array), codegen


@intrinsic
def _row_ptr(typingctx, array, i):
    """The address of ``array[i]`` (a 2-d array's row ``i``), without making a view of it
    (see ``stages``)."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(array)(context, builder, args[0])
        stride = cgutils.unpack_tuple(builder, ary.strides)[0]
        address = builder.add(builder.ptrtoint(ary.data, stride.type), builder.mul(args[1], stride))
        return builder.inttoptr(address, ary.data.type)

    return types.CPointer(array.dtype)(array, types.intp), codegen


@intrinsic
def _at2(typingctx, array, i, j):
    """The address of ``array[i, j]`` (of a 3-d array: the row ``j`` of its ``i``-th
    matrix), without making a view (see ``stages``)."""
    def codegen(context, builder, signature, args):
        ary = context.make_array(array)(context, builder, args[0])
        strides = cgutils.unpack_tuple(builder, ary.strides)
        offset = builder.add(builder.mul(args[1], strides[0]), builder.mul(args[2], strides[1]))
        address = builder.add(builder.ptrtoint(ary.data, offset.type), offset)
        return builder.inttoptr(address, ary.data.type)

    return types.CPointer(array.dtype)(array, types.intp, types.intp), codegen


def _call_typed(address, pointers):
    """The signature and code of ``call(address, *pointers)``: a call of the model function
    at ``address`` (``void f(double *, ...)``). The kernels take the model's functions as
    integer addresses rather than as numba's first-class functions: numba types and
    unboxes a first-class function at every call of a kernel from Python (~10 us each, four
    per call, more than a small model's solve), an integer in nanoseconds."""
    def codegen(context, builder, signature, args):
        double_p = ir.DoubleType().as_pointer()
        function_type = ir.FunctionType(ir.VoidType(), [double_p] * len(pointers))
        builder.call(builder.inttoptr(args[0], function_type.as_pointer()), args[1:])
        return context.get_dummy_value()

    return types.void(address, *pointers), codegen


# (numba's intrinsics take a fixed number of arguments: one per arity)
@intrinsic
def _call3(typingctx, address, a, b, c):
    return _call_typed(address, (a, b, c))


@intrinsic
def _call4(typingctx, address, a, b, c, d):
    return _call_typed(address, (a, b, c, d))


@intrinsic
def _call5(typingctx, address, a, b, c, d, e):
    return _call_typed(address, (a, b, c, d, e))


_batch_jit = numba.njit(fastmath=False, error_model="numpy", cache=True, nogil=True)
# The step's helpers are inlined by numba (not only by LLVM), so that the reference counts of
# the arrays they are handed are pruned: each count is an atomic operation, and they took
# 5-25 % of a small model's solve (Crauste 2017 0.82 -> 0.61 ms per solve, interleaved A/B).
_inline = numba.njit(fastmath=False, error_model="numpy", cache=True, inline="always")


# --- linear algebra: W = I/gamma - h J as a vector, dense (row-major n x n) or sparse --------
# (the filled pattern of L + U; see _native_sparse.py). ``L`` is LinearAlgebra.arrays:
# (order, ptr, cols, cols_orig, diag, w_from_jac, generated); ``sizes[3]`` says which: 0
# dense, 1 sparse by the loops below, 2 sparse by the model's generated C functions, whose
# addresses ``generated[:3]`` holds (factorise, solve, solve transposed; their storage keeps
# the pivots inverted, see _native_sparse.generated_lu). ``generated[3]``: the model's
# ``jac_outer`` (0: none, the loop in adjoint_one).

@_inline
def form_w(w_from_jac, diag, n, jv, h, W, inv_gamma):
    """``W = I/gamma - h J`` from the Jacobian's non-zeros ``jv`` (``w_from_jac``: where
    each goes in ``W``'s storage; ``diag``: where the diagonal is)."""
    W[:] = 0.0
    for q in range(jv.shape[0]):
        W[w_from_jac[q]] = -h * jv[q]
    for k in range(n):
        W[diag[k]] += inv_gamma

@_jit
def dense_factor(W, piv, n):
    """In-place LU with partial pivoting; False if singular."""
    for k in range(n):
        best, arg = abs(W[k * n + k]), k
        for i in range(k + 1, n):
            if abs(W[i * n + k]) > best:
                best, arg = abs(W[i * n + k]), i
        piv[k] = arg
        if best == 0.0 or not np.isfinite(best):
            return False
        if arg != k:
            for j in range(n):
                W[k * n + j], W[arg * n + j] = W[arg * n + j], W[k * n + j]
        inv = 1.0 / W[k * n + k]
        for i in range(k + 1, n):
            W[i * n + k] *= inv
            f = W[i * n + k]
            if f != 0.0:
                for j in range(k + 1, n):
                    W[i * n + j] -= f * W[k * n + j]
    return True

@_inline
def dense_solve_row(LU, piv, B, r, n):
    """Solve ``W x = B[r]`` in place, ``W`` factorised by :func:`dense_factor` (``B``'s
    row addressed in place, not as a view: see ``stages``)."""
    for k in range(n):
        j = piv[k]
        if j != k:
            B[r, k], B[r, j] = B[r, j], B[r, k]
    for i in range(n):
        acc = B[r, i]
        for j in range(i):
            acc -= LU[i * n + j] * B[r, j]
        B[r, i] = acc
    for i in range(n - 1, -1, -1):
        acc = B[r, i]
        for j in range(i + 1, n):
            acc -= LU[i * n + j] * B[r, j]
        B[r, i] = acc / LU[i * n + i]

@_inline
def dense_solve_t_at(T, P, m, b, n):
    """Solve ``W^T x = b`` in place, ``W`` factorised by :func:`dense_factor` into row
    ``m`` of ``T`` with its pivots in row ``m`` of ``P`` (a tape's step, read in place: see
    ``stages``)."""
    for i in range(n):
        acc = b[i]
        for j in range(i):
            acc -= T[m, j * n + i] * b[j]
        b[i] = acc / T[m, i * n + i]
    for i in range(n - 1, -1, -1):
        acc = b[i]
        for j in range(i + 1, n):
            acc -= T[m, j * n + i] * b[j]
        b[i] = acc
    for k in range(n - 1, -1, -1):
        j = P[m, k]
        if j != k:
            b[k], b[j] = b[j], b[k]

@_jit
def sparse_factor(W, L, n):
    """In-place LU with static diagonal pivots, row by row through a dense work row.
    False (the step is then retried with a smaller ``h``) if a pivot is zero or an entry
    of the eliminated matrix exceeds ``MAX_GROWTH`` times the largest entry of ``W`` (or
    is not finite): without row exchanges, that is how a bad pivot shows."""
    lu_ptr, lu_cols, lu_diag = L[1], L[2], L[4]
    work = np.zeros(n)
    largest = 0.0
    for e in range(W.shape[0]):
        if not abs(W[e]) <= largest:  # a NaN, too, makes every test below fail
            largest = abs(W[e])
    if not np.isfinite(largest):
        return False
    limit = MAX_GROWTH * largest
    for k in range(n):
        lo, d, hi = lu_ptr[k], lu_diag[k], lu_ptr[k + 1]
        ok = True
        for e in range(lo, hi):
            work[lu_cols[e]] = W[e]
        for e in range(lo, d):  # L's columns in ascending order: each row c is final
            c = lu_cols[e]
            ok = ok and abs(work[c]) <= limit
            f = work[c] / W[lu_diag[c]]
            work[c] = f
            if f != 0.0:
                for g in range(lu_diag[c] + 1, lu_ptr[c + 1]):
                    work[lu_cols[g]] -= f * W[g]
        for e in range(d, hi):
            ok = ok and abs(work[lu_cols[e]]) <= limit
        ok = ok and work[k] != 0.0
        for e in range(lo, hi):
            W[e] = work[lu_cols[e]]
            work[lu_cols[e]] = 0.0
        if not ok:
            return False
    return True

@_inline
def sparse_solve(LU, L, b, n):
    lu_order, lu_ptr, lu_cols_orig, lu_diag = L[0], L[1], L[3], L[4]
    for k in range(n):
        acc = b[lu_order[k]]
        for e in range(lu_ptr[k], lu_diag[k]):
            acc -= LU[e] * b[lu_cols_orig[e]]
        b[lu_order[k]] = acc
    for k in range(n - 1, -1, -1):
        acc = b[lu_order[k]]
        for e in range(lu_diag[k] + 1, lu_ptr[k + 1]):
            acc -= LU[e] * b[lu_cols_orig[e]]
        b[lu_order[k]] = acc / LU[lu_diag[k]]

@_inline
def sparse_solve_t(LU, L, b, n):
    """``U^T`` then ``L^T``, by columns of the stored rows."""
    lu_order, lu_ptr, lu_cols_orig, lu_diag = L[0], L[1], L[3], L[4]
    for k in range(n):
        i = lu_order[k]
        v = b[i] / LU[lu_diag[k]]
        b[i] = v
        if v != 0.0:
            for e in range(lu_diag[k] + 1, lu_ptr[k + 1]):
                b[lu_cols_orig[e]] -= LU[e] * v
    for k in range(n - 1, -1, -1):
        v = b[lu_order[k]]
        if v != 0.0:
            for e in range(lu_ptr[k], lu_diag[k]):
                b[lu_cols_orig[e]] -= LU[e] * v

@_inline
def lu_factor(sizes, L, W, piv):
    """Factorise ``W`` in place; False if singular (dense) or refused (sparse)."""
    if sizes[3]:
        return sparse_factor(W, L, sizes[0])
    return dense_factor(W, piv, sizes[0])

@_inline
def form_and_factor(sizes, L, jv, h, W, piv, hg, inv_gamma):
    """``W = I/gamma - h J`` from the Jacobian's non-zeros ``jv``, factorised in place;
    False if singular (dense) or refused (sparse). ``hg``: 4 numbers of scratch."""
    if sizes[3] == 2:
        hg[0], hg[1] = h, inv_gamma
        _call3(L[6][0], _ptr(jv), _ptr(hg), _ptr(W))
        return hg[2] != 0.0
    form_w(L[5], L[4], sizes[0], jv, h, W, inv_gamma)
    return lu_factor(sizes, L, W, piv)

@_inline
def lu_solve(sizes, L, LU, piv, b):
    """Solve ``W x = b`` in place."""
    if sizes[3] == 2:
        _call3(L[6][1], _ptr(LU), _ptr(b), _ptr(LU))
    elif sizes[3]:
        sparse_solve(LU, L, b, sizes[0])
    else:
        dense_solve_row(LU, piv, b.reshape((1, b.shape[0])), 0, sizes[0])

@_inline
def lu_solve_t(sizes, L, LU, piv, b):
    """Solve ``W^T x = b`` in place."""
    if sizes[3] == 2:
        _call3(L[6][2], _ptr(LU), _ptr(b), _ptr(LU))
    elif sizes[3]:
        sparse_solve_t(LU, L, b, sizes[0])
    else:
        dense_solve_t_at(LU.reshape((1, LU.shape[0])), piv.reshape((1, piv.shape[0])), 0, b, sizes[0])


# (the LU as the solver calls it, callable from Python: for tests and benchmarks)
@_jit
def factor_entry(sizes, L, jv, h, W, piv, hg, inv_gamma):
    return form_and_factor(sizes, L, jv, h, W, piv, hg, inv_gamma)

@_jit
def solve_entry(sizes, L, LU, piv, b):
    lu_solve(sizes, L, LU, piv, b)

@_jit
def solve_t_entry(sizes, L, LU, piv, b):
    lu_solve_t(sizes, L, LU, piv, b)

@_inline
def stage_input(y0, U, Z, i):
    """``Z[i] = y0 + sum_{j < i} A[i, j] U[j]``."""
    for a in range(y0.shape[0]):
        acc = y0[a]
        for j in range(i):
            acc += A[i, j] * U[j, a]
        Z[i, a] = acc

@_inline
def stage_right_side(h, f, U, i):
    """``U[i] = h f + sum_{j < i} C[i, j] U[j]`` (then solved with ``W``)."""
    for a in range(f.shape[0]):
        acc = h * f[a]
        for j in range(i):
            acc += C[i, j] * U[j, a]
        U[i, a] = acc

@_inline
def stages(rhs, jac, w_from_jac, diag, kind, generated, y0, p, h, jv, W, piv, hg, U, Z, tmp):
    """One Rodas5P step from ``y0`` with step ``h``: stage inputs ``Z`` and stages ``U``
    (rows), the factorised ``W = I/gamma - h J``. False if ``W`` is singular. With the
    dense LU (``kind`` 0; ``w_from_jac``, ``diag``: see :func:`form_w`) or
    the generated one (``kind`` 2, its functions' addresses in ``generated``);
    :func:`stages_sparse_loops` for the sparse LU's loops.

    The model's arrays are handed in one by one, and rows are addressed in place
    (``_row_ptr``), not as views: numba counts the references of every array handed to an
    inlined function or sliced, with an atomic operation each time, and those counts took a
    quarter of a 5-state model's step (the model tuple and the LU's arrays handed on at
    every stage; GPCR's forward solves 0.47 -> 0.34 ms, reverse pass 0.38 -> 0.31 ms)."""
    n = y0.shape[0]
    _call3(jac, _ptr(y0), _ptr(p), _ptr(jv))
    if kind == 2:
        hg[0], hg[1] = h, 1.0 / gamma
        _call3(generated[0], _ptr(jv), _ptr(hg), _ptr(W))
        if hg[2] == 0.0:
            return False
    else:
        form_w(w_from_jac, diag, n, jv, h, W, 1.0 / gamma)
        if not dense_factor(W, piv, n):
            return False
    for i in range(s):
        stage_input(y0, U, Z, i)
        _call3(rhs, _row_ptr(Z, i), _ptr(p), _ptr(tmp))
        stage_right_side(h, tmp, U, i)
        if kind == 2:
            _call3(generated[1], _ptr(W), _row_ptr(U, i), _ptr(W))
        else:
            dense_solve_row(W, piv, U, i, n)
    return True

@_inline
def stages_sparse_loops(M, y0, p, h, jv, W, piv, hg, U, Z, tmp):
    """:func:`stages` with the sparse LU's numba loops (``kind`` 1: a model whose LU is
    too large to be written out, or no C compiler)."""
    rhs, jac, sizes, L = M[0], M[1], M[6], M[7]
    _call3(jac, _ptr(y0), _ptr(p), _ptr(jv))
    if not form_and_factor(sizes, L, jv, h, W, piv, hg, 1.0 / gamma):
        return False
    for i in range(s):
        stage_input(y0, U, Z, i)
        _call3(rhs, _row_ptr(Z, i), _ptr(p), _ptr(tmp))
        stage_right_side(h, tmp, U, i)
        lu_solve(sizes, L, W, piv, U[i])
    return True

@_inline
def error_norm(n_ode, y0, U, rtol, atol):
    """RMS of the scaled error estimate over the model's ``n_ode`` states (the time state,
    whose error is zero, is left out so the norm is that of the model alone)."""
    total = 0.0
    for a in range(n_ode):
        y1 = y0[a]
        for j in range(s):
            y1 += B[j] * U[j, a]
        scale = atol + rtol * max(abs(y0[a]), abs(y1))
        e = U[s - 1, a] / scale
        total += e * e
    return math.sqrt(total / n_ode) if n_ode else 0.0

@_jit
def initial_step(M, y0, p, t_span, rtol, atol, tmp, tmp2, y1):
    """Hairer & Wanner's starting step (as diffrax's ``PIDController``)."""
    rhs, n, n_ode = M[0], y0.shape[0], M[6][1]
    _call3(rhs, _ptr(y0), _ptr(p), _ptr(tmp))
    d0, d1 = 0.0, 0.0
    for a in range(n_ode):
        scale = atol + rtol * abs(y0[a])
        d0 += (y0[a] / scale) ** 2
        d1 += (tmp[a] / scale) ** 2
    d0, d1 = math.sqrt(d0 / max(n_ode, 1)), math.sqrt(d1 / max(n_ode, 1))
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, t_span)
    for a in range(n):
        y1[a] = y0[a] + h0 * tmp[a]
    _call3(rhs, _ptr(y1), _ptr(p), _ptr(tmp2))
    d2 = 0.0
    for a in range(n_ode):
        scale = atol + rtol * abs(y0[a])
        d2 += ((tmp2[a] - tmp[a]) / scale) ** 2
    d2 = math.sqrt(d2 / max(n_ode, 1)) / h0
    m = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if m <= 1e-15 else (0.01 / m) ** (1.0 / order)
    return min(100.0 * h0, h1)

@_jit
def is_steady(M, y, p, tmp, ss_rtol, ss_atol):
    """``rms(f) < atol + rtol rms(y)`` over the model's states (diffrax's steady-state event)."""
    rhs, n_ode = M[0], M[6][1]
    _call3(rhs, _ptr(y), _ptr(p), _ptr(tmp))
    f2, y2 = 0.0, 0.0
    for a in range(n_ode):
        f2 += tmp[a] * tmp[a]
        y2 += y[a] * y[a]
    m = max(n_ode, 1)
    return math.sqrt(f2 / m) < ss_atol + ss_rtol * math.sqrt(y2 / m)

@_inline
def set_time(time_state, y, t):
    """The time state (at index ``time_state``, ``M``'s ``sizes[2]``; -1: none) set to ``t``."""
    if time_state >= 0:
        y[time_state] = t

@_jit
def solve_one(M, p, x0, ts, t0, jumps, rtol, atol, max_steps, ss_rtol, ss_atol, xs, tape, out_step, jump_step, jump_y):
    """Integrate from ``(t0, x0)`` through the output times ``ts``; write ``xs`` and, for
    every accepted step while the tape has room, its ``y0``, ``h``, stage inputs,
    stages and factorised ``W`` (see :func:`_new_tape`); ``out_step[k]`` is the step
    after which output ``k`` was taken (-1: before the first).

    ``jumps`` (sorted) are times where the right-hand side is discontinuous: a step ends
    just before each and the next starts just after it (as diffrax's ``jump_ts``);
    ``jump_step[j]`` is the step after which jump ``j`` was passed (-2: never reached) and
    ``jump_y[j]`` the state there.
    With ``ss_atol >= 0`` the solve stops at the first accepted step where the state is
    steady, and every output not yet reached takes that state; reaching the last output
    time without a steady state is status 3.

    Returns ``(status, n_accepted, fully taped)``; status 0 ok, 1 solver failed, 2 not finite."""
    tape_y, tape_h, tape_u, tape_z, tape_w, tape_piv = tape
    n_ode, time_state, kind, generated = M[6][1], M[6][2], M[6][3], M[7][6]
    rhs, jac, w_from_jac, diag = M[0], M[1], M[7][5], M[7][4]
    capacity = tape_h.shape[0]
    nt = ts.shape[0]
    nj = jumps.shape[0]
    n = x0.shape[0]
    jv = np.empty(M[4].shape[0])
    W = np.empty(M[8])
    piv = np.empty(n, dtype=np.int64)
    hg = np.empty(4)
    U = np.empty((s, n))
    Z = np.empty((s, n))
    tmp = np.empty(n)
    tmp2 = np.empty(n)
    y = x0.copy()
    t = t0
    set_time(time_state, y, t)
    for j in range(nj):
        jump_step[j] = -2
    k = 0
    while k < nt and ts[k] <= t0:
        xs[k] = y
        out_step[k] = -1
        k += 1
    if k == nt:
        return 0, 0, True
    jj = 0
    while jj < nj and jumps[jj] <= t0:
        jj += 1
    h = initial_step(M, y, p, ts[nt - 1] - t0, rtol, atol, tmp, tmp2, Z[0])
    accepted = 0
    attempts = 0
    while k < nt:
        at_jump = jj < nj and jumps[jj] <= ts[k]
        target = np.nextafter(jumps[jj], -np.inf) if at_jump else ts[k]
        remaining = target - t
        if at_jump and remaining <= 0.0:  # already at the discontinuity: pass it without a step
            t = np.nextafter(jumps[jj], np.inf)
            set_time(time_state, y, t)
            jump_step[jj] = accepted - 1
            jump_y[jj] = y
            jj += 1
            continue
        if attempts >= max_steps:
            return 1, accepted, False
        attempts += 1
        hit = h >= remaining * (1.0 - 1e-12)
        hh = remaining if hit else h
        ok = (stages_sparse_loops(M, y, p, hh, jv, W, piv, hg, U, Z, tmp) if kind == 1 else
              stages(rhs, jac, w_from_jac, diag, kind, generated, y, p, hh, jv, W, piv, hg, U, Z, tmp))
        norm = error_norm(n_ode, y, U, rtol, atol) if ok else np.inf
        if not np.isfinite(norm):
            h = hh * _FACTOR_MIN
            if h < 1e-14 * max(1.0, abs(t)):
                return 1, accepted, False
            continue
        factor = _FACTOR_MAX if norm == 0.0 else min(_FACTOR_MAX, max(_FACTOR_MIN, _SAFETY * norm ** (-1.0 / order)))
        if norm <= 1.0:
            if accepted < capacity:
                tape_h[accepted] = hh  # (element by element: see stages)
                for a in range(n):
                    tape_y[accepted, a] = y[a]
                    tape_piv[accepted, a] = piv[a]
                    for j in range(s):
                        tape_u[accepted, j, a] = U[j, a]
                        tape_z[accepted, j, a] = Z[j, a]
                for e in range(W.shape[0]):
                    tape_w[accepted, e] = W[e]
            for a in range(n):
                acc = y[a]
                for j in range(s):
                    acc += B[j] * U[j, a]
                y[a] = acc
            for a in range(n):
                if not np.isfinite(y[a]):
                    return 2, accepted, False
            t = target if hit else t + hh
            set_time(time_state, y, t)
            if hit and at_jump:
                t = np.nextafter(jumps[jj], np.inf)
                set_time(time_state, y, t)
                jump_step[jj] = accepted
                jump_y[jj] = y
                jj += 1
            if ss_atol >= 0.0 and is_steady(M, y, p, tmp, ss_rtol, ss_atol):
                while k < nt:
                    xs[k] = y
                    out_step[k] = accepted
                    k += 1
                accepted += 1
                return 0, accepted, accepted <= capacity
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
    if ss_atol >= 0.0:
        return 3, accepted, accepted <= capacity
    return 0, accepted, accepted <= capacity


@_inline
def add_to_earlier_stages(Ubar, coefficients, i, v):
    """``Ubar[j] += coefficients[i, j] * v`` for the stages ``j < i`` (skipping zero
    coefficients). Inlined, and the coefficients' row not sliced: see ``stages``."""
    for j in range(i):
        c = coefficients[i, j]
        if c != 0.0:
            for a in range(v.shape[0]):
                Ubar[j, a] += c * v[a]


@_jit
def f_dot(M, y, t, p, v, tmp, y_at):
    """``v . f(t, y)`` over the model's states (``y_at`` is scratch for ``y`` at time ``t``)."""
    for a in range(y.shape[0]):
        y_at[a] = y[a]
    set_time(M[6][2], y_at, t)
    _call3(M[0], _ptr(y_at), _ptr(p), _ptr(tmp))
    acc = 0.0
    for a in range(M[6][1]):
        acc += v[a] * tmp[a]
    return acc

@_jit
def jump_cotangent(M, y, tau, p, ybar, tmp, y_at):
    """How the solution's cotangent ``ybar`` at a discontinuity ``tau`` depends on ``tau``:
    ``ybar . (f(tau-, y) - f(tau+, y))`` (moving it later runs the left-hand field longer)."""
    return (f_dot(M, y, np.nextafter(tau, -np.inf), p, ybar, tmp, y_at)
            - f_dot(M, y, np.nextafter(tau, np.inf), p, ybar, tmp, y_at))

@_jit
def adjoint_one(M, p, x0, ts, t0, jumps, xs, tape, out_step, jump_step, jump_y, n_steps, xbar, pbar, x0bar, tsbar,
                jumpbar):
    """Reverse pass over the taped steps: ``pbar`` (added to), ``x0bar``, and the
    cotangents of the output times ``tsbar`` (``xbar_k . f(t_k, x_k)``), of the
    discontinuities ``jumpbar`` and of ``t0`` (returned: ``-x0bar . f(t0, x0)``), from the
    outputs' cotangents ``xbar``."""
    tape_y, tape_h, tape_u, tape_z, tape_w, tape_piv = tape
    f_vjp, jac_vjp, jac_rows, jac_cols = M[2], M[3], M[4], M[5]
    kind, generated = M[6][3], M[7][6]
    outer = generated[3]
    nnz = jac_rows.shape[0]
    nt = xbar.shape[0]
    nj = jumps.shape[0]
    n = x0.shape[0]
    tmp = np.empty(n)
    y_at = np.empty(n)
    Ubar = np.empty((s, n))
    Mq = np.empty(nnz)
    rbar = np.empty(n)
    ybar = np.zeros(n)
    for k in range(nt):
        tsbar[k] = f_dot(M, xs[k], ts[k], p, xbar[k], tmp, y_at) if out_step[k] >= 0 else 0.0
    for j in range(nj):
        jumpbar[j] = 0.0
    kk = nt - 1
    jj = nj - 1
    for m in range(n_steps - 1, -1, -1):
        while kk >= 0 and out_step[kk] == m:
            for a in range(n):
                ybar[a] += xbar[kk, a]
            kk -= 1
        while jj >= 0 and jump_step[jj] < -1:
            jj -= 1
        while jj >= 0 and jump_step[jj] == m:
            jumpbar[jj] = jump_cotangent(M, jump_y[jj], jumps[jj], p, ybar, tmp, y_at)
            jj -= 1
        h = tape_h[m]  # (the step's taped arrays are read in place: views of them cost, see stages)
        for j in range(s):
            for a in range(n):
                Ubar[j, a] = B[j] * ybar[a]
        Mq[:] = 0.0
        for i in range(s - 1, -1, -1):
            for a in range(n):
                rbar[a] = Ubar[i, a]
            if kind == 2:
                _call3(generated[2], _row_ptr(tape_w, m), _ptr(rbar), _row_ptr(tape_w, m))
            elif kind == 1:
                lu_solve_t(M[6], M[7], tape_w[m], tape_piv[m], rbar)
            else:
                dense_solve_t_at(tape_w, tape_piv, m, rbar, n)
            # W = I/gamma - h J(y0, p): J gets h * rbar u_i^T (only its non-zeros matter).
            if outer != 0:  # the sum written out for the pattern (EGFR: the loop 0.26 ms of 1.03, 0.13 less)
                _call3(outer, _ptr(rbar), _at2(tape_u, m, i), _ptr(Mq))
            else:
                for q in range(nnz):
                    Mq[q] += rbar[jac_rows[q]] * tape_u[m, i, jac_cols[q]]
            add_to_earlier_stages(Ubar, C, i, rbar)
            # F_i = h f(Z_i): Z_i gets h J(Z_i)^T rbar, p gets h (df/dp)^T rbar.
            for a in range(n):
                rbar[a] *= h
            _call5(f_vjp, _at2(tape_z, m, i), _ptr(p), _ptr(rbar), _ptr(tmp), _ptr(pbar))
            for a in range(n):
                ybar[a] += tmp[a]
            add_to_earlier_stages(Ubar, A, i, tmp)
        for q in range(nnz):
            Mq[q] *= h
        _call5(jac_vjp, _row_ptr(tape_y, m), _ptr(p), _ptr(Mq), _ptr(ybar), _ptr(pbar))
    while jj >= 0:
        if jump_step[jj] == -1:
            jumpbar[jj] = jump_cotangent(M, jump_y[jj], jumps[jj], p, ybar, tmp, y_at)
        jj -= 1
    t0bar = -f_dot(M, x0, t0, p, ybar, tmp, y_at) if n_steps > 0 else 0.0
    while kk >= 0:
        for a in range(n):
            ybar[a] += xbar[kk, a]
        kk -= 1
    for a in range(n):
        x0bar[a] = ybar[a]
    return t0bar

@_batch_jit
def forward(rhs, jac, f_vjp, jac_vjp, jac_rows, jac_cols, sizes, L, lo, hi, P, X0, T0, TS, JUMPS, rtol, atol, max_steps, ss_rtol, ss_atol, XS, status, n_steps, taped,
            tape, out_step, jump_step, jump_y):
    M = (rhs, jac, f_vjp, jac_vjp, jac_rows, jac_cols, sizes, L, tape[4].shape[-1])
    ty, th, tu, tz, tw, tp = tape
    for b in range(lo, hi):
        st, m, full = solve_one(M, P[b], X0[b], TS[b], T0[b], JUMPS[b], rtol, atol, max_steps, ss_rtol, ss_atol, XS[b],
                                (ty[b], th[b], tu[b], tz[b], tw[b], tp[b]), out_step[b], jump_step[b], jump_y[b])
        status[b] = st
        n_steps[b] = m
        taped[b] = full

@_batch_jit
def adjoint(rhs, jac, f_vjp, jac_vjp, jac_rows, jac_cols, sizes, L, lo, hi, P, X0, T0, TS, JUMPS, rtol, atol, max_steps, ss_rtol, ss_atol, XS, status, n_steps, taped, tape,
            out_step, jump_step, jump_y, XBAR, PBAR, X0BAR, T0BAR, TSBAR, JUMPBAR):
    M = (rhs, jac, f_vjp, jac_vjp, jac_rows, jac_cols, sizes, L, tape[4].shape[-1])
    ty, th, tu, tz, tw, tp = tape
    for b in range(lo, hi):
        PBAR[b] = 0.0
        X0BAR[b] = 0.0
        T0BAR[b] = 0.0
        TSBAR[b] = 0.0
        JUMPBAR[b] = 0.0
        if status[b] != 0:
            continue
        if taped[b]:
            T0BAR[b] = adjoint_one(M, P[b], X0[b], TS[b], T0[b], JUMPS[b], XS[b], (ty[b], th[b], tu[b], tz[b], tw[b], tp[b]),
                                   out_step[b], jump_step[b], jump_y[b], n_steps[b], XBAR[b], PBAR[b], X0BAR[b],
                                   TSBAR[b], JUMPBAR[b])
        else:  # the tape overflowed: solve again with room for every step
            n = X0.shape[1]
            nt = TS.shape[1]
            nj = JUMPS.shape[1]
            m = n_steps[b]  # the solve is deterministic: the same steps again, all on the tape
            own = (np.empty((m, n)), np.empty(m), np.empty((m, s, n)), np.empty((m, s, n)), np.empty((m, M[8])),
                   np.empty((m, n), dtype=np.int64))
            steps = np.empty(nt, dtype=np.int64)
            jsteps = np.empty(nj, dtype=np.int64)
            jy = np.empty((nj, n))
            xs = np.empty((nt, n))
            _, m, _ = solve_one(M, P[b], X0[b], TS[b], T0[b], JUMPS[b], rtol, atol, max_steps, ss_rtol, ss_atol, xs, own,
                                steps, jsteps, jy)
            T0BAR[b] = adjoint_one(M, P[b], X0[b], TS[b], T0[b], JUMPS[b], xs, own, steps, jsteps, jy, m, XBAR[b],
                                   PBAR[b], X0BAR[b], TSBAR[b], JUMPBAR[b])


# --- events triggered by the state: the first crossing of a trigger ----------------------
# The triggers g(x, p, t) come as one more model function ``trigger(x, p, t, out)``. Of
# event i, the upward crossing (g from < 0 to >= 0) fires it while it is armed; the
# downward one (g from > 0 to <= 0) arms it again while it is not. Both are written as
# "from < 0 to >= 0" of ``crossing_values``, so one test finds either.

@_jit
def crossing_values(trigger, y, p, t, armed, g, t_at, out):
    """``out[i] = g_i`` (up) where event ``i`` is armed, ``-g_i`` (down) at ``out[ne + i]``
    where it is not; ``-1`` for the crossing that cannot happen."""
    ne = armed.shape[0]
    t_at[0] = t
    _call4(trigger, _ptr(y), _ptr(p), _ptr(t_at), _ptr(g))
    for i in range(ne):
        out[i] = g[i] if armed[i] else -1.0
        out[ne + i] = -1.0 if armed[i] else -g[i]

@_jit
def dense_state(M, y0, y1, K, theta, t, out):
    """``out``: Rodas5P's own dense output at ``theta`` in ``[0, 1]`` of the step from ``y0``
    to ``y1`` (``K = H U``), ``(1 - theta) y0 + theta (y1 + (1 - theta)(K_0 + theta K_1 +
    ...))`` as :class:`~celltwin.simulate._rosenbrock.RosenbrockInterpolation`, at time ``t``."""
    m = K.shape[0]
    for a in range(y0.shape[0]):
        inner = K[m - 1, a]
        for r in range(m - 2, -1, -1):
            inner = K[r, a] + theta * inner
        out[a] = (1.0 - theta) * y0[a] + theta * (y1[a] + (1.0 - theta) * inner)
    set_time(M[6][2], out, t)

@_jit
def locate_crossing(M, trigger, p, y0, y1, U, t, hh, q, lo, hi, armed, work, y_root, y_left):
    """The time of the crossing ``q`` of ``crossing_values`` inside the accepted step
    ``(t, t + hh]`` from ``y0`` to ``y1`` with stages ``U`` (it is ``lo < 0`` at ``t`` and
    ``hi >= 0`` at ``t + hh``), on the method's dense output (continuous in time, as
    diffrax's event root finding uses it), by the Illinois variant of regula falsi. Returns
    the first time found strictly on the crossed side (``> 0``; the step's end if only it is
    at ``>= 0``), within ``1e-14 hh`` of the root, and the state there in ``y_root``; in
    ``y_left`` the state at the last time found before the root (where the right-hand side
    that led to the crossing still holds, if it switches there)."""
    K, g, t_at, values = work[10], work[7], work[8], work[9]
    for r in range(K.shape[0]):
        for a in range(y0.shape[0]):
            acc = 0.0
            for j in range(s):
                acc += H[r, j] * U[j, a]
            K[r, a] = acc
    left, f_left, right, f_right = 0.0, lo, 1.0, hi
    side = 0
    for _ in range(200):
        if right - left <= 1e-14:
            break
        c = (left * f_right - right * f_left) / (f_right - f_left)
        if not (left < c < right):
            c = 0.5 * (left + right)
        dense_state(M, y0, y1, K, c, t + c * hh, y_root)
        crossing_values(trigger, y_root, p, t + c * hh, armed, g, t_at, values)
        fc = values[q]
        if not np.isfinite(fc):
            break
        # Strictly positive counts as crossed: the state returned is then strictly past the
        # root, so the opposite crossing (from < 0) is seen from the next stretch's start; at
        # exactly zero it would not be (a trigger g with g(t*) = 0 that turns back).
        if fc > 0.0:
            right, f_right = c, fc
            if side == 1:
                f_left *= 0.5
            side = 1
        else:
            left, f_left = c, fc
            if side == -1:
                f_right *= 0.5
            side = -1
    t_root = t + right * hh
    dense_state(M, y0, y1, K, right, t_root, y_root)
    dense_state(M, y0, y1, K, left, t_root, y_left)
    return t_root

@_jit
def dense_outputs(M, ts, k, t, hh, y0, y1, U, K, xs):
    """Write the outputs ``ts[k:]`` up to ``t + hh`` from the dense output of the step from
    ``y0`` (at ``t``) to ``y1`` with stages ``U`` (``K`` is scratch); returns the next ``k``."""
    if k < ts.shape[0] and ts[k] <= t + hh:
        for r in range(K.shape[0]):
            for a in range(y0.shape[0]):
                acc = 0.0
                for j in range(s):
                    acc += H[r, j] * U[j, a]
                K[r, a] = acc
    while k < ts.shape[0] and ts[k] <= t + hh:
        dense_state(M, y0, y1, K, min(1.0, max(0.0, (ts[k] - t) / hh)), ts[k], xs[k])
        k += 1
    return k

@_jit
def crossing_one(M, trigger, p, x0, t0, bound, jumps, armed, ts, rtol, atol, max_steps, ss_rtol, ss_atol, y, y_left,
                 xs):
    """Integrate from ``(t0, x0)`` towards ``bound`` (the steps of :func:`solve_one`, not
    ending on output times) and stop at the first crossing of a trigger (see
    ``crossing_values``), or, with ``ss_atol >= 0``, at the first steady step.

    Returns ``(time, which, status)``, the state there in ``y`` and the states at the sorted
    times ``ts`` in ``xs`` (from the method's dense output, as diffrax's ``SaveAt(ts)``; those
    after the stop take the state there): ``which`` is the crossing (``i``: event ``i``
    fires, ``ne + i``: it is armed again), ``2 ne`` a steady state, -1 neither before
    ``bound``; status as :func:`solve_one`'s. At a crossing, the trigger has crossed at
    that state (the root is approached from the crossed side), and ``y_left`` is the state
    just before it (elsewhere the same as ``y``)."""
    n = x0.shape[0]
    ne = armed.shape[0]
    nj = jumps.shape[0]
    work = (np.empty(M[4].shape[0]), np.empty(M[8]), np.empty(n, dtype=np.int64), np.empty((s, n)),
            np.empty((s, n)), np.empty(n), np.empty(n), np.empty(max(ne, 1)), np.empty(1), np.empty(2 * ne),
            np.empty((H.shape[0], n)))
    jv, W, piv, U, Z, tmp, y1, g, t_at, _, K = work
    n_ode, time_state, kind, generated = M[6][1], M[6][2], M[6][3], M[7][6]
    rhs, jac, w_from_jac, diag = M[0], M[1], M[7][5], M[7][4]
    before, after = np.empty(2 * ne), np.empty(2 * ne)
    hg = np.empty(4)
    y_root, y_first, y_before, y_left_first = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    y[:] = x0
    t = t0
    set_time(time_state, y, t)
    k = 0
    while k < ts.shape[0] and ts[k] <= t0:
        xs[k] = y
        k += 1
    stop, which, status = t0, -1, 0
    located = False  # a crossing inside a step (y_left set)
    if bound > t0:
        crossing_values(trigger, y, p, t, armed, g, t_at, before)
        jj = 0
        while jj < nj and jumps[jj] <= t0:
            jj += 1
        h = initial_step(M, y, p, bound - t0, rtol, atol, tmp, y1, Z[0])
        attempts = 0
        while True:
            at_jump = jj < nj and jumps[jj] < bound
            target = np.nextafter(jumps[jj], -np.inf) if at_jump else bound
            remaining = target - t
            if at_jump and remaining <= 0.0:  # at the discontinuity: pass it, and see if a trigger jumped
                t = np.nextafter(jumps[jj], np.inf)
                set_time(time_state, y, t)
                jj += 1
                while k < ts.shape[0] and ts[k] <= t:
                    xs[k] = y
                    k += 1
                crossing_values(trigger, y, p, t, armed, g, t_at, after)
                for q in range(2 * ne):
                    if which < 0 and before[q] < 0.0 <= after[q]:
                        which = q
                if which >= 0:
                    stop = t
                    break
                before[:] = after
                continue
            if attempts >= max_steps:
                stop, status = t, 1
                break
            attempts += 1
            hit = h >= remaining * (1.0 - 1e-12)
            hh = remaining if hit else h
            ok = (stages_sparse_loops(M, y, p, hh, jv, W, piv, hg, U, Z, tmp) if kind == 1 else
                  stages(rhs, jac, w_from_jac, diag, kind, generated, y, p, hh, jv, W, piv, hg, U, Z, tmp))
            norm = error_norm(n_ode, y, U, rtol, atol) if ok else np.inf
            if not np.isfinite(norm):
                h = hh * _FACTOR_MIN
                if h < 1e-14 * max(1.0, abs(t)):
                    stop, status = t, 1
                    break
                continue
            factor = _FACTOR_MAX if norm == 0.0 else min(_FACTOR_MAX, max(_FACTOR_MIN, _SAFETY * norm ** (-1.0 / order)))
            if norm <= 1.0:
                t_next = target if hit else t + hh
                finite = True
                for a in range(n):
                    acc = y[a]
                    for j in range(s):
                        acc += B[j] * U[j, a]
                    y1[a] = acc
                    finite = finite and np.isfinite(acc)
                if not finite:
                    stop, status = t, 2
                    break
                set_time(time_state, y1, t_next)
                crossing_values(trigger, y1, p, t_next, armed, g, t_at, after)
                first = np.inf
                for q in range(2 * ne):
                    if before[q] < 0.0 <= after[q]:
                        tq = locate_crossing(M, trigger, p, y, y1, U, t, t_next - t, q, before[q], after[q], armed,
                                             work, y_root, y_before)
                        if tq < first:
                            first, which = tq, q
                            y_first[:] = y_root
                            y_left_first[:] = y_before
                if which >= 0:
                    k = dense_outputs(M, ts[:np.searchsorted(ts, first, side="right")], k, t, t_next - t, y, y1, U,
                                      K, xs)
                    y[:] = y_first
                    y_left[:] = y_left_first
                    stop, located = first, True
                    break
                k = dense_outputs(M, ts, k, t, t_next - t, y, y1, U, K, xs)
                y[:] = y1
                t = t_next
                before[:] = after
                if ss_atol >= 0.0 and is_steady(M, y, p, tmp, ss_rtol, ss_atol):
                    stop, which = t, 2 * ne
                    break
                if hit and not at_jump:
                    stop = t
                    break
                h = hh * factor
            else:
                h = hh * min(1.0, factor)
            if h < 1e-14 * max(1.0, abs(t)):
                stop, status = t, 1
                break
    while k < ts.shape[0]:
        xs[k] = y
        k += 1
    if not located:
        y_left[:] = y
    return stop, which, status

@_batch_jit
def first_crossing(rhs, jac, f_vjp, jac_vjp, jac_rows, jac_cols, sizes, L, w_size, trigger, lo, hi, P, X0, T0, BOUND,
                   JUMPS, ARMED, TS, rtol, atol, max_steps, ss_rtol, ss_atol, T_STOP, WHICH, STATUS, X_STOP, X_LEFT,
                   XS):
    """:func:`crossing_one` over the batch ``[lo, hi)``."""
    M = (rhs, jac, f_vjp, jac_vjp, jac_rows, jac_cols, sizes, L, w_size)
    for b in range(lo, hi):
        T_STOP[b], WHICH[b], STATUS[b] = crossing_one(M, trigger, P[b], X0[b], T0[b], BOUND[b], JUMPS[b], ARMED[b],
                                                      TS[b], rtol, atol, max_steps, ss_rtol, ss_atol, X_STOP[b],
                                                      X_LEFT[b], XS[b])
