"""Intervals for held-out scores: a paired bootstrap over cells and the split-half noise floor.

A held-out unit's observed change is the mean of its perturbed cells minus the mean of the
control cells of its context. Resampling those cells (with replacement, controls resampled once
per replicate and shared by every unit of the context) gives the sampling distribution of every
score; model and baseline are scored on the same replicate (paired), so the interval of their
difference carries only the noise of the held-out observation, not that of the training data
or of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._metrics import LOWER_IS_BETTER, METRICS, delta_scores


@dataclass(frozen=True)
class HeldoutCells:
    """The cells behind one held-out unit's observed change, over its fold's modelled genes.

    Attributes:
        label: the unit ("KLF1+MAP2K6", "SGK1 in T98G").
        context: the controls it is compared with (units of one context share them).
        perturbed: ``(cells, genes)`` batch-corrected log expression of the unit's cells.
        control: ``(cells, genes)`` the same for the context's control cells, in screen order.
        top: indices (into the genes) of the unit's top DE genes, chosen from training data.
        predictions: method -> predicted change ``(genes,)``.
    """

    label: str
    context: str
    perturbed: np.ndarray
    control: np.ndarray
    top: np.ndarray
    predictions: dict

    @property
    def observed(self) -> np.ndarray:
        return self.perturbed.mean(0) - self.control.mean(0)


def _resampling_weights(rng, n: int, replicates: int) -> np.ndarray:
    # multinomial counts / n: the weights of a bootstrap resample's mean, (replicates, n)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=replicates) / n


def _interval(samples: np.ndarray, level: float) -> tuple[float, float] | None:
    samples = samples[np.isfinite(samples)]
    if samples.size < 2:
        return None
    alpha = (1 - level) / 2
    lo, hi = np.quantile(samples, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _verdict(interval, metric: str) -> str:
    """'win' (the model is better), 'loss' or 'tie', from the interval of model minus baseline."""
    if interval is None:
        return "n/a"
    lo, hi = interval
    better_below = LOWER_IS_BETTER[metric]
    if (hi < 0) if better_below else (lo > 0):
        return "win"
    if (lo > 0) if better_below else (hi < 0):
        return "loss"
    return "tie"


def paired_bootstrap(units: list[HeldoutCells], reference: str = "model", *, replicates: int = 1000,
                     level: float = 0.9, seed: int = 0) -> dict:
    """Differences (``reference`` minus each other method) of every score, per unit and pooled
    (the mean over units), with percentile intervals from a paired bootstrap over cells.

    Returns ``{"per_unit": [...], "pooled": {...}}``; each entry holds, per baseline and metric,
    the point difference, its interval and a verdict ('win' when the interval excludes 0 on the
    reference's side, 'loss' on the other, else 'tie').
    """
    rng = np.random.default_rng(seed)
    methods = [m for m in units[0].predictions if m != reference and all(m in u.predictions for u in units)]
    control_weights = {}
    for u in units:
        if u.context not in control_weights:
            control_weights[u.context] = _resampling_weights(rng, len(u.control), replicates)
    per_unit: list[dict] = []
    pooled_samples: dict[tuple[str, str], list[np.ndarray]] = {}
    pooled_points: dict[tuple[str, str], list[float]] = {}
    for u in units:
        obs_b = _resampling_weights(rng, len(u.perturbed), replicates) @ u.perturbed \
            - control_weights[u.context] @ u.control
        obs = u.observed
        ref_point = delta_scores(u.predictions[reference], obs, u.top)
        ref_boot = delta_scores(u.predictions[reference], obs_b, u.top)
        baselines: dict[str, dict] = {}
        row = {"unit": u.label, "context": u.context, "baselines": baselines}
        for m in methods:
            point = delta_scores(u.predictions[m], obs, u.top)
            boot = delta_scores(u.predictions[m], obs_b, u.top)
            entry = {}
            for metric in METRICS:
                diff = float(ref_point[metric] - point[metric])
                samples = ref_boot[metric] - boot[metric]
                interval = _interval(samples, level)
                entry[metric] = {"difference": diff if np.isfinite(diff) else None, "interval": interval,
                                 "verdict": _verdict(interval, metric)}
                pooled_samples.setdefault((m, metric), []).append(samples)
                pooled_points.setdefault((m, metric), []).append(diff)
            baselines[m] = entry
        per_unit.append(row)
    pooled: dict[str, dict] = {}
    for m in methods:
        pooled[m] = {}
        for metric in METRICS:
            point = float(np.mean(pooled_points[(m, metric)]))
            interval = _interval(np.mean(pooled_samples[(m, metric)], axis=0), level)
            verdicts = [r["baselines"][m][metric]["verdict"] for r in per_unit]
            pooled[m][metric] = {"difference": point if np.isfinite(point) else None, "interval": interval,
                                 "verdict": _verdict(interval, metric),
                                 "units_won": verdicts.count("win"), "units_lost": verdicts.count("loss"),
                                 "units": len(verdicts)}
    return {"reference": reference, "level": level, "replicates": replicates, "per_unit": per_unit, "pooled": pooled}


def split_half_floor(unit: HeldoutCells, *, splits: int = 200, seed: int = 0) -> dict[str, float]:
    """The noise floor of a unit's observed change from random halves of its cells.

    The change estimated from one half of the perturbed and control cells is compared with the
    change from the other half. Their difference has four times the variance of the full
    estimate's error, so a quarter of their mean squared difference is the MSE that even the
    true change would score (``mse_floor_top_de``, ``mse_floor_all_genes``);
    ``pearson_split_half`` is the correlation of the halves over the top DE genes (the
    reproducibility of the observation itself).
    """
    rng = np.random.default_rng(seed)
    top_sq, all_sq, r = [], [], []
    for _ in range(splits):
        p = rng.permutation(len(unit.perturbed))
        c = rng.permutation(len(unit.control))
        hp, hc = len(p) // 2, len(c) // 2
        a = unit.perturbed[p[:hp]].mean(0) - unit.control[c[:hc]].mean(0)
        b = unit.perturbed[p[hp:2 * hp]].mean(0) - unit.control[c[hc:2 * hc]].mean(0)
        top_sq.append(np.mean((a[unit.top] - b[unit.top]) ** 2))
        all_sq.append(np.mean((a - b) ** 2))
        r.append(np.corrcoef(a[unit.top], b[unit.top])[0, 1])
    return {"mse_floor_top_de": float(np.mean(top_sq)) / 4, "mse_floor_all_genes": float(np.mean(all_sq)) / 4,
            "pearson_split_half": float(np.nanmean(r))}
