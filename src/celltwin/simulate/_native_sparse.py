"""The native backend's linear algebra, chosen per model: a dense LU or a sparse one
generated from the Jacobian's sparsity.

Each Rodas5P step factorises ``W = I/gamma - h J`` and solves with it 8 times (8 more
with ``W^T`` in the reverse pass). A dense LU costs ``n^3/3`` multiply-adds: 42 million
for Chen 2009's 500 states, where ``J`` has 4400 non-zeros. The sparse LU here works
only on the entries of the factors that can be non-zero:

* **Ordering** (once per model): a fill-reducing symmetric permutation, the pivots
  staying on the diagonal. Several orderings are tried and the one whose factorisation
  needs the fewest multiply-adds is kept (``benchmarks/native_linear_algebra.py`` prints
  the fill of each).
* **Symbolic factorisation** (once per model): the exact pattern of ``L + U`` for that
  order (row ``k`` gains the upper part of each earlier row ``c`` it has an entry in),
  stored row by row (compressed sparse rows, columns in elimination order).
* **Numeric kernels** (every step, numba): a row-by-row (Doolittle "ikj") elimination
  through a dense work row, and the triangular solves with ``W`` and ``W^T``, all
  loops over index arrays, so they compile in the same short time for any model.
* **Generated kernels** (every step, C; where the model's code is compiled with a C
  compiler and the factorisation is at most ``GENERATED_MAX_OPS`` operations): the same
  elimination and solves written out for the one pattern, every index a constant
  (:func:`generated_lu`). The loops over index arrays spend most of their time on the
  indices and on the chain of one accumulator; written out, EGFR's (23 states) solve
  takes 85 ns instead of 360 and its factorisation with the forming of ``W`` 600 ns
  instead of 1200.

Pivots are static (no row exchanges). A zero pivot, or growth of the eliminated entries
beyond ``MAX_GROWTH`` times ``W``'s largest (how a bad pivot order shows), makes
``lu_factor`` return False, as the dense LU does for a singular ``W``: the solver then
retries the step with a smaller ``h``, where ``W`` tends to ``I/gamma`` and the diagonal
dominates.

The kernels (``_native_kernels.py``) store ``W`` as a vector: row-major ``n x n`` for the
dense LU, the filled pattern's values for the sparse one (:class:`LinearAlgebra` says
which), so the tape of factorised ``W`` per step shrinks to those values.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sps
from scipy.sparse.csgraph import reverse_cuthill_mckee

from ._sparse_lu import _minimum_degree

# Without row exchanges a bad pivot shows as growth: the factorisation is refused (the
# step retried with a smaller h) once an entry of the eliminated matrix exceeds
# MAX_GROWTH times W's largest. On the benchmark models the growth stays below 1e4 up to
# h = 1e4 (Chen 5e3, Smith 32, Bachmann 83; the solutions as accurate as the dense LU's),
# while a ring I + c P grows as c^n. A pivot small against its column is not refused as
# such: Bachmann's W has pivots 1e-8 of their column at h = 100 and no growth.
# Accepting growth g is solving with a W perturbed by ~ n eps g |W|, i.e. a Jacobian error
# of at most ~1e-7 of its largest entry, which a Rosenbrock step absorbs.
MAX_GROWTH = 1e6
# From this many states on the sparse LU is used. benchmarks/native_linear_algebra.py
# (factor + 8 solves + 8 transposed solves, results/native_linear_algebra.tsv): below 20
# states the two are within the noise (0.97-1.18x, 3 to 16 states), from 22 on the sparse
# one is faster (Raimundez 22: 2.0x, EGFR 23: 1.6x, Bachmann 25: 2.1x, Lucarelli 33: 2.8x,
# Smith 109: 4.4x, Chen 500: 13x). Small models keep the dense LU, whose row exchanges
# never refuse a step.
SPARSE_MIN_STATES = 20
# ... unless the factors fill more than this fraction of n x n: the sparse kernels pay an
# index per operation, the dense ones none (no benchmark model from 20 states on exceeds
# 0.21; Blasi's 16 states fill 0.52 and the sparse LU is still 1.16x faster).
SPARSE_MAX_FILL = 0.5


@dataclass(frozen=True)
class FilledPattern:
    """The pattern of ``L + U`` of ``W`` in elimination order, row by row.

    Row ``k`` (the original row ``order[k]``) holds entries ``ptr[k]:ptr[k+1]``; ``cols``
    are positions in elimination order, ascending within a row; ``diag[k]`` is the index
    of the pivot; entries before it belong to ``L`` (unit diagonal), from it on to ``U``.
    """

    order: np.ndarray  # position -> original index
    ptr: np.ndarray
    cols: np.ndarray
    diag: np.ndarray

    @property
    def n(self) -> int:
        return len(self.order)

    @property
    def nnz(self) -> int:
        return len(self.cols)

    @property
    def factor_flops(self) -> int:
        """Multiply-adds of one factorisation (divisions counted as one)."""
        upper = self.ptr[1:] - self.diag - 1  # off-diagonal entries of each row of U
        lower_cols = self.cols[np.concatenate([np.arange(self.ptr[k], self.diag[k]) for k in range(self.n)])] \
            if self.nnz else np.zeros(0, dtype=np.int64)
        return int(len(lower_cols) + upper[lower_cols].sum())


def _symmetrised(rows: np.ndarray, cols: np.ndarray, n: int) -> list[set[int]]:
    adjacency: list[set[int]] = [set() for _ in range(n)]
    for a, b in zip(rows.tolist(), cols.tolist()):
        if a != b:
            adjacency[a].add(b)
            adjacency[b].add(a)
    return adjacency


def orderings(rows: np.ndarray, cols: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Candidate elimination orders (position -> original index) for the pattern of
    ``W``: the natural one, reverse Cuthill-McKee and minimum degree on ``W + W^T``."""
    adjacency = _symmetrised(rows, cols, n)
    sym = sps.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    sym = (sym + sym.T + sps.identity(n)).tocsr()
    candidates = {"natural": np.arange(n), "rcm": np.asarray(reverse_cuthill_mckee(sym, symmetric_mode=True))}
    # slack 0: one node of least degree per round, as classic minimum degree (fewest fill).
    candidates["min_degree"] = np.asarray(_minimum_degree(adjacency, slack=0)[0], dtype=np.int64)
    return {k: v.astype(np.int64) for k, v in candidates.items()}


