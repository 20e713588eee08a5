"""The result of a sampling run as arviz ``InferenceData``: posterior, sample statistics,
the observed data and (optionally) the pointwise log-likelihood and posterior predictive,
with the settings and priors as attributes."""

from __future__ import annotations

import datetime
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def inference_data(problem, draws: np.ndarray, stats: dict, meta: dict, *, predictive: bool, seed: int):
    """``InferenceData`` of ``draws`` (chains, draws, parameters) on the parameter scale, the
    per-draw ``stats`` and the run's settings ``meta`` (as attributes of every group); with
    ``predictive``, one simulation per draw (its keys from ``seed``) gives the pointwise
    log-likelihood and a replicate of the data."""
    import arviz as az

    ids = list(problem.parameter_ids)
    chains, n_draws, _ = draws.shape
    posterior = {pid: draws[:, :, k] for k, pid in enumerate(ids)}
    sample_stats = dict(stats)
    if "diverging" in sample_stats:
        sample_stats["diverging"] = sample_stats["diverging"].astype(bool)
    groups: dict[str, Any] = {"posterior": posterior, "sample_stats": sample_stats}
    coords = {"measurement": np.arange(problem.n_measurements)}
    dims = {"y": ["measurement"]}
    if predictive:
        flat = jnp.asarray(draws.reshape(-1, draws.shape[-1]))
        both = jax.jit(jax.vmap(problem.pointwise_and_replicate))  # one simulation per draw
        keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 2**20), flat.shape[0])
        ll, pp = [], []
        for lo in range(0, flat.shape[0], 256):
            dens, rep = both(flat[lo:lo + 256], keys[lo:lo + 256])
            ll.append(np.asarray(dens))
            pp.append(np.asarray(rep))
        groups["log_likelihood"] = {"y": np.concatenate(ll).reshape(chains, n_draws, -1)}
        groups["posterior_predictive"] = {"y": np.concatenate(pp).reshape(chains, n_draws, -1)}
    groups["observed_data"] = {"y": problem.measurements}
    idata = az.from_dict(**groups, coords=coords, dims=dims)
    df = problem.measurement_df
    if df is not None:  # which observable, condition and time each measurement is
        labels = {"observable": ("measurement", df["observableId"].astype(str).to_numpy()),
                  "condition": ("measurement", df["simulationConditionId"].astype(str).to_numpy()),
                  "time": ("measurement", df["time"].to_numpy(dtype=float))}
        for group in ("observed_data", "log_likelihood", "posterior_predictive"):
            if group in idata.groups():
                setattr(idata, group, getattr(idata, group).assign_coords(labels))
    netcdf_safe = {k: (json.dumps(v) if isinstance(v, list) else int(v) if isinstance(v, bool) else v)
                   for k, v in meta.items() if v is not None}  # NetCDF attributes have no lists, booleans or None
    attrs = {**netcdf_safe,
             "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
             "parameter_scales": json.dumps(list(problem.parameter_scales)),
             "priors": json.dumps(prior_specs(problem)), "inference_library": "celltwin"}
    for group in idata.groups():
        getattr(idata, group).attrs.update(attrs)
    return idata


def prior_specs(problem) -> dict:
    """Per estimated parameter: its objective prior (``kind`` ``flat`` where none), scale
    and bounds (on the parameter scale), so that a result file can show the prior."""
    specs = {}
    for k, pid in enumerate(problem.parameter_ids):
        prior = problem.parameters.priors.get(pid)
        specs[pid] = {"kind": "flat" if prior is None else prior.kind,
                      "a": None if prior is None else float(prior.a), "b": None if prior is None else float(prior.b),
                      "scale": problem.parameter_scales[k], "lower": float(problem.lower[k]),
                      "upper": float(problem.upper[k])}
    return specs
