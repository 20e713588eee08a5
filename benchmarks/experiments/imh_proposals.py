"""NUTS with and without independence proposals on a twin case's baseline posterior.

    python benchmarks/experiments/imh_proposals.py [CASE.yaml] [--proposals 0 32] [--seeds 1 2]
        [--warmup 300] [--draws 500] [--out imh_proposals.tsv]

For each seed and each number of proposals per draw (``imh_proposals``; 0 = NUTS alone): the
case's sampler settings with the given warm-up and a fixed number of draws (no stopping rule),
the baseline posterior (evidence off). The warm-up does not depend on the proposals, so each
seed's runs start their draws from the same adapted state and differ only in the kernel.
Reported per run: the draws' wall time (the run's, less that of a warm-up-only run of the same
seed), leapfrog steps and accepted proposals per draw, max R-hat, min bulk and tail ESS (arviz)
and ESS per second of drawing. Runs one after another in this process.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="?", default=str(ROOT / "examples" / "gpcr_yi" / "case.yaml"))
    parser.add_argument("--proposals", type=int, nargs="+", default=[0, 32])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("imh_proposals.tsv"))
    args = parser.parse_args()

    import numpy as np

    from celltwin.inference import SamplerSettings, diagnose, sample
    from celltwin.twin import case_evidence, read_case

    case = read_case(args.case)
    baseline = case_evidence(case).switched(False)
    problem = baseline.problem
    def run(seed: int, m: int, draws: int):
        settings = SamplerSettings(**{**case.sampler, "warmup": args.warmup, "draws": draws, "block": draws,
                                      "seed": seed, "stop_rhat": None, "stop_ess": None, "imh_proposals": m})
        start = time.perf_counter()
        idata = sample(problem, settings, log_density=baseline.log_density, predictive=False, progress=False)
        return idata, time.perf_counter() - start

    rows = []
    for seed in args.seeds:
        _, warmup_wall = run(seed, 0, 1)  # the warm-up and one draw
        for m in args.proposals:
            idata, wall = run(seed, m, args.draws)
            wall -= warmup_wall
            table = diagnose(idata).table
            stats = idata.sample_stats
            row = {"seed": seed, "imh_proposals": m, "warmup": args.warmup, "draws": args.draws,
                   "draws_wall_s": round(wall, 1), "warmup_wall_s": round(warmup_wall, 1),
                   "leapfrog_per_draw": round(float(stats["n_steps"].mean()), 1),
                   "accepted_per_draw": round(float(stats["imh_accepted"].mean()), 2) if m else 0.0,
                   "max_rhat": round(float(table["r_hat"].max()), 4),
                   "min_bulk_ess": round(float(table["ess_bulk"].min())),
                   "min_tail_ess": round(float(table["ess_tail"].min())),
                   "divergent": int(np.asarray(stats["diverging"]).sum()),
                   "load": round(os.getloadavg()[0], 2)}
            row["bulk_per_s"] = round(row["min_bulk_ess"] / wall, 2)
            row["tail_per_s"] = round(row["min_tail_ess"] / wall, 2)
            rows.append(row)
            print(row, flush=True)
    with open(args.out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
