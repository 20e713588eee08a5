"""Leave-one-double-out on the Norman 2019 K562 CRISPRa cells, over seeds of the model's
initial network (issue 7, issue 27).

    PYTHONPATH=src python benchmarks/experiments/norman_doubles.py [DATA.h5ad] [--seeds 0 1 2] [--steady-state-weight 0.2 ...]

The same pipeline as ``celltwin screen fit DATA.h5ad --holdout doubles --where cell_type=k562
--out DIR`` (which also writes the intervals and the report); by default one steady-state
weight (no cross-validation), so three seeds cost 15 fits. Prints the model-vs-baselines
tables for the first seed and the model's pooled scores for every seed (the baselines do not
depend on it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from celltwin.perturb import default_settings, evaluate_holdout, read_screen, settings_grid
from celltwin.perturb._report import comparison_table, summary_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import SHARED  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(SHARED / "perturbseq" / "perturbench_devel.h5ad"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steady-state-weight", type=float, nargs="+", default=[0.2])
    parser.add_argument("--batch-key", default=None)
    args = parser.parse_args()
    screen = read_screen(args.data, where={"cell_type": "k562"}, batch_key=args.batch_key)
    rows = []
    for i, seed in enumerate(args.seeds):
        settings = default_settings(screen, seed=seed)
        t0 = time.perf_counter()
        result = evaluate_holdout(screen, settings=settings, grid=settings_grid(settings, args.steady_state_weight))
        seconds = time.perf_counter() - t0
        if i == 0:
            print(f"held out, one at a time: {', '.join(result.info['units'])}; {len(screen.batches)} batch(es)")
            print(summary_table(result))
            print(comparison_table(result))
        row = result.summary.set_index("method").loc["model"].to_dict()
        rows.append({"seed": seed, **row, "seconds": seconds})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
