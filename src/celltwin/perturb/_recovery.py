"""Scores of a fitted screen model against a simulated truth: network AUPRC, effect error."""

from __future__ import annotations

import numpy as np


def average_precision(truth, score) -> float:
    """Area under the precision-recall curve as average precision: the mean, over true
    positives ranked by decreasing ``score``, of the precision at their rank (ties share the
    precision of the last of them).

    >>> average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])  # (1/1 + 2/3) / 2
    0.8333333333333333
    """
    truth = np.asarray(truth, dtype=bool).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    if not truth.any():
        raise ValueError("average precision needs at least one true positive")
    order = np.argsort(-score, kind="stable")
    s, t = score[order], truth[order]
    tp = np.cumsum(t)
    # the end of each block of tied scores: precision/recall only change there
    last = np.r_[s[1:] != s[:-1], True]
    precision = tp[last] / (np.flatnonzero(last) + 1)
    recall = tp[last] / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def network_auprc(true_network, fitted_network) -> float:
    """AUPRC of ``|fitted W[i, j]|`` as a score for the true edges j -> i (diagonal excluded)."""
    true_network = np.asarray(true_network)
    off = ~np.eye(true_network.shape[0], dtype=bool)
    return average_precision(true_network[off] != 0, np.abs(np.asarray(fitted_network))[off])


def effect_rmse(simulated, fitted, conditions=None) -> float:
    """Root mean squared error of the fitted steady-state changes against the true ones, over
    the perturbed conditions of the simulated screen (or the given target tuples)."""
    screen = simulated.screen
    if conditions is None:
        conditions = sorted({screen.condition_targets(c) for c in set(screen.conditions.tolist()) if c != "control"})
    err = [np.mean((fitted.predict_change(c) - simulated.true_change(c)) ** 2) for c in conditions]
    return float(np.sqrt(np.mean(err)))
