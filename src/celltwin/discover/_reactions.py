"""Mass-action reactions: their per-species terms, and discovered terms read back as reactions."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from .library.base import monomial

Complex = tuple[int, ...]
"""Molecule counts per species (in the order of the species tuple)."""


@dataclasses.dataclass(frozen=True)
class Reaction:
    """``reactants -> products`` at rate ``rate_constant * prod(species ** reactant count)``."""

    reactants: Complex
    products: Complex
    rate_constant: float

    def text(self, species: Sequence[str]) -> str:
        """Like ``E + S -> C`` (``0`` for the empty complex)."""
        def side(cx):
            parts = [(s if k == 1 else f"{k} {s}") for s, k in zip(species, cx) if k]
            return " + ".join(parts) or "0"
        return f"{side(self.reactants)} -> {side(self.products)}"


def equations_of(species: Sequence[str], reactions: Sequence[Reaction]) -> dict[str, dict[str, float]]:
    """``{species: {term: coefficient}}`` of a mass-action network (cancelled terms dropped)."""
    out: dict[str, dict[str, float]] = {s: {} for s in species}
    for r in reactions:
        term = monomial(species, r.reactants).name
        for s, a, b in zip(species, r.reactants, r.products):
            if b != a:
                out[s][term] = out[s].get(term, 0.0) + (b - a) * r.rate_constant
    return {s: {t: c for t, c in eq.items() if abs(c) > 1e-12} for s, eq in out.items()}


def _complexes(n: int, order: int) -> list[Complex]:
    out = [tuple([0] * n)]
    for k in range(1, order + 1):
        for combo in itertools.combinations_with_replacement(range(n), k):
            out.append(tuple(combo.count(i) for i in range(n)))
    return out


def reactions_of(species: Sequence[str], equations: Mapping[str, Mapping[str, float]], *, order: int = 2,
                 max_per_complex: int = 3, rtol: float = 1e-6) -> list[Reaction] | None:
    """Read equations with monomial terms as a mass-action network, or ``None`` if they are not one.

    For every reactant complex (a term such as ``E*S``), the vector of its coefficients over the
    species must be a non-negative combination of reaction vectors ``products - reactants``; the
    combination with the fewest reactions (at most ``max_per_complex``, products of at most
    ``order`` molecules) that reproduces the coefficients to ``rtol`` is returned.
    """
    from scipy.optimize import nnls

    species = tuple(species)
    n = len(species)
    by_name = {monomial(species, cx).name: cx for cx in _complexes(n, 3)}
    candidates = _complexes(n, order)
    reactions: list[Reaction] = []
    terms = sorted({t for eq in equations.values() for t, c in eq.items() if c != 0.0})
    for term in terms:
        reactant = by_name.get(term)
        if reactant is None:
            return None
        v = np.array([float(equations.get(s, {}).get(term, 0.0)) for s in species])
        targets = [p for p in candidates if p != reactant]
        vectors = np.array([np.subtract(p, reactant) for p in targets], dtype=float)
        found = None
        for size in range(1, max_per_complex + 1):
            best = None
            for pick in itertools.combinations(range(len(targets)), size):
                rates, resid = nnls(vectors[list(pick)].T, v)
                if np.all(rates > 0) and resid <= rtol * np.linalg.norm(v) and (best is None or resid < best[0]):
                    best = (resid, pick, rates)
            if best is not None:
                found = best
                break
        if found is None:
            return None
        reactions += [Reaction(reactant, targets[j], float(k)) for j, k in zip(found[1], found[2])]
    return reactions
