"""Scenario predictions: the model's observables under interventions, over posterior draws."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..errors import CelltwinInputError
from ._interventions import apply

if TYPE_CHECKING:
    from ..problem import Problem

BASELINE = "baseline"


def check_interventions(problem: Problem, interventions: Sequence) -> None:
    """Raise :class:`CelltwinInputError` now if ``interventions`` cannot be applied to ``problem``
    (an id the model lacks, an estimated parameter given a dose, ...): before any simulation."""
    if problem.tables is None:
        raise CelltwinInputError(f"{problem!r} was not built from tables; scenarios need its PEtab tables")
    apply(list(interventions), problem.model, problem.tables["conditions"], problem.tables["parameters"])


def posterior_draws(posterior, problem: Problem, *, max_draws: int | None = 400) -> np.ndarray:
    """``(n, n_parameters)`` draws on the parameter scale, in ``problem.parameter_ids`` order,
    from an ``InferenceData`` (posterior group), a DataFrame with one column per parameter,
    or an array; thinned evenly to at most ``max_draws``."""
    ids = problem.parameter_ids
    if hasattr(posterior, "posterior"):
        missing = [p for p in ids if p not in posterior.posterior]
        if missing:
            raise CelltwinInputError(f"the posterior has no draws of {', '.join(missing)}: "
                                     f"was it sampled for problem {problem.name!r}?")
        draws = np.stack([np.asarray(posterior.posterior[p]).reshape(-1) for p in ids], axis=1)
    elif isinstance(posterior, pd.DataFrame):
        draws = posterior[ids].to_numpy(dtype=float)
    else:
        draws = np.atleast_2d(np.asarray(posterior, dtype=float))
        if draws.shape[1] != len(ids):
            raise CelltwinInputError(f"draws have {draws.shape[1]} columns, the problem {len(ids)} parameters")
    if max_draws is not None and len(draws) > max_draws:
        draws = draws[np.linspace(0, len(draws) - 1, max_draws).round().astype(int)]
    return draws


def predict(problem: Problem, draws, scenarios: Mapping[str, Sequence] | Sequence = (), *, times=None,
            conditions: Sequence[str] | None = None, observables: Sequence[str] | None = None,
            quantiles: Sequence[float] = (0.05, 0.5, 0.95), seed: int = 0, batch: int = 64,
            include_baseline: bool = True) -> pd.DataFrame:
    """Predicted observables under interventions, with posterior uncertainty.

    Arguments:
        problem: the calibrated :class:`~celltwin.problem.Problem` (built from tables or PEtab).
        draws: posterior draws (see :func:`posterior_draws`): InferenceData, DataFrame or array.
        scenarios: ``{name: [interventions]}``, or one list of interventions (named
            ``"scenario"``); interventions are :class:`Knockout`, :class:`Overexpression`,
            :class:`Dose` and :class:`Inhibitor`.
        times: output times (default: the problem's measurement times).
        conditions, observables: which to predict (default: all of the problem's).
        quantiles: of the predicted observable over the draws.
        seed: for the draws of uncertain inhibitor Kds.
        batch: draws simulated together (``jax.vmap``).
        include_baseline: add the problem without interventions as scenario ``"baseline"``.

    Returns:
        A tidy table: ``scenario, observableId, simulationConditionId, time, mean, q<..>``
        (one column per quantile, e.g. ``q05, q50, q95``), ``n_draws`` and ``n_failed``
        (draws whose simulation failed; they are left out of the summaries).
    """
    draws = posterior_draws(draws, problem, max_draws=None)
    if not isinstance(scenarios, Mapping):
        scenarios = {"scenario": list(scenarios)} if len(scenarios) else {}
    if include_baseline:
        scenarios = {BASELINE: [], **scenarios}
    if not scenarios:
        raise CelltwinInputError("nothing to predict: give scenarios or include_baseline=True")
    grid = prediction_grid(problem, times, conditions, observables)
    for interventions in scenarios.values():  # every scenario, before the first simulation
        check_interventions(problem, interventions)
    rng = np.random.default_rng(seed)
    frames = []
    for name, interventions in scenarios.items():
        values = _simulate_scenario(problem, draws, list(interventions), grid, rng, batch)
        frames.append(_summarise(name, grid, values, quantiles))
    return pd.concat(frames, ignore_index=True)


def prediction_grid(problem: Problem, times=None, conditions=None, observables=None) -> pd.DataFrame:
    """A PEtab measurement table (measurement 0) for every observable x condition x time."""
    if problem.tables is None:
        raise CelltwinInputError(f"{problem!r} was not built from tables; scenarios need its PEtab tables")
    measured = problem.tables["measurements"].copy()
    measured["simulationConditionId"] = measured["simulationConditionId"].astype(str)
    known_conditions = list(dict.fromkeys(measured["simulationConditionId"]))
    known_observables = list(problem.tables["observables"].index)
    conditions = list(conditions or known_conditions)
    observables = list(observables or known_observables)
    for what, asked, known in (("condition", conditions, known_conditions), ("observable", observables, known_observables)):
        unknown = [c for c in asked if c not in known]
        if unknown:
            raise CelltwinInputError(f"unknown {what}(s) {', '.join(unknown)} (known: {', '.join(known)})")
    times = np.unique(measured["time"].astype(float)) if times is None else np.unique(np.asarray(times, float))
    extra = [c for c in ("preequilibrationConditionId", "observableParameters", "noiseParameters") if c in measured]
    rows = []
    for cid in conditions:
        for oid in observables:
            same = measured[(measured.simulationConditionId == cid) & (measured.observableId == oid)]
            template = same if len(same) else measured[measured.observableId == oid]
            template = template if len(template) else measured[measured.simulationConditionId == cid]
            fill = {c: template[c].iloc[0] for c in extra} if len(template) else {}
            rows += [{"observableId": oid, "simulationConditionId": cid, "time": float(t), "measurement": 0.0,
                      **fill} for t in times]
    return pd.DataFrame(rows)


def _simulate_scenario(problem: Problem, draws, interventions, grid, rng, batch) -> np.ndarray:
    """``(n_draws, n_rows)`` predicted observables (NaN where a simulation failed)."""
    tables = problem.tables
    if tables is None:
        raise ValueError(f"{problem!r} was not built from tables")  # as Problem.with_tables says
    model, conditions, parameters, inhibitors = apply(interventions, problem.model, tables["conditions"],
                                                      tables["parameters"])
    scenario = problem.with_tables(model=model, measurements=grid, conditions=conditions, parameters=parameters)
    columns = {pid: draws[:, k] for k, pid in enumerate(problem.parameter_ids)}
    for item in inhibitors:
        columns[item.fraction_parameter] = item.free_fraction(len(draws), rng)
    missing = [p for p in scenario.parameter_ids if p not in columns]
    if missing:
        raise CelltwinInputError(f"the scenario estimates parameters the draws lack: {', '.join(missing)}")
    theta = np.stack([columns[p] for p in scenario.parameter_ids], axis=1)

    def one(th):
        sim = scenario.simulate(th)
        return jnp.where(jnp.all(sim.status == 0), sim.observables, jnp.nan)

    run = jax.jit(jax.vmap(one))
    out = []
    for start in range(0, len(theta), batch):
        chunk = theta[start:start + batch]
        padded = np.concatenate([chunk, np.repeat(chunk[-1:], batch - len(chunk), axis=0)])  # one compilation
        out.append(np.asarray(run(jnp.asarray(padded)))[: len(chunk)])
    return np.concatenate(out)


def _summarise(name, grid, values, quantiles) -> pd.DataFrame:
    ok = np.all(np.isfinite(values), axis=1)
    table = grid[["observableId", "simulationConditionId", "time"]].copy()
    table.insert(0, "scenario", name)
    good = values[ok]
    table["mean"] = good.mean(axis=0) if len(good) else np.nan
    for q in quantiles:
        table[f"q{round(100 * q):02d}"] = np.quantile(good, q, axis=0) if len(good) else np.nan
    table["n_draws"], table["n_failed"] = int(ok.sum()), int((~ok).sum())
    return table
