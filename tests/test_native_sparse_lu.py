"""The native backend's sparse LU (``_native_sparse``), by the numba loops and written out in
C: solves and transposed solves against numpy, pivot failures, and a model solved with it
against the matrix exponential."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from celltwin.model import Model, compile_model
from celltwin.simulate import _native, _native_sparse
from celltwin.simulate._lu_kernels import Kernels
from celltwin.simulate._native_sparse import symbolic_factor

N = 40


def patterns():
    """Off-diagonal Jacobian patterns (rows, cols) of ``N`` states: random, an arrow
    (one hub coupled both ways to all: all fill if the hub is eliminated first), a
    one-way chain closed into a ring (fill along the ring)."""
    rng = np.random.default_rng(0)
    random = rng.random((N, N)) < 0.08
    arrow = np.zeros((N, N), dtype=bool)
    arrow[0, :] = arrow[:, 0] = True
    ring = np.zeros((N, N), dtype=bool)
    ring[np.arange(N), (np.arange(N) + 1) % N] = True
    out = {}
    for name, pattern in (("random", random), ("arrow", arrow), ("ring", ring)):
        np.fill_diagonal(pattern, False)
        out[name] = np.nonzero(pattern)
    return out


PATTERNS = patterns()


SPARSE_KINDS = ["sparse", "generated"]  # the numba loops, the generated C


@pytest.fixture(scope="module", params=[(name, kind) for name in sorted(PATTERNS) for kind in SPARSE_KINDS],
                ids=lambda v: "-".join(v))
def sparse_kernels(request):
    name, kind = request.param
    rows, cols = PATTERNS[name]
    return name, rows, cols, Kernels(N, rows, cols, kind=kind)


def dense_w(rows, cols, jv, h, gamma=1.0):
    J = np.zeros((N, N))
    J[rows, cols] = jv
    return np.eye(N) / gamma - h * J


@pytest.mark.parametrize("h", [0.01, 0.3, 3.0])  # diagonally dominant for small h, not for large
def test_solves_match_numpy(sparse_kernels, h):
    _, rows, cols, lu = sparse_kernels
    rng = np.random.default_rng(1)
    factorised = 0
    for _ in range(5):
        jv = rng.standard_normal(len(rows))
        W = np.empty(lu.w_shape)
        piv = np.empty(N, dtype=np.int64)
        if not lu.factor(jv, h, W, piv):  # refused: the factors would grow too large
            assert h > 0.01  # never where the diagonal dominates
            continue
        factorised += 1
        A = dense_w(rows, cols, jv, h)
        scale = np.linalg.cond(A) * 1e-13
        for _ in range(2):
            b = rng.standard_normal(N)
            x, xt = b.copy(), b.copy()
            lu.solve(W, piv, x)
            lu.solve_t(W, piv, xt)
            reference, reference_t = np.linalg.solve(A, b), np.linalg.solve(A.T, b)
            np.testing.assert_allclose(x, reference, atol=scale * np.abs(reference).max())
            np.testing.assert_allclose(xt, reference_t, atol=scale * np.abs(reference_t).max())
    assert factorised >= 3


@pytest.mark.parametrize("kind", SPARSE_KINDS)
@pytest.mark.parametrize("c, ok", [(0.5, True), (100.0, False)])
def test_growing_factors_fail_the_factorisation(c, ok, kind):
    # W = I + c P (P the cyclic shift): well conditioned, but without row exchanges the
    # last row of U grows as c^n.
    rows, cols = PATTERNS["ring"]
    lu = Kernels(N, rows, cols, kind=kind)
    W, piv = np.empty(lu.w_shape), np.empty(N, dtype=np.int64)
    assert lu.factor(np.full(len(rows), -c), 1.0, W, piv) == ok
    if ok:
        b = np.arange(N, dtype=float)
        lu.solve(W, piv, b)
        np.testing.assert_allclose(b, np.linalg.solve(dense_w(rows, cols, np.full(len(rows), -c), 1.0),
                                                      np.arange(N, dtype=float)), rtol=1e-12)


def test_the_generated_lu_split_into_pieces_solves_the_same(monkeypatch):
    """Written out in pieces of a few statements (as a large model's are), the generated
    LU factorises and solves as in one piece, and as the numba loops."""
    rows, cols = PATTERNS["random"]
    jv = np.random.default_rng(4).standard_normal(len(rows))
    b = np.arange(N, dtype=float)
    results = []
    for lines in (_native.C_LINES_PER_UNIT, 7, None):
        if lines:
            monkeypatch.setattr(_native, "C_LINES_PER_UNIT", lines)
        lu = Kernels(N, rows, cols, kind="generated" if lines else "sparse")
        W, piv = np.empty(lu.w_shape), np.empty(N, dtype=np.int64)
        assert lu.factor(jv, 0.3, W, piv)
        x, xt = b.copy(), b.copy()
        lu.solve(W, piv, x)
        lu.solve_t(W, piv, xt)
        results.append((x, xt))
    assert len(_native._lu_units(lu.la, "")) > 3 * 3  # split: pieces and a caller per function
    for x, xt in results[1:]:
        np.testing.assert_allclose(x, results[0][0], rtol=1e-13)
        np.testing.assert_allclose(xt, results[0][1], rtol=1e-13)
    A = dense_w(rows, cols, jv, 0.3)
    np.testing.assert_allclose(results[0][0], np.linalg.solve(A, b), rtol=1e-10)


def test_filled_pattern_holds_every_nonzero_of_the_factors():
    rng = np.random.default_rng(2)
    for rows, cols in PATTERNS.values():
        for order in _native_sparse.orderings(rows, cols, N).values():
            filled = symbolic_factor(rows, cols, N, order)
            A = dense_w(rows, cols, rng.standard_normal(len(rows)), 0.1)[np.ix_(order, order)]
            for k in range(N):  # Gaussian elimination without pivoting, in place
                A[k + 1:, k] /= A[k, k]
                A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
            in_pattern = np.zeros((N, N), dtype=bool)
            in_pattern[np.repeat(np.arange(N), np.diff(filled.ptr)), filled.cols] = True
            assert not np.any((A != 0) & ~in_pattern)


def test_the_fill_reducing_order_is_kept():
    rows, cols = PATTERNS["arrow"]  # hub first: the factors are full; hub last: no fill
    name, filled = _native_sparse.best_pattern(rows, cols, N)
    assert filled.nnz == N + len(rows) and name != "natural"


@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_a_tiny_or_zero_pivot_fails_the_factorisation(kind):
    # W = [[d, 1], [1, d]]: nonsingular, but static pivots need d not tiny (the factors grow as 1/d).
    rows, cols = np.array([0, 1, 0, 1]), np.array([1, 0, 0, 1])
    sparse = Kernels(2, rows, cols, kind=kind)
    dense = Kernels(2, rows, cols, kind="dense")
    piv = np.empty(2, dtype=np.int64)
    for diagonal, ok in ((0.5, True), (1e-12, False), (0.0, False), (np.nan, False), (np.inf, False)):
        jv = np.array([-1.0, -1.0, 1.0 - diagonal, 1.0 - diagonal])  # W = I - J with h = gamma = 1
        W = np.empty(sparse.w_shape)
        assert sparse.factor(jv, 1.0, W, piv) == ok, diagonal
        if np.isfinite(diagonal):  # row exchanges handle what static pivots cannot
            Wd = np.empty(dense.w_shape)
            assert dense.factor(jv, 1.0, Wd, piv)


def linear_network(n: int = 12):
    """Conversions around a ring and skipping ahead by five, with rates from 0.1 to 300
    (stiff): a sparse non-symmetric Jacobian with fill. Returns the model and its
    reactions ``(source, target, rate parameter)``."""
    rates = {"k0": 0.1, "k1": 2.0, "k2": 30.0, "k3": 300.0}
    reactions = [(i, (i + 1) % n, f"k{i % 4}") for i in range(n)] + [(i, (i + 5) % n, f"k{(i + 1) % 4}")
                                                                    for i in range(0, n, 3)]
    m = Model("ring")
    for i in range(n):
        m.add_species(f"X{i}", 1.0 + 0.1 * i)
    for k, v in rates.items():
        m.add_parameter(k, v)
    for q, (a, b, k) in enumerate(reactions):
        m.add_reaction(f"r{q}", f"X{a} -> X{b}", rate=f"default*{k}*X{a}")
    return m, reactions


@pytest.mark.parametrize("generated_lu", [False, True])
def test_a_model_solved_with_the_sparse_lu_matches_the_matrix_exponential(monkeypatch, generated_lu):
    monkeypatch.setattr(_native_sparse, "SPARSE_MIN_STATES", 1)
    monkeypatch.setattr(_native_sparse, "SPARSE_MAX_FILL", 1.0)
    if not generated_lu:
        monkeypatch.setattr(_native_sparse, "GENERATED_MAX_OPS", 0)
    model, reactions = linear_network()
    cm = compile_model(model)
    n = cm.n_states
    gen = _native.generated(cm)
    assert gen.linear_algebra.sparse and gen.generated_lu == generated_lu  # the sparse kernels
    ts = np.array([0.01, 0.5, 2.0, 10.0])
    weights = np.random.default_rng(3).standard_normal((len(ts), n))
    p0 = np.asarray(cm.parameter_values, dtype=float)
    x0 = np.asarray(cm.x0(jnp.asarray(p0)))

    def generator(p):  # dx/dt = A x
        A = np.zeros((n, n))
        for a, b, k in reactions:
            rate = p[cm.parameter_index(k)]
            A[a, a] -= rate
            A[b, a] += rate
        return A

    def reference_loss(p):
        A = generator(p)
        return sum(weights[i] @ scipy.linalg.expm(A * t) @ x0 for i, t in enumerate(ts))

    def loss(p, x0):
        xs, status = _native.native_time_course(cm, p, x0, jnp.asarray(ts), rtol=1e-10, atol=1e-12, max_steps=10000)
        return jnp.sum(jnp.asarray(weights) * xs), (xs, status)

    (_, (xs, status)), (p_bar, x0_bar) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
        jnp.asarray(p0), jnp.asarray(x0))
    assert int(status) == 0
    A = generator(p0)
    expected = np.array([scipy.linalg.expm(A * t) @ x0 for t in ts])
    np.testing.assert_allclose(xs, expected, rtol=1e-7, atol=1e-9)
    # d loss / d x0 = sum_i expm(A t_i)^T w_i; d loss / d p by central differences of expm.
    np.testing.assert_allclose(x0_bar, sum(scipy.linalg.expm(A * t).T @ weights[i] for i, t in enumerate(ts)),
                               rtol=1e-6)
    step = 1e-6 * p0
    fd = [(reference_loss(p0 + step[k] * e) - reference_loss(p0 - step[k] * e)) / (2 * step[k])
          for k, e in enumerate(np.eye(len(p0)))]
    np.testing.assert_allclose(p_bar, fd, rtol=1e-5, atol=1e-9 * np.abs(fd).max())


def test_a_later_process_finds_the_lu_storage_that_was_chosen(monkeypatch, tmp_path):
    """The LU's storage is cached with the model's code: a model generated again (as in a
    later process) from the cache has the storage computed from its Jacobian's pattern,
    dense (12 states) or sparse (24)."""
    from celltwin.simulate import _build

    _native._kernels()
    monkeypatch.setenv("CELLTWIN_NATIVE_CACHE", str(tmp_path))
    monkeypatch.setenv("CELLTWIN_KERNELS_JOB", "1")
    _build.cache_folder.cache_clear()
    try:
        for n in (12, 24):
            model, _ = linear_network(n)
            first = _native.generated(compile_model(model))
            again = _native.generated(compile_model(model))  # from the cached library and pattern
            assert first is not again and first.digest == again.digest
            expected = _native_sparse.linear_algebra(n, again.jac_rows, again.jac_cols)
            assert again.linear_algebra.sparse == expected.sparse == int(n >= _native_sparse.SPARSE_MIN_STATES)
            assert first.generated_lu == again.generated_lu == bool(expected.sparse)  # (small enough)
            for field in expected._fields:
                np.testing.assert_array_equal(getattr(again.linear_algebra, field), getattr(expected, field))
    finally:
        monkeypatch.undo()
        _build.cache_folder.cache_clear()
