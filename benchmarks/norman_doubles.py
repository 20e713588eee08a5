"""Held-out double perturbations on the Norman 2019 K562 CRISPRa cells (issue 7, must-show 1).

    PYTHONPATH=src python benchmarks/norman_doubles.py [DATA.h5ad] [--seeds 0 1 2] [--batch-key barcode]

Same pipeline as ``celltwin screen fit DATA.h5ad --holdout doubles --out DIR``: the K562 cells
of the file, doubles whose targets were each also perturbed alone held out, 100 modelled genes,
metrics over each held-out double's top 20 DE genes. Prints the model-vs-baselines table for
the first seed and the model's metrics for every seed (the baselines do not depend on it).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from celltwin.perturb import default_settings, evaluate_holdout, read_screen
from celltwin.perturb._report import summary_table

DEFAULT = Path(os.environ.get("CELLTWIN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT / "perturbseq" / "perturbench_devel.h5ad"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-key", default=None)
    args = parser.parse_args()
    screen = read_screen(args.data, where={"cell_type": "k562"}, batch_key=args.batch_key)
    rows = []
    for i, seed in enumerate(args.seeds):
        t0 = time.perf_counter()
        result = evaluate_holdout(screen, settings=default_settings(screen, seed=seed))
        seconds = time.perf_counter() - t0
        if i == 0:
            print(f"held out: {', '.join(result.info['heldout'])}; {result.info['n_train_cells']} training cells, "
                  f"{len(screen.batches)} batch(es)")
            print(summary_table(result))
        row = result.summary.set_index("method").loc["model"].to_dict()
        rows.append({"seed": seed, **row, "seconds": seconds})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
