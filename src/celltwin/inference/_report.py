"""A self-contained HTML report of a sampling result (arviz ``InferenceData``).

Sections: the run's settings; convergence diagnostics with their warnings; data against
posterior predictive intervals per observable and condition; trace and rank plots; marginal
posteriors against the priors; a pair plot of the most correlated parameters. Figures are
PNG images embedded as base64 data, so the file needs nothing else to be read; every text
taken from the result file is HTML-escaped.
"""

from __future__ import annotations

import datetime
import html
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import atomic_write_text
from ..errors import CelltwinInputError
from ..report_html import CSS, image, note, table
from . import _report_figures as figures

PANELS_PER_OBSERVABLE = 24
MAX_OBSERVABLES = 30
TRACES_PER_FIGURE = 6
MARGINALS_PER_FIGURE = 16
PAIR_PARAMETERS = 4
SETTINGS_ORDER = ("problem", "method", "chains", "draws", "warmup", "thin", "seed", "target_accept", "block",
                  "created", "inference_library")
SETTINGS_HIDDEN = ("priors", "parameters", "parameter_scales", "created_at")  # shown elsewhere, or arviz's copy



def write_report(idata, path, *, title: str | None = None) -> Path:
    """Write an HTML report of a sampling result; returns the path written.

    Arguments:
        idata: ``arviz.InferenceData`` with a ``posterior`` group, e.g. from
            :func:`~celltwin.inference.sample` or ``arviz.from_netcdf`` of a
            ``celltwin sample`` result. ``sample_stats``, ``posterior_predictive``,
            ``observed_data`` and the ``priors`` attribute are used where present.
        path: the ``.html`` file to write.
        title: the page title (default: from the problem's name).

    Raises:
        CelltwinInputError: ``idata`` has no posterior, or no scalar parameters in it.
    """
    path = Path(path)
    atomic_write_text(path, render_report(idata, title=title))
    return path


def render_report(idata, *, title: str | None = None) -> str:
    """The report of :func:`write_report` as an HTML string."""
    if "posterior" not in idata.groups():
        raise CelltwinInputError("the InferenceData has no posterior group (is it a sampling result?)")
    names = parameter_names(idata.posterior)
    if not names:
        raise CelltwinInputError("the posterior has no parameters with dimensions (chain, draw)")
    attrs = dict(idata.posterior.attrs)
    title = title or f"Posterior report: {attrs.get('problem', 'sampling result')}"
    sections = [
        ("diagnostics", "Diagnostics", diagnostics_section(idata, names)),
        ("predictive", "Data and posterior predictive", predictive_section(idata)),
        ("traces", "Traces and rank plots", trace_section(idata, names)),
        ("marginals", "Marginal posteriors and priors", marginal_section(idata, names)),
        ("pairs", "Pair plot", pair_section(idata, names)),
    ]
    nav = " ".join(f'<a href="#{key}">{html.escape(heading)}</a>' for key, heading, _ in sections)
    body = "\n".join(f'<section id="{key}">\n<h2>{html.escape(heading)}</h2>\n{content}\n</section>'
                     for key, heading, content in sections)
    from .. import __version__

    created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<link rel="icon" href="data:,">\n<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n'
            f'<body>\n<header>\n<h1>{html.escape(title)}</h1>\n{settings_table(attrs, names)}\n</header>\n'
            f'<nav>{nav}</nav>\n{body}\n'
            f'<footer>Written by celltwin {html.escape(__version__)} on {created}.</footer>\n</body>\n</html>\n')


# --- helpers ---------------------------------------------------------------------------------

def parameter_names(posterior) -> list[str]:
    """The posterior's scalar parameters, in the order the sampler recorded."""
    scalar = [str(k) for k, v in posterior.data_vars.items() if tuple(v.dims) == ("chain", "draw")]
    recorded = json_attr(posterior.attrs, "parameters")
    if isinstance(recorded, list) and set(recorded) == set(scalar):
        return [str(p) for p in recorded]
    return scalar


def json_attr(attrs, key: str):
    """A JSON-encoded attribute, or None where it is absent or not valid JSON."""
    try:
        return json.loads(attrs[key])
    except (KeyError, TypeError, ValueError):
        return None


def pooled(idata, names: list[str]) -> np.ndarray:
    """The draws of all chains, (chains x draws, parameters)."""
    return np.stack([np.asarray(idata.posterior[n].values, dtype=float).ravel() for n in names], axis=1)


def divergent_mask(idata) -> np.ndarray | None:
    """Divergent transitions (chain, draw), where the sampler records them."""
    stats = idata.sample_stats if "sample_stats" in idata.groups() else None
    if stats is None or "diverging" not in stats or tuple(stats["diverging"].dims) != ("chain", "draw"):
        return None
    return np.asarray(stats["diverging"].values).astype(bool)


