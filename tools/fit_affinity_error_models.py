"""Fit the shipped error models of affinity predictors (src/celltwin/evidence/error_models/*.json)
and print their out-of-sample coverage (the table in docs/evidence.md).

    python tools/fit_affinity_error_models.py [--data ../shared/data] [--out-table coverage.tsv]

* prodigy: the 81 complexes of PRODIGY's benchmark (affinity/prodigy_benchmark.json: contact
  counts, surface composition, measured dG, PRODIGY's dG). PRODIGY's IC-NIS model was fitted on
  these complexes, so its published predictions are in-sample; the error model is fitted on
  leave-one-out predictions instead (IC-NIS refitted by least squares on the other 80, exact
  via the hat matrix). Its coverage: 10-fold cross-validation of the calibration on those
  leave-one-out predictions. For comparison the same with PRODIGY's in-sample predictions.
* ppi_affinity: AlphaFold 3 + PPI-Affinity (Huber & Finley) for the 9 EGFR and 1 GPCR
  reactions with a literature Kd (huber-finley/{egfr,gpcr}/predicted_kd.csv); slope fixed at 1;
  leave-one-reaction-out coverage, and that of the seed's fixed spreads (sd 1.3 EGFR, 0.8 GPCR).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
IC_NIS_FEATURES = ("CC", "AC", "PP", "AP", "nis_a", "nis_c")  # PRODIGY's IC-NIS model (Vangone & Bonvin 2015)
PRODIGY_TEMPERATURE = 298.15
PPI_TEMPERATURE = 310.0
SEED_SD = {"egfr": 1.3, "gpcr": 0.8}  # Huber & Finley's fixed log10 spreads


def ic_nis_leave_one_out(table: pd.DataFrame) -> np.ndarray:
    """dG of each complex predicted by IC-NIS refitted on all the others (kcal/mol)."""
    X = np.column_stack([table[list(IC_NIS_FEATURES)].to_numpy(float), np.ones(len(table))])
    y = table["DG"].to_numpy(float)
    xtx_inv = np.linalg.inv(X.T @ X)
    resid = y - X @ (xtx_inv @ X.T @ y)
    leverage = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
    return y - resid / (1 - leverage)


def summarise(cv: pd.DataFrame, label: str, pairs: int, protocol: str, in_sample: str) -> dict:
    return {"predictor": label, "pairs": pairs, "protocol": protocol, "predictions": in_sample,
            "coverage_50": float(cv["covered_50"].mean()), "coverage_90": float(cv["covered_90"].mean()),
            "raw_mae_log10": float(np.mean(np.abs(cv["raw_error"]))),
            "calibrated_mae_log10": float(np.mean(np.abs(cv["calibrated_error"]))),
            "mean_width_90": float(np.mean(cv["upper_90"] - cv["lower_90"]))}


def fixed_sd_coverage(x, y, sd) -> dict:
    """Coverage of Gaussian intervals x +/- z sd with the given (assumed) spreads."""
    z50, z90 = stats.norm.ppf(0.75), stats.norm.ppf(0.95)
    err = np.abs(y - x)
    return {"coverage_50": float(np.mean(err <= z50 * sd)), "coverage_90": float(np.mean(err <= z90 * sd)),
            "raw_mae_log10": float(np.mean(err)), "calibrated_mae_log10": float(np.mean(err)),
            "mean_width_90": float(np.mean(2 * z90 * sd))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("CELLTWIN_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    parser.add_argument("--out", default=None, help="folder for the error models (default: the package's)")
    parser.add_argument("--out-table", default=None, help="also write the coverage table as TSV")
    args = parser.parse_args()
    from celltwin.evidence import calibrate_predictor, cross_validate, to_log10_molar
    from celltwin.evidence._error_models import FOLDER, write_error_model

    data, out = Path(args.data), Path(args.out) if args.out else FOLDER
    out.mkdir(parents=True, exist_ok=True)
    rows = []

    # --- PRODIGY's contact model on its own benchmark --------------------------------------
    table = pd.DataFrame(json.loads((data / "affinity" / "prodigy_benchmark.json").read_text())).T
    y = to_log10_molar(table["DG"].to_numpy(float), "kcal/mol", PRODIGY_TEMPERATURE)
    loo = to_log10_molar(ic_nis_leave_one_out(table), "kcal/mol", PRODIGY_TEMPERATURE)
    published = to_log10_molar(table["ba_val"].to_numpy(float), "kcal/mol", PRODIGY_TEMPERATURE)
    n = len(table)
    cv = cross_validate(loo, y, "student_t", folds=10, seed=0)
    row = summarise(cv, "PRODIGY IC-NIS (contact model)", n, "10-fold CV of the calibration",
                    "leave-one-out refit of IC-NIS")
    rows.append(row)
    rows.append(summarise(cross_validate(published, y, "student_t", folds=10, seed=0),
                          "PRODIGY IC-NIS (contact model)", n, "10-fold CV of the calibration",
                          "PRODIGY's published dG: in-sample, IC-NIS was fitted on these complexes"))
    write_error_model(out / "prodigy.json", predictor="PRODIGY IC-NIS (prodigy-prot)", temperature=PRODIGY_TEMPERATURE,
                      pairs=f"{n} complexes of the PRODIGY benchmark (Kastritis 2011 subset), measured dG vs "
                            "IC-NIS refitted leave-one-out",
                      calibration=calibrate_predictor(loo, y, "student_t", seed=0), cross_validation=row)

    # --- AlphaFold 3 + PPI-Affinity on the cases' reactions -----------------------------------
    pairs = []
    for case in ("egfr", "gpcr"):
        kd = pd.read_csv(data / "huber-finley" / case / "predicted_kd.csv", encoding="utf-8-sig")
        for _, r in kd.iterrows():
            pairs.append({"case": case, "reaction": r["parameter"], "predicted": np.log10(r["predicted_Kd(M)"]),
                          "measured": np.log10(r["reported_Kd(M)"]), "seed_sd": SEED_SD[case]})
    pairs = pd.DataFrame(pairs)
    x, y = pairs["predicted"].to_numpy(), pairs["measured"].to_numpy()
    cv = cross_validate(x, y, "student_t", folds=len(x), seed=0, slope=1.0)
    row = summarise(cv, "AlphaFold 3 + PPI-Affinity", len(x), "leave-one-reaction-out", "out of sample "
                    "(PPI-Affinity was not trained on these reactions' literature Kd, as far as is known)")
    rows.append(row)
    rows.append({"predictor": "AlphaFold 3 + PPI-Affinity, seed's fixed sd (1.3 EGFR, 0.8 GPCR)", "pairs": len(x),
                 "protocol": "none (assumed spread)", "predictions": "as above",
                 **fixed_sd_coverage(x, y, pairs["seed_sd"].to_numpy())})
    write_error_model(out / "ppi_affinity.json", predictor="AlphaFold 3 + PPI-Affinity (Huber & Finley)",
                      temperature=PPI_TEMPERATURE,
                      pairs=f"{len(x)} reactions with a literature Kd: " + ", ".join(
                          f"{c} {r}" for c, r in zip(pairs["case"], pairs["reaction"])) + "; slope fixed at 1",
                      calibration=calibrate_predictor(x, y, "student_t", seed=0, slope=1.0), cross_validation=row)
    z90 = stats.norm.ppf(0.95)
    print("per reaction, log10 Kd (M): leave-one-reaction-out 90 % interval vs the seed's fixed sd")
    for (_, p), (_, c) in zip(pairs.iterrows(), cv.iterrows()):
        fixed = (p["predicted"] - z90 * p["seed_sd"], p["predicted"] + z90 * p["seed_sd"])
        print(f"| {p['case']} {p['reaction']} | {p['predicted']:.2f} | {p['measured']:.2f} | "
              f"[{fixed[0]:.2f}, {fixed[1]:.2f}] {'yes' if fixed[0] <= p['measured'] <= fixed[1] else 'no'} | "
              f"{c['calibrated']:.2f} [{c['lower_90']:.2f}, {c['upper_90']:.2f}] {'yes' if c['covered_90'] else 'no'} |")

    result = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(result.drop(columns=["predictions"]).round(3).to_string(index=False))
    if args.out_table:
        result.to_csv(args.out_table, sep="\t", index=False)
    print(f"wrote {out / 'prodigy.json'} and {out / 'ppi_affinity.json'}")


if __name__ == "__main__":
    main()
