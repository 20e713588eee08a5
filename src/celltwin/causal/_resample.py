"""Stratum codes, per-stratum sums and the stratified bootstrap shared by the diagnostics.

The bootstrap resamples pairs with replacement *within* each stratum, so every replicate has
the same stratum sizes as the data: intervals are conditional on the design (which strata,
how many pairs each), as in a fixed-effects analysis.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

CHUNK_VALUES = 2_000_000  # floats per bootstrap chunk (memory bound for large tables)


def encode(labels) -> tuple[np.ndarray, list[str]]:
    """Integer codes ``0..k-1`` of ``labels`` and the stratum names, sorted as text."""
    names, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    return codes.astype(np.int64), [str(n) for n in names]


def one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    """The ``(n, k)`` indicator matrix of ``codes``."""
    out = np.zeros((len(codes), k))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def stratified_resamples(codes: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Index arrays ``(b, n)`` (chunks adding up to ``n_boot`` rows) that resample each
    stratum with replacement in place: position ``i`` always holds a member of ``codes[i]``'s
    stratum, so ``codes`` stays the label array of every replicate."""
    rng = np.random.default_rng(seed)
    n = len(codes)
    members = [np.flatnonzero(codes == s) for s in range(int(codes.max()) + 1)]
    chunk = max(1, min(n_boot, CHUNK_VALUES // max(n, 1)))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        idx = np.empty((b, n), dtype=np.int64)
        for m in members:
            if len(m):
                idx[:, m] = m[rng.integers(0, len(m), size=(b, len(m)))]
        done += b
        yield idx


def permutations(n: int, n_perm: int, seed: int) -> Iterator[np.ndarray]:
    """Index arrays ``(b, n)`` of random permutations, chunks adding up to ``n_perm`` rows."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_perm, CHUNK_VALUES // max(n, 1)))
    done = 0
    while done < n_perm:
        b = min(chunk, n_perm - done)
        yield rng.permuted(np.broadcast_to(np.arange(n), (b, n)), axis=1)
        done += b


def percentile_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    """Central percentile interval of the finite ``draws`` (NaN, NaN when there are none)."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan"), float("nan")
    q = (1.0 - level) / 2.0
    lo, hi = np.quantile(d, [q, 1.0 - q])
    return float(lo), float(hi)
