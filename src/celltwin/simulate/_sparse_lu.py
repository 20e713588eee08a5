"""LU factorisation of matrices with a fixed sparsity pattern, as straight-line JAX code.

A Rosenbrock step factorises ``W = I/gamma - h J`` once. For large reaction networks
``J`` is very sparse (Chen 2009: 500 states, 4400 non-zeros), and a dense LU (a LAPACK
call, O(n^3)) is most of the cost of a step. JAX has no sparse direct solver on CPU, so
this module compiles one for a given pattern:

* **Symbolic phase** (numpy, once per model): a minimum-degree elimination order on the
  symmetrised pattern, which also yields the filled pattern (each eliminated node makes
  its remaining neighbours a clique) and the elimination tree.
* **Numeric phase** (JAX, every step): right-looking elimination on the filled pattern's
  values, batched by elimination-tree level (nodes on one level are independent), so the
  traced program has a few gather / scatter-add operations per level instead of per
  node.

Pivots are taken on the diagonal in the fixed order (no row exchanges). ``W`` has
``1/(h gamma)`` added to the diagonal, which dominates for the step sizes where the
solution is still accurate; a pivot that vanishes gives non-finite stage values, which
the solver reports as an infinite error, so the step is rejected and retried smaller
(where ``W`` is more diagonally dominant). The dense LU remains the default for small
models, where LAPACK is faster than any scatter.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np


def _minimum_degree(adjacency: list[set[int]], slack: int = 1) -> tuple[list[int], list[list[int]]]:
    """Elimination order and, per eliminated node, its neighbours at elimination (the fill).

    Multiple minimum degree: each round eliminates an independent set of nodes whose
    degree is at most the current minimum + ``slack``. Independent nodes do not change each
    other's neighbourhoods, so a round is one level of the elimination tree; with
    ``slack = 1`` a chain is halved per round (depth log n, not n / 2) at little extra fill.
    """
    adj = [set(a) for a in adjacency]
    alive = set(range(len(adj)))
    order, later = [], []
    while alive:
        least = min(len(adj[v]) for v in alive)
        blocked: set[int] = set()
        chosen = []
        for v in sorted((v for v in alive if len(adj[v]) <= least + slack), key=lambda v: (len(adj[v]), v)):
            if v not in blocked:
                chosen.append(v)
                blocked |= adj[v]
                blocked.add(v)
        for k in chosen:
            nbrs = adj[k]
            for v in nbrs:
                adj[v] |= nbrs
                adj[v].discard(v)
                adj[v].discard(k)
            order.append(k)
            later.append(sorted(nbrs))
            alive.discard(k)
            adj[k] = set()
    return order, later


class SparseLU:
    """An LU factorisation compiled for one sparsity pattern (see the module docstring).

    Arguments:
        pattern: ``(n, n)`` bool, the possibly non-zero entries (the diagonal is added).
    """

    def __init__(self, pattern: np.ndarray):
        pattern = np.asarray(pattern, dtype=bool)
        n = pattern.shape[0]
        sym = pattern | pattern.T
        np.fill_diagonal(sym, False)
        order, later = _minimum_degree([set(np.nonzero(row)[0].tolist()) for row in sym])
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        # In elimination positions: the neighbours of pivot k that come after it.
        nbrs = [np.sort(position[np.asarray(v, dtype=np.int64)]) for v in later]
        self.n = n
        self.perm = np.asarray(order, dtype=np.int64)  # position -> original index

        # Entries of the filled matrix, in positions: the diagonal, then per pivot k its
        # column (i, k) and row (k, j) for i, j in nbrs[k]; fill between neighbours is
        # in those of an earlier pivot, as the clique construction guarantees.
        index: dict[tuple[int, int], int] = {}
        for k in range(n):
            index[(k, k)] = len(index)
        for k in range(n):
            for i in nbrs[k]:
                index[(int(i), k)] = len(index)
                index[(k, int(i))] = len(index)
        self.nnz = len(index)
        entries = np.array(list(index.keys()), dtype=np.int64)
        # Where each filled entry sits in the permuted dense matrix.
        self.rows, self.cols = entries[:, 0], entries[:, 1]

        # The last pivots usually form a clique (minimum degree leaves the densest part
        # for the end): factorise that trailing block densely, with LAPACK and pivoting.
        r = n
        while r > 0 and len(nbrs[r - 1]) == n - r and np.array_equal(nbrs[r - 1], np.arange(r, n)):
            r -= 1
        self.block_start = r
        self.block = np.array([[index[(i, j)] for j in range(r, n)] for i in range(r, n)], dtype=np.int64)

        # Elimination tree levels of the sparse pivots: parent(k) = first later neighbour.
        level = np.zeros(n, dtype=np.int64)
        for k in range(r):
            if len(nbrs[k]):
                parent = int(nbrs[k][0])
                level[parent] = max(level[parent], level[k] + 1)
        self.n_levels = int(level[:r].max()) + 1 if r else 0
        self.levels = []
        for lev in range(self.n_levels):
            ks = np.nonzero(level[:r] == lev)[0]
            l_entries, l_pivot, l_row = [], [], []
            u_entries, u_pivot, u_col = [], [], []
            dst, src_l, src_u = [], [], []
            for k in ks:
                col = [index[(int(i), int(k))] for i in nbrs[k]]
                row = [index[(int(k), int(j))] for j in nbrs[k]]
                l_entries += col
                l_pivot += [k] * len(col)
                l_row += nbrs[k].tolist()
                u_entries += row
                u_pivot += [k] * len(row)
                u_col += nbrs[k].tolist()
                for a, i in enumerate(nbrs[k]):
                    for b, j in enumerate(nbrs[k]):
                        dst.append(index[(int(i), int(j))])
                        src_l.append(col[a])
                        src_u.append(row[b])
            as_int = lambda v: np.asarray(v, dtype=np.int64)
            self.levels.append(dict(
                pivots=as_int(ks), l_entries=as_int(l_entries), l_pivot=as_int(l_pivot), l_row=as_int(l_row),
                u_entries=as_int(u_entries), u_pivot=as_int(u_pivot), u_col=as_int(u_col),
                dst=as_int(dst), src_l=as_int(src_l), src_u=as_int(src_u),
            ))

    def __repr__(self) -> str:
        return (f"SparseLU(n={self.n}, filled nnz={self.nnz}, sparse levels={self.n_levels}, "
                f"dense block={self.n - self.block_start})")

    def factor(self, A: jax.Array):
        """The LU factors of ``A`` (dense ``(n, n)``): the filled pattern's values and the
        dense trailing block's LAPACK factors."""
        vals = A[self.perm[self.rows], self.perm[self.cols]]
        for lev in self.levels:
            if not len(lev["l_entries"]):
                continue
            vals = vals.at[lev["l_entries"]].divide(vals[lev["l_pivot"]], unique_indices=True)
            vals = vals.at[lev["dst"]].add(-vals[lev["src_l"]] * vals[lev["src_u"]])
        block = jsl.lu_factor(vals[self.block]) if self.block_start < self.n else None
        return vals, block

    def solve(self, factors, b: jax.Array) -> jax.Array:
        """Solve ``A x = b`` with the factors from :meth:`factor`."""
        vals, block = factors
        r = self.block_start
        y = b[self.perm]
        for lev in self.levels:  # forward: unit lower triangle, leaves first
            if len(lev["l_entries"]):
                y = y.at[lev["l_row"]].add(-vals[lev["l_entries"]] * y[lev["l_pivot"]])
        x = y if block is None else y.at[r:].set(jsl.lu_solve(block, y[r:]))
        for lev in reversed(self.levels):  # backward: upper triangle, root first
            ks = lev["pivots"]
            if len(lev["u_entries"]):
                x = x.at[lev["u_pivot"]].add(-vals[lev["u_entries"]] * x[lev["u_col"]])
            x = x.at[ks].divide(vals[ks], unique_indices=True)
        return jnp.zeros_like(b).at[self.perm].set(x)
