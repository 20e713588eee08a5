"""Sparse Jacobians of a compiled model's right-hand side.

A stiff solver needs ``df/dx`` in every step. Differentiating the whole right-hand side
in forward mode costs one pass per state (Chen 2009: 500 passes per step). Here it is
built the way the model is: ``f = N v(x)``, with the (scaled) stoichiometry ``N`` fixed
and the reaction rates ``v`` each depending on a few states. The rate Jacobian ``dv/dx``
is sparse with a known pattern, so a column colouring (Curtis, Powell & Reid 1974)
recovers it from one forward-mode pass per colour -- a handful, since a reaction has at
most a few reactants -- and ``N dv/dx`` is a fixed gather / multiply / scatter-add.

jax has no sparse-Jacobian routine and sparsejac-style packages colour the full ``f``
(Chen: 144 colours); colouring ``v`` instead is what makes this cheap, hence our own.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def colour_columns(pattern: np.ndarray) -> np.ndarray:
    """Greedy column colouring: columns that share no non-zero row get the same colour.

    Columns are coloured widest first. Returns the colour of each column (0-based).
    """
    pattern = np.asarray(pattern, dtype=bool)
    n_cols = pattern.shape[1]
    colour = np.full(n_cols, -1, dtype=np.int32)
    covered: list[np.ndarray] = []  # per colour: the rows its columns already use
    for j in np.argsort(-pattern.sum(axis=0), kind="stable"):
        rows = pattern[:, j]
        for c, used in enumerate(covered):
            if not np.any(used & rows):
                used |= rows
                colour[j] = c
                break
        else:
            covered.append(rows.copy())
            colour[j] = len(covered) - 1
    return colour


class SparseChainRule:
    """Index arrays for ``J = diag(w) N dv/dx`` with a sparse ``dv/dx``.

    Arguments:
        depends: ``(n_fluxes, n_states)`` bool, the pattern of ``dv/dx``.
        stoich_rows, stoich_cols, stoich_vals: triplets of ``N`` (state, flux, coefficient).
        n_states: size of the state.

    Attributes:
        seeds: ``(n_states, n_colours)`` tangents whose products give ``dv/dx`` compressed.
        n_colours: number of forward-mode passes per Jacobian.
        pattern: ``(n_states, n_states)`` bool, the structural non-zeros of ``J``.
    """

    def __init__(self, depends: np.ndarray, stoich_rows, stoich_cols, stoich_vals, n_states: int):
        depends = np.asarray(depends, dtype=bool)
        self.n_states = n_states
        colour = colour_columns(depends) if depends.size else np.zeros(n_states, dtype=np.int32)
        self.n_colours = int(colour.max()) + 1 if n_states else 0
        self.seeds = np.zeros((n_states, self.n_colours))
        self.seeds[np.arange(n_states), colour] = 1.0
        # The non-zeros of dv/dx, read back from the compressed product.
        dep_rows, dep_cols = np.nonzero(depends)
        self.dep_rows, self.dep_colour = dep_rows, colour[dep_cols]
        # Each (stoichiometry entry, non-zero of its flux's row) adds to J[i, j].
        by_flux: dict[int, list[int]] = {}
        for q, r in enumerate(dep_rows):
            by_flux.setdefault(int(r), []).append(q)
        target, coeff, source, row = [], [], [], []
        for i, r, val in zip(stoich_rows, stoich_cols, stoich_vals):
            for q in by_flux.get(int(r), ()):
                target.append(int(i) * n_states + int(dep_cols[q]))
                coeff.append(float(val))
                source.append(q)
                row.append(int(i))
        self.target = np.asarray(target, dtype=np.int64)
        self.coeff = np.asarray(coeff, dtype=float)
        self.source = np.asarray(source, dtype=np.int32)
        self.row = np.asarray(row, dtype=np.int32)
        pattern = np.zeros(n_states * n_states, dtype=bool)
        pattern[self.target] = True
        self.pattern = pattern.reshape(n_states, n_states)

    def jacobian(self, jvp, row_weights, dtype):
        """``J`` (dense) from ``jvp``, the linearised flux function, and per-state weights."""
        n = self.n_states
        if not len(self.target):
            return jnp.zeros((n, n), dtype=dtype)
        compressed = jax.vmap(jvp, in_axes=1, out_axes=1)(jnp.asarray(self.seeds, dtype=dtype))
        dvdx = compressed[self.dep_rows, self.dep_colour]
        values = self.coeff * row_weights[self.row] * dvdx[self.source]
        return jnp.zeros((n * n,), dtype=dtype).at[self.target].add(values).reshape(n, n)
