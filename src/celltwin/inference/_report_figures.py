"""The figures of the sampling report (``_report``): matplotlib ``Figure`` objects, built
without pyplot so that no global figure state is touched or leaked."""

from __future__ import annotations

import numpy as np

from ..report_html import figure, hide_unused

BAND_COLOR = "tab:blue"
DATA_COLOR = "black"
PRIOR_COLOR = "tab:orange"
DIVERGENT_COLOR = "tab:red"
SCATTER_POINTS = 2000  # draws shown per pair-plot panel


def short(label: str, width: int = 40) -> str:
    label = str(label)
    return label if len(label) <= width else label[:width - 1] + "\u2026"


# --- posterior predictive -------------------------------------------------------------------

def predictive_panel(ax, times: np.ndarray, replicates: np.ndarray, observed: np.ndarray | None) -> None:
    """Data and the 50 % / 90 % central intervals and median of the replicates (draws x
    measurements) of one observable in one condition; replicates at the same time are pooled.

    Times that are not finite (steady-state measurements) put the panel on an axis of
    measurement order, labelled with the times."""
    unique, where = np.unique(times, return_inverse=True)  # NaN/inf sort last
    quantiles = np.stack([np.nanquantile(replicates[:, where == k], [0.05, 0.25, 0.5, 0.75, 0.95])
                          for k in range(len(unique))], axis=1)
    if np.all(np.isfinite(unique)):
        x, x_data = unique, times
    else:
        x, x_data = np.arange(len(unique), dtype=float), where.astype(float)
        ax.set_xticks(x, [f"{t:g}" for t in unique])
    ax.fill_between(x, quantiles[0], quantiles[4], color=BAND_COLOR, alpha=0.2, lw=0, label="90 % interval")
    ax.fill_between(x, quantiles[1], quantiles[3], color=BAND_COLOR, alpha=0.4, lw=0, label="50 % interval")
    ax.plot(x, quantiles[2], color=BAND_COLOR, lw=1.2, label="median")
    if len(x) == 1:  # a band needs two times: show one time as an interval bar
        ax.errorbar(x, quantiles[2], yerr=[quantiles[2] - quantiles[0], quantiles[4] - quantiles[2]],
                    color=BAND_COLOR, capsize=4)
    if observed is not None:
        ax.plot(x_data, observed, "o", color=DATA_COLOR, ms=3.5, label="data")


def predictive_figure(panels: list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]], ylabel: str,
                      xlabel: str = "time"):
    """One panel per ``(title, times, replicates, observed)``, with one legend."""
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = figure(rows, cols)
    for ax, (title, times, replicates, observed) in zip(axes.flat, panels):
        predictive_panel(ax, times, replicates, observed)
        ax.set_title(short(title), fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(short(ylabel, 30), fontsize=9)
    for k, ax in enumerate(axes.flat[:len(panels)]):
        if k + cols >= len(panels):  # no panel below
            ax.set_xlabel(xlabel, fontsize=9)
    hide_unused(axes, len(panels))
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(labels), fontsize=8, frameon=False)
    return fig


# --- traces and ranks -----------------------------------------------------------------------

def trace_rank_figure(idata, names: list[str], divergent: np.ndarray | None):
    """Per parameter: the draws of every chain against the iteration (divergent draws
    marked below) and arviz's rank plot (uniform ranks in every chain when they mix)."""
    import arviz as az

    fig, axes = figure(len(names), 2, panel=(5.2, 1.9), width_ratios=[1.6, 1])
    for (trace_ax, rank_ax), name in zip(axes, names):
        values = np.asarray(idata.posterior[name].values)
        many = values.shape[0] > 8
        for chain in values:
            trace_ax.plot(chain, lw=0.4 if many else 0.6, alpha=0.5 if many else 0.8)
        if divergent is not None and divergent.any():
            _, iteration = np.nonzero(divergent)
            low = np.nanmin(values)
            trace_ax.plot(iteration, np.full(iteration.shape, low), "|", color=DIVERGENT_COLOR, ms=8,
                          label="divergent")
        trace_ax.set_ylabel(short(name, 24), fontsize=9)
        trace_ax.tick_params(labelsize=8)
        # stacked histograms per chain; beyond 8 chains (ensemble walkers) they would be
        # slivers, so each chain's deviation from the uniform count is drawn instead
        az.plot_rank(idata, var_names=[name], ax=rank_ax, kind="vlines" if many else "bars")
        rank_ax.set_title("")
        rank_ax.tick_params(labelsize=8)
        rank_ax.set_xlabel("")
        rank_ax.set_ylabel("count per chain" if many else "chain", fontsize=8)
    axes[0, 0].set_title("trace (one line per chain)", fontsize=9)
    axes[0, 1].set_title("rank plot", fontsize=9)
    axes[-1, 0].set_xlabel("draw", fontsize=9)
    axes[-1, 1].set_xlabel("rank (all chains)", fontsize=9)
    return fig


