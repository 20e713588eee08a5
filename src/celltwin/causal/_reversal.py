"""Simpson-type reversals: a trend that holds within every stratum but flips when pooled.

The trend is the least-squares slope of ``y`` on ``x`` (for a predictor: ``measured`` on
``predicted``; a useful predictor has a positive slope). Three slopes are estimated:

* per stratum ``b_s`` (strata with at least ``min_size`` pairs and some spread in ``x``);
* **within** ``b_w = sum_s Sxy_s / sum_s Sxx_s`` (sums of cross-products about each
  stratum's own means): the common slope of a model with one intercept per stratum;
* **pooled** ``b_p``: the slope of all pairs with one intercept, strata ignored.

Intervals are stratified-bootstrap percentile intervals at ``level`` (all three slopes from
the same replicates). A reversal is reported when all of these hold:

1. the interval of ``b_w`` excludes 0 (there is a within-stratum trend);
2. the interval of ``b_p`` excludes 0 on the other side (the pooled trend is opposite);
3. every eligible stratum's slope has the sign of ``b_w``, and none has an interval
   that excludes 0 on the pooled side (the trend holds in every stratum);
4. at least two strata are eligible.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._resample import encode, one_hot, percentile_interval, stratified_resamples


@dataclasses.dataclass(frozen=True)
class StratumSlope:
    """The slope of one stratum (``nan`` when it has too few pairs or no spread in x)."""

    stratum: str
    n: int
    slope: float
    interval: tuple[float, float]


@dataclasses.dataclass(frozen=True)
class SimpsonReversal:
    """Result of :func:`simpson_reversal` (definitions in the module docstring).

    Attributes:
        reversal: whether a Simpson-type reversal is detected.
        reason: one sentence saying which condition decided.
        pooled, within: the slopes; ``pooled_interval``, ``within_interval`` their intervals.
        strata: the per-stratum slopes.
        level: interval level.
    """

    reversal: bool
    reason: str
    pooled: float
    pooled_interval: tuple[float, float]
    within: float
    within_interval: tuple[float, float]
    strata: tuple[StratumSlope, ...]
    level: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _slopes(x: np.ndarray, y: np.ndarray, h: np.ndarray):
    """Pooled, within and per-stratum slopes; ``x``, ``y`` of shape ``(..., n)``, ``h`` the
    ``(n, k)`` indicator matrix. Returns ``(pooled (...), within (...), per (..., k), sxx (..., k))``."""
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    n_s = h.sum(axis=0)
    sx, sy = x @ h, y @ h
    safe = np.maximum(n_s, 1)
    sxx = (x * x) @ h - sx * sx / safe
    sxy = (x * y) @ h - sx * sy / safe
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.sum(x * y, axis=-1) / np.sum(x * x, axis=-1)
        within = sxy.sum(axis=-1) / sxx.sum(axis=-1)
        per = sxy / sxx
    return pooled, within, per, sxx


def _two_pass_slopes(x: np.ndarray, y: np.ndarray, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-stratum slopes and ``Sxx`` from values centred on each stratum's own means."""
    per, sxx = np.full(k, np.nan), np.zeros(k)
    for j in range(k):
        m = codes == j
        dx, dy = x[m] - x[m].mean(), y[m] - y[m].mean()
        sxx[j] = dx @ dx
        if sxx[j] > 0:
            per[j] = (dx @ dy) / sxx[j]
    return per, sxx


