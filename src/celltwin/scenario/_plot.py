"""A picture of scenario predictions: one panel per observable and condition."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._atomic import atomic_path


def plot_scenarios(table: pd.DataFrame, path=None, *, data: pd.DataFrame | None = None):
    """Median and 90 % band (``q05``-``q95``) per scenario over time, one panel per
    observable x condition; ``data`` (a PEtab measurement table) is drawn as points.
    Saves to ``path`` when given; returns the matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    panels = list(table.groupby(["observableId", "simulationConditionId"], sort=False).groups)
    ncols = min(3, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    colours = dict(zip(table["scenario"].unique(), plt.rcParams["axes.prop_cycle"].by_key()["color"] * 10))
    for ax, (oid, cid) in zip(axes.flat, panels):
        part = table[(table.observableId == oid) & (table.simulationConditionId == cid)]
        for name, rows in part.groupby("scenario", sort=False):
            rows = rows.sort_values("time")
            ax.plot(rows["time"], rows["q50"], color=colours[name], label=name)
            if {"q05", "q95"} <= set(rows.columns):
                ax.fill_between(rows["time"], rows["q05"], rows["q95"], color=colours[name], alpha=0.2, lw=0)
        if data is not None:
            points = data[(data.observableId == oid) & (data.simulationConditionId.astype(str) == cid)]
            ax.plot(points["time"], points["measurement"], "ko", ms=3, label="data" if len(points) else None)
        ax.set_title(f"{oid} | {cid}", fontsize=9)
        ax.set_xlabel("time")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
    return fig
