"""Rates of mass-action reactions with at most ``order`` reactant molecules."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from .base import AbstractLibrary, Term, monomial


@dataclasses.dataclass(frozen=True)
class MassActionLibrary(AbstractLibrary):
    """Mass-action rate terms: ``1`` (zero-order synthesis), ``A`` (first order: decay,
    conversion), and for every species pair ``A*B`` and ``A^2`` (second order: binding,
    dimerisation); ``order=3`` adds three-molecule products."""

    order: int = 2

    def __post_init__(self):
        if int(self.order) not in (1, 2, 3):
            raise ValueError(f"MassActionLibrary: order must be 1, 2 or 3, got {self.order}")

    def terms(self, species: Sequence[str]) -> list[Term]:
        out = [monomial(species, [0] * len(species))]
        for n in range(1, int(self.order) + 1):
            for combo in itertools.combinations_with_replacement(range(len(species)), n):
                out.append(monomial(species, [combo.count(i) for i in range(len(species))]))
        return out
