"""Held-out perturbation prediction: split, fit, predict, and score model and baselines."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import CelltwinInputError
from ._baselines import LinearBaseline, additive_baseline, mean_baseline
from ._fit import SCALE, ScreenFitSettings, fit_screen
from ._screen import Screen

METHODS = ("model", "mean", "additive", "linear")


def heldout_doubles(screen: Screen) -> list[tuple[str, ...]]:
    """Combinations whose every target was also perturbed alone: these are held out."""
    keys = {screen.condition_targets(c) for c in set(screen.conditions.tolist())}
    singles = {k[0] for k in keys if len(k) == 1}
    return sorted(k for k in keys if len(k) > 1 and all(t in singles for t in k))


def observed_deltas(screen: Screen) -> dict[tuple[str, ...], np.ndarray]:
    """Per condition (as a tuple of targets), mean log-normalised change from control,
    controls compared within each batch."""
    names, means = screen.condition_means()
    control = means[names.index("control")]
    return {screen.condition_targets(c): m - control for c, m in zip(names, means) if c != "control"}


def select_genes(deltas: dict, genes, n_genes: int, targets=()) -> np.ndarray:
    """Indices of the ``n_genes`` genes whose change varies most over the training conditions,
    plus any perturbed target that is a measured gene."""
    spread = np.stack(list(deltas.values())).std(0) if len(deltas) > 1 else np.abs(next(iter(deltas.values())))
    chosen = set(np.argsort(-spread)[:n_genes].tolist())
    gi = {g: i for i, g in enumerate(genes)}
    chosen |= {gi[t] for t in targets if t in gi}
    return np.array(sorted(chosen))


def _pearson(a, b) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


@dataclass(frozen=True)
class HoldoutResult:
    """Scores of model and baselines on held-out perturbations.

    Attributes:
        summary: one row per method: mean Pearson and MSE over the top DE genes, MSE over all
            modelled genes, fraction of held-out perturbations where the method beats additive.
        per_perturbation: one row per held-out perturbation and method.
        predictions: method -> {perturbation label: predicted change over the modelled genes}.
        observed: perturbation label -> observed change; ``genes``: the modelled genes.
    """

    summary: pd.DataFrame
    per_perturbation: pd.DataFrame
    predictions: dict
    observed: dict
    genes: tuple[str, ...]
    top_de: dict
    info: dict

    def metrics(self) -> dict:
        """A JSON-ready dict (NaN -> None)."""
        def clean(v):
            return None if isinstance(v, float) and not np.isfinite(v) else v
        methods = {row["method"]: {k: clean(float(v)) for k, v in row.items() if k != "method"}
                   for row in self.summary.to_dict("records")}
        per = [{k: clean(v) if isinstance(v, float) else v for k, v in row.items()}
               for row in self.per_perturbation.to_dict("records")]
        return {**self.info, "methods": methods, "per_perturbation": per}


def evaluate_holdout(screen: Screen, *, holdout: str = "doubles", n_genes: int = 100, top_de: int = 20,
                     settings: ScreenFitSettings | None = None, progress=None) -> HoldoutResult:
    """Hold out perturbations, fit the model and the baselines on the rest, and score them.

    ``holdout="doubles"``: every combination whose targets were each also perturbed alone is
    held out; training keeps controls, singles and the other combinations.
    Predictions and observations are changes of mean log-normalised expression from control.
    Metrics per held-out perturbation use its ``top_de`` genes with the largest observed
    absolute change (among the modelled genes).
    """
    if holdout != "doubles":
        raise CelltwinInputError(f"--holdout {holdout!r}: only 'doubles' is supported")
    test_keys = heldout_doubles(screen)
    if not test_keys:
        raise CelltwinInputError(f"{screen.source}: no combination whose targets were each also perturbed "
                                 "alone; nothing to hold out")
    is_test = np.array([screen.condition_targets(c) in test_keys for c in screen.conditions])
    all_deltas = observed_deltas(screen)
    train = screen.subset(~is_test)
    train_deltas = observed_deltas(train)
    gene_idx = select_genes(train_deltas, screen.genes, n_genes, screen.targets)
    genes = tuple(screen.genes[i] for i in gene_idx)
    train_model = Screen(train.expression[:, gene_idx], train.kind, genes, train.conditions, train.guides,
                         train.guide_target, train.batch, train.batches, train.library_size, train.source,
                         train.medium, train.time)
    settings = settings or default_settings(screen)
    fitted = fit_screen(train_model, settings, progress=progress)
    tr = {k: v[gene_idx] for k, v in train_deltas.items()}
    linear = LinearBaseline(tr)
    x0 = np.asarray(fitted.params["x0"])

    def model(targets, _):
        if screen.medium is None and screen.time is None:
            d = fitted.predict_change(targets)
        else:  # the mean prediction over the held-out cells' (medium, time)
            labels = [c for c in np.unique(screen.conditions) if screen.condition_targets(c) == targets]
            cells = np.isin(screen.conditions, labels)
            medium = screen.medium[cells].astype(str) if screen.medium is not None else np.full(cells.sum(), "")
            time = screen.time[cells] if screen.time is not None else np.full(cells.sum(), np.inf)
            combos, counts = np.unique(np.column_stack([medium, time.astype(str)]), axis=0, return_counts=True)
            d = sum(n * fitted.predict_change(targets, medium=m or None, time=float(t))
                    for (m, t), n in zip(combos, counts)) / counts.sum()
        if settings.likelihood == "negative_binomial":  # latent log-mean -> log-normalised scale
            return np.log1p(np.exp(x0 + d)) - np.log1p(np.exp(x0))
        return d

    predictors = {"model": model, "mean": mean_baseline, "additive": additive_baseline, "linear": linear}
    rows, predictions, observed, top = [], {m: {} for m in METHODS}, {}, {}
    for key in test_keys:
        label = "+".join(key)
        obs = all_deltas[key][gene_idx]
        observed[label] = obs
        de = np.argsort(-np.abs(obs))[:top_de]
        top[label] = [genes[i] for i in de]
        for method in METHODS:
            pred = predictors[method](key, tr)
            predictions[method][label] = pred
            rows.append({"perturbation": label, "method": method, "pearson_top_de": _pearson(pred[de], obs[de]),
                         "mse_top_de": float(np.mean((pred[de] - obs[de]) ** 2)),
                         "mse_all_genes": float(np.mean((pred - obs) ** 2))})
    per = pd.DataFrame(rows)
    additive_mse = per[per.method == "additive"].set_index("perturbation")["mse_top_de"]
    per["beats_additive"] = [float(r.mse_top_de < additive_mse[r.perturbation]) for r in per.itertuples()]
    summary = (per.groupby("method", sort=False)[["pearson_top_de", "mse_top_de", "mse_all_genes", "beats_additive"]]
               .mean().rename(columns={"beats_additive": "fraction_beating_additive"}).reset_index())
    info = {"source": screen.source, "holdout": holdout, "heldout": ["+".join(k) for k in test_keys],
            "n_train_cells": int(train.n_cells), "n_test_cells": int(is_test.sum()), "n_genes": len(genes),
            "top_de": top_de, "kind": screen.kind, "batches": len(screen.batches),
            "settings": {k: v for k, v in vars(settings).items()}, "scale": SCALE,
            "final_loss": float(fitted.loss_trace[-1])}
    return HoldoutResult(summary, per, predictions, observed, genes, top, info)


def default_settings(screen: Screen, **overrides) -> ScreenFitSettings:
    """Settings for a real screen: the likelihood follows its kind (counts: negative binomial;
    log-normalised: normal), a contractive network, a smaller step; ``overrides`` replace fields."""
    base = ScreenFitSettings(likelihood="negative_binomial" if screen.kind == "counts" else "normal",
                             max_row_sum=0.9, learning_rate=0.005, steps=1000)
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
