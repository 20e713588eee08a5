"""The GPCR case's Kd evidence with the learned error model (``error_model: ppi_affinity``)
instead of the seed's fixed log10 sd 0.8: the conclusions of both, side by side.

    python benchmarks/experiments/gpcr_calibrated_evidence.py DEMO_DIR [CALIBRATED.nc] [--out TSV]

DEMO_DIR is the output folder of ``celltwin demo examples/gpcr_yi/case.yaml`` (its converged
``baseline.nc`` and ``augmented.nc``). The calibrated posterior is obtained two independent ways:

* **directly**: ``CALIBRATED.nc``, a NUTS run of the augmented posterior with the evidence
  table's row naming ``error_model: ppi_affinity`` (same sampler settings and stopping rule);
* **by importance reweighting** of the baseline draws with the calibrated evidence term
  (Pareto-smoothed, arviz ``psislw``; the evidence term only involves k1f and k1b, so the
  weights need no simulation), resampled to the baseline's number of draws.

Printed and written (``--out``): log10 Kd of the binding reaction per posterior (median and
90 % interval), its width relative to the baseline, the distance of the median to the
literature value, the Pareto k of the reweighting, the information gain over the baseline
(KL bits, k1b and k1f and total, as the twin case computes it: blocks of autocorrelated
draws resampled) and the held-out receptor occupancy's RMSE (posterior median
prediction, 400 draws).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "examples/gpcr_yi/case.yaml"
LITERATURE_LOG10_KD = np.log10(5e-9)


def draws_of(path, ids) -> pd.DataFrame:
    import arviz as az

    post = az.from_netcdf(str(path)).posterior
    return pd.DataFrame(np.stack([np.asarray(post[p]).ravel() for p in ids], axis=1), columns=ids)


def log10_kd(problem, terms, draws: pd.DataFrame) -> np.ndarray:
    """log10 Kd (M) of the one evidence reaction at every draw (as the twin's Kd table)."""
    from celltwin.units import CONCENTRATION_UNITS

    (term,) = terms
    linear = pd.DataFrame(problem.to_linear(draws[problem.parameter_ids].to_numpy()), columns=problem.parameter_ids)
    return np.asarray(np.log10(linear[term.koff]) - np.log10(linear[term.kon]) + CONCENTRATION_UNITS[term.model_unit])


def summary(name, x, baseline_width, pareto_k=np.nan) -> dict:
    lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
    return {"posterior": name, "median": med, "lower_90": lo, "upper_90": hi, "width_ratio": (hi - lo) / baseline_width,
            "distance_to_literature": abs(med - LITERATURE_LOG10_KD), "pareto_k": pareto_k, "draws": len(x)}


def information_and_prediction(draws: pd.DataFrame, baseline: pd.DataFrame, test_problem, seed: int) -> dict:
    import jax

    from celltwin.evidence import block_length, information_gain

    # blocks of about twice the autocorrelation time (the twin case's rule; 400 effective draws assumed)
    gain = information_gain(draws, baseline, bootstrap=50, seed=seed,
                            block=(block_length(len(draws), 400.0), block_length(len(baseline), 400.0)))
    thin = draws.iloc[np.linspace(0, len(draws) - 1, 400).astype(int)][test_problem.parameter_ids].to_numpy()
    y = np.asarray(jax.jit(jax.vmap(lambda th: test_problem.simulate(th).observables))(thin))
    rmse = float(np.sqrt(np.mean((np.median(y, axis=0) - np.asarray(test_problem.measurements)) ** 2)))
    return {"kl_bits_k1b": float(gain.loc["k1b", "kl_bits"]), "kl_bits_k1f": float(gain.loc["k1f", "kl_bits"]),
            "kl_bits_total": float(gain.loc["total", "kl_bits"]), "held_out_rmse": rmse}


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("calibrated", type=Path, nargs="?")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import arviz as az
    import jax.numpy as jnp

    from celltwin.evidence import Evidence, read_affinity_table
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings
    from celltwin.twin import read_case

    case = read_case(CASE)
    problem = from_petab(case.problem, settings=SolverSettings(**case.solver))
    fixed = read_affinity_table(case.evidence, problem.model, weight=case.evidence_weight)
    table = pd.read_csv(case.evidence, sep="\t", comment="#").drop(columns=["sd"]).assign(error_model="ppi_affinity")
    # the table used is kept beside the results (with --out), else in a temporary folder
    folder = args.out.parent if args.out else Path(tempfile.mkdtemp())
    calibrated_table = folder / ((args.out.stem if args.out else "calibrated") + ".evidence.tsv")
    table.to_csv(calibrated_table, sep="\t", index=False)
    calibrated = read_affinity_table(calibrated_table, problem.model, weight=case.evidence_weight)
    ids = problem.parameter_ids

    posteriors = {run: draws_of(args.demo / f"{run}.nc", ids) for run in ("baseline", "augmented")}
    kd = {run: log10_kd(problem, fixed, d) for run, d in posteriors.items()}
    lo, hi = np.quantile(kd["baseline"], [0.05, 0.95])
    rows = [summary("baseline (no evidence)", kd["baseline"], hi - lo),
            summary("augmented, fixed sd 0.8 (the seed's)", kd["augmented"], hi - lo)]

    evidence = Evidence(problem, calibrated)
    theta = jnp.asarray(posteriors["baseline"].to_numpy())
    log_w = np.asarray([float(evidence.log_evidence_terms(th)) for th in theta])
    smoothed, k = az.psislw(log_w)
    weights = np.exp(smoothed - smoothed.max())
    pick = np.random.default_rng(args.seed).choice(len(theta), size=len(theta), p=weights / weights.sum())
    rows.append(summary("augmented, learned error model (reweighted baseline)", kd["baseline"][pick], hi - lo,
                        float(k)))
    if args.calibrated is not None:
        direct = draws_of(args.calibrated, ids)
        rows.append(summary("augmented, learned error model (NUTS)", log10_kd(problem, calibrated, direct), hi - lo))
    named = {"augmented, fixed sd 0.8 (the seed's)": posteriors["augmented"],
             "augmented, learned error model (reweighted baseline)": posteriors["baseline"].iloc[pick],
             "baseline (no evidence)": posteriors["baseline"]}
    if args.calibrated is not None:
        named["augmented, learned error model (NUTS)"] = direct
    test_problem = from_petab(case.held_out, settings=SolverSettings(**case.solver))
    for row in rows:
        row |= information_and_prediction(named[row["posterior"]], posteriors["baseline"], test_problem, args.seed)
    result = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(result.to_string(index=False))
    print(f"literature log10 Kd {LITERATURE_LOG10_KD:.2f}; prediction -7.00")
    if args.out:
        result.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    return result


if __name__ == "__main__":
    sys.exit(main() is None)
