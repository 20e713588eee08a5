"""Candidate terms and the abstract candidate library.

A term is a named sympy expression over species symbols. Term names are written as
products of factors separated by ``*``: a species id (``A``), a power (``A^2``) or a named
function of one species (``mm(A, K)``, ``hill(A, K, n)``, ``hill_rep(A, K, n)``); the
constant term is ``1``. User terms keep the name the user gave them.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence

import numpy as np
import sympy as sp

from ...errors import CelltwinInputError
from ...model import symbol


@dataclasses.dataclass(frozen=True)
class Term:
    """One candidate term: its name in ``model.json`` and its expression over species ids."""

    name: str
    expr: sp.Expr

    def species(self) -> frozenset[str]:
        """Ids of the species the term depends on."""
        return frozenset(s.name for s in self.expr.free_symbols)


class AbstractLibrary(abc.ABC):
    """A family of candidate terms built from the observed species ids.

    Libraries combine with ``+`` (terms with the same expression are kept once).
    """

    @abc.abstractmethod
    def terms(self, species: Sequence[str]) -> list[Term]:
        """The candidate terms for these species, in a fixed order."""

    def __add__(self, other: AbstractLibrary) -> CombinedLibrary:
        if not isinstance(other, AbstractLibrary):
            return NotImplemented
        return CombinedLibrary((self, other))


@dataclasses.dataclass(frozen=True)
class CombinedLibrary(AbstractLibrary):
    """The union of several libraries (first occurrence of an expression wins)."""

    parts: tuple[AbstractLibrary, ...]

    def terms(self, species: Sequence[str]) -> list[Term]:
        seen: set[sp.Expr] = set()
        out: list[Term] = []
        for part in self.parts:
            for term in part.terms(species):
                key = term.expr
                if key not in seen:
                    seen.add(key)
                    out.append(term)
        return out


def monomial(species: Sequence[str], powers: Sequence[int]) -> Term:
    """The product ``prod(species[i] ** powers[i])`` named like ``A*B^2`` (``1`` if empty)."""
    factors = [(s, int(k)) for s, k in zip(species, powers) if k]
    if not factors:
        return Term("1", sp.Integer(1))
    name = "*".join(s if k == 1 else f"{s}^{k}" for s, k in factors)
    return Term(name, sp.Mul(*[symbol(s) ** k for s, k in factors]))


def number(value: float) -> str:
    """A constant as written in a term name (``0.5``, ``2``, ``1e-05``)."""
    return f"{float(value):g}"


def term_function(terms: Sequence[Term], species: Sequence[str]):
    """Compile ``terms`` once into ``states (n, n_species) -> features (n, n_terms)``.

    Raises:
        CelltwinInputError: a term uses an id that is not one of ``species``.
    """
    symbols = [symbol(s) for s in species]
    known = set(species)
    for term in terms:
        unknown = sorted(term.species() - known)
        if unknown:
            raise CelltwinInputError(f"candidate term {term.name!r} uses {', '.join(unknown)}, "
                                     f"which is not an observed species ({', '.join(species)})")
    fn = sp.lambdify(symbols, [t.expr for t in terms], modules="numpy", cse=True)

    def features(states: np.ndarray) -> np.ndarray:
        states = np.atleast_2d(np.asarray(states, dtype=float))
        if not terms:
            return np.zeros((len(states), 0))
        values = fn(*states.T)
        return np.stack([np.broadcast_to(np.asarray(v, dtype=float), states.shape[:1]) for v in values], axis=1)

    return features


def evaluate(terms: Sequence[Term], species: Sequence[str], states: np.ndarray) -> np.ndarray:
    """The feature matrix: ``terms`` evaluated at each row of ``states`` (n_samples, n_species)."""
    return term_function(terms, species)(states)