def symbolic_factor(rows: np.ndarray, cols: np.ndarray, n: int, order: np.ndarray) -> FilledPattern:
    """The pattern of ``L + U`` when ``W`` (pattern ``rows, cols`` plus the diagonal) is
    factorised with diagonal pivots in ``order``."""
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    initial: list[set[int]] = [{k} for k in range(n)]
    for a, b in zip(position[rows].tolist(), position[cols].tolist()):
        initial[a].add(b)
    upper: list[list[int]] = []  # per finished row: its columns after the diagonal
    ptr, all_cols, diag = [0], [], []
    for k in range(n):
        pattern = initial[k]
        pending = [c for c in pattern if c < k]
        heapq.heapify(pending)
        done: set[int] = set()
        while pending:  # eliminate with earlier rows in ascending order; fill may add more
            c = heapq.heappop(pending)
            if c in done:
                continue
            done.add(c)
            for j in upper[c]:
                if j not in pattern:
                    pattern.add(j)
                    if j < k:
                        heapq.heappush(pending, j)
        row = sorted(pattern)
        d = row.index(k)
        upper.append(row[d + 1:])
        diag.append(ptr[-1] + d)
        all_cols += row
        ptr.append(len(all_cols))
    as_int = lambda v: np.asarray(v, dtype=np.int64)
    return FilledPattern(order=as_int(order), ptr=as_int(ptr), cols=as_int(all_cols), diag=as_int(diag))


def best_pattern(rows: np.ndarray, cols: np.ndarray, n: int) -> tuple[str, FilledPattern]:
    """The candidate ordering whose factorisation needs the fewest multiply-adds."""
    filled = {name: symbolic_factor(rows, cols, n, order) for name, order in orderings(rows, cols, n).items()}
    name = min(filled, key=lambda k: (filled[k].factor_flops, filled[k].nnz))
    return name, filled[name]


