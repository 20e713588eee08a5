"""How the batching design of a screen sets the error of estimated perturbation effects.

Cells are simulated on the log-expression scale: ``y = baseline + effect[p] + beta[batch] +
noise`` (batch offsets ``beta ~ N(0, batch_sd^2)`` per gene, cell noise ``N(0, cell_sd^2)``).
A perturbation's effect is estimated against the controls of its own batch where the batch has
controls, otherwise against all controls; over several batches the per-batch estimates are
averaged with weights equal to the cell numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CelltwinInputError


@dataclass(frozen=True)
class BatchingDesign:
    """A screen's layout over batches (e.g. 10x lanes).

    Attributes:
        n_batches: number of batches.
        cells_per_perturbation: cells of each perturbation, in total.
        controls_per_batch: control cells per batch; with ``controls_in_every_batch=False`` the
            same total (``n_batches * controls_per_batch``) is all in batch 0.
        controls_in_every_batch: controls in each batch, or only in batch 0.
        spread_perturbations: each perturbation's cells split evenly over all batches, or each
            perturbation in one batch (perturbation ``p`` in batch ``p mod n_batches``).
    """

    n_batches: int
    cells_per_perturbation: int
    controls_per_batch: int
    controls_in_every_batch: bool = True
    spread_perturbations: bool = False

    def __post_init__(self):
        if self.n_batches < 1 or self.cells_per_perturbation < 1 or self.controls_per_batch < 1:
            raise CelltwinInputError("n_batches, cells_per_perturbation and controls_per_batch must be >= 1")
        if self.spread_perturbations and self.cells_per_perturbation % self.n_batches:
            raise CelltwinInputError("spread_perturbations: cells_per_perturbation must be a multiple of n_batches")

    @property
    def label(self) -> str:
        ctrl = "every batch" if self.controls_in_every_batch else "batch 0 only"
        where = "spread over batches" if self.spread_perturbations else "one batch each"
        return (f"{self.n_batches} batch(es), {self.cells_per_perturbation} cells/perturbation ({where}), "
                f"{self.controls_per_batch} controls/batch ({ctrl})")


def _control_counts(design: BatchingDesign) -> np.ndarray:
    n = np.zeros(design.n_batches, dtype=int)
    if design.controls_in_every_batch:
        n[:] = design.controls_per_batch
    else:
        n[0] = design.controls_per_batch * design.n_batches
    return n


def _perturbation_counts(design: BatchingDesign, p: int) -> np.ndarray:
    n = np.zeros(design.n_batches, dtype=int)
    if design.spread_perturbations:
        n[:] = design.cells_per_perturbation // design.n_batches
    else:
        n[p % design.n_batches] = design.cells_per_perturbation
    return n


def expected_batching_error(design: BatchingDesign, *, n_perturbations: int = 24, batch_sd: float = 0.3,
                            cell_sd: float = 1.0) -> float:
    """Closed-form root mean squared error of the effect estimates (over perturbations and genes).

    >>> d = BatchingDesign(1, 100, 100)
    >>> round(expected_batching_error(d, batch_sd=0.0, cell_sd=1.0), 6)  # sqrt(1/100 + 1/100)
    0.141421
    """
    nc = _control_counts(design)
    total = 0.0
    for p in range(n_perturbations):
        npk = _perturbation_counts(design, p)
        w = npk / npk.sum()
        var = cell_sd ** 2 / npk.sum()
        # the reference is a weighted sum of batch control means: a_j on batch j's controls
        own = nc > 0
        w_pooled = float(np.sum(w[~own]))
        a = np.where(own, w, 0.0) + w_pooled * nc / nc.sum()
        ref_noise = float(np.sum(a[own] ** 2 * cell_sd ** 2 / nc[own]))
        coef = w - a  # batch offsets that do not cancel
        total += var + ref_noise + batch_sd ** 2 * float(np.sum(coef ** 2))
    return float(np.sqrt(total / n_perturbations))


def batching_error(design: BatchingDesign, *, n_perturbations: int = 24, n_genes: int = 50,
                   batch_sd: float = 0.3, cell_sd: float = 1.0, effect_sd: float = 0.5,
                   replicates: int = 20, seed: int = 0) -> float:
    """Root mean squared error of estimated effects over simulated screens of ``design``.

    Each replicate draws new effects, batch offsets and cells; the error is pooled over
    replicates, perturbations and genes. Compare with :func:`expected_batching_error`.
    """
    rng = np.random.default_rng(seed)
    nc = _control_counts(design)
    sq, count = 0.0, 0
    for _ in range(replicates):
        effect = rng.normal(0.0, effect_sd, (n_perturbations, n_genes))
        beta = rng.normal(0.0, batch_sd, (design.n_batches, n_genes))
        ctrl_means = np.zeros((design.n_batches, n_genes))
        for k in range(design.n_batches):
            if nc[k]:
                ctrl_means[k] = (beta[k] + rng.normal(0.0, cell_sd, (nc[k], n_genes))).mean(0)
        pooled = (ctrl_means * nc[:, None]).sum(0) / nc.sum()
        for p in range(n_perturbations):
            npk = _perturbation_counts(design, p)
            estimate = np.zeros(n_genes)
            for k in np.flatnonzero(npk):
                cells = effect[p] + beta[k] + rng.normal(0.0, cell_sd, (npk[k], n_genes))
                reference = ctrl_means[k] if nc[k] else pooled
                estimate += npk[k] / npk.sum() * (cells.mean(0) - reference)
            sq += float(np.sum((estimate - effect[p]) ** 2))
            count += n_genes
    return float(np.sqrt(sq / count))


def batching_table(designs, **kwargs):
    """One row per design: simulated and closed-form RMSE of the effect estimates."""
    import pandas as pd

    closed = {k: v for k, v in kwargs.items() if k in ("n_perturbations", "batch_sd", "cell_sd")}
    rows = [{"design": d.label, "simulated_rmse": batching_error(d, **kwargs),
             "expected_rmse": expected_batching_error(d, **closed)} for d in designs]
    return pd.DataFrame(rows)
