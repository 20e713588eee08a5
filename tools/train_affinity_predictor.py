"""Fit the built-in contact-based affinity predictor on the PRODIGY benchmark and write the
coefficients the package ships (src/celltwin/evidence/contact_affinity_predictor.json).

    python tools/train_affinity_predictor.py [--data ../shared/data/huber-finley/ml_pipeline/PRODIGY_dataset.csv]

Prints the leave-one-out errors next to those of PRODIGY's own predictions in the file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "huber-finley" / "ml_pipeline" / "PRODIGY_dataset.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT))
    parser.add_argument("--out", default=None, help="default: the package's shipped file")
    args = parser.parse_args()
    from celltwin.evidence._predictor import SHIPPED, ContactAffinityPredictor

    table = pd.read_csv(args.data)
    predictor = ContactAffinityPredictor.fit(table)
    predictor.to_json(args.out or SHIPPED)
    prodigy_err = table["DG_pred"] - table["DG"]
    print(f"{len(table)} complexes; residual sd {predictor.s:.3f} kcal/mol ({predictor.dof} dof)")
    print("leave-one-out:", {k: round(v, 3) for k, v in predictor.cross_validation.items()})
    print(f"PRODIGY's DG_pred in the file: MAE {np.mean(np.abs(prodigy_err)):.3f}, "
          f"RMSE {np.sqrt(np.mean(prodigy_err**2)):.3f} kcal/mol (not cross-validated here)")
    print(f"wrote {args.out or SHIPPED}")


if __name__ == "__main__":
    main()