def settings_table(attrs: dict, names: list[str]) -> str:
    keys = [k for k in SETTINGS_ORDER if k in attrs]
    keys += sorted(k for k in attrs if k not in keys and k not in SETTINGS_HIDDEN)
    rows = [(k, str(attrs[k])) for k in keys] + [("parameters", str(len(names)))]
    return table(pd.DataFrame(rows, columns=["setting", "value"]), index=False, classes="settings")


# --- diagnostics -----------------------------------------------------------------------------

def diagnostics_section(idata, names: list[str]) -> str:
    from ._diagnostics import diagnose

    diag = diagnose(idata)
    if diag.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in diag.warnings)
        parts = [f'<div class="warnings"><h3>Warning: the run has not converged</h3><ul>{items}</ul></div>']
    else:
        parts = ['<div class="ok">Converged: R-hat &le; 1.01, ESS &ge; 100 per chain, no divergences.</div>']
    parts.append(table(diag.table))
    if diag.divergences is not None:
        parts.append(f"<p>Divergent transitions: {diag.divergences}</p>")
    if diag.bfmi is not None:
        parts.append("<p>E-BFMI per chain: " + ", ".join(f"{v:.2f}" for v in diag.bfmi) + "</p>")
    skipped = [str(k) for k in idata.posterior.data_vars if str(k) not in names]
    if skipped:
        parts.append(note(f"Not shown (not one value per draw): {', '.join(skipped)}."))
    parts.append("<h3>Sampler statistics</h3>")
    parts.append(sample_stats_table(idata))
    return "\n".join(parts)