# --- marginals against priors ---------------------------------------------------------------

def marginal_figure(marginals: list[tuple[str, np.ndarray, tuple[np.ndarray, np.ndarray] | None, str]]):
    """One panel per ``(name, pooled draws, (grid, prior density) or None, x label)``."""
    cols = min(4, len(marginals))
    rows = -(-len(marginals) // cols)
    fig, axes = figure(rows, cols, panel=(3.2, 2.4))
    for ax, (name, draws, prior, xlabel) in zip(axes.flat, marginals):
        draws = draws[np.isfinite(draws)]
        lo, hi = (np.quantile(draws, [0.001, 0.999]) if draws.size else (0.0, 1.0))
        span = max(hi - lo, 1e-12 * max(1.0, abs(hi)))
        ax.hist(draws, bins=np.linspace(lo - 0.05 * span, hi + 0.05 * span, 41), density=True,
                color=BAND_COLOR, alpha=0.6, label="posterior")
        if prior is not None:
            grid, density = prior
            ax.plot(grid, density, color=PRIOR_COLOR, lw=1.8, label="prior")
            ax.fill_between(grid, density, color=PRIOR_COLOR, alpha=0.15, lw=0)
        ax.set_title(short(name), fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_yticks([])
        ax.tick_params(labelsize=8)
    hide_unused(axes, len(marginals))
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=len(labels), fontsize=8, frameon=False)
    return fig


# --- pair plot ------------------------------------------------------------------------------

def pair_figure(names: list[str], draws: np.ndarray, divergent: np.ndarray | None):
    """Scatter plots below the diagonal, histograms on it, correlations above it;
    ``draws`` is (n_draws, len(names)), ``divergent`` a mask over the draws."""
    from matplotlib.ticker import MaxNLocator

    n = len(names)
    fig, axes = figure(n, n, panel=(2.4, 2.2))
    rng = np.random.default_rng(0)
    shown = rng.choice(draws.shape[0], size=min(SCATTER_POINTS, draws.shape[0]), replace=False)
    corr = np.corrcoef(draws.T)
    lo, hi = draws.min(axis=0), draws.max(axis=0)
    pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
    limits = np.stack([lo - pad, hi + pad], axis=1)
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            if i < j:
                ax.axis("off")
                ax.text(0.5, 0.5, f"r = {corr[i, j]:.2f}", ha="center", va="center", transform=ax.transAxes,
                        fontsize=10 + 6 * abs(corr[i, j]))
                continue
            if i == j:
                ax.hist(draws[:, i], bins=40, range=tuple(limits[i]), color=BAND_COLOR, alpha=0.6)
                ax.set_yticks([])
            else:
                ax.plot(draws[shown, j], draws[shown, i], ".", ms=1.5, alpha=0.4, color=BAND_COLOR)
                if divergent is not None and divergent.any():
                    ax.plot(draws[divergent, j], draws[divergent, i], ".", ms=4, color=DIVERGENT_COLOR)
                ax.set_ylim(limits[i])
                ax.yaxis.set_major_locator(MaxNLocator(4))
                if j > 0:
                    ax.tick_params(labelleft=False)
            ax.set_xlim(limits[j])
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.tick_params(labelsize=7, labelbottom=i == n - 1)
            if i == n - 1:
                ax.set_xlabel(short(names[j], 24), fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(short(names[i], 24), fontsize=8)
    return fig
