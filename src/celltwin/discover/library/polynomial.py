"""All monomials of the species up to a total degree."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from .base import AbstractLibrary, Term, monomial


@dataclasses.dataclass(frozen=True)
class PolynomialLibrary(AbstractLibrary):
    """Monomials ``A^i * B^j * ...`` with ``1 <= i + j + ... <= degree`` (and ``1``)."""

    degree: int = 2
    include_constant: bool = True

    def __post_init__(self):
        if int(self.degree) < 1:
            raise ValueError(f"PolynomialLibrary: degree must be >= 1, got {self.degree}")

    def terms(self, species: Sequence[str]) -> list[Term]:
        out = [monomial(species, [0] * len(species))] if self.include_constant else []
        for total in range(1, int(self.degree) + 1):
            for combo in itertools.combinations_with_replacement(range(len(species)), total):
                powers = [combo.count(i) for i in range(len(species))]
                out.append(monomial(species, powers))
        return out
