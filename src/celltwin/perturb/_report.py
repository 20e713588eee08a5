"""Writing a held-out evaluation: ``metrics.json``, a markdown report and its figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._atomic import atomic_path, atomic_write_text
from ._holdout import HoldoutResult


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.4g}"


def _with_interval(entry) -> str:
    if entry["difference"] is None:
        return "n/a"
    if entry["interval"] is None:
        return _fmt(entry["difference"])
    lo, hi = entry["interval"]
    return f"{_fmt(entry['difference'])} [{_fmt(lo)}, {_fmt(hi)}]"


def summary_table(result: HoldoutResult) -> str:
    """Mean of each metric over the held-out units per method, the model's top-DE MSE difference
    to the method with its interval and the units won and lost, and the noise floor."""
    boot = result.bootstrap
    level = round(100 * boot["level"])
    n = len(result.units)
    header = (f"| method | MSE (top DE) | Pearson (top DE) | direction (top DE) | MSE (all genes) | "
              f"model - method, MSE top DE [{level} % CI] | units won / lost by the model (of {n}) |")
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in result.summary.to_dict("records"):
        entry = boot["pooled"].get(row["method"], {}).get("mse_top_de")
        versus = "" if entry is None else f" {_with_interval(entry)} | {entry['units_won']} / {entry['units_lost']} |"
        lines.append(f"| {row['method']} | " + " | ".join(_fmt(row[m]) for m in
                                                           ("mse_top_de", "pearson_top_de", "direction_top_de",
                                                            "mse_all_genes")) + " |" + (versus or " | |"))
    floor = {k: float(np.mean([f[k] for f in result.floors.values()])) for k in next(iter(result.floors.values()))}
    lines.append(f"| noise floor (split half) | {_fmt(floor['mse_floor_top_de'])} | "
                 f"{_fmt(floor['pearson_split_half'])} (halves) | | {_fmt(floor['mse_floor_all_genes'])} | | |")
    return "\n".join(lines)


def comparison_table(result: HoldoutResult) -> str:
    """Model minus each other method, pooled over units, with intervals and unit verdicts."""
    boot = result.bootstrap
    n = len(result.units)
    level = round(100 * boot["level"])
    header = (f"| model vs | MSE top DE: model - other [{level} % CI] | units won / lost (of {n}) | "
              f"Pearson: model - other [{level} % CI] | direction: model - other | MSE all genes: model - other |")
    lines = [header, "|---|---|---|---|---|---|"]
    for method, entry in boot["pooled"].items():
        mse = entry["mse_top_de"]
        lines.append(f"| {method} | {_with_interval(mse)} | {mse['units_won']} / {mse['units_lost']} | "
                     f"{_with_interval(entry['pearson_top_de'])} | {_with_interval(entry['direction_top_de'])} | "
                     f"{_with_interval(entry['mse_all_genes'])} |")
    return "\n".join(lines)


def _per_unit_table(result: HoldoutResult) -> str:
    methods = list(result.units[0].predictions)
    per = result.per_unit.pivot(index="unit", columns="method", values="mse_top_de")
    verdicts = {r["unit"]: r["baselines"] for r in result.bootstrap["per_unit"]}
    others = [m for m in methods if m != "model"]
    lines = ["| unit | " + " | ".join(methods) + " | noise floor | " + " | ".join(f"vs {m}" for m in others) + " |",
             "|---" * (len(methods) + 2 + len(others)) + "|"]
    for u in result.units:
        row = per.loc[u.label]
        lines.append(f"| {u.label} | " + " | ".join(_fmt(row[m]) for m in methods)
                     + f" | {_fmt(result.floors[u.label]['mse_floor_top_de'])} | "
                     + " | ".join(verdicts[u.label][m]["mse_top_de"]["verdict"] for m in others) + " |")
    return "\n".join(lines)


def _crossval_text(result: HoldoutResult) -> str:
    cv = result.crossval
    grid = [f"w={g['steady_state_weight']:g}, L1={g['network_l1']:g}, width={g.get('neural_width', 0)}"
            for g in cv["grid"]]
    if len(grid) == 1:
        return f"One setting ({grid[0]}): nothing was cross-validated."
    lines = ["| fold | " + " | ".join(f"validation {g}" for g in grid) + " | chosen | "
             + " | ".join(f"test {g}" for g in grid) + " |", "|---" * (2 * len(grid) + 2) + "|"]
    for fold, entry in cv["folds"].items():
        chosen = entry["chosen"]
        lines.append(f"| {fold} | " + " | ".join(_fmt(v) for v in entry["validation_mse_top_de"])
                     + f" | w={chosen['steady_state_weight']:g}, L1={chosen['network_l1']:g}, "
                       f"width={chosen.get('neural_width', 0)} | "
                     + " | ".join(_fmt(v) for v in cv["test_mse_top_de"][fold]) + " |")
    return ("Steady-state weight w, network L1 and neural-term width chosen per fold by nested leave-pair-out "
            "cross-validation "
            "inside the fold's training data (validation: the model's mean top-DE MSE on the other folds' "
            "units, from fits that left out both folds). The test columns are the held-out fold's own "
            "scores for every setting, shown for reference and not used for the choice.\n\n" + "\n".join(lines))


def heldout_figure(result: HoldoutResult, path: Path) -> None:
    """Predicted vs observed change over each held-out unit's top DE genes, per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(result.units[0].predictions)
    fig, axes = plt.subplots(1, len(methods), figsize=(3.0 * len(methods), 3.2), sharex=True, sharey=True)
    lim = 0.0
    for ax, method in zip(axes, methods):
        for u in result.units:
            obs, pred = u.observed[u.top], u.predictions[method][u.top]
            ax.scatter(obs, pred, s=6)
            lim = max(lim, np.abs(obs).max(), np.abs(pred).max())
        ax.set_title(method, fontsize=8)
        ax.set_xlabel("observed change")
    for ax in axes:
        ax.plot([-lim, lim], [-lim, lim], color="grey", lw=0.8)
    axes[0].set_ylabel("predicted change (log-normalised)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def write_holdout(result: HoldoutResult, out: Path, *, command: str = "") -> list[Path]:
    """Write ``out/metrics.json``, ``out/report.md`` and ``out/heldout.png``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    metrics = out / "metrics.json"
    atomic_write_text(metrics, json.dumps({**result.metrics(), "command": command}, indent=2, default=str) + "\n")
    figure = out / "heldout.png"
    heldout_figure(result, figure)
    info = result.info
    level = round(100 * result.bootstrap["level"])
    text = f"""# Held-out perturbation prediction

Data: `{info['source']}` ({info['kind']}, {info['batches']} batch(es)); held out: {info['holdout']},
{len(info['folds'])} folds, {info['n_units']} units ({info['n_test_cells']} cells); {info['n_genes']} modelled
genes per fit; {info['n_fits']} fits. Metrics over each unit's top {info['top_de']} DE genes, chosen from
training data only (largest mean absolute change over the training conditions made of the unit's
targets). Changes are of mean log-normalised expression from the controls of the same context.
{'Command: `' + command + '`' if command else ''}

## Mean over held-out units

{summary_table(result)}

No change predicts zero, so its Pearson correlation is undefined (n/a). Noise floor: the MSE
that the true change would score against the observed one (a quarter of the squared difference
of changes from random halves of the cells), and the correlation of the halves.

## Model against each other method (paired bootstrap over cells, {result.bootstrap['replicates']} replicates)

{comparison_table(result)}

Differences are model minus other, pooled as the mean over units; a unit is won (lost) when the
{level} % interval of its top-DE MSE difference lies below (above) 0. The intervals resample the
held-out cells and the controls, not the training data or the fit.

## Top-DE MSE per unit

{_per_unit_table(result)}

## Fit settings

{_crossval_text(result)}

![predicted vs observed](heldout.png)

Base settings: `{info['settings']}`.
"""
    report = out / "report.md"
    atomic_write_text(report, text)
    return [metrics, report, figure]
