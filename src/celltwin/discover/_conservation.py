"""Conservation laws: linear combinations of species that a network keeps constant."""

from __future__ import annotations

import math

from collections.abc import Sequence

import numpy as np

from ._data import TimeCourses
from ._reactions import Reaction


def stoichiometric_conservation(species: Sequence[str], reactions: Sequence[Reaction]) -> list[dict[str, int]]:
    """A basis of the left null space of the stoichiometric matrix with small integer weights,
    ``[{species: weight}]`` (``E + C`` and ``S + C + P`` for E + S <-> C -> E + P)."""
    import sympy as sp

    matrix = sp.Matrix([[b - a for a, b in zip(r.reactants, r.products)] for r in reactions]) if reactions else \
        sp.zeros(1, len(species))
    out = []
    for v in matrix.nullspace():
        v = v * sp.ilcm(*[sp.fraction(x)[1] for x in v])
        v = v / math.gcd(*[int(x) for x in v if x != 0])  # sympy's igcd wants two or more
        if sum(1 for x in v if x < 0) > sum(1 for x in v if x > 0):
            v = -v
        out.append({s: int(x) for s, x in zip(species, v) if x != 0})
    return out


def conserved_directions(data: TimeCourses, *, tolerance: float = 0.05) -> np.ndarray:
    """Unit vectors ``w`` (rows) along which ``w . x`` stays constant within every trajectory
    (its values may differ between trajectories), found from the data.

    Within-trajectory deviations from each trajectory's mean are stacked, species scaled to unit
    root-mean-square; a right singular vector counts as conserved when its singular value is
    below ``tolerance`` times the largest (noise sets how small a tolerance works).
    """
    states = np.concatenate([tr.states for tr in data.trajectories])
    scale = np.sqrt(np.mean(states**2, axis=0))
    scale = np.where(scale > 0, scale, 1.0)
    centred = np.concatenate([(tr.states - tr.states.mean(axis=0)) / scale for tr in data.trajectories])
    _, sing, vt = np.linalg.svd(centred, full_matrices=True)
    sing = np.concatenate([sing, np.zeros(len(vt) - len(sing))])
    small = sing < tolerance * sing[0]
    w = vt[small] / scale  # back to the species' own units
    return w / np.linalg.norm(w, axis=1, keepdims=True)
