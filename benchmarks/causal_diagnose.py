"""Cost of `celltwin.causal.diagnose` against table size, with a peer computation of the focus.

For synthetic predictions tables (n pairs, k strata, errors with a stratum effect) this
times, per size:

* ``focus``: :func:`celltwin.causal.focus_score` (eta^2 + bootstrap interval + permutation
  p-value, 2,000 replicates each);
* ``reversal``: :func:`celltwin.causal.simpson_reversal` (2,000 bootstrap replicates);
* ``scipy eta^2``: the point estimate from ``scipy.stats.f_oneway`` (the peer; no interval,
  no p-value by resampling), and the largest difference of the two eta^2 values.

Single runs (seconds, wall clock, CPU time in brackets), printed as a table and written as TSV.

    python benchmarks/causal_diagnose.py [--sizes 1000 10000 30000] [--strata 12] [--out FILE.tsv]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    from scipy import stats

    from celltwin.causal import focus_score, simpson_reversal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 30000])
    parser.add_argument("--strata", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "causal_diagnose.tsv")
    args = parser.parse_args()

    rows = ["pairs\tstrata\tfocus_s\tfocus_cpu_s\treversal_s\treversal_cpu_s\tscipy_eta2_s\tmax_abs_eta2_diff"]
    print(f"{'pairs':>7} {'strata':>6} {'focus s (cpu)':>15} {'reversal s (cpu)':>17} {'scipy eta2 s':>13} "
          f"{'|eta2 diff|':>11}")
    for n in args.sizes:
        rng = np.random.default_rng(n)
        labels = rng.integers(0, args.strata, size=n)
        predicted = rng.normal(size=n) + 0.2 * labels
        measured = predicted + rng.normal(size=n) + 0.1 * rng.normal(size=args.strata)[labels]
        focus, f_wall, f_cpu = timed(focus_score, predicted - measured, labels)
        _, r_wall, r_cpu = timed(simpson_reversal, predicted, measured, labels)
        e = predicted - measured
        groups = [e[labels == s] for s in range(args.strata)]
        res, s_wall, _ = timed(stats.f_oneway, *groups)
        k = args.strata
        eta2_scipy = res.statistic * (k - 1) / (res.statistic * (k - 1) + n - k)
        diff = abs(eta2_scipy - focus.eta2)
        print(f"{n:>7} {k:>6} {f_wall:>7.2f} ({f_cpu:>5.2f}) {r_wall:>8.2f} ({r_cpu:>5.2f}) {s_wall:>13.4f} "
              f"{diff:>11.1e}")
        rows.append(f"{n}\t{k}\t{f_wall:.3f}\t{f_cpu:.3f}\t{r_wall:.3f}\t{r_cpu:.3f}\t{s_wall:.5f}\t{diff:.2e}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(rows) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
