"""NUTS chains in one process vs in groups on worker processes (``sample(..., workers=N)``).

    python benchmarks/chain_groups.py [--workers 2] [--warmup 40] [--draws 40] [--max-tree-depth 4]

The target is the augmented EGFR log-posterior of issue 3 (``_problems.augmented_problem``:
the example's PEtab problem plus its nine Kd evidence terms, 50 parameters). The same NUTS
settings (4 chains, seed 0) run once in one process and once with the chains split into
``--workers`` groups, one worker process each; wall times include compilation (each worker
compiles for itself). JAX's persistent compilation cache is off for both runs
(``CELLTWIN_NO_JAX_CACHE=1``), so that the second run does not read what the first one
compiled; with the cache on, later runs of either kind skip most of the compilation. Printed: the wall
times, their ratio, and the largest difference between the two runs' draws, which should be
rounding only (chain ``c`` uses the same random keys either way). Results:
``benchmarks/results/chain_groups.tsv``. Any speed-up needs free cores, so run nothing else
meanwhile. Measured on the 2-core development machine (``--warmup 20 --draws 20``): 187 s in
one process, 208 s in two groups (0.90x, identical draws); see docs/inference.md for why.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # _problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--draws", type=int, default=40)
    parser.add_argument("--max-tree-depth", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "chain_groups.tsv"))
    args = parser.parse_args()
    # Both runs compile from scratch (worker processes inherit this before celltwin is imported).
    os.environ["CELLTWIN_NO_JAX_CACHE"] = "1"

    from _problems import augmented_problem

    from celltwin.inference import SamplerSettings, sample

    problem, evidence = augmented_problem()
    settings = SamplerSettings(method="nuts", chains=args.chains, draws=args.draws, warmup=args.warmup, seed=0,
                               block=max(args.warmup, args.draws), max_tree_depth=args.max_tree_depth)
    rows, draws = [], {}
    for workers in (1, args.workers):
        start = time.perf_counter()
        idata = sample(problem, settings, log_density=evidence.log_density, predictive=False, progress=True,
                       workers=workers)
        wall = time.perf_counter() - start
        draws[workers] = np.stack([idata.posterior[p].values for p in problem.parameter_ids], axis=-1)
        rows.append({"workers": workers, "chains": args.chains, "warmup": args.warmup, "draws": args.draws,
                     "max_tree_depth": args.max_tree_depth, "wall_s": wall,
                     "mean_leapfrogs": float(idata.sample_stats["n_steps"].mean()), "cpus": os.cpu_count()})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["speedup"] = table["wall_s"].iloc[0] / table["wall_s"]
    table["max_draw_difference"] = [0.0, float(np.max(np.abs(draws[1] - draws[args.workers])))]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