class LinearAlgebra(NamedTuple):
    """How the kernels store and factorise ``W`` for one model: ``sparse`` (0/1), and for
    the sparse LU the filled pattern (``order``: position -> original index; ``ptr``,
    ``cols``, ``cols_orig``, ``diag``: the rows of ``L + U`` in elimination order, columns
    as positions and as original indices); for both, ``w_from_jac`` (where each Jacobian
    non-zero goes in ``W``'s storage), ``diag`` (where each pivot is) and ``w_size``.
    Dense: ``W`` row-major ``n x n``."""

    sparse: int
    n: int
    w_size: int
    order: np.ndarray
    ptr: np.ndarray
    cols: np.ndarray
    cols_orig: np.ndarray
    diag: np.ndarray
    w_from_jac: np.ndarray

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """What the kernels take (``_native_kernels.py``); the last, the addresses of the
        model's generated kernels (:func:`generated_lu`'s three and ``jac_outer``), is
        filled where they are compiled."""
        return self.order, self.ptr, self.cols, self.cols_orig, self.diag, self.w_from_jac, np.zeros(4, np.int64)


def _ints(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def dense(n: int, rows: np.ndarray, cols: np.ndarray) -> LinearAlgebra:
    empty = _ints([])
    return LinearAlgebra(0, n, n * n, empty, empty, empty, empty, _ints(np.arange(n) * (n + 1)),
                         _ints(np.asarray(rows) * n + np.asarray(cols)))


def sparse(filled: FilledPattern, rows: np.ndarray, cols: np.ndarray) -> LinearAlgebra:
    """The sparse storage of ``filled``; ``rows, cols``: the Jacobian's non-zeros, in the
    order ``jac`` writes them."""
    position = np.empty(filled.n, dtype=np.int64)
    position[filled.order] = np.arange(filled.n)
    where = {}
    for k in range(filled.n):
        for e in range(filled.ptr[k], filled.ptr[k + 1]):
            where[(k, int(filled.cols[e]))] = e
    w_from_jac = [where[(int(position[a]), int(position[b]))] for a, b in zip(rows, cols)]
    return LinearAlgebra(1, filled.n, filled.nnz, _ints(filled.order), _ints(filled.ptr), _ints(filled.cols),
                         _ints(filled.order[filled.cols]), _ints(filled.diag), _ints(w_from_jac))


def linear_algebra(n: int, rows: np.ndarray, cols: np.ndarray, *, use_sparse: bool | None = None) -> LinearAlgebra:
    """The LU for a model whose Jacobian has the non-zeros ``rows, cols``: sparse from
    ``SPARSE_MIN_STATES`` states on where the factors stay sparse, else dense
    (``use_sparse`` forces the choice)."""
    rows, cols = _ints(rows), _ints(cols)
    if use_sparse is False or (use_sparse is None and n < SPARSE_MIN_STATES):
        return dense(n, rows, cols)
    _, filled = best_pattern(rows, cols, n)
    if use_sparse is None and filled.nnz > SPARSE_MAX_FILL * n * n:
        return dense(n, rows, cols)
    return sparse(filled, rows, cols)


# --- generated kernels ----------------------------------------------------------------------
# Up to this many operations (factorisation multiply-adds plus the entries of W, once per
# solve) the sparse LU is written out as C. benchmarks/native_linear_algebra.py (factor + 8
# solves + 8 transposed solves, generated against the loops): EGFR (23 states, 840
# operations) 3.1x faster, Bachmann (25, 480) 3.3x, Smith (109, 8640) 2.5x; Chen (500,
# 72 000) 0.64x, and gcc takes 30 s for it (written out, its code is megabytes: probably
# beyond the processor's instruction caches; alone, its factorisation was faster, 84 -> 54 us).
GENERATED_MAX_OPS = 20_000


def generated_ops(la: LinearAlgebra) -> int:
    """The size of the generated kernels of ``la``, in operations."""
    filled = FilledPattern(la.order, la.ptr, la.cols, la.diag)
    return filled.factor_flops + 3 * la.w_size


def use_generated(la: LinearAlgebra) -> bool:
    """Whether ``la`` is factorised by generated kernels (where a C compiler is found)."""
    return bool(la.sparse) and generated_ops(la) <= GENERATED_MAX_OPS


class CFunction(NamedTuple):
    """A C function written out as statements: its arguments (each a ``double *``), its
    statements, and the lines that begin and end it (and each piece it is split into)."""

    args: list[str]
    statements: list[str]
    prologue: str = ""
    epilogue: str = ""


def generated_lu(la: LinearAlgebra) -> dict[str, CFunction]:
    """The sparse LU of ``la`` written out as C statements, per function (``name ->``
    :class:`CFunction`). Three functions:

    * ``lu_factor(jv, hg, W)``: ``W = I/gamma - h J`` from the Jacobian's non-zeros ``jv``
      (``hg[0] = h``, ``hg[1] = 1/gamma``), factorised in place as the numba kernel does
      (the same order of operations), except that the pivots are stored inverted, so that
      the solves multiply where they would divide. ``hg[2]`` is set to 1.0, or to 0.0 where
      the numba kernel refuses the factorisation (a pivot zero, an entry not finite or
      grown beyond ``MAX_GROWTH`` times ``W``'s largest); ``hg[3]`` is scratch.
    * ``lu_solve(W, b, _)`` and ``lu_solve_t(W, b, _)``: ``b`` overwritten by ``W^-1 b``
      and ``W^-T b``.

    ``lu_factor``'s statements use a local ``int ok``: its prologue sets it to 1 at the
    start of each piece, its epilogue clears ``hg[2]`` where a piece ends with it 0."""
    order, ptr, cols, cols_orig, diag = (np.asarray(a).tolist() for a in (la.order, la.ptr, la.cols,
                                                                              la.cols_orig, la.diag))
    n, nnz = la.n, la.w_size
    where = {(k, cols[e]): e for k in range(n) for e in range(ptr[k], ptr[k + 1])}
    jac_at = {int(e): q for q, e in enumerate(np.asarray(la.w_from_jac).tolist())}
    diagonal = set(diag)
    factor = ["hg[2] = 1.0;"]
    for e in range(nnz):  # forming W
        value = f"hg[1] - hg[0] * jv[{jac_at[e]}]" if e in jac_at and e in diagonal else \
            f"-hg[0] * jv[{jac_at[e]}]" if e in jac_at else "hg[1]" if e in diagonal else "0.0"
        factor.append(f"W[{e}] = {value};")
    factor += [f"{{ double largest = 0.0; for (int e = 0; e < {nnz}; e++) {{ double a = fabs(W[e]); "
               "if (!(a <= largest)) largest = a; }",
               f"  ok &= isfinite(largest); hg[3] = {MAX_GROWTH!r} * largest; }}"]
    for k in range(n):
        for e in range(ptr[k], diag[k]):  # L's columns in ascending order
            c = cols[e]
            factor.append(f"ok &= fabs(W[{e}]) <= hg[3]; W[{e}] *= W[{diag[c]}];")
            factor += [f"W[{where[(k, cols[g])]}] -= W[{e}] * W[{g}];" for g in range(diag[c] + 1, ptr[c + 1])]
        factor += [f"ok &= fabs(W[{e}]) <= hg[3];" for e in range(diag[k] + 1, ptr[k + 1])]
        d = diag[k]
        factor.append(f"ok &= (fabs(W[{d}]) <= hg[3]) & (W[{d}] != 0.0); W[{d}] = 1.0 / W[{d}];")
    solve = []
    for k in range(n):
        terms = "".join(f" - W[{e}] * b[{cols_orig[e]}]" for e in range(ptr[k], diag[k]))
        if terms:
            solve.append(f"b[{order[k]}] = b[{order[k]}]{terms};")
    for k in range(n - 1, -1, -1):
        terms = "".join(f" - W[{e}] * b[{cols_orig[e]}]" for e in range(diag[k] + 1, ptr[k + 1]))
        solve.append(f"b[{order[k]}] = (b[{order[k]}]{terms}) * W[{diag[k]}];")
    solve_t = []
    for k in range(n):
        solve_t.append(f"b[{order[k]}] *= W[{diag[k]}];")
        solve_t += [f"b[{cols_orig[e]}] -= W[{e}] * b[{order[k]}];" for e in range(diag[k] + 1, ptr[k + 1])]
    for k in range(n - 1, -1, -1):
        solve_t += [f"b[{cols_orig[e]}] -= W[{e}] * b[{order[k]}];" for e in range(ptr[k], diag[k])]
    return {"lu_factor": CFunction(["jv", "hg", "W"], factor, "int ok = 1;", "if (!ok) hg[2] = 0.0;"),
            "lu_solve": CFunction(["W", "b", "unused"], solve), "lu_solve_t": CFunction(["W", "b", "unused"], solve_t)}
