"""A library cut down to terms that are linearly independent on the data.

Under a conservation law (``K1 + K1p = 1`` in every condition) the columns ``1``, ``K1``
and ``K1p`` of a library are linearly dependent on the data, and so are their products
with any other term: the regression cannot tell the terms apart, sparse optimizers keep
all of them, and equations that are fitted on the data's subspace blow up off it.
:meth:`IndependentLibrary.from_data` keeps each term (in library order) only when its
column is not, to within ``rtol``, a linear combination of the columns already kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .base import AbstractLibrary, Term, evaluate


@dataclasses.dataclass(frozen=True)
class IndependentLibrary(AbstractLibrary):
    """Fixed terms (``kept``), chosen from a library by :meth:`from_data`; ``dropped`` lists
    the terms found dependent on them."""

    kept: tuple[Term, ...]
    dropped: tuple[Term, ...] = ()
    rtol: float = 0.0

    def terms(self, species: Sequence[str]) -> list[Term]:
        return list(self.kept)

    @classmethod
    def from_data(cls, library: AbstractLibrary, data, *, rtol: float = 1e-6) -> IndependentLibrary:
        """Greedy Gram-Schmidt over the library's columns on every sample of ``data`` (a
        :class:`~celltwin.discover.TimeCourses`): a term is dropped when the norm of its
        unit-norm column, after projecting out the kept columns, is at most ``rtol``
        (``rtol`` is about the data's relative noise level for near-dependencies)."""
        terms = library.terms(data.species)
        states = np.concatenate([traj.states for traj in data.trajectories])
        columns = evaluate(terms, data.species, states)
        basis = np.zeros((len(states), 0))
        kept, dropped = [], []
        for term, column in zip(terms, columns.T):
            norm = np.linalg.norm(column)
            if norm == 0.0:
                dropped.append(term)
                continue
            residual = column / norm
            for _ in range(2):  # twice: classical Gram-Schmidt loses orthogonality once
                residual = residual - basis @ (basis.T @ residual)
            size = np.linalg.norm(residual)
            if size > rtol:
                basis = np.column_stack([basis, residual / size])
                kept.append(term)
            else:
                dropped.append(term)
        return cls(tuple(kept), tuple(dropped), float(rtol))
