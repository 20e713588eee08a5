"""Which local optimiser for multi-start fits: scipy L-BFGS-B vs trust-constr, same starts.

    python benchmarks/optimizers.py [--problems Boehm_JProteomeRes2014 Bertozzi_PNAS2020] [--starts 20]

Both optimisers get the same Latin-hypercube starts and the same JAX objective and gradient.
Per problem and optimiser: the best log-likelihood, how many starts end within 0.1 of the
best value either optimiser found ("hits"), the median time and objective evaluations per
start, and hits per minute of compute (the measure that decides how many starts a user
needs). Writes ``benchmarks/results/optimizers.tsv``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("CELLTWIN_SHARED_DATA", ROOT.parent / "shared" / "data")) / "petab-benchmark"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="*", default=["Boehm_JProteomeRes2014", "Bertozzi_PNAS2020"])
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "optimizers.tsv"))
    args = parser.parse_args()

    from celltwin.inference import multistart
    from celltwin.inference._optimize import OPTIMIZERS
    from celltwin.problem import from_petab

    rows = []
    for name in args.problems:
        problem = from_petab(sorted((BENCH / name).glob("*.yaml"))[0])
        tables = {opt: multistart(problem, args.starts, seed=0, workers=args.workers, optimizer=opt,
                                  progress=False).table for opt in OPTIMIZERS}
        best = min(float(t["objective"].min()) for t in tables.values())
        for opt, t in tables.items():
            hits = int((t["objective"] - best < 0.1).sum())
            rows.append({"problem": name, "optimizer": opt, "starts": args.starts, "best_llh": float(t["llh"].max()),
                         "hits": hits, "failed": int((t["status"] == "failed").sum()),
                         "median_time_s": float(t["time_s"].median()),
                         "median_evaluations": float(t["evaluations"].median()),
                         "hits_per_cpu_minute": hits / (t["time_s"].sum() / 60)})
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print()
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, sep="\t", index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
