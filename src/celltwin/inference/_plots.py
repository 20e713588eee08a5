"""Plots of inference results (matplotlib, written without a display)."""

from __future__ import annotations

import numpy as np


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def waterfall_plot(objectives: np.ndarray, *, path=None, reference: float | None = None):
    """Sorted final objectives minus the best one, + 1 (log axis), against the start's rank.

    Starts that reached the same optimum form a plateau at 1; ``reference`` (an objective
    value, e.g. minus the reference log-likelihood) is drawn as a dashed line.
    """
    values = np.sort(np.asarray(objectives, dtype=float))
    finite = values[np.isfinite(values)]
    fig, ax = _figure(figsize=(6, 4))
    if len(finite):
        best = finite[0]
        ax.plot(np.arange(1, len(finite) + 1), finite - best + 1, "o-", ms=4)
        if reference is not None and np.isfinite(reference):
            ax.axhline(max(reference - best + 1, 1e-3), ls="--", color="k", lw=1, label="reference")
            ax.legend()
        ax.set_yscale("log")
    failed = len(values) - len(finite)
    ax.set_xlabel("start (sorted by final objective)")
    ax.set_ylabel("objective - best + 1")
    ax.set_title(f"Waterfall: {len(finite)} starts" + (f", {failed} failed" if failed else ""))
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
