"""Multi-start optimisation on PEtab benchmark problems: does the best fit reach the
reference log-likelihood at the nominal parameters?

    python benchmarks/experiments/multistart.py [--problems Boehm_JProteomeRes2014 ...] [--starts 50] [--workers 2]

Prints, per problem, the reference llh (``reference_llh.tsv``, at the nominal parameters,
which are published fits), the best llh reached, how many starts came within 0.1 of the
best, and the wall time; writes ``benchmarks/results/multistart.tsv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import BENCH, RESULTS, problem_yaml  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", nargs="*", default=["Boehm_JProteomeRes2014", "Bertozzi_PNAS2020",
                                                          "Crauste_CellSystems2017"])
    parser.add_argument("--starts", type=int, default=50)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "multistart.tsv"))
    args = parser.parse_args()

    from celltwin.inference import multistart
    from celltwin.problem import from_petab

    reference = pd.read_csv(BENCH / "reference_llh.tsv", sep="\t", index_col=0)["llh"]
    rows = []
    for name in args.problems:
        problem = from_petab(problem_yaml(name))
        start = time.perf_counter()
        result = multistart(problem, args.starts, seed=args.seed, workers=args.workers)
        wall = time.perf_counter() - start
        t = result.table
        best = float(t["objective"].iloc[0])
        row = {"problem": name, "n_parameters": problem.n_parameters, "starts": args.starts,
               "reference_llh": float(reference[name]), "best_llh": result.best_llh,
               "reached": result.best_llh >= float(reference[name]) - 1e-3,
               "within_0.1": int((t["objective"] - best < 0.1).sum()),
               "failed": int((t["status"] == "failed").sum()), "wall_s": wall}
        rows.append(row)
        print(row, flush=True)
    df = pd.DataFrame(rows)
    print()
    print(df.to_string(index=False))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, sep="\t", index=False, float_format="%.6f")


if __name__ == "__main__":
    main()