def simpson_reversal(x, y, labels, *, min_size: int = 5, n_boot: int = 2000, level: float = 0.95,
                     seed: int = 0) -> SimpsonReversal:
    """Test for a Simpson-type reversal of the trend of ``y`` on ``x`` across ``labels``.

    Arguments:
        x, y: paired values (e.g. predicted and measured pKd).
        labels: stratum label of each pair.
        min_size: strata with fewer pairs get no slope and do not count in condition 3.
        n_boot: stratified bootstrap replicates.
        level: interval level.
        seed: bootstrap seed.

    Raises:
        ValueError: mismatched lengths or non-finite values.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    codes, names = encode(labels)
    if x.shape != y.shape or x.ndim != 1 or len(x) != len(codes):
        raise ValueError(f"x, y and labels must be 1-D of the same length, got {x.shape}, {y.shape}, {len(codes)}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    k = len(names)
    h = one_hot(codes, k)
    pooled, within, _, _ = _slopes(x, y, h)
    per, sxx = _two_pass_slopes(x, y, codes, k)  # exact 0 where y is constant in a stratum
    n_s = h.sum(axis=0).astype(int)
    scale = np.sum((x - x.mean()) ** 2) / max(len(x), 1)
    eligible = (n_s >= max(min_size, 3)) & (sxx > 1e-12 * max(scale, 1e-300) * n_s)

    draws_p, draws_w, draws_s = [], [], []
    for idx in stratified_resamples(codes, n_boot, seed):
        p, w, s, _ = _slopes(x[idx], y[idx], h)
        draws_p.append(p)
        draws_w.append(w)
        draws_s.append(s)
    draws_p, draws_w, draws_s = (np.concatenate(d) for d in (draws_p, draws_w, draws_s))
    p_int = percentile_interval(draws_p, level)
    w_int = percentile_interval(draws_w, level)
    strata = tuple(
        StratumSlope(stratum=names[j], n=int(n_s[j]),
                     slope=float(per[j]) if eligible[j] else float("nan"),
                     interval=percentile_interval(draws_s[:, j], level) if eligible[j] else (float("nan"),) * 2)
        for j in range(k))
    reversal, reason = _decide(float(pooled), p_int, float(within), w_int, [s for s in strata if eligible[
        names.index(s.stratum)]], level)
    return SimpsonReversal(reversal=reversal, reason=reason, pooled=float(pooled), pooled_interval=p_int,
                           within=float(within), within_interval=w_int, strata=strata, level=level)


def _excludes_zero(interval: tuple[float, float]) -> int:
    """+1 / -1 when the interval lies above / below 0, else 0."""
    lo, hi = interval
    return 1 if lo > 0 else (-1 if hi < 0 else 0)


def _decide(pooled, p_int, within, w_int, eligible: list[StratumSlope], level: float) -> tuple[bool, str]:
    pct = f"{100 * level:g} %"
    if len(eligible) < 2:
        return False, f"fewer than 2 strata large enough for a slope ({len(eligible)})"
    w_sign, p_sign = _excludes_zero(w_int), _excludes_zero(p_int)
    if w_sign == 0:
        return False, f"no within-stratum trend: the {pct} interval of the within slope contains 0"
    if p_sign != -w_sign:
        where = "contains 0" if p_sign == 0 else "has the same sign"
        return False, f"the pooled slope does not flip: its {pct} interval {where}"
    against = [s.stratum for s in eligible if np.sign(s.slope) == -w_sign]
    flat = [s.stratum for s in eligible if s.slope == 0.0]
    if against or flat:
        parts = []
        if against:
            parts.append(f"slope of opposite sign in {', '.join(against[:5])}{' ...' if len(against) > 5 else ''}")
        if flat:
            parts.append(f"no trend at all (measured values constant) in {', '.join(flat[:5])}"
                         f"{' ...' if len(flat) > 5 else ''}")
        return False, "the within trend does not hold in every stratum: " + "; ".join(parts)
    contra = [s.stratum for s in eligible if _excludes_zero(s.interval) == -w_sign]
    if contra:
        return False, f"strata with a significant pooled-direction slope: {', '.join(contra[:5])}"
    return True, (f"slope {within:+.3g} within all {len(eligible)} strata ({pct} interval excludes 0) "
                  f"but {pooled:+.3g} pooled ({pct} interval excludes 0)")
