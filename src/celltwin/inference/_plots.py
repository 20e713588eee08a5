"""Plots of inference results (matplotlib, written without a display)."""

from __future__ import annotations

import numpy as np

from .._atomic import atomic_path


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
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
    return fig


def profile_plot(result, *, path=None):
    """One panel per parameter: the profile's log-posterior drop against the parameter value,
    with the confidence threshold and the interval ends."""
    params = list(result.intervals["parameter"])
    n = len(params)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = _figure(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    best = float(result.points["objective"].min())
    for ax, (_, iv) in zip(axes.flat, result.intervals.iterrows()):
        pts = result.points[result.points["parameter"] == iv["parameter"]].sort_values("value")
        ax.plot(pts["value"], -(pts["objective"] - best), ".-", ms=3)
        ax.axhline(-result.threshold, ls="--", color="k", lw=0.8)
        for end in (iv["lower"], iv["upper"]):
            if np.isfinite(end):
                ax.axvline(end, color="tab:red", lw=0.8)
        ax.set_title(str(iv["parameter"]) + ("" if iv["identifiable"] else " (not identifiable)"), fontsize=9)
        ax.set_ylim(-2.5 * result.threshold, 0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.supylabel("log-posterior - best")
    fig.supxlabel("parameter value (parameter scale)")
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
    return fig
