"""The leaderboard: a self-contained HTML page of a result store.

Sections: the ranking of methods (median and mean metrics over their cells, failures counted);
a method x challenge heat map of the normalised CRPS; per-axis curves (held-out error
against measurement noise, the fraction of unobserved species, the sampling frequency and
the number of conditions, the other axes at their defaults); every row as a table.
Figures are PNGs embedded as base64 data; every text from the store is HTML-escaped.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import atomic_write_text
from ..report_html import CSS, image, note, table
from ._store import ResultStore
from ._synthetic import SyntheticSpec

CURVE_AXES = (("noise", "measurement noise (fraction of amplitude)"), ("unobserved", "fraction of unobserved species"),
              ("n_times", "sampling times per condition"), ("n_conditions", "training conditions"))
DEFAULTS = {f.name: f.default for f in dataclasses.fields(SyntheticSpec) if f.name != "model"}
SHOWN = ["nrmse", "coverage90", "crps", "log10_error", "structure_f1", "wall_s"]


def challenge(row) -> str:
    """The task's column in the heat map: its model and the axes that differ from the defaults."""
    if row["kind"] != "synthetic":
        return f"{row['model']} (real)"
    changed = [f"{a}={row[a]:g}" if isinstance(row[a], float) else f"{a}={row[a]}"
               for a, d in DEFAULTS.items() if row[a] != d and not (isinstance(d, float) and np.isclose(row[a], d))]
    return f"{row['model']}: {', '.join(changed) or 'default'}"


def ranking(df: pd.DataFrame) -> pd.DataFrame:
    """Per method: cells, failures, the median NRMSE and CRPS, and mean metrics over its
    successful cells; lower median CRPS first.

    The median is the sort key because one blown-up cell (a prediction off by a factor of
    100 on one task and seed) moves a method's mean CRPS past methods that are better on
    nearly every cell; the full suite has such cells (docs/bench.md).
    """
    ok = df[df["status"] == "ok"].groupby("method")
    medians = ok[["nrmse", "crps"]].median().add_prefix("median ")
    means = ok[SHOWN].mean()
    counts = df.groupby("method").agg(cells=("status", "size"), failures=("status", lambda s: int((s != "ok").sum())))
    out = counts.join(medians).join(means).sort_values(["median crps", "failures"], na_position="last")
    return out.rename(columns={"wall_s": "mean wall s"})


def heat_map(df: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = df.assign(challenge=df.apply(challenge, axis=1))
    grid = cells[cells["status"] == "ok"].pivot_table(index="method", columns="challenge", values="crps", aggfunc="mean")
    grid = grid.reindex(index=sorted(df["method"].unique()), columns=sorted(cells["challenge"].unique()))
    fig, ax = plt.subplots(figsize=(max(7.5, 0.6 * grid.shape[1] + 3.5), 0.6 * grid.shape[0] + 3.0))
    values = np.ma.masked_invalid(grid.to_numpy(dtype=float))
    cmap = plt.get_cmap("viridis_r").with_extremes(bad="#dddddd")
    im = ax.imshow(values, cmap=cmap, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=9)
    middle = 0.5 * (np.nanmin(values.filled(np.nan)) + np.nanmax(values.filled(np.nan))) if values.count() else 0.0
    for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
        ax.text(j, i, "fail/na" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=7,
                color="black" if np.isnan(v) or v < middle else "white")
    fig.colorbar(im, ax=ax, label="normalised CRPS")
    ax.set_title("held-out CRPS (lower is better; grey: failed or n/a)", fontsize=10)
    fig.tight_layout()
    return fig


def axis_curves(df: pd.DataFrame, axis: str, label: str):
    """Held-out normalised RMSE against ``axis`` (others at their defaults), one panel per
    model that varies it; ``None`` when no model does."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    syn = df[(df["kind"] == "synthetic") & (df["status"] == "ok")]
    others = [a for a in DEFAULTS if a != axis]
    at_default = np.ones(len(syn), dtype=bool)
    for a in others:
        col, default = syn[a], DEFAULTS[a]
        at_default &= np.isclose(col.astype(float), default) if isinstance(default, (int, float)) \
            else (col == default).to_numpy()
    sub = syn[at_default]
    models = [m for m, g in sub.groupby("model") if g[axis].nunique() > 1]
    if not models:
        return None
    fig, axes = plt.subplots(1, len(models), figsize=(4.5 * len(models), 3.4), squeeze=False)
    for ax, model in zip(axes[0], models):
        for method, g in sub[sub["model"] == model].groupby("method"):
            curve = g.groupby(axis)["nrmse"].agg(["mean", "min", "max"]).sort_index()
            ax.plot(curve.index, curve["mean"], marker="o", label=method)
            ax.fill_between(curve.index, curve["min"], curve["max"], alpha=0.15)
        ax.set_xlabel(label)
        ax.set_ylabel("held-out normalised RMSE")
        ax.set_title(model)
        if axis == "noise":
            ax.set_xscale("log")
            ax.minorticks_off()
        ticks = sorted(sub[sub["model"] == model][axis].astype(float).unique())
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def render_leaderboard(df: pd.DataFrame, *, source: str = "") -> str:
    """The leaderboard page for the rows ``df`` of a result store."""
    suites = html.escape(", ".join(sorted(df["suite"].unique())))
    versions = html.escape(", ".join(sorted(df["registry_version"].unique())))
    parts = [(f"<h1>celltwin benchmark leaderboard</h1><p>{html.escape(source)}: {len(df)} cells, "
              f"{int((df['status'] == 'ok').sum())} succeeded, suites {suites}, registry {versions}.</p>"),
             ('<nav><a href="#ranking">ranking</a><a href="#heatmap">heat map</a><a href="#axes">per-axis curves</a>'
              '<a href="#rows">all rows</a></nav>')]
    parts.append('<h2 id="ranking">Ranking</h2>')
    parts.append(note("Sorted by the median CRPS over each method's successful cells (a few blown-up cells move a "
                      "mean, not a median); the columns not named median are means. CRPS and RMSE are divided by the root mean "
                      "square of each observable's held-out data; coverage90 should be near 0.9; log10_error is the "
                      "mean |log10 estimate/truth| of the rate constants; structure_f1 scores the reactions a fit keeps."))
    parts.append(table(ranking(df)))
    parts.append('<h2 id="heatmap">Method x challenge</h2>')
    parts.append(image(heat_map(df), "heat map of normalised CRPS per method and challenge"))
    parts.append('<h2 id="axes">Per-axis curves</h2>')
    shown = 0
    for axis, label in CURVE_AXES:
        fig = axis_curves(df, axis, label)
        if fig is not None:
            parts.append(f"<h3>{html.escape(label)}</h3>" + image(fig, f"held-out error against {label}"))
            shown += 1
    if not shown:
        parts.append(note("No axis varies in these results (the full suite sweeps them)."))
    parts.append('<h2 id="rows">All rows</h2>')
    columns = ["suite", "task_id", "method", "seed", "status", *SHOWN, "error"]
    parts.append(table(df[columns], index=False))
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    parts.append(f"<footer>written by celltwin bench report, {stamp}</footer>")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>celltwin benchmark</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>")


def write_leaderboard(store_path, out) -> Path:
    """Read the result store ``store_path`` and write the leaderboard HTML to ``out``."""
    df = ResultStore(store_path).table()
    if df.empty:
        from ..errors import CelltwinInputError

        raise CelltwinInputError(f"{store_path}: the result store has no rows yet")
    out = Path(out)
    atomic_write_text(out, render_leaderboard(df, source=str(store_path)))
    return out
