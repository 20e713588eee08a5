"""Scores of a discovered system against a known truth."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

Equations = Mapping[str, Mapping[str, float]]


def _pairs(eqs: Equations) -> set[tuple[str, str]]:
    return {(s, t) for s, row in eqs.items() for t, c in row.items() if c != 0.0}


def term_f1(truth: Equations, found: Equations) -> float:
    """F1 of the selected (species, term) pairs against the true ones (1 = exact structure)."""
    true, got = _pairs(truth), _pairs(found)
    if not true and not got:
        return 1.0
    tp = len(true & got)
    return 2 * tp / (len(true) + len(got))


def coefficient_error(truth: Equations, found: Equations) -> float:
    """``||c_found - c_true|| / ||c_true||`` over all (species, term) pairs (missing = 0)."""
    keys = _pairs(truth) | _pairs(found)
    t = np.array([truth.get(s, {}).get(k, 0.0) for s, k in keys])
    f = np.array([found.get(s, {}).get(k, 0.0) for s, k in keys])
    return float(np.linalg.norm(f - t) / np.linalg.norm(t))


def trajectory_error(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Relative error ``||X_pred - X_true||_F / ||X_true - mean||_F``; ``inf`` if the
    prediction blew up (nan) before the end."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    if not np.all(np.isfinite(predicted)):
        return float("inf")
    return float(np.linalg.norm(predicted - truth) / np.linalg.norm(truth - truth.mean(axis=0)))
