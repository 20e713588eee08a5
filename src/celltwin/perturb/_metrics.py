"""Scores of a predicted change of expression against an observed one, as the field computes
them: MSE, Pearson correlation of the changes, and the fraction of genes whose direction of
change is right, over a chosen gene set (top DE genes) and over all modelled genes.

Observed changes may carry leading axes (bootstrap replicates): every score is computed along
the last axis.
"""

from __future__ import annotations

import numpy as np

METRICS = ("mse_top_de", "pearson_top_de", "direction_top_de", "mse_all_genes")
LOWER_IS_BETTER = {"mse_top_de": True, "pearson_top_de": False, "direction_top_de": False, "mse_all_genes": True}


def mse(pred, obs) -> np.ndarray:
    """Mean squared difference along the last axis.

    >>> float(mse(np.array([1.0, 0.0]), np.array([0.0, 0.0])))
    0.5
    """
    return np.mean((np.asarray(obs) - np.asarray(pred)) ** 2, axis=-1)


def pearson(pred, obs) -> np.ndarray:
    """Pearson correlation along the last axis; NaN where either side is constant (a
    prediction of no change has no correlation).

    >>> float(pearson(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0])))  # doctest: +ELLIPSIS
    0.9933...
    """
    pred, obs = np.broadcast_arrays(np.asarray(pred, float), np.asarray(obs, float))
    p = pred - pred.mean(-1, keepdims=True)
    o = obs - obs.mean(-1, keepdims=True)
    denom = np.sqrt((p ** 2).sum(-1) * (o ** 2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (p * o).sum(-1) / np.where(denom > 0, denom, 1.0), np.nan)


def direction_accuracy(pred, obs) -> np.ndarray:
    """Fraction of genes whose predicted change has the observed sign (a zero prediction
    counts as wrong unless the observation is zero too).

    >>> float(direction_accuracy(np.array([1.0, -1.0, 0.0, 2.0]), np.array([0.5, 0.3, -0.1, 1.0])))
    0.5
    """
    return np.mean(np.sign(np.asarray(pred)) == np.sign(np.asarray(obs)), axis=-1)


def delta_scores(pred, obs, top: np.ndarray) -> dict[str, np.ndarray]:
    """All of :data:`METRICS` for one prediction; ``top``: indices of the top DE genes."""
    pred = np.asarray(pred)
    obs = np.asarray(obs)
    return {"mse_top_de": mse(pred[top], obs[..., top]), "pearson_top_de": pearson(pred[top], obs[..., top]),
            "direction_top_de": direction_accuracy(pred[top], obs[..., top]), "mse_all_genes": mse(pred, obs)}
