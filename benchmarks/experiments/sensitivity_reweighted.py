"""A twin case's sensitivity variants from its converged draws, by importance reweighting,
where the variant's posterior lies within the case's: no new sampling runs.

    python benchmarks/experiments/sensitivity_reweighted.py CASE.yaml DEMO_DIR
        [--variants prior1 weight-score holdout:OBS ...] [--out TSV]

DEMO_DIR is the output folder of ``celltwin demo CASE.yaml`` (its converged ``baseline.nc``
and ``augmented.nc``). A variant (as in ``benchmarks/twin_sensitivity.py``; its PEtab files
written by ``celltwin.twin.case_variant``) changes the target density of each run from
``p_case`` to ``p_variant``; the case's draws, weighted by ``p_variant / p_case`` (Pareto-
smoothed, arviz ``psislw``) and resampled, are draws of the variant's posterior as far as

* the variant's support lies inside the case's (``prior1`` inside the cases' +-2 decades,
  ``weight-*``, ``holdout:*``; ``prior3`` does not, and is reported as not reweightable), and
* the weights are not too uneven: Pareto k below 0.7 (arviz's threshold for reliable
  estimates); above it the row is printed but marked unreliable, and only a sampling run
  (``benchmarks/twin_sensitivity.py``) answers for that variant.

``holdout:OBS`` moves the case's held-out measurements into the fit and observable OBS's out
of it: its weights are the held-out likelihood over OBS's likelihood, which can be very
uneven where OBS constrains the parameters much; the Pareto k says.

Per variant, run and evidence reaction: log10 Kd (median, 90 % width), the width ratio
(augmented / baseline) and whether the evidence moves the median toward the literature value
(as ``twin_sensitivity.py``'s ``sensitivity.tsv``), with each run's Pareto k and the
effective number of draws of its weights (``1 / sum w^2``), and the held-out RMSE of the
posterior median prediction (400 resampled draws) on the variant's held-out data.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # _common: the variants by name
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _case_draws import draws_of, held_out_rmse, log10_kds  # noqa: E402
from _common import variant_case  # noqa: E402

RUNS = ("baseline", "augmented")
RELIABLE_PARETO_K = 0.7
MIN_EFFECTIVE_DRAWS = 400  # as the cases' stopping rule asks of each run


def densities(case):
    """Per run, the jitted, vmapped target density of ``case`` (and its problem and terms)."""
    import jax

    from celltwin.twin import case_evidence

    evidence = case_evidence(case)
    problem, terms = evidence.problem, evidence.terms
    return problem, terms, {run: jax.jit(jax.vmap(evidence.switched(run == "augmented").log_density)) for run in RUNS}


def outside_support(variant_problem, case_problem) -> list[str]:
    """The parameters whose bounds in the variant reach beyond the case's."""
    return [pid for pid, lo, hi, c_lo, c_hi in zip(variant_problem.parameter_ids, variant_problem.lower,
                                                   variant_problem.upper, case_problem.lower, case_problem.upper)
            if lo < c_lo - 1e-9 or hi > c_hi + 1e-9]  # (on the parameters' scales)


def reweighted(target, x: pd.DataFrame, at_case: np.ndarray, v_problem, ess: float, rng):
    """Draws ``x`` (of a case posterior whose log density at them is ``at_case``) resampled
    to the variant's ``target``, and the weights' diagnostics: Pareto k (-inf where the
    weights are equal, as for a truncation), the effective number of draws of the weights
    (``1 / sum w^2``) and of the resampled draws (``ess``, the case run's smallest bulk ESS,
    times the weights' share of the draws)."""
    import arviz as az
    import jax.numpy as jnp

    values = x.to_numpy()
    log_w = np.asarray(target(jnp.asarray(values))) - at_case
    inside = np.all((values >= np.asarray(v_problem.lower)) & (values <= np.asarray(v_problem.upper)), axis=1)
    log_w = np.where(inside & np.isfinite(log_w), log_w, -np.inf)
    kept = np.isfinite(log_w)
    if kept.sum() < 2:
        return x.iloc[:0], {"pareto_k": np.inf, "weights_ess": float(kept.sum()), "effective_draws": 0.0,
                            "inside_support": int(kept.sum())}
    smoothed = np.full(len(x), -np.inf)
    if np.ptp(log_w[kept]) < 1e-9:  # a truncation: equal weights inside
        smoothed[kept], k = 0.0, -np.inf
    else:
        smoothed[kept], k = az.psislw(log_w[kept])
    w = np.exp(smoothed - smoothed[kept].max())
    w /= w.sum()
    weights_ess = float(1.0 / np.sum(w**2))
    pick = rng.choice(len(x), size=len(x), p=w)
    return x.iloc[pick].reset_index(drop=True), {"pareto_k": float(k), "weights_ess": weights_ess,
                                                 "effective_draws": ess * weights_ess / len(x),
                                                 "inside_support": int(kept.sum())}


