"""A twin case end to end: baseline and evidence-augmented posteriors, information gain,
held-out prediction, posterior Kds against literature values, an intervention scenario;
written as ``summary.json``, ``report.html`` and the NetCDF / TSV files they come from."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from .._atomic import atomic_path, atomic_write_text
from ..errors import CelltwinInputError
from ..evidence import block_length, information_gain, reported_values, to_log10_molar
from ..units import CONCENTRATION_UNITS
from ._case import Case, case_evidence

RUNS = ("baseline", "augmented")


class CaseFieldError(CelltwinInputError):
    """A field of the case file that does not fit the case's problem (the caller names the file)."""


def run_case(case: Case, out: Path, *, sampler: dict | None = None, max_draws: int = 400, log=print,
             workers: int = 1, executor=None, at_once: bool | None = None) -> dict:
    """Run ``case`` and write its results into the folder ``out``; returns the summary.

    Each posterior is saved as ``out/<run>.nc`` as soon as it is done, with a checkpoint
    while it runs, so a rerun after an interruption continues where it stopped (finished
    runs are read back, not repeated; change ``sampler`` settings in a fresh folder).
    ``at_once``: sample the baseline and augmented posteriors at the same time, one process
    each (:func:`celltwin.inference.sample_at_once`); default: for NUTS, where the machine
    has two or more cores and ``workers`` is 1. ``workers`` / ``executor``: NUTS chains in groups, one
    process each (:func:`celltwin.inference.sample`); ``executor`` also takes the runs of
    ``at_once``.
    """
    from ..inference import SamplerSettings, diagnose, write_report
    from ..problem import from_petab
    from ..simulate import SolverSettings

    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    solver = SolverSettings(**case.solver)
    evidence = case_evidence(case)
    problem, terms = evidence.problem, evidence.terms
    settings = SamplerSettings(**{**case.sampler, **(sampler or {})})
    # What the sampling does not need is checked before it, so that a bad case fails in seconds.
    test_problem = None if case.held_out is None else from_petab(case.held_out, settings=solver)
    if case.interventions:
        from ..scenario import check_interventions

        try:
            check_interventions(problem, case.interventions)
        except CelltwinInputError as exc:
            raise CaseFieldError(f"field 'scenario': {exc}") from None
    log(f"{case.name}: {problem!r}; {len(terms)} evidence terms; sampler {settings.method}, "
        f"{settings.chains} chains x {settings.draws} draws")
    if at_once is None:
        at_once = workers == 1 and (os.cpu_count() or 1) >= 2 and settings.method == "nuts"
    posteriors, earlier = _sampled(problem, evidence, settings, out, log, workers, executor, at_once)
    diagnostics, run_seconds = {}, {}
    for run in RUNS:
        attrs = posteriors[run].posterior.attrs
        # this invocation's share, and every invocation's sampling of this run (resumed ones included)
        run_seconds[run] = {"seconds": float(attrs.get("sampling_seconds", 0.0)),
                            "seconds_all_invocations": (None if "sampling_seconds_all_invocations" not in attrs else
                                                        float(attrs["sampling_seconds_all_invocations"]))}
        diagnostics[run] = diagnose(posteriors[run])
        write_report(posteriors[run], out / f"{run}_report.html", title=f"{case.name}: {run} posterior")
    ids = problem.parameter_ids
    draws = {run: pd.DataFrame(np.stack([np.asarray(posteriors[run].posterior[p]).ravel() for p in ids], axis=1),
                               columns=ids) for run in RUNS}
    draws["prior"] = pd.DataFrame(np.asarray(problem.sample_prior(jax.random.PRNGKey(settings.seed), 4000)),
                                  columns=ids)
    log("information gain (KL divergence, bits)")
    # Draws are in chain order and autocorrelated: the intervals resample blocks of them.
    blocks = {run: block_length(len(draws[run]), float(diagnostics[run].table["ess_bulk"].min())) for run in RUNS}
    gain = information_gain(draws["augmented"], draws["baseline"], bootstrap=50, seed=settings.seed,
                            block=(blocks["augmented"], blocks["baseline"]))
    gain_prior = information_gain(draws["baseline"], draws["prior"], bootstrap=50, seed=settings.seed,
                                  block=(blocks["baseline"], 1))
    kd = kd_table(problem, terms, draws, reported_values(case.evidence))
    held_out = None
    if test_problem is not None:
        log("held-out prediction")
        held_out = held_out_prediction(test_problem, draws, max_draws)
    scenario_table = None
    if case.interventions:
        from ..scenario import posterior_draws, predict

        log("scenario prediction")
        frames = []
        for run in RUNS:
            thetas = posterior_draws(draws[run], problem, max_draws=max_draws)
            frame = predict(problem, thetas, {"intervention": case.interventions}, times=case.scenario_times)
            frame.insert(0, "posterior", run)
            frames.append(frame)
        scenario_table = pd.concat(frames, ignore_index=True)
        with atomic_path(out / "scenario.tsv") as tmp:
            scenario_table.to_csv(tmp, sep="\t", index=False)
    summary = build_summary(case, problem, settings, draws, gain, gain_prior, kd, held_out, diagnostics,
                            run_seconds, time.perf_counter() - started + earlier)
    summary["bootstrap_block_draws"] = blocks
    for run in RUNS:  # the stopping rule may end a run before its draw limit
        summary["diagnostics"][run]["draws_per_chain"] = int(posteriors[run].posterior.sizes["draw"])
        summary["diagnostics"][run]["chains"] = int(posteriors[run].posterior.sizes["chain"])
    summary["loo"] = loo_comparison(posteriors)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    with atomic_path(out / "kd.tsv") as tmp:
        kd.to_csv(tmp, sep="\t", index=False)
    from ._report import write_case_report

    write_case_report(out / "report.html", case, summary, draws, kd, held_out, scenario_table, problem)
    return summary