def sample_stats_table(idata) -> str:
    """Summary over all draws of whichever per-draw statistics the sampler recorded."""
    stats = idata.sample_stats if "sample_stats" in idata.groups() else None
    rows = {}
    for name, var in (stats.data_vars.items() if stats is not None else ()):
        values = np.asarray(var.values)
        if tuple(var.dims) != ("chain", "draw") or not (np.issubdtype(values.dtype, np.number)
                                                        or values.dtype == bool):
            continue
        values = values.astype(float)
        chain_means = np.nanmean(values, axis=1) if np.isfinite(values).any() else np.full(values.shape[0], np.nan)
        rows[str(name)] = {"mean": np.nanmean(values), "sd": np.nanstd(values), "min": np.nanmin(values),
                           "max": np.nanmax(values), "lowest chain mean": np.min(chain_means),
                           "highest chain mean": np.max(chain_means)}
    if not rows:
        return note("The result records no per-draw sampler statistics.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return table(pd.DataFrame.from_dict(rows, orient="index"))


# --- posterior predictive --------------------------------------------------------------------

def predictive_section(idata) -> str:
    groups = idata.groups()
    if "posterior_predictive" not in groups or "y" not in idata.posterior_predictive:
        return note("This result has no posterior predictive samples (it was sampled with --no-predictive), "
                    "so data and predictions cannot be compared here.")
    y = idata.posterior_predictive["y"]
    dim = next(d for d in y.dims if d not in ("chain", "draw"))
    replicates = np.asarray(y.transpose("chain", "draw", dim).values, dtype=float).reshape(-1, y.sizes[dim])
    observed = None
    if "observed_data" in groups and "y" in idata.observed_data and idata.observed_data["y"].size == y.sizes[dim]:
        observed = np.asarray(idata.observed_data["y"].values, dtype=float).ravel()
    labels = measurement_labels(idata, dim)
    parts = [("<p>Points: the data. Bands: the central 50 % and 90 % intervals of the posterior predictive "
              "distribution (simulation plus measurement noise) at the measured times; line: its median.</p>")]
    if observed is None:
        parts.append(note("The result has no observed data; only the predictions are shown."))
    if labels is None:
        parts.append(note("The result does not record observable, condition and time per measurement "
                          "(written by an older celltwin): predictions are shown by measurement index."))
        index = np.arange(replicates.shape[1], dtype=float)
        fig = figures.predictive_figure([("all measurements", index, replicates, observed)], "y", "measurement")
        parts.append(image(fig, "data and posterior predictive by measurement"))
        return "\n".join(parts)
    observable, condition, time = labels
    observables = list(dict.fromkeys(observable))
    if len(observables) > MAX_OBSERVABLES:
        parts.append(note(f"Showing the first {MAX_OBSERVABLES} of {len(observables)} observables."))
    for obs in observables[:MAX_OBSERVABLES]:
        parts.append(f"<h3>{html.escape(obs)}</h3>")
        conditions = list(dict.fromkeys(condition[observable == obs]))
        if len(conditions) > PANELS_PER_OBSERVABLE:
            omitted = len(conditions) - PANELS_PER_OBSERVABLE
            parts.append(note(f"Showing {PANELS_PER_OBSERVABLE} of {len(conditions)} conditions; "
                              f"{omitted} omitted."))
        panels = []
        for cond in conditions[:PANELS_PER_OBSERVABLE]:
            rows = (observable == obs) & (condition == cond)
            panels.append((cond, time[rows], replicates[:, rows], None if observed is None else observed[rows]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN replicates where simulations failed
            fig = figures.predictive_figure(panels, obs)
        parts.append(image(fig, f"data and posterior predictive of {obs}"))
    return "\n".join(parts)


def measurement_labels(idata, dim: str):
    """Observable, condition and time of each measurement, or None where not recorded."""
    for group in ("posterior_predictive", "observed_data"):
        if group in idata.groups():
            coords = getattr(idata, group).coords
            if all(c in coords and coords[c].dims == (dim,) for c in ("observable", "condition", "time")):
                return (np.asarray(coords["observable"].values).astype(str),
                        np.asarray(coords["condition"].values).astype(str),
                        np.asarray(coords["time"].values, dtype=float))
    return None


# --- traces ----------------------------------------------------------------------------------

def trace_section(idata, names: list[str]) -> str:
    divergent = divergent_mask(idata)
    parts = [("<p>Left: each chain's draws in sampling order; chains that mix overlap like noise around the "
              "same level. Right: the ranks of each chain's draws among all draws, binned; when the chains sample "
              "the same distribution every chain's counts are flat, near the dashed line (with more than 8 "
              "chains, each chain's counts are drawn as points around that line).</p>")]
    if divergent is not None and divergent.any():
        parts.append("<p>Red ticks below the traces mark divergent transitions.</p>")
    for start in range(0, len(names), TRACES_PER_FIGURE):
        chunk = names[start:start + TRACES_PER_FIGURE]
        parts.append(image(figures.trace_rank_figure(idata, chunk, divergent),
                           "trace and rank plots of " + ", ".join(chunk)))
    return "\n".join(parts)


# --- marginals and priors --------------------------------------------------------------------

def marginal_section(idata, names: list[str]) -> str:
    priors = json_attr(idata.posterior.attrs, "priors")
    priors = priors if isinstance(priors, dict) else {}
    scales = json_attr(idata.posterior.attrs, "parameter_scales")
    draws = pooled(idata, names)
    parts = []
    if not priors:
        parts.append(note("The result does not record the priors: posteriors only."))
    marginals, rows = [], []
    for k, name in enumerate(names):
        spec = priors.get(name)
        scale = spec.get("scale") if spec else (scales[k] if isinstance(scales, list) and k < len(scales) else None)
        pdf = prior_pdf(spec) if spec else None
        marginals.append((name, draws[:, k], prior_curve(pdf, spec, draws[:, k]) if pdf and spec else None,
                          f"{name} ({scale} scale)" if scale else ""))
        rows.append(parameter_row(name, scale, spec, draws[:, k]))
    parts.append(table(pd.DataFrame(rows).set_index("parameter")))
    for start in range(0, len(marginals), MARGINALS_PER_FIGURE):
        chunk = marginals[start:start + MARGINALS_PER_FIGURE]
        parts.append(image(figures.marginal_figure(chunk), "marginal posteriors of " + ", ".join(m[0] for m in chunk)))
    return "\n".join(parts)


def parameter_row(name: str, scale: str | None, spec: dict | None, draws: np.ndarray) -> dict:
    q05, q50, q95 = np.nanquantile(draws, [0.05, 0.5, 0.95])
    return {"parameter": name, "scale": scale or "", "prior": describe_prior(spec),
            "mean": np.nanmean(draws), "sd": np.nanstd(draws), "5 %": q05, "median": q50, "95 %": q95}


def describe_prior(spec: dict | None) -> str:
    if not spec:
        return "not recorded"
    bounds = f"on [{spec.get('lower'):g}, {spec.get('upper'):g}]" if _finite_bounds(spec) else ""
    if spec.get("kind") in (None, "flat"):
        return f"flat {bounds}".strip()
    return f"{spec['kind']}({spec.get('a')}, {spec.get('b')}) {bounds}".strip()


def _finite_bounds(spec: dict) -> bool:
    lower, upper = spec.get("lower"), spec.get("upper")
    return (isinstance(lower, (int, float)) and isinstance(upper, (int, float)) and np.isfinite(lower)
            and np.isfinite(upper) and upper > lower)


def prior_pdf(spec: dict):
    """The prior density on the parameter scale as a function of a grid, normalised over
    the bounds; None where it cannot be evaluated (unknown kind, infinite bounds)."""
    import jax.numpy as jnp

    from ..problem import SCALES, Prior, effective_prior, unscale

    if not _finite_bounds(spec):
        return None
    lower, upper, scale, kind = float(spec["lower"]), float(spec["upper"]), spec.get("scale", "lin"), spec.get("kind")
    try:
        prior = None if kind in (None, "flat") else Prior(str(kind), float(spec["a"]), float(spec["b"]))
        distribution = effective_prior(prior, scale, lower, upper)
    except ValueError:  # no named distribution on this scale: normalise PEtab's density numerically
        distribution = None
    except (KeyError, TypeError):
        return None
    if distribution is not None:
        def pdf(x):
            x = np.asarray(x, dtype=float)
            inside = np.asarray(distribution.support(x)) & (x >= lower) & (x <= upper)
            out = np.zeros_like(x)
            out[inside] = np.exp(np.asarray(distribution.log_prob(x[inside])))
            return out

        return pdf
    if scale not in SCALES:
        return None
    code = SCALES.index(scale)

    def unnormalised(x):
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            try:
                density = np.exp(np.asarray(prior.log_density(jnp.asarray(x), unscale(jnp.asarray(x), code))))
            except AssertionError:  # an objectivePriorType celltwin does not know
                return np.full_like(x, np.nan)
        return np.where(np.isfinite(density) & (x >= lower) & (x <= upper), density, 0.0)

    fine = np.linspace(lower, upper, 20001)
    total = np.trapezoid(unnormalised(fine), fine)
    if not (np.isfinite(total) and total > 0):
        return None
    return lambda x: unnormalised(x) / total


def prior_curve(pdf, spec: dict, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The prior on an x range that covers the posterior and the prior's central 95 %, but
    no wider than three times the posterior's 99 % range, so that the posterior's shape stays visible."""
    lower, upper = float(spec["lower"]), float(spec["upper"])
    draws = draws[np.isfinite(draws)]
    if not draws.size:
        return None
    lo, hi = np.quantile(draws, [0.005, 0.995])
    span = max(hi - lo, 1e-9 * max(1.0, abs(hi)))
    middle = 0.5 * (lo + hi)
    fine = np.linspace(lower, upper, 20001)
    density = pdf(fine)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(fine))])
    if cdf[-1] > 0:
        p_lo, p_hi = np.interp([0.025, 0.975], cdf / cdf[-1], fine)
        lo, hi = min(lo, p_lo), max(hi, p_hi)
    lo, hi = max(lo, middle - 1.5 * span), min(hi, middle + 1.5 * span)
    pad = 0.05 * (hi - lo)
    grid = np.linspace(max(lo - pad, lower), min(hi + pad, upper), 400)
    return grid, pdf(grid)


# --- pair plot -------------------------------------------------------------------------------

def pair_section(idata, names: list[str]) -> str:
    if len(names) < 2:
        return note("One parameter: no pairs to show.")
    draws = pooled(idata, names)
    finite = np.all(np.isfinite(draws), axis=1)
    draws = draws[finite]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        corr = np.nan_to_num(np.corrcoef(draws.T), nan=0.0)
    chosen = most_correlated(names, corr, PAIR_PARAMETERS)
    index = [names.index(n) for n in chosen]
    divergent = divergent_mask(idata)
    if divergent is not None:
        divergent = divergent.ravel()[finite]
    parts = []
    if len(names) > PAIR_PARAMETERS:
        parts.append(f"<p>The {len(chosen)} of {len(names)} parameters with the largest absolute posterior "
                     "correlations. Most correlated pairs:</p>")
        parts.append(table(top_pairs(names, corr, 10), index=False))
    parts.append("<p>Below the diagonal: draws (divergent transitions in red); on it: histograms; above it: "
                 "the posterior correlation.</p>")
    parts.append(image(figures.pair_figure(chosen, draws[:, index], divergent), "pair plot of " + ", ".join(chosen)))
    return "\n".join(parts)


def most_correlated(names: list[str], corr: np.ndarray, k: int) -> list[str]:
    """Up to ``k`` parameters, taken pair by pair in order of decreasing |correlation|."""
    if len(names) <= k:
        return list(names)
    i, j = np.triu_indices(len(names), 1)
    chosen: list[int] = []
    for m in np.argsort(-np.abs(corr[i, j]), kind="stable"):
        for p in (i[m], j[m]):
            if p not in chosen and len(chosen) < k:
                chosen.append(int(p))
        if len(chosen) == k:
            break
    return [names[p] for p in sorted(chosen)]


def top_pairs(names: list[str], corr: np.ndarray, n: int) -> pd.DataFrame:
    i, j = np.triu_indices(len(names), 1)
    order = np.argsort(-np.abs(corr[i, j]), kind="stable")[:n]
    return pd.DataFrame({"parameter": [names[i[m]] for m in order], "with": [names[j[m]] for m in order],
                         "correlation": [corr[i[m], j[m]] for m in order]})