def variant_held_out_rmse(case, draws: pd.DataFrame) -> float:
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings

    if case.held_out is None:
        return float("nan")
    return held_out_rmse(from_petab(case.held_out, settings=SolverSettings(**case.solver)), draws)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("demo", type=Path)
    parser.add_argument("--variants", nargs="+", default=["prior1", "weight-score"])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import arviz as az
    import jax.numpy as jnp

    from celltwin.evidence import reported_values, to_log10_molar
    from celltwin.twin import read_case

    case = read_case(args.case)
    problem, terms, target = densities(case)
    ids = problem.parameter_ids
    draws = {run: draws_of(args.demo / f"{run}.nc", ids) for run in RUNS}
    ess = {run: float(az.ess(az.from_netcdf(str(args.demo / f"{run}.nc")), method="bulk").to_array().min())
           for run in RUNS}
    at_case = {run: np.asarray(target[run](jnp.asarray(draws[run].to_numpy()))) for run in RUNS}
    literature = {reaction: float(to_log10_molar(value, unit))
                  for reaction, (value, unit) in reported_values(case.evidence).items()}
    folder = Path(tempfile.mkdtemp(prefix="celltwin-variants-"))
    rng = np.random.default_rng(args.seed)
    rows = []
    for name in ["case", *args.variants]:
        variant = case if name == "case" else variant_case(case, name, folder / name.replace(":", "_"))
        v_problem, _, v_target = (problem, terms, target) if name == "case" else densities(variant)
        if list(v_problem.parameter_ids) != list(ids):
            raise SystemExit(f"{name}: the variant's parameters differ from the case's")
        beyond = outside_support(v_problem, problem)
        resampled, diagnostics = {}, {}
        for run in RUNS:
            if name == "case":
                resampled[run] = draws[run]
                diagnostics[run] = {"proposal": run, "pareto_k": np.nan, "weights_ess": float(len(draws[run])),
                                    "effective_draws": ess[run]}
                continue
            if beyond:
                break
            # either run's draws may serve: one whose weights are reliable, with more effective draws
            tried = [reweighted(v_target[run], draws[src], at_case[src], v_problem, ess[src], rng) + (src,)
                     for src in RUNS]
            chosen, diagnostics[run], src = min(tried, key=lambda t: (t[1]["pareto_k"] > RELIABLE_PARETO_K,
                                                                      -t[1]["effective_draws"]))
            resampled[run] = chosen
            diagnostics[run]["proposal"] = src
        if beyond:
            rows.append({"variant": name, "note": f"not reweightable: its bounds reach beyond the case's for "
                                                  f"{len(beyond)} parameters ({', '.join(beyond[:4])}...)"})
            print(f"{name}: {rows[-1]['note']}")
            continue
        kd = {run: log10_kds(problem, terms, resampled[run]) for run in RUNS}
        rmse = {run: variant_held_out_rmse(variant, resampled[run]) for run in RUNS}
        reliable = all(not diagnostics[run]["pareto_k"] > RELIABLE_PARETO_K
                       and diagnostics[run]["effective_draws"] >= MIN_EFFECTIVE_DRAWS for run in RUNS)
        for reaction in kd["baseline"]:
            q = {run: np.quantile(kd[run][reaction], [0.05, 0.5, 0.95]) for run in RUNS}
            lit = literature.get(reaction, np.nan)
            row = {"variant": name, "reaction": reaction, "reliable": reliable,
                   "baseline_q50": q["baseline"][1], "baseline_width90": q["baseline"][2] - q["baseline"][0],
                   "augmented_q50": q["augmented"][1], "augmented_width90": q["augmented"][2] - q["augmented"][0],
                   "reported_log10_kd": lit}
            row["width_ratio"] = row["augmented_width90"] / row["baseline_width90"]
            row["baseline_error"], row["augmented_error"] = abs(row["baseline_q50"] - lit), abs(row["augmented_q50"] - lit)
            row["toward_literature"] = bool(row["augmented_error"] < row["baseline_error"])
            for run in RUNS:
                row |= {f"{run}_{key}": value for key, value in diagnostics[run].items()}
                row[f"{run}_held_out_rmse"] = rmse[run]
            rows.append(row)
        frame = pd.DataFrame([r for r in rows if r["variant"] == name])
        print(f"{name}: {int((frame['width_ratio'] < 1).sum())}/{len(frame)} narrower, "
              f"{int(frame['toward_literature'].sum())} toward the literature; Pareto k "
              + ", ".join(f"{run} {diagnostics[run]['pareto_k']:.2f}" for run in RUNS)
              + "; effective draws " + ", ".join(f"{diagnostics[run]['effective_draws']:.0f}" for run in RUNS)
              + ("" if reliable else f" (UNRELIABLE: Pareto k above {RELIABLE_PARETO_K} or fewer than "
                                     f"{MIN_EFFECTIVE_DRAWS} effective draws)")
              + "; held-out RMSE " + " -> ".join(f"{rmse[run]:.3f}" for run in RUNS), flush=True)
    result = pd.DataFrame(rows)
    if args.out:
        result.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    return result


if __name__ == "__main__":
    sys.exit(main() is None)
