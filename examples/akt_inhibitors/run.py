"""Causal diagnostics of a baseline affinity predictor on Akt inhibitors (Davis et al. 2011).

1. Out-of-sample predictions of every compound x kinase pKd in the Davis matrix by the
   baseline (Morgan fingerprints x kinase k-mer similarity, Kronecker kernel ridge), with
   whole chemotypes held out per fold; compared with a target-mean baseline on the same folds.
2. Two predictions tables in the `celltwin diagnose` format:
   * akt_inhibitors.csv: the compounds with a measured Kd (< 10 uM) on AKT1, AKT2 or AKT3,
     against all 442 kinases;
   * akt_targets.csv: AKT1, AKT2 and AKT3 against all 68 compounds.
3. `celltwin diagnose` on both, stratified by kinase sequence cluster, gene family, chemotype
   and assay limit; JSON and HTML reports next to the tables.

Usage (from the repository root):

    python examples/akt_inhibitors/run.py --data $CELLTWIN_SHARED_DATA/kinase-inhibitors --out akt_out
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

AKT = ("AKT1", "AKT2", "AKT3")
DEFAULT_DATA = Path(os.environ.get("CELLTWIN_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def target_mean_baseline(table: pd.DataFrame) -> np.ndarray:
    """Per target, the mean measured pKd of the compounds outside the row's CV fold."""
    out = np.empty(len(table))
    for fold in table["cv_fold"].unique():
        test = (table["cv_fold"] == fold).to_numpy()
        means = table.loc[~test].groupby("target")["measured"].mean()
        out[test] = table.loc[test, "target"].map(means).to_numpy()
    return out


def skill(name: str, predicted: np.ndarray, measured: np.ndarray) -> str:
    e = predicted - measured
    r = np.corrcoef(predicted, measured)[0, 1]
    return f"  {name:<28} RMSE {np.sqrt(np.mean(e**2)):.3f}  MAE {np.mean(np.abs(e)):.3f}  Pearson r {r:.3f}"


def main() -> None:
    from rich.progress import Progress

    from celltwin.causal import kinase_inhibitor_predictions, load_davis
    from celltwin.cli import main as celltwin
    from celltwin.errors import CelltwinInputError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "kinase-inhibitors",
                        help="folder with the Davis files (default: $CELLTWIN_SHARED_DATA/kinase-inhibitors)")
    parser.add_argument("--out", type=Path, default=Path("akt_out"), help="output folder")
    parser.add_argument("--folds", type=int, default=10, help="outer cross-validation folds")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap replicates of the diagnostics")
    parser.add_argument("--cv-groups", choices=("chemotype", "compound"), default="chemotype",
                        help="what a fold holds out whole (compound: analogues of a test compound may be in training)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    try:
        import rdkit  # noqa: F401  (the baseline's fingerprints)
    except ImportError:
        raise SystemExit("this example needs RDKit: pip install 'celltwin[chem]' (or pip install rdkit)") from None
    try:
        data = load_davis(args.data)
    except CelltwinInputError as exc:
        raise SystemExit(f"error: {exc}") from None
    with Progress() as bar:
        task = bar.add_task("grouped cross-validation", total=args.folds)
        table = kinase_inhibitor_predictions(data, n_folds=args.folds, cv_groups=args.cv_groups,
                                             progress=lambda: bar.advance(task))
    table.to_csv(args.out / "davis_predictions.csv", index=False)
    baseline = target_mean_baseline(table)
    measured = (table["assay_limit"] == "measured").to_numpy()
    print(f"out-of-sample skill on {len(table)} pairs ({measured.sum()} with Kd below the 10 uM limit), "
          f"{args.folds} folds holding out whole {args.cv_groups}s:")
    print(skill("KronRLS, all pairs", table["predicted"].to_numpy(), table["measured"].to_numpy()))
    print(skill("target mean, all pairs", baseline, table["measured"].to_numpy()))
    print(skill("KronRLS, Kd < 10 uM", table["predicted"].to_numpy()[measured], table["measured"].to_numpy()[measured]))
    print(skill("target mean, Kd < 10 uM", baseline[measured], table["measured"].to_numpy()[measured]))

    akt_rows = table[table["target"].isin(AKT)]
    inhibitors = sorted(akt_rows.loc[akt_rows["assay_limit"] == "measured", "compound"].astype(str).unique())
    print(f"Akt inhibitors (measured Kd < 10 uM on {', '.join(AKT)}): {len(inhibitors)} compounds: {', '.join(inhibitors)}")
    print(akt_rows.loc[akt_rows["assay_limit"] == "measured",
                       ["compound", "target", "predicted", "measured", "chemotype"]].round(2).to_string(index=False))
    subsets = {
        "akt_inhibitors": (table[table["compound"].astype(str).isin(inhibitors)],
                           ["kinase_cluster", "chemotype", "assay_limit"]),
        "akt_targets": (akt_rows, ["chemotype", "assay_limit"]),
    }
    for name, (rows, strata) in subsets.items():
        csv = args.out / f"{name}.csv"
        rows.drop(columns=["cv_fold", "ridge"]).to_csv(csv, index=False)
        argv = ["diagnose", str(csv), *[arg for s in strata for arg in ("--strata", s)],
                "--bootstrap", str(args.bootstrap), "--permutations", str(args.bootstrap),
                "--out", str(args.out / f"{name}.json"), "--out", str(args.out / f"{name}.html")]
        print("\n$ celltwin " + " ".join(argv), flush=True)
        try:
            celltwin(argv)
        except SystemExit as exc:
            if exc.code:
                raise


if __name__ == "__main__":
    main()
