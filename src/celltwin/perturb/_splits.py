"""Held-out units and folds of a screen: leave one double out, leave one cell type out.

A *unit* is what gets scored: a held-out perturbation in a context, ``(context, targets)``.
A *fold* is what a fit leaves out: the cells of one double (its one unit), or every perturbed
cell of one context (a unit per perturbation of that context that some other context also
perturbed; the context's controls stay in training, since a new cell type's unperturbed state
is what one measures first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CelltwinInputError
from ._screen import Screen

Key = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class HeldoutFold:
    """Cells left out of one fit and the units scored on them."""

    name: str
    held: np.ndarray  # bool per cell of the screen
    units: tuple[Key, ...]


def unit_label(key: Key) -> str:
    context, targets = key
    return "+".join(targets) + (f" in {context}" if context else "")


def contexts_of(screen: Screen, by_medium: bool) -> np.ndarray:
    """Per cell, its context: the medium label (a cell type read as the medium) or ``""``."""
    if by_medium:
        if screen.medium is None:
            raise CelltwinInputError(f"{screen.source}: holding out cell types needs each cell's cell type "
                                     "(set --context-key to the obs column)")
        return np.asarray(screen.medium).astype(str)
    return np.full(screen.n_cells, "", dtype=object)


def corrected_expression(screen: Screen) -> np.ndarray:
    """Log-normalised expression with each batch's control mean shifted onto the overall one."""
    return screen.lognormalised() - screen.batch_shift()[screen.batch]


def cell_targets(screen: Screen) -> list[tuple[str, ...]]:
    """Per cell, the sorted targets of its condition."""
    return [tuple(sorted({screen.guide_target[g] for g in guides})) for guides in screen.guides]


def context_deltas(screen: Screen, contexts: np.ndarray) -> dict[Key, np.ndarray]:
    """Per (context, targets) with perturbed cells, the mean change of batch-corrected
    log-normalised expression from the controls of the same context."""
    y = corrected_expression(screen)
    targets = cell_targets(screen)
    out = {}
    for context in sorted(set(contexts.tolist())):
        in_context = contexts == context
        controls = in_context & screen.is_control
        if not controls.any():
            raise CelltwinInputError(f"{screen.source}: no control cells in context {context!r}")
        base = y[controls].mean(0)
        keys = sorted({targets[i] for i in np.flatnonzero(in_context & ~screen.is_control)})
        for key in keys:
            cells = in_context & np.array([t == key for t in targets])
            out[(context, key)] = y[cells].mean(0) - base
    return out


def double_folds(screen: Screen) -> list[HeldoutFold]:
    """One fold per combination whose every target was also perturbed alone (leave one double out)."""
    targets = cell_targets(screen)
    keys = set(targets)
    singles = {k[0] for k in keys if len(k) == 1}
    doubles = sorted(k for k in keys if len(k) > 1 and all(t in singles for t in k))
    return [HeldoutFold("+".join(d), np.array([t == d for t in targets]), (("", d),)) for d in doubles]


def cell_type_folds(screen: Screen, contexts: np.ndarray) -> list[HeldoutFold]:
    """One fold per context (leave one cell type out): its perturbed cells are held out, and its
    units are its perturbations that at least one other context also has."""
    targets = cell_targets(screen)
    perturbed = ~screen.is_control
    seen: dict[tuple[str, ...], set[str]] = {}
    for i in np.flatnonzero(perturbed):
        seen.setdefault(targets[i], set()).add(contexts[i])
    folds = []
    for context in sorted(set(contexts.tolist())):
        units = tuple((context, k) for k in sorted(seen) if context in seen[k] and len(seen[k]) > 1)
        if units:
            folds.append(HeldoutFold(context, perturbed & (contexts == context), units))
    return folds
