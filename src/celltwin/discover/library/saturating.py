"""Saturating rate terms: Michaelis-Menten and Hill activation / repression on a grid of constants."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sympy as sp

from ...model import symbol
from .base import AbstractLibrary, Term, number


@dataclasses.dataclass(frozen=True)
class MichaelisMentenLibrary(AbstractLibrary):
    """``mm(S, K) = S / (K + S)`` for each species and each ``K`` in ``constants``;
    with ``enzymes=True`` also ``E*mm(S, K)`` for every other species ``E``."""

    constants: tuple[float, ...] = (0.5, 1.0, 2.0)
    enzymes: bool = False

    def terms(self, species: Sequence[str]) -> list[Term]:
        out = []
        for s in species:
            for k in self.constants:
                base = Term(f"mm({s}, {number(k)})", symbol(s) / (sp.Float(k) + symbol(s)))
                out.append(base)
                if self.enzymes:
                    out += [Term(f"{e}*{base.name}", symbol(e) * base.expr) for e in species if e != s]
        return out


@dataclasses.dataclass(frozen=True)
class HillLibrary(AbstractLibrary):
    """``hill(A, K, n) = A^n / (K^n + A^n)`` for each species, ``K`` and ``n``; with
    ``repression=True`` also ``hill_rep(A, K, n) = K^n / (K^n + A^n)``. Since
    ``hill_rep = 1 - hill``, repression is already covered when the library holds the
    constant term (mass-action and polynomial libraries do), so it is off by default."""

    constants: tuple[float, ...] = (0.5, 1.0, 2.0)
    exponents: tuple[float, ...] = (2.0, 4.0)
    repression: bool = False

    def terms(self, species: Sequence[str]) -> list[Term]:
        out = []
        for s in species:
            x = symbol(s)
            for k in self.constants:
                for n in self.exponents:
                    kn, nn = sp.Float(k) ** sp.Float(n), sp.Float(n)
                    args = f"{s}, {number(k)}, {number(n)}"
                    out.append(Term(f"hill({args})", x**nn / (kn + x**nn)))
                    if self.repression:
                        out.append(Term(f"hill_rep({args})", kn / (kn + x**nn)))
        return out
