"""Profile likelihoods: for one parameter at a time, the best log-posterior with that
parameter fixed, traced away from the optimum until it falls below the confidence
threshold or reaches a bound.

Each (parameter, direction) is an independent task for the executor. Along a branch each
point warm-starts the re-optimisation of the other parameters (L-BFGS-B) from the previous
point, and the step adapts so that the profile falls by a fraction of the threshold per
step. The threshold for a pointwise confidence interval of level ``alpha`` is
``chi2.ppf(alpha, 1) / 2`` below the optimum (1.92 for 95 %).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._executor import Executor, problem_in_worker
from ._optimize import FAILED_OBJECTIVE, objective_function
from ._progress import progress_bar

if TYPE_CHECKING:
    from ..problem import AbstractProblem


def _reoptimise(f, theta, i, value, lower, upper, max_iterations):
    """Best objective with ``theta[i] = value``, optimising the other parameters from ``theta``."""
    from scipy.optimize import minimize

    free = np.array([j for j in range(len(theta)) if j != i], dtype=int)
    full = np.array(theta, dtype=float)
    full[i] = value
    if not len(free):
        return f(full)[0], full

    def g(x):
        full[free] = x
        v, grad = f(full)
        return v, grad[free]

    res = minimize(g, full[free], jac=True, method="L-BFGS-B", bounds=list(zip(lower[free], upper[free])),
                   options={"maxiter": max_iterations, "ftol": 1e-12, "gtol": 1e-6})
    out = np.array(full)
    out[free] = res.x
    return float(res.fun), out


def profile_branch(key, source, i: int, direction: int, theta_hat, options: dict) -> list[dict]:
    """One side of one parameter's profile (runs in a worker)."""
    problem = problem_in_worker(key, source)
    f = objective_function(problem)
    lower, upper = np.asarray(problem.lower, dtype=float), np.asarray(problem.upper, dtype=float)
    theta = np.asarray(theta_hat, dtype=float)
    best = f(theta)[0]
    drop_max = options["threshold"] * options["overshoot"]
    span = upper[i] - lower[i]
    step = options["initial_step"] * span
    rows = [{"parameter": problem.parameter_ids[i], "direction": direction, "value": theta[i],
             "objective": best, "status": "optimum", **dict(zip(problem.parameter_ids, theta))}]
    value, current = theta[i], best
    for _ in range(options["max_points"]):
        bound = upper[i] if direction > 0 else lower[i]
        if (bound - value) * direction <= 1e-12 * span:
            rows[-1]["status"] = "bound"
            break
        trial = value + direction * step
        trial = min(trial, bound) if direction > 0 else max(trial, bound)
        obj, new_theta = _reoptimise(f, theta, i, trial, lower, upper, options["max_iterations"])
        if obj >= FAILED_OBJECTIVE:
            rows[-1]["status"] = "simulation failed beyond"
            break
        rise = obj - current
        if rise > options["threshold"] / 2 and step > options["min_step"] * span:
            step /= 2  # too coarse: retry closer
            continue
        value, current, theta = trial, obj, new_theta
        rows.append({"parameter": problem.parameter_ids[i], "direction": direction, "value": value,
                     "objective": obj, "status": "ok", **dict(zip(problem.parameter_ids, theta))})
        if obj - best > drop_max:
            rows[-1]["status"] = "threshold"
            break
        if rise < options["threshold"] / 10:
            step = min(step * 2, options["max_step"] * span)
    else:
        rows[-1]["status"] = "max points"
    return rows


@dataclasses.dataclass
class ProfileResult:
    """Profiles of the log-posterior.

    Attributes:
        points: one row per profile point: ``parameter, direction, value`` (parameter scale),
            ``objective`` (negative log-posterior), ``status`` and all parameters there.
        intervals: per parameter: the optimum, the ``lower`` and ``upper`` ends of the
            confidence interval (NaN where the profile never crossed the threshold on that
            side: practically non-identifiable there) and ``identifiable``.
        threshold: the drop in log-posterior that bounds the interval.
        alpha: the confidence level.
    """

    points: pd.DataFrame
    intervals: pd.DataFrame
    threshold: float
    alpha: float

    def plot(self, path=None):
        from ._plots import profile_plot

        return profile_plot(self, path=path)


def _crossing(side: pd.DataFrame, best: float, threshold: float) -> float:
    """Where the profile (sorted away from the optimum) first rises above ``best + threshold``;
    NaN if it never does. Interpolates ``sqrt(rise)`` linearly, which is exact for a
    quadratic (Gaussian) profile."""
    values = side["value"].to_numpy(float)
    root = np.sqrt(np.maximum(side["objective"].to_numpy(float) - best, 0.0))
    target = math.sqrt(threshold)
    for k in range(1, len(values)):
        if root[k] >= target:
            a, b = root[k - 1], root[k]
            w = (target - a) / (b - a) if b > a else 1.0
            return float(values[k - 1] + w * (values[k] - values[k - 1]))
    return math.nan


def profile(problem: AbstractProblem, theta_hat, *, parameters: list[str] | None = None, alpha: float = 0.95, executor=None,
            workers: int | None = None, max_points: int = 60, initial_step: float = 0.01, max_step: float = 0.1,
            max_iterations: int = 500, progress: bool = True) -> ProfileResult:
    """Profile likelihoods of ``parameters`` (default: all) around the optimum ``theta_hat``.

    Arguments:
        problem: a :class:`~celltwin.problem.Problem`.
        theta_hat: the optimum (e.g. ``multistart(...).best_theta``).
        parameters: ids to profile.
        alpha: confidence level of the intervals (threshold ``chi2.ppf(alpha, 1) / 2``).
        executor, workers: as for :func:`~celltwin.inference.multistart`.
        max_points: profile points per side at most.
        initial_step, max_step: step sizes as fractions of the parameter's range.
    """
    from scipy.stats import chi2

    ids = list(problem.parameter_ids)
    parameters = ids if parameters is None else list(parameters)
    unknown = [p for p in parameters if p not in ids]
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; estimated: {', '.join(ids)}")
    threshold = float(chi2.ppf(alpha, 1) / 2)
    options = {"threshold": threshold, "overshoot": 1.2, "initial_step": initial_step, "max_step": max_step,
               "min_step": 1e-6, "max_points": max_points, "max_iterations": max_iterations}
    theta_hat = np.asarray(theta_hat, dtype=float)
    with Executor(executor, workers=workers) as pool, pool.share(problem) as (key, source):
        tasks = [(key, source, ids.index(p), d, theta_hat, options) for p in parameters for d in (-1, 1)]
        rows = []
        with progress_bar(f"profiling {len(parameters)} parameter(s)", len(tasks), enabled=progress) as advance:
            for _, branch in pool.map_unordered(profile_branch, tasks):
                rows.extend(branch)
                advance()
    points = pd.DataFrame(rows)
    best = float(points.loc[points["status"] == "optimum", "objective"].min())
    records = []
    for p in parameters:
        mine = points[points["parameter"] == p]
        lo = _crossing(mine[mine["direction"] < 0].sort_values("value", ascending=False), best, threshold)
        hi = _crossing(mine[mine["direction"] > 0].sort_values("value"), best, threshold)
        records.append({"parameter": p, "optimum": theta_hat[ids.index(p)], "lower": lo, "upper": hi,
                        "identifiable": bool(np.isfinite(lo) and np.isfinite(hi))})
    points = points.sort_values(["parameter", "value"], kind="stable").reset_index(drop=True)
    return ProfileResult(points, pd.DataFrame(records), threshold, alpha)