def _sampled(problem, evidence, settings, out: Path, log, workers: int, executor, at_once: bool):
    """Both posteriors (run -> InferenceData), each read back if an earlier invocation
    finished it, else sampled (and saved); and the wall seconds the earlier invocations spent
    on the ones read back (runs sampled at once count once, by the longer)."""
    import arviz as az

    from ..inference import checkpoint_files, sample, sample_at_once

    posteriors: dict = {}
    together: dict[str, float] = {}  # runs sampled by earlier invocations, by the group they ran in
    for run in RUNS:
        path = out / f"{run}.nc"
        if path.is_file():
            log(f"{run}: reading the finished run {path}")
            posteriors[run] = az.from_netcdf(str(path))
            attrs = posteriors[run].posterior.attrs
            group = attrs.get("sampled_at_once", run)
            together[group] = max(together.get(group, 0.0), float(attrs.get("sampling_seconds", 0.0)))
    pending = {run: enabled for run, enabled in zip(RUNS, (False, True)) if run not in posteriors}
    checkpoints = {run: out / f"{run}.checkpoint.npz" for run in pending}

    def keep(run: str, idata, group: str | None = None) -> None:
        idata.posterior.attrs["evidence"] = "on" if pending[run] else "off"
        if group is not None:
            idata.posterior.attrs["sampled_at_once"] = group
        with atomic_path(out / f"{run}.nc") as tmp:
            idata.to_netcdf(str(tmp))
        checkpoints[run].unlink(missing_ok=True)
        posteriors[run] = idata

    if at_once and len(pending) > 1:
        group = ",".join(pending)
        log(f"{' and '.join(pending)}: sampling at once, one process each (without and with the evidence terms)")
        densities = {run: evidence.switched(enabled).log_density for run, enabled in pending.items()}
        for run, idata in sample_at_once(problem, settings, densities, checkpoints=checkpoints, executor=executor):
            log(f"{run}: done")
            keep(run, idata, group)
    else:
        for run, enabled in pending.items():
            log(f"{run}: sampling ({'with' if enabled else 'without'} the evidence terms)")
            t0 = time.perf_counter()
            idata = sample(problem, settings, log_density=evidence.switched(enabled).log_density,
                           checkpoint=checkpoints[run], resume=bool(checkpoint_files(checkpoints[run])),
                           workers=workers, executor=executor)
            idata.posterior.attrs["sampling_seconds"] = time.perf_counter() - t0  # this invocation's share
            keep(run, idata)
    return posteriors, sum(together.values())


