"""What a trained hybrid problem is written as: parameter table, network weights (PEtab SciML
HDF5 layout, so they can serve as the problem's array file), metrics, simulations."""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._atomic import atomic_path
from ._problem import HybridProblem


def mechanistic_table(problem: HybridProblem, theta) -> pd.DataFrame:
    """``parameterId, value`` of the estimated scalar parameters, on linear scale."""
    table, _ = problem.split(jnp.asarray(theta))
    space = problem.parameters
    return pd.DataFrame({"parameterId": space.theta_ids, "value": np.asarray(table)[space.estimated_index]})


def write_network_weights(problem: HybridProblem, theta, path: Path) -> None:
    """All networks' weights as ``/parameters/<net>/<layer>/<array>`` (PyTorch layout)."""
    _, w = problem.split(jnp.asarray(theta))
    modules = problem.weights.modules(w)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("metadata/pytorch_format", data=np.uint8(1))
        for net_id, module in modules.items():
            params = getattr(module, "parameters", None)
            if not isinstance(params, dict):  # another Equinox module: dotted leaf names
                leaves = jax.tree_util.tree_leaves(eqx.filter(module, eqx.is_inexact_array))
                names = problem.weights.names[problem.weights.ids.index(net_id)]
                params = {"module": dict(zip(names, leaves))}
            for layer, arrays in params.items():
                for name, value in arrays.items():
                    f.create_dataset(f"parameters/{net_id}/{layer}/{name}", data=np.asarray(value))


def error_metrics(problem: HybridProblem, theta, mask: np.ndarray) -> dict:
    """Errors on the measurement rows in ``mask``: RMSE, mean absolute error and mean negative
    log-likelihood (per point)."""
    theta = jnp.asarray(theta)
    y, _, _ = jax.jit(problem.simulate)(theta)
    ll = np.asarray(jax.jit(problem.pointwise_log_likelihood)(theta))
    m = problem.measurement_df["measurement"].to_numpy(float)
    r = (np.asarray(y) - m)[mask]
    n = int(mask.sum())
    if n == 0:
        return {"n": 0, "rmse": float("nan"), "mae": float("nan"), "nll": float("nan")}
    return {"n": n, "rmse": float(np.sqrt(np.mean(r**2))), "mae": float(np.mean(np.abs(r))),
            "nll": float(-np.mean(ll[mask]))}
