"""The focus score: how much of a predictor's error a candidate hidden stratum explains.

With errors ``e_i = predicted_i - measured_i`` (pKd) in strata ``s = 1..k`` of sizes ``n_s``
and means ``ebar_s`` (overall mean ``ebar``), the one-way ANOVA decomposition

    SS_total   = sum_i (e_i - ebar)^2
    SS_between = sum_s n_s (ebar_s - ebar)^2
    SS_within  = SS_total - SS_between

gives the **focus** ``eta^2 = SS_between / SS_total``: the fraction of the error variance
that a per-stratum bias correction would remove. 0: the stratum says nothing about where
the predictor errs; 1: the error is a constant per stratum. The overall bias ``ebar`` is
not counted (it is no stratum's doing).

``eta^2`` is biased upwards in small samples (its expectation under no effect is about
``(k - 1) / (n - 1)``), so the result also carries

* ``omega^2 = (SS_between - (k - 1) MS_within) / (SS_total + MS_within)``, the less biased
  estimate of the population value (may be negative), and
* a permutation p-value: the fraction of label permutations with ``eta^2`` at least the
  observed one (``(1 + count) / (1 + n_perm)``), exact in finite samples under exchangeability;
* a stratified-bootstrap interval of the population focus. It is the *basic* (reflected)
  interval ``(2 eta^2 - q_hi, 2 eta^2 - q_lo)`` of the bootstrap quantiles ``q``, clipped
  to [0, 1]: bootstrap replicates of ``eta^2`` carry the same upward bias again, and the
  reflection removes it to first order. With many small strata the bias is large and the
  interval then brackets ``omega^2`` rather than ``eta^2``; a percentile interval would miss
  the population value almost always there (0 % coverage measured for 100 strata of 9 pairs,
  against 92 % for this interval).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._resample import (
    encode,
    one_hot,
    percentile_interval,
    permutations,
    stratified_resamples,
)


@dataclasses.dataclass(frozen=True)
class FocusScore:
    """Result of :func:`focus_score`.

    Attributes:
        eta2: the focus, ``SS_between / SS_total``.
        interval: bias-corrected (basic) stratified-bootstrap interval of the population
            focus at ``level``.
        level: the interval's level.
        omega2: the bias-corrected estimate.
        p_value: permutation p-value of ``eta2`` (stratum labels shuffled).
        ss_between, ss_within: the sums of squares.
        n, k: number of pairs and of strata.
    """

    eta2: float
    interval: tuple[float, float]
    level: float
    omega2: float
    p_value: float
    ss_between: float
    ss_within: float
    n: int
    k: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def eta_squared(errors: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """``SS_between / SS_total`` of ``errors`` (last axis = pairs; leading axes batched)."""
    e = np.asarray(errors, dtype=float)
    e = e - e.mean(axis=-1, keepdims=True)  # centring first: no cancellation in the sums
    h = one_hot(codes, k)
    counts = h.sum(axis=0)
    sums = e @ h
    ss_between = np.sum(np.where(counts > 0, sums**2 / np.maximum(counts, 1), 0.0), axis=-1)
    ss_total = np.sum(e**2, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_total > 0, ss_between / ss_total, np.nan)


def focus_score(errors, labels, *, n_boot: int = 2000, n_perm: int = 2000, level: float = 0.95,
                seed: int = 0) -> FocusScore:
    """The focus score of ``labels`` on ``errors`` (definitions in the module docstring).

    Arguments:
        errors: predictor errors, one per pair (any consistent unit; pKd in celltwin).
        labels: stratum label of each pair.
        n_boot: bootstrap replicates for the interval.
        n_perm: label permutations for the p-value.
        level: interval level.
        seed: seed of the bootstrap and permutations (results are reproducible).

    Raises:
        ValueError: fewer than 2 strata, fewer than 3 pairs, or non-finite errors.
    """
    e = np.asarray(errors, dtype=float)
    codes, names = encode(labels)
    if e.ndim != 1 or len(e) != len(codes):
        raise ValueError(f"errors and labels must be 1-D of the same length, got {e.shape} and {len(codes)}")
    if not np.all(np.isfinite(e)):
        raise ValueError("errors must be finite")
    k, n = len(names), len(e)
    if k < 2 or n < 3:
        raise ValueError(f"the focus score needs at least 2 strata and 3 pairs, got {k} and {n}")
    eta2 = float(eta_squared(e, codes, k))
    centred = e - e.mean()
    ss_total = float(np.sum(centred**2))
    ss_between = eta2 * ss_total if np.isfinite(eta2) else 0.0
    ss_within = ss_total - ss_between
    ms_within = ss_within / (n - k) if n > k else float("nan")
    denom = ss_total + ms_within
    omega2 = float((ss_between - (k - 1) * ms_within) / denom) if denom > 0 else float("nan")

    boot = np.concatenate([eta_squared(e[idx], codes, k) for idx in stratified_resamples(codes, n_boot, seed)])
    exceed = 0
    for perm in permutations(n, n_perm, seed + 1):
        exceed += int(np.sum(eta_squared(e[perm], codes, k) >= eta2 - 1e-12))
    p_value = (1 + exceed) / (1 + n_perm)
    q_lo, q_hi = percentile_interval(boot, level)
    interval = (float(np.clip(2 * eta2 - q_hi, 0.0, 1.0)), float(np.clip(2 * eta2 - q_lo, 0.0, 1.0)))
    return FocusScore(eta2=eta2, interval=interval, level=level, omega2=omega2,
                      p_value=float(p_value), ss_between=float(ss_between), ss_within=float(ss_within),
                      n=n, k=k)
