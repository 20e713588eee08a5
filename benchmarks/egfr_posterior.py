"""The augmented EGFR posterior (50 parameters): NUTS vs the affine-invariant ensemble sampler.

    python benchmarks/egfr_posterior.py [--nuts-draws 300] [--ensemble-draws 2000] [--repeats 1] [--workers 2]
    python benchmarks/egfr_posterior.py --throughput-only      # batched log-posterior evaluations/s
    python benchmarks/egfr_posterior.py --backend native ...   # the numba solver backend
    python benchmarks/egfr_posterior.py --dense-mass --pooled-mass --nuts-warmup 300 ...
    python benchmarks/egfr_posterior.py --stop-rhat 1.01 --stop-ess 400 --block 25 ...   # NUTS until converged

Both samplers target the same log density: the EGFR example's log-posterior plus its nine
Kd evidence terms (``examples/egfr_kholodenko/case.yaml``, solver tolerances included). Per
run: wall time (compilation included), max R-hat, min and median bulk ESS, min-ESS per
second; then the median over repeats and the ratio NUTS / ensemble. The goal of issue 3 is
a converged posterior (max R-hat <= 1.01, min bulk ESS >= 400) in 15 minutes on 2 cores and
a ratio >= 20. The throughput table (evaluations per second of the vmapped log-posterior at
several batch sizes) runs on whatever device JAX uses, so on a GPU machine it reports the
GPU's throughput. With ``--stop-rhat`` / ``--stop-ess`` NUTS stops at the first block of
``--block`` draws where the goal's criteria hold (``--nuts-draws`` is then the limit), so its
wall time is the time to convergence. Results: ``benchmarks/results/egfr_posterior.tsv``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import RESULTS
from _problems import augmented_problem


def throughput(problem, evidence, batches=(1, 16, 64, 256, 1024), repeats=3) -> pd.DataFrame:
    import jax
    import jax.numpy as jnp

    f = jax.jit(jax.vmap(evidence.log_density))
    rng = np.random.default_rng(0)
    rows = []
    for n in batches:
        x = jnp.asarray(problem.x_nominal + 0.1 * rng.standard_normal((n, problem.n_parameters)))
        f(x).block_until_ready()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f(x).block_until_ready()
            times.append(time.perf_counter() - t0)
        rows.append({"device": str(jax.devices()[0]), "batch": n, "median_s": float(np.median(times)),
                     "evaluations_per_s": n / float(np.median(times))})
        print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--nuts-draws", type=int, default=300, help="NUTS draws per chain (and as many warm-up steps)")
    parser.add_argument("--max-tree-depth", type=int, default=6)
    parser.add_argument("--nuts-warmup", type=int, default=None, help="NUTS warm-up steps (default: --nuts-draws)")
    parser.add_argument("--dense-mass", action="store_true", help="NUTS: adapt a dense mass matrix")
    parser.add_argument("--pooled-mass", action="store_true", help="NUTS: one mass matrix from all chains' warm-up")
    parser.add_argument("--stop-rhat", type=float, default=None, help="NUTS: stop once every R-hat <= this")
    parser.add_argument("--stop-ess", type=float, default=None, help="NUTS: stop once every bulk ESS >= this")
    parser.add_argument("--block", type=int, default=None,
                        help="NUTS draws (and warm-up steps) per block (default: all in one)")
    parser.add_argument("--save", default=None, metavar="DIR",
                        help="also write each run's InferenceData to DIR/<method>_<seed>.nc")
    parser.add_argument("--workers", type=int, default=1,
                        help="NUTS: chains in this many groups, one worker process each (the ensemble runs in one)")
    parser.add_argument("--ensemble-draws", type=int, default=2000, help="ensemble iterations (and as many burn-in)")
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument("--backend", choices=("diffrax", "native"), default="diffrax",
                        help="the solver backend of both samplers' log density (SolverSettings.backend)")
    parser.add_argument("--out", default=str(RESULTS / "egfr_posterior.tsv"))
    args = parser.parse_args()

    import arviz as az

    from celltwin._atomic import atomic_path
    from celltwin.inference import SamplerSettings, sample

    problem, evidence = augmented_problem(args.backend)
    speed = throughput(problem, evidence)
    if args.throughput_only:
        print(speed.to_string(index=False))
        return
    rows = []
    for method in ("nuts", "ensemble"):
        for seed in range(args.repeats):
            if method == "nuts":
                warmup = args.nuts_draws if args.nuts_warmup is None else args.nuts_warmup
                s = SamplerSettings(method="nuts", chains=4, draws=args.nuts_draws, warmup=warmup, seed=seed,
                                    block=args.block or max(args.nuts_draws, warmup),
                                    max_tree_depth=args.max_tree_depth, dense_mass=args.dense_mass,
                                    pooled_mass=args.pooled_mass, stop_rhat=args.stop_rhat, stop_ess=args.stop_ess)
            else:
                s = SamplerSettings(method="ensemble", chains=2 * problem.n_parameters + 2, draws=args.ensemble_draws,
                                    warmup=args.ensemble_draws, seed=seed, block=args.ensemble_draws)
            start = time.perf_counter()
            idata = sample(problem, s, log_density=evidence.log_density, predictive=False, progress=True,
                           workers=args.workers if method == "nuts" else 1)
            wall = time.perf_counter() - start
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                with atomic_path(Path(args.save) / f"{method}_{seed}.nc") as tmp:
                    idata.to_netcdf(str(tmp))
            ess = az.ess(idata.posterior, method="bulk")
            values = np.array([float(ess[v]) for v in ess.data_vars])
            rhat = az.rhat(idata.posterior)
            row = {"method": method, "seed": seed, "chains": s.chains, "draws": idata.posterior.sizes["draw"],
                   "warmup": s.warmup,
                   "workers": args.workers if method == "nuts" else 1,
                   "wall_s": wall, "rhat_max": max(float(rhat[v]) for v in rhat.data_vars),
                   "ess_min": values.min(), "ess_median": float(np.median(values)), "ess_min_per_s": values.min() / wall}
            if "n_steps" in idata.sample_stats:
                row["mean_leapfrogs"] = float(idata.sample_stats["n_steps"].mean())
                row["divergences"] = int(idata.sample_stats["diverging"].sum())
            rows.append(row)
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    runs = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    table = runs.groupby("method")[["wall_s", "rhat_max", "ess_min", "ess_median", "ess_min_per_s"]].median()
    print()
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))
    ratio = table.loc["nuts", "ess_min_per_s"] / table.loc["ensemble", "ess_min_per_s"]
    print(f"\nNUTS / ensemble, min-ESS per second: {ratio:.2f} (goal >= 20)")
    print(speed.to_string(index=False))


if __name__ == "__main__":
    main()