def kd_table(problem, terms, draws: dict, reported: dict) -> pd.DataFrame:
    """Per evidence term: predicted and literature log10 Kd (M) and the posterior's
    5/50/95 % quantiles of log10 Kd for each run, with its distance to the literature value,
    and of log10 koff and log10 kon (the model's units: koff per time, kon per concentration
    and time)."""
    ids = problem.parameter_ids
    linear = {run: pd.DataFrame(problem.to_linear(draws[run][ids].to_numpy()), columns=ids) for run in RUNS}
    rows = []
    for term in terms:
        row = {"reaction": term.reaction or term.label, "kon": term.kon, "koff": term.koff,
               "predicted_log10_kd": term.predicted_log10_molar}
        if term.reaction in reported:
            value, unit = reported[term.reaction]
            row["reported_log10_kd"] = float(to_log10_molar(value, unit, term.temperature))
        for run in RUNS:
            lin = linear[run]
            log_kd = np.log10(lin[term.koff]) - np.log10(lin[term.kon]) + CONCENTRATION_UNITS[term.model_unit]
            q05, q50, q95 = np.quantile(log_kd, [0.05, 0.5, 0.95])
            row |= {f"{run}_q05": q05, f"{run}_q50": q50, f"{run}_q95": q95, f"{run}_width90": q95 - q05}
            if "reported_log10_kd" in row:
                row[f"{run}_error"] = abs(q50 - row["reported_log10_kd"])
            for rate in ("koff", "kon"):
                quantiles = np.quantile(np.log10(lin[getattr(term, rate)]), [0.05, 0.5, 0.95])
                row |= {f"{run}_log10_{rate}_{q}": value for q, value in zip(("q05", "q50", "q95"), quantiles)}
        rows.append(row)
    return pd.DataFrame(rows)


def loo_comparison(posteriors: dict) -> dict:
    """PSIS-LOO (arviz) of each run over the training measurements, and the augmented minus
    baseline difference of expected log predictive density with its standard error (from the
    pointwise differences). Pareto k above 0.7 marks points whose LOO estimate is unreliable."""
    import warnings

    import arviz as az

    result: dict[str, dict[str, float | None] | float] = {}  # per run, then the difference
    pointwise = {}
    for run in RUNS:
        with warnings.catch_warnings():  # high Pareto k is reported below, not printed
            warnings.simplefilter("ignore")
            loo = az.loo(posteriors[run], pointwise=True)
        k = np.asarray(loo.pareto_k)
        pointwise[run] = np.asarray(loo.loo_i)
        # A point whose log-likelihood is the same in every draw (a measurement the model fits
        # exactly by construction, e.g. a ratio to itself) has equal importance weights: its LOO
        # term is exact, though arviz reports k = inf for it.
        loglik = np.asarray(posteriors[run].log_likelihood["y"]).reshape(-1, k.size)
        constant = np.ptp(loglik, axis=0) == 0
        k = np.where(constant, -np.inf, k)
        result[run] = {"elpd_loo": float(loo.elpd_loo), "se": float(loo.se), "p_loo": float(loo.p_loo),
                       "n_points": int(k.size), "n_constant_points": int(constant.sum()),
                       "pareto_k_max": float(k.max()) if np.isfinite(k.max()) else None,  # all exact: none
                       "n_pareto_k_above_0.7": int(np.sum(k > 0.7)),
                       "n_pareto_k_0.5_to_0.7": int(np.sum((k > 0.5) & (k <= 0.7)))}
    diff = pointwise["augmented"] - pointwise["baseline"]
    result["elpd_diff_augmented_minus_baseline"] = float(diff.sum())
    result["elpd_diff_se"] = float(np.sqrt(diff.size) * diff.std(ddof=1))
    return result


