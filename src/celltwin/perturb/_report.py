"""Writing a held-out evaluation: ``metrics.json``, a markdown report and its figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._atomic import atomic_path, atomic_write_text
from ._holdout import METHODS, HoldoutResult


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.4g}"


def summary_table(result: HoldoutResult) -> str:
    """The model-vs-baselines table as markdown."""
    lines = ["| method | Pearson (top DE) | MSE (top DE) | MSE (all genes) | fraction beating additive |",
             "|---|---|---|---|---|"]
    for row in result.summary.to_dict("records"):
        lines.append(f"| {row['method']} | {_fmt(row['pearson_top_de'])} | {_fmt(row['mse_top_de'])} | "
                     f"{_fmt(row['mse_all_genes'])} | {_fmt(row['fraction_beating_additive'])} |")
    return "\n".join(lines)


def heldout_figure(result: HoldoutResult, path: Path) -> None:
    """Predicted vs observed change over each held-out perturbation's top DE genes, per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METHODS), figsize=(3.2 * len(METHODS), 3.2), sharex=True, sharey=True)
    gi = {g: i for i, g in enumerate(result.genes)}
    lim = 0.0
    for ax, method in zip(axes, METHODS):
        for label, obs in result.observed.items():
            de = [gi[g] for g in result.top_de[label]]
            pred = result.predictions[method][label][de]
            ax.scatter(obs[de], pred, s=8, label=label)
            lim = max(lim, np.abs(obs[de]).max(), np.abs(pred).max())
        ax.set_title(method)
        ax.set_xlabel("observed change")
    for ax in axes:
        ax.plot([-lim, lim], [-lim, lim], color="grey", lw=0.8)
    axes[0].set_ylabel("predicted change (log-normalised)")
    axes[-1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def write_holdout(result: HoldoutResult, out: Path, *, command: str = "") -> list[Path]:
    """Write ``out/metrics.json``, ``out/report.md`` and ``out/heldout.png``; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    metrics = out / "metrics.json"
    atomic_write_text(metrics, json.dumps(result.metrics(), indent=2, default=str) + "\n")
    figure = out / "heldout.png"
    heldout_figure(result, figure)
    info = result.info
    per = result.per_perturbation.pivot(index="perturbation", columns="method", values="mse_top_de")
    per_lines = ["| perturbation | " + " | ".join(METHODS) + " |", "|---" * (len(METHODS) + 1) + "|"]
    for label, row in per.iterrows():
        per_lines.append(f"| {label} | " + " | ".join(_fmt(row[m]) for m in METHODS) + " |")
    text = f"""# Held-out perturbation prediction

Data: `{info['source']}` ({info['kind']}, {info['batches']} batch(es)); held out: {info['holdout']}
({len(info['heldout'])} perturbations, {info['n_test_cells']} cells); trained on {info['n_train_cells']} cells;
{info['n_genes']} modelled genes; metrics over each held-out perturbation's top {info['top_de']} genes by
observed absolute change. Changes are of mean log-normalised expression from control (controls
compared within each batch). {'Command: `' + command + '`' if command else ''}

{summary_table(result)}

Mean baseline: predicts no change, so its Pearson correlation is undefined (n/a).
"Fraction beating additive": held-out perturbations where the method's top-DE MSE is below the
additive baseline's.

## MSE over the top DE genes, per held-out perturbation

{chr(10).join(per_lines)}

![predicted vs observed](heldout.png)

Model settings: `{info['settings']}`; final training loss {info['final_loss']:.4g}.
"""
    report = out / "report.md"
    atomic_write_text(report, text)
    return [metrics, report, figure]
