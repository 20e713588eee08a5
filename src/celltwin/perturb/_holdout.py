"""Held-out perturbation prediction: folds, fits (settings chosen by nested cross-validation),
baselines, and scores with bootstrap intervals and noise floors."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import CelltwinInputError
from ._baselines import (
    LinearBaseline,
    additive_baseline,
    context_mean_baseline,
    mean_baseline,
    nearest_context_baseline,
    no_change_baseline,
)
from ._bootstrap import HeldoutCells, paired_bootstrap, split_half_floor
from ._crossval import leave_pair_out_curves
from ._fit import SCALE, FittedScreenModel, ScreenFitSettings, fit_screen
from ._metrics import METRICS, delta_scores
from ._screen import Screen
from ._splits import (
    HeldoutFold,
    Key,
    cell_targets,
    cell_type_folds,
    context_deltas,
    contexts_of,
    corrected_expression,
    double_folds,
    unit_label,
)

HOLDOUTS = ("doubles", "cell-type")
BASELINES = {"doubles": ("no_change", "mean", "additive", "linear"),
             "cell-type": ("no_change", "mean", "context_mean", "nearest_context", "linear")}
NO_STEADY_STATE = "model_no_steady_state"  # the same fit with steady_state_weight 0


def heldout_doubles(screen: Screen) -> list[tuple[str, ...]]:
    """Combinations whose every target was also perturbed alone: each is held out in turn."""
    return [fold.units[0][1] for fold in double_folds(screen)]


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


def training_top_de(deltas: dict[Key, np.ndarray], key: Key, top_de: int) -> np.ndarray:
    """The unit's top DE genes from training data only: largest mean absolute change over the
    training conditions made of its targets (a double's singles; the same perturbation in the
    other contexts)."""
    targets = set(key[1])
    related = [d for (c, t), d in deltas.items() if set(t) <= targets]
    if not related:
        raise CelltwinInputError(f"{unit_label(key)}: none of its targets was perturbed in training")
    return np.argsort(-np.mean(np.abs(related), axis=0), kind="stable")[:top_de]


@dataclass(frozen=True)
class FoldFit:
    """One fit of the model on a fold's training cells, with what the baselines need."""

    genes: np.ndarray  # modelled genes (indices into the screen's genes)
    model: FittedScreenModel
    deltas: dict  # training changes over the modelled genes, by (context, targets)
    control_means: dict  # per context, the control mean over the modelled genes


def fit_fold(screen: Screen, contexts: np.ndarray, held: np.ndarray, settings: ScreenFitSettings,
             n_genes: int) -> FoldFit:
    """Fit the model on the cells not ``held``; the modelled genes come from those cells only."""
    train = screen.subset(~held)
    deltas = context_deltas(train, contexts[~held])
    genes = select_genes(deltas, screen.genes, n_genes, screen.targets)
    model_screen = Screen(train.expression[:, genes], train.kind, tuple(screen.genes[i] for i in genes),
                          train.conditions, train.guides, train.guide_target, train.batch, train.batches,
                          train.library_size, train.source, train.medium, train.time)
    fitted = fit_screen(model_screen, settings)
    y = corrected_expression(train)[:, genes]
    ctrl = train.is_control
    control_means = {c: y[ctrl & (contexts[~held] == c)].mean(0) for c in set(contexts[~held][ctrl].tolist())}
    return FoldFit(genes, fitted, {k: v[genes] for k, v in deltas.items()}, control_means)


def model_prediction(fold_fit: FoldFit, screen: Screen, contexts: np.ndarray, key: Key, by_context: bool):
    """The model's predicted change of log-normalised expression for a held-out unit."""
    fitted = fold_fit.model
    context, targets = key
    if by_context:
        d = fitted.predict_change(targets, medium=context)
    elif screen.medium is None and screen.time is None:
        d = fitted.predict_change(targets)
    else:  # the mean prediction over the held-out cells' (medium, time)
        cells = np.array([t == targets for t in cell_targets(screen)])
        medium = screen.medium[cells].astype(str) if screen.medium is not None else np.full(cells.sum(), "")
        time = screen.time[cells] if screen.time is not None else np.full(cells.sum(), np.inf)
        combos, counts = np.unique(np.column_stack([medium, time.astype(str)]), axis=0, return_counts=True)
        d = sum(n * fitted.predict_change(targets, medium=m or None, time=float(t))
                for (m, t), n in zip(combos, counts)) / counts.sum()
    if fitted.settings.likelihood == "negative_binomial":  # latent log-mean -> log-normalised scale
        x0 = np.asarray(fitted.params["x0"])
        return np.log1p(np.exp(x0 + d)) - np.log1p(np.exp(x0))
    return d


def _baselines(holdout: str, fold_fit: FoldFit) -> dict:
    deltas = fold_fit.deltas
    make = {"no_change": lambda: no_change_baseline(deltas), "mean": lambda: mean_baseline(deltas),
            "additive": lambda: additive_baseline(deltas), "linear": lambda: LinearBaseline(deltas),
            "context_mean": lambda: context_mean_baseline(deltas),
            "nearest_context": lambda: nearest_context_baseline(deltas, fold_fit.control_means)}
    return {name: make[name]() for name in BASELINES[holdout]}


