"""Effective samples per second: NUTS vs the affine-invariant ensemble sampler, same run.

    python benchmarks/sampling.py [--problems Boehm_JProteomeRes2014 Bruno_JExpBot2016] [--repeats 3]

Per problem and sampler, ``--repeats`` runs with seeds 0, 1, ... started around the nominal
parameters (the published fits); each run's wall time includes warm-up / burn-in, sampling
and compilation (the first run of a sampler fills the persistent compilation cache, later
ones reuse most of it, as a user's second run would). ESS is arviz's bulk ESS; the table
gives the median over repeats of the smallest and the median ESS over parameters, of the
wall time, and of min-ESS per second, and the ratio NUTS / ensemble of the latter.
Results go to ``benchmarks/results/sampling.tsv`` (every run) and are printed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("CELLTWIN_SHARED_DATA", ROOT.parent / "shared" / "data")) / "petab-benchmark"


def settings_for(method: str, n_parameters: int, seed: int, args):
    from celltwin.inference import SamplerSettings

    if method == "nuts":
        return SamplerSettings(method="nuts", chains=4, draws=args.nuts_draws, warmup=args.nuts_draws, seed=seed,
                               block=args.nuts_draws, max_tree_depth=args.max_tree_depth, dense_mass=args.dense_mass)
    walkers = max(32, 2 * n_parameters + 2)
    return SamplerSettings(method="ensemble", chains=walkers, draws=args.ensemble_draws, warmup=args.ensemble_draws,
                           seed=seed, block=args.ensemble_draws)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="*", default=["Boehm_JProteomeRes2014", "Bruno_JExpBot2016"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nuts-draws", type=int, default=300, help="NUTS draws per chain (and as many warm-up steps)")
    parser.add_argument("--max-tree-depth", type=int, default=10, help="NUTS: at most 2^depth - 1 leapfrog steps")
    parser.add_argument("--dense-mass", action="store_true", help="NUTS: adapt a dense mass matrix")
    parser.add_argument("--ensemble-draws", type=int, default=1500,
                        help="ensemble iterations kept (and as many burn-in iterations)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sampling.tsv"))
    args = parser.parse_args()

    import arviz as az
    import jax

    jax.config.update("jax_enable_x64", True)
    from celltwin.inference import sample
    from celltwin.problem import from_petab

    rows = []
    for name in args.problems:
        problem = from_petab(sorted((BENCH / name).glob("*.yaml"))[0])
        for method in ("nuts", "ensemble"):
            for seed in range(args.repeats):
                s = settings_for(method, problem.n_parameters, seed, args)
                start = time.perf_counter()
                idata = sample(problem, s, predictive=False, progress=False)
                wall = time.perf_counter() - start
                ess = az.ess(idata.posterior, method="bulk")
                values = np.array([float(ess[v]) for v in ess.data_vars])
                rhat = az.rhat(idata.posterior)
                row = {"problem": name, "n_parameters": problem.n_parameters, "method": method, "seed": seed,
                       "chains": s.chains, "draws": s.draws, "warmup": s.warmup, "wall_s": wall,
                       "ess_min": values.min(), "ess_median": float(np.median(values)),
                       "rhat_max": max(float(rhat[v]) for v in rhat.data_vars),
                       "ess_min_per_s": values.min() / wall}
                if "diverging" in idata.sample_stats:
                    row["divergences"] = int(idata.sample_stats["diverging"].sum())
                    row["mean_leapfrogs"] = float(idata.sample_stats["n_steps"].mean())
                    row["max_tree_depth"] = s.max_tree_depth
                    row["dense_mass"] = s.dense_mass
                rows.append(row)
                print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    runs = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    table = runs.groupby(["problem", "method"])[["wall_s", "ess_min", "ess_median", "rhat_max", "ess_min_per_s"]].median()
    print()
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))
    per_s = table["ess_min_per_s"].unstack("method")
    print()
    print("NUTS / ensemble, min-ESS per second (median of repeats):")
    print((per_s["nuts"] / per_s["ensemble"]).to_string(float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
