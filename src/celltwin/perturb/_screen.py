"""The typed screen: expression of cells, which guides each cell carries, batches, controls."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import CelltwinInputError

CONTROL = "control"


def parse_condition(label: str, separator: str = "+", control: str = CONTROL) -> tuple[str, ...]:
    """The perturbed targets of a condition label: ``"KLF1+MAP2K6"`` -> ``("KLF1", "MAP2K6")``.

    Control cells (label equal to ``control``) have no targets.

    >>> parse_condition("KLF1+MAP2K6"), parse_condition("control")
    (('KLF1', 'MAP2K6'), ())
    """
    label = str(label).strip()
    if label == control or label == "":
        return ()
    parts = tuple(p.strip() for p in label.split(separator))
    return tuple(p for p in parts if p and p != control)


@dataclass(frozen=True)
class Screen:
    """A perturbation screen, parsed and checked once.

    Attributes:
        expression: ``(cells, genes)`` float64; raw counts when ``kind == "counts"``,
            log-normalised values (``log1p(counts / library * scale)``) when ``kind == "lognorm"``.
        kind: ``"counts"`` or ``"lognorm"``.
        genes: gene names (columns of ``expression``).
        conditions: per cell, the condition label (``"A+B"``, ``"control"``).
        guides: per cell, the tuple of guide names it carries (for screens without guide
            identities, the guides are the targets).
        guide_target: guide name -> the gene it perturbs.
        batch: per cell, an integer batch index into ``batches``.
        batches: batch names.
        library_size: per cell, total counts (used by the count likelihood; ones for lognorm).
        source: where the screen came from, for messages.
        medium: optional, per cell, the label of the medium (culture condition) it grew in.
        time: optional, per cell, the time since perturbation (e.g. hours; ``inf``: at steady
            state); controls may carry any time (they sit at their steady state).
    """

    expression: np.ndarray
    kind: str
    genes: tuple[str, ...]
    conditions: np.ndarray
    guides: tuple[tuple[str, ...], ...]
    guide_target: dict[str, str]
    batch: np.ndarray
    batches: tuple[str, ...]
    library_size: np.ndarray
    source: str = "<arrays>"
    medium: np.ndarray | None = None
    time: np.ndarray | None = None
    _targets: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self):
        n, g = self.expression.shape
        problems = []
        if self.medium is not None:
            object.__setattr__(self, "medium", np.asarray([str(m) for m in self.medium], dtype=object))
        if self.time is not None:
            object.__setattr__(self, "time", np.asarray(self.time, dtype=np.float64))
        if self.kind not in ("counts", "lognorm"):
            problems.append(f"kind must be 'counts' or 'lognorm', not {self.kind!r}")
        if len(self.genes) != g:
            problems.append(f"{len(self.genes)} gene names for {g} expression columns")
        for name, arr in (("conditions", self.conditions), ("guides", self.guides), ("batch", self.batch),
                          ("library_size", self.library_size)):
            if len(arr) != n:
                problems.append(f"{name} has {len(arr)} entries for {n} cells")
        if self.medium is not None and len(self.medium) != n:
            problems.append(f"medium has {len(self.medium)} entries for {n} cells")
        if self.time is not None:
            t = self.time
            if len(t) != n:
                problems.append(f"time has {len(t)} entries for {n} cells")
            elif np.any(np.isnan(t) | (t < 0)):
                problems.append(f"time of cell {int(np.flatnonzero(np.isnan(t) | (t < 0))[0])} is not >= 0 "
                                "(use inf for cells at steady state)")
        if not np.all(np.isfinite(self.expression)):
            row, col = np.argwhere(~np.isfinite(self.expression))[0]
            problems.append(f"expression of cell {row}, gene {self.genes[col]!r} is not finite")
        if self.kind == "counts" and np.any(self.expression < 0):
            row, col = np.argwhere(self.expression < 0)[0]
            problems.append(f"counts must be >= 0 (cell {row}, gene {self.genes[col]!r})")
        if np.any(self.library_size <= 0):
            problems.append(f"library size of cell {int(np.argmin(self.library_size))} is not positive")
        if not np.any(self.is_control):
            problems.append(f"no control cells (condition {CONTROL!r}): effects are changes from control")
        unknown = sorted({g for gs in self.guides for g in gs} - set(self.guide_target))
        if unknown:
            problems.append(f"guides without a target gene: {', '.join(unknown[:5])}")
        if problems:
            raise CelltwinInputError(f"{self.source}: " + "; ".join(problems))
        targets = sorted({t for gs in self.guides for t in (self.guide_target[x] for x in gs)})
        object.__setattr__(self, "_targets", tuple(targets))

    @property
    def n_cells(self) -> int:
        return self.expression.shape[0]

    @property
    def is_control(self) -> np.ndarray:
        return np.array([len(g) == 0 for g in self.guides])

    @property
    def targets(self) -> tuple[str, ...]:
        """The perturbed genes, sorted."""
        return self._targets

    @property
    def guide_names(self) -> tuple[str, ...]:
        """The guides carried by at least one cell, sorted."""
        return tuple(sorted({g for gs in self.guides for g in gs}))

    def batches_without_controls(self) -> list[str]:
        """Batches with cells but no control cells (their offsets rest on the perturbed cells)."""
        return [name for k, name in enumerate(self.batches)
                if np.any(self.batch == k) and not np.any((self.batch == k) & self.is_control)]

    def condition_targets(self, condition: str) -> tuple[str, ...]:
        idx = np.flatnonzero(self.conditions == condition)
        if idx.size == 0:
            raise CelltwinInputError(f"{self.source}: no cells of condition {condition!r}")
        return tuple(sorted({self.guide_target[g] for g in self.guides[idx[0]]}))

    def lognormalised(self, scale: float = 1e4) -> np.ndarray:
        """``log1p(counts / library * scale)`` for count screens; the values themselves otherwise."""
        if self.kind == "lognorm":
            return self.expression
        return np.log1p(self.expression / self.library_size[:, None] * scale)

    def subset(self, cells: np.ndarray) -> Screen:
        """The screen restricted to a boolean mask or index array of cells."""
        idx = np.flatnonzero(cells) if np.asarray(cells).dtype == bool else np.asarray(cells)
        return Screen(self.expression[idx], self.kind, self.genes, self.conditions[idx],
                      tuple(self.guides[i] for i in idx), self.guide_target, self.batch[idx], self.batches,
                      self.library_size[idx], self.source,
                      None if self.medium is None else self.medium[idx], None if self.time is None else self.time[idx])

    def batch_shift(self) -> np.ndarray:
        """``(batches, genes)``: each batch's control mean of log-normalised expression minus the
        overall control mean (zero for a batch without controls)."""
        y = self.lognormalised()
        ctrl = self.is_control
        overall = y[ctrl].mean(0)
        shift = np.zeros((len(self.batches), y.shape[1]))
        for k in range(len(self.batches)):
            m = ctrl & (self.batch == k)
            if m.any():
                shift[k] = y[m].mean(0) - overall
        return shift

    def condition_means(self) -> tuple[list[str], np.ndarray]:
        """Per condition, the mean log-normalised expression with batch means of controls
        removed (controls are compared within each batch). Returns (conditions, means)."""
        corrected = self.lognormalised() - self.batch_shift()[self.batch]
        names = sorted(set(self.conditions.tolist()))
        return names, np.stack([corrected[self.conditions == c].mean(0) for c in names])


def screen_from_labels(expression, conditions, *, genes, kind: str, batch=None, library_size=None,
                       separator: str = "+", control: str = CONTROL, source: str = "<arrays>",
                       medium=None, time=None) -> Screen:
    """Build a :class:`Screen` whose guides are the targets named in condition labels
    (``medium``: optional per-cell labels; ``time``: optional per-cell times since perturbation)."""
    expression = np.asarray(expression, dtype=np.float64)
    conditions = np.asarray([str(c) for c in conditions], dtype=object)
    guides = tuple(parse_condition(c, separator, control) for c in conditions)
    conditions = np.asarray(["+".join(sorted(g)) if g else CONTROL for g in guides], dtype=object)
    guide_target = {g: g for gs in guides for g in gs}
    if batch is None:
        batch_idx, batches = np.zeros(len(conditions), dtype=int), ("all",)
    else:
        names, batch_idx = np.unique(np.asarray([str(b) for b in batch]), return_inverse=True)
        batches = tuple(names.tolist())
    if library_size is None:
        library_size = (expression.sum(1) if kind == "counts" else np.ones(len(conditions)))
    return Screen(expression, kind, tuple(genes), conditions, guides, guide_target, np.asarray(batch_idx),
                  batches, np.asarray(library_size, dtype=np.float64), source,
                  medium, time)