def _unit_cells(screen, contexts, y, key: Key, genes, top, predictions) -> HeldoutCells:
    context, targets = key
    in_context = contexts == context
    cells = in_context & np.array([t == targets for t in cell_targets(screen)])
    return HeldoutCells(unit_label(key), context, y[cells][:, genes], y[in_context & screen.is_control][:, genes],
                        top, predictions)


@dataclass(frozen=True)
class HoldoutResult:
    """Scores of the model and the baselines on held-out units.

    Attributes:
        summary: one row per method: each metric's mean over units.
        per_unit: one row per held-out unit and method (metrics and, per unit, the noise floor).
        bootstrap: :func:`paired_bootstrap` of the model against every other method.
        floors: unit label -> split-half noise floor.
        crossval: the grid, per fold the validation curve and chosen setting, and the test-set
            curve (reported, not used for the choice).
        units: the :class:`HeldoutCells` (observations and predictions).
        info: what was run.
    """

    summary: pd.DataFrame
    per_unit: pd.DataFrame
    bootstrap: dict
    floors: dict
    crossval: dict
    units: list
    info: dict

    def metrics(self) -> dict:
        """A JSON-ready dict (NaN -> None)."""
        def clean(v):
            if isinstance(v, (float, np.floating)):
                return float(v) if np.isfinite(v) else None
            return v
        methods = {row["method"]: {k: clean(v) for k, v in row.items() if k != "method"}
                   for row in self.summary.to_dict("records")}
        per = [{k: clean(v) for k, v in row.items()} for row in self.per_unit.to_dict("records")]
        return {**self.info, "methods": methods, "per_unit": per, "bootstrap": self.bootstrap,
                "noise_floor": self.floors, "crossval": self.crossval}


def settings_grid(base: ScreenFitSettings, steady_state_weights=(0.0, 1.0, 5.0, 25.0),
                  network_l1=None, neural_widths=None) -> list[ScreenFitSettings]:
    """Every combination of the given steady-state weights, network L1 penalties and
    neural-term widths (the last two default to ``base``'s)."""
    l1s = tuple(network_l1) if network_l1 else (base.network_l1,)
    widths = tuple(neural_widths) if neural_widths else (base.neural_width,)
    return [replace(base, steady_state_weight=float(w), network_l1=float(l1), neural_width=int(h))
            for w, l1, h in itertools.product(steady_state_weights, l1s, widths)]


def _finite_or_none(values) -> list:
    return [float(v) if np.isfinite(v) else None for v in values]  # JSON has no infinity


def _grid_label(s: ScreenFitSettings) -> dict:
    return {"steady_state_weight": s.steady_state_weight, "network_l1": s.network_l1, "neural_width": s.neural_width}


def heldout_folds(screen: Screen, holdout: str, max_folds: int | None = None) -> list[HeldoutFold]:
    """The folds of ``holdout`` (``"doubles"`` or ``"cell-type"``), the first ``max_folds`` only if given."""
    if holdout not in HOLDOUTS:
        raise CelltwinInputError(f"--holdout {holdout!r}: choose one of {', '.join(HOLDOUTS)}")
    by_context = holdout == "cell-type"
    folds = cell_type_folds(screen, contexts_of(screen, True)) if by_context else double_folds(screen)
    if not folds:
        raise CelltwinInputError(f"{screen.source}: nothing to hold out: " + (
            "no perturbation is shared by two cell types" if by_context
            else "no combination whose targets were each also perturbed alone"))
    return folds[:max_folds] if max_folds else folds


def planned_fits(n_folds: int, n_grid: int) -> int:
    """Model fits of an evaluation: every setting on every fold, and, when there is a choice,
    every setting on every pair of folds (the nested cross-validation)."""
    pairs = n_folds * (n_folds - 1) // 2 if n_grid > 1 else 0
    return (pairs + n_folds) * n_grid