def held_out_prediction(test_problem, draws: dict, max_draws: int) -> dict:
    """Per run: RMSE of the posterior median prediction, log pointwise predictive density,
    and the predicted bands (for the figure)."""
    from ..scenario import posterior_draws

    def one(theta):
        simulation = test_problem.simulate(theta)
        return simulation.observables, test_problem.simulation_log_likelihood(simulation)

    simulate = jax.jit(jax.vmap(one))
    data = np.asarray(test_problem.measurements)
    result = {"table": test_problem.measurement_df.copy(), "runs": {}}
    for run in RUNS:
        thetas = posterior_draws(draws[run], test_problem, max_draws=max_draws)
        y, llh = map(np.asarray, simulate(thetas))
        ok = np.all(np.isfinite(y), axis=1) & np.all(np.isfinite(llh), axis=1)
        y, llh = y[ok], llh[ok]
        median = np.median(y, axis=0)
        lppd = float(np.sum(np.log(np.mean(np.exp(llh - llh.max(axis=0)), axis=0)) + llh.max(axis=0)))
        result["runs"][run] = {"rmse": float(np.sqrt(np.mean((median - data) ** 2))), "lppd": lppd,
                               "n_draws": int(ok.sum()), "q05": np.quantile(y, 0.05, axis=0), "q50": median,
                               "q95": np.quantile(y, 0.95, axis=0)}
    return result


def build_summary(case, problem, settings, draws, gain, gain_prior, kd, held_out, diagnostics, run_seconds,
                  wall) -> dict:
    def quantiles(x):
        return dict(zip(("q05", "q50", "q95"), map(float, np.quantile(x, [0.05, 0.5, 0.95]))))

    parameters = {}
    for k, pid in enumerate(problem.parameter_ids):
        prior = draws["prior"][pid]
        parameters[pid] = {
            "scale": problem.parameter_scales[k], "nominal": float(problem.x_nominal[k]),
            "prior_interval": [float(np.quantile(prior, 0.05)), float(np.quantile(prior, 0.95))],
            "baseline": quantiles(draws["baseline"][pid]), "augmented": quantiles(draws["augmented"][pid]),
            "kl_bits": float(gain.loc[pid, "kl_bits"]),
            "kl_bits_interval": [float(gain.loc[pid, "lower"]), float(gain.loc[pid, "upper"])],
            "kl_bits_baseline_vs_prior": float(gain_prior.loc[pid, "kl_bits"]),
        }
    tables = {run: diagnostics[run].table for run in RUNS}
    summary = {
        "case": case.name, "problem": str(case.problem), "sampler": dataclasses.asdict(settings),
        "note": "quantiles are on each parameter's scale (log10 for all EGFR/GPCR parameters); kl_bits is "
                "KL(augmented || baseline) per parameter, kl_bits_baseline_vs_prior KL(baseline || prior)",
        "parameters": parameters,
        "information_gain_total_bits": {"augmented_vs_baseline": float(gain.loc["total", "kl_bits"]),
                                        "baseline_vs_prior": float(gain_prior.loc["total", "kl_bits"])},
        "kd": json.loads(kd.to_json(orient="records")),
        "diagnostics": {run: {"max_rhat": float(tables[run]["r_hat"].max()),
                              "min_bulk_ess": float(tables[run]["ess_bulk"].min()),
                              "min_tail_ess": float(tables[run]["ess_tail"].min()),
                              "converged": diagnostics[run].converged, "warnings": diagnostics[run].warnings,
                              "divergences": diagnostics[run].divergences,
                              **run_seconds[run]} for run in RUNS},
        "max_rhat": float(max(tables[run]["r_hat"].max() for run in RUNS)),
        "min_bulk_ess": float(min(tables[run]["ess_bulk"].min() for run in RUNS)),
        "min_tail_ess": float(min(tables[run]["ess_tail"].min() for run in RUNS)),
        "wall_time_s": wall,
    }
    if held_out is not None:
        summary["held_out"] = {f"{key}_{run}": held_out["runs"][run][key] for run in RUNS for key in ("rmse", "lppd")}
        summary["held_out"]["n_points"] = int(len(held_out["table"]))
    return summary
