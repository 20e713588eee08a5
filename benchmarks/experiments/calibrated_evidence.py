"""A twin case's Kd evidence with a learned error model (default ``ppi_affinity``) instead of
the case's fixed log10 sd: the conclusions of both, side by side, reaction by reaction.

    python benchmarks/experiments/calibrated_evidence.py CASE.yaml DEMO_DIR [CALIBRATED.nc]
        [--error-model ppi_affinity] [--out TSV]

DEMO_DIR is the output folder of ``celltwin demo CASE.yaml`` (its converged ``baseline.nc``
and ``augmented.nc``). The posterior with the learned error model is obtained two
independent ways where both are given:

* **directly**: ``CALIBRATED.nc``, a NUTS run of the augmented posterior with every evidence
  row naming ``error_model: ...`` (same sampler settings and stopping rule);
* **by importance reweighting** of the baseline draws with the calibrated evidence terms
  (Pareto-smoothed, arviz ``psislw``; the terms involve only the binding rate constants, so
  the weights need no simulation), resampled to the baseline's number of draws. The Pareto k
  says whether the reweighting can be trusted (below 0.7).

As a check of the reweighting itself, the baseline is also reweighted by the case's own
(fixed sd) evidence terms, which the ``augmented.nc`` run sampled directly.

Printed and written (``--out``), one row per posterior and evidence reaction: log10 Kd
(median and 90 % interval), the width relative to the baseline's, the distance of the median
to the literature value and whether it moved toward it, the Pareto k of a reweighting; per
posterior the information gain over the baseline (KL bits summed over the parameters, as the
twin case computes it: blocks of autocorrelated draws resampled; not for the reweighted
posteriors, whose resampled draws repeat, which the nearest-neighbour estimate cannot take)
and the held-out RMSE
(posterior median prediction, 400 draws) where the case has a held-out problem.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _case_draws import draws_of, held_out_rmse, log10_kds  # noqa: E402


def reweighted(evidence, baseline: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, float]:
    """The baseline draws resampled with Pareto-smoothed weights ``exp(evidence terms)``,
    and the Pareto k."""
    import arviz as az
    import jax
    import jax.numpy as jnp

    log_w = np.asarray(jax.jit(jax.vmap(evidence.log_evidence_terms))(jnp.asarray(baseline.to_numpy())))
    smoothed, k = az.psislw(log_w)
    weights = np.exp(smoothed - smoothed.max())
    pick = np.random.default_rng(seed).choice(len(baseline), size=len(baseline), p=weights / weights.sum())
    return baseline.iloc[pick].reset_index(drop=True), float(k)


def posterior_rows(name: str, draws: pd.DataFrame, problem, terms, literature: dict, baseline_kd: dict,
                   pareto_k: float = np.nan) -> list[dict]:
    rows = []
    for reaction, x in log10_kds(problem, terms, draws).items():
        lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
        b_lo, b_med, b_hi = np.quantile(baseline_kd[reaction], [0.05, 0.5, 0.95])
        lit = literature.get(reaction, np.nan)
        rows.append({"posterior": name, "reaction": reaction, "median": med, "lower_90": lo, "upper_90": hi,
                     "width_ratio": (hi - lo) / (b_hi - b_lo), "distance_to_literature": abs(med - lit),
                     "toward_literature": bool(abs(med - lit) < abs(b_med - lit)), "pareto_k": pareto_k,
                     "draws": len(x)})
    return rows


def information_and_prediction(draws: pd.DataFrame, baseline: pd.DataFrame, test_problem, seed: int,
                               resampled: bool) -> dict:
    from celltwin.evidence import block_length, information_gain

    result = {"kl_bits_total": np.nan, "held_out_rmse": np.nan}
    if not resampled:  # (the nearest-neighbour estimate needs distinct draws: resampling repeats them)
        # blocks of about twice the autocorrelation time (the twin case's rule; 400 effective draws assumed)
        gain = information_gain(draws, baseline, bootstrap=50, seed=seed,
                                block=(block_length(len(draws), 400.0), block_length(len(baseline), 400.0)))
        result["kl_bits_total"] = float(gain.loc["total", "kl_bits"])
    if test_problem is not None:
        result["held_out_rmse"] = held_out_rmse(test_problem, draws)
    return result


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("demo", type=Path)
    parser.add_argument("calibrated", type=Path, nargs="?")
    parser.add_argument("--error-model", default="ppi_affinity")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from celltwin.evidence import Evidence, read_affinity_table, reported_values, to_log10_molar
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings
    from celltwin.twin import case_evidence, read_case

    case = read_case(args.case)
    case_terms = case_evidence(case)
    problem, fixed = case_terms.problem, case_terms.terms
    table = pd.read_csv(case.evidence, sep="\t", comment="#").drop(columns=["sd"]).assign(error_model=args.error_model)
    # the table used is kept beside the results (with --out), else in a temporary folder
    folder = args.out.parent if args.out else Path(tempfile.mkdtemp())
    calibrated_table = folder / ((args.out.stem if args.out else "calibrated") + ".evidence.tsv")
    table.to_csv(calibrated_table, sep="\t", index=False)
    calibrated = read_affinity_table(calibrated_table, problem.model, weight=case.evidence_weight)
    literature = {reaction: float(to_log10_molar(value, unit))
                  for reaction, (value, unit) in reported_values(case.evidence).items()}
    ids = problem.parameter_ids

    baseline, augmented = (draws_of(args.demo / f"{run}.nc", ids) for run in ("baseline", "augmented"))
    baseline_kd = log10_kds(problem, fixed, baseline)
    named: dict[str, tuple[pd.DataFrame, float]] = {
        "baseline (no evidence)": (baseline, np.nan),
        "fixed sd (the case's), NUTS": (augmented, np.nan),
        "fixed sd (the case's), reweighted baseline": reweighted(case_terms, baseline, args.seed),
        f"learned ({args.error_model}), reweighted baseline": reweighted(Evidence(problem, calibrated), baseline,
                                                                        args.seed)}
    if args.calibrated is not None:
        named[f"learned ({args.error_model}), NUTS"] = (draws_of(args.calibrated, ids), np.nan)
    test_problem = from_petab(case.held_out, settings=SolverSettings(**case.solver)) if case.held_out else None
    rows = []
    for name, (draws, k) in named.items():
        overall = information_and_prediction(draws, baseline, test_problem, args.seed, resampled=np.isfinite(k))
        rows += [row | overall for row in posterior_rows(name, draws, problem, fixed, literature, baseline_kd, k)]
    result = pd.DataFrame(rows)
    with pd.option_context("display.width", 220, "display.precision", 3, "display.max_rows", 500):
        print(result.to_string(index=False))
    if args.out:
        result.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    return result


if __name__ == "__main__":
    sys.exit(main() is None)