def evaluate_holdout(screen: Screen, *, holdout: str = "doubles", n_genes: int = 100, top_de: int = 20,
                     settings: ScreenFitSettings | None = None, grid: list[ScreenFitSettings] | None = None,
                     max_folds: int | None = None, replicates: int = 1000, level: float = 0.9,
                     progress=None) -> HoldoutResult:
    """Leave each fold out in turn, fit the model (settings chosen by nested cross-validation)
    and the baselines on the rest, and score every held-out unit with intervals.

    Arguments:
        holdout: ``"doubles"`` (leave one double out: every combination whose targets were each
            also perturbed alone) or ``"cell-type"`` (leave one cell type out: its perturbed
            cells, predicted from the other cell types through the context operator, the cell
            type being read as the screen's medium).
        n_genes: modelled genes per fit, those whose change varies most over its training data.
        top_de: genes per unit for the top-DE metrics, chosen from training data only.
        settings: fit settings; ``grid``: candidate settings (default: ``settings`` alone);
            with more than one, each fold's is chosen by :func:`leave_pair_out_curves`.
        max_folds: keep the first folds only (cheaper runs).
        replicates, level: bootstrap replicates and interval level.
        progress: optional callable ``(fits_done, fits_total)``.
    """
    by_context = holdout == "cell-type"
    contexts = contexts_of(screen, by_context)
    folds = heldout_folds(screen, holdout, max_folds)
    settings = settings or default_settings(screen)
    grid = grid or [settings]
    total, done = planned_fits(len(folds), len(grid)), [0]

    def tick():
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    y = corrected_expression(screen)

    def model_mse(fold_fit, fold):  # the validation score: the model's mean top-DE MSE on a fold's units
        scores = []
        for key in fold.units:
            cells = _unit_cells(screen, contexts, y, key, fold_fit.genes,
                                training_top_de(fold_fit.deltas, key, top_de), {})
            pred = model_prediction(fold_fit, screen, contexts, key, by_context)
            scores.append(float(delta_scores(pred, cells.observed, cells.top)["mse_top_de"]))
        return float(np.mean(scores))

    crossval: dict[str, object] = {"grid": [_grid_label(s) for s in grid], "folds": {}}
    chosen = [0] * len(folds)
    if len(grid) > 1:
        def score_pair(a, b, g):
            try:
                fit = fit_fold(screen, contexts, folds[a].held | folds[b].held, grid[g], n_genes)
            except FloatingPointError:  # a setting whose fit diverges is never chosen
                return np.inf, np.inf
            return model_mse(fit, folds[a]), model_mse(fit, folds[b])

        curves = leave_pair_out_curves(len(folds), len(grid), score_pair, tick)
        chosen = [int(np.argmin(c)) for c in curves]
        crossval["folds"] = {f.name: {"validation_mse_top_de": _finite_or_none(curves[i]),
                                      "chosen": _grid_label(grid[chosen[i]])}
                             for i, f in enumerate(folds)}

    units, test_curve = [], np.zeros((len(folds), len(grid)))
    for i, fold in enumerate(folds):
        fits: list[FoldFit | None] = []
        for g, s in enumerate(grid):
            try:
                fits.append(fit_fold(screen, contexts, fold.held, s, n_genes))
                test_curve[i, g] = model_mse(fits[-1], fold)
            except FloatingPointError:
                if g == chosen[i]:
                    raise
                fits.append(None)  # reported as an infinite test score
                test_curve[i, g] = np.inf
            tick()
        best = fits[chosen[i]]
        assert best is not None, "the chosen setting's fit failing is raised above"
        no_steady_state = replace(grid[chosen[i]], steady_state_weight=0.0)
        baselines = _baselines(holdout, best)
        for key in fold.units:
            predictions = {"model": model_prediction(best, screen, contexts, key, by_context)}
            no_steady_fit = fits[grid.index(no_steady_state)] if len(grid) > 1 and no_steady_state in grid else None
            if no_steady_fit is not None:
                predictions[NO_STEADY_STATE] = model_prediction(no_steady_fit, screen, contexts, key, by_context)
            predictions.update({name: f(*key) for name, f in baselines.items()})
            units.append(_unit_cells(screen, contexts, y, key, best.genes,
                                     training_top_de(best.deltas, key, top_de), predictions))
    crossval["test_mse_top_de"] = {f.name: _finite_or_none(test_curve[i]) for i, f in enumerate(folds)}

    floors = {u.label: split_half_floor(u) for u in units}
    rows = []
    for u in units:
        for method, pred in u.predictions.items():
            scores = delta_scores(pred, u.observed, u.top)
            rows.append({"unit": u.label, "method": method, **{m: float(scores[m]) for m in METRICS},
                         **floors[u.label]})
    per = pd.DataFrame(rows)
    summary = per.groupby("method", sort=False)[list(METRICS)].mean().reset_index()
    boot = paired_bootstrap(units, "model", replicates=replicates, level=level)
    info = {"source": screen.source, "holdout": holdout, "folds": [f.name for f in folds],
            "units": [u.label for u in units], "n_units": len(units),
            "n_test_cells": int(sum(len(u.perturbed) for u in units)), "n_genes": n_genes, "top_de": top_de,
            "kind": screen.kind, "batches": len(screen.batches), "n_fits": total,
            "settings": {k: v for k, v in vars(settings).items()}, "scale": SCALE}
    return HoldoutResult(summary, per, boot, floors, crossval, units, info)


def default_settings(screen: Screen, **overrides) -> ScreenFitSettings:
    """Settings for a real screen: the likelihood follows its kind (counts: negative binomial;
    log-normalised: normal), a contractive network, a smaller step; ``overrides`` replace fields."""
    base = ScreenFitSettings(likelihood="negative_binomial" if screen.kind == "counts" else "normal",
                             max_row_sum=0.9, learning_rate=0.005, steps=1000)
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
