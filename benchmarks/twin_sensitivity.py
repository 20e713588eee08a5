"""Which conclusions of a twin case survive other assumptions (the seed's sensitivity analysis).

Runs the case (baseline and augmented posteriors) as it is and under each variant, each in
its own folder (resumable: rerun the same command after an interruption), and tabulates per
evidence reaction and variant the width ratio of the 90 % intervals of log10 Kd (augmented /
baseline) and whether the evidence moves the posterior median toward the literature value;
per variant the counts, the held-out RMSEs, the PSIS-LOO difference and the convergence.

    python benchmarks/twin_sensitivity.py examples/gpcr_yi/case.yaml --out runs/gpcr_sensitivity
    python benchmarks/twin_sensitivity.py examples/egfr_kholodenko/case.yaml --out runs/egfr \\
        --variants prior1 prior3 weight-score holdout:p_egfr --sampler '{"stop_rhat": 1.01, "stop_ess": 400}'

Variants: ``case`` (as written), ``prior1`` / ``prior3`` (every prior +-1 / +-3 decades
around the nominal value), ``weight1`` / ``weight-score`` (evidence weight 1 or the table's
score column), ``holdout:OBS`` (fit everything but observable OBS, the case's held-out data
included, hold OBS out), ``holdout-train:OBS`` (fit the training data but OBS's, hold OBS out;
the case's held-out data stay out, as EGFR's mis-normalised p_shc should). Default:
``case prior1 prior3``, the weight variant the case does not use, and ``holdout:OBS`` for
every training observable when the case has held-out data. Writes ``sensitivity.tsv`` (one
row per variant and reaction) and ``variants.tsv`` (one row per variant) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from _common import variant_case


def default_variants(case) -> list[str]:
    names = ["case", "prior1", "prior3", "weight-score" if case.evidence_weight != "score" else "weight1"]
    if case.held_out is not None:
        from celltwin.problem import from_petab

        names += [f"holdout:{o}" for o in sorted(set(from_petab(case.problem).measurement_df["observableId"]))]
    return names


def rows_of(name: str, summary: dict) -> tuple[list[dict], dict]:
    per_reaction = []
    for kd in summary["kd"]:
        row = {"variant": name, "reaction": kd["reaction"], "predicted_log10_kd": kd["predicted_log10_kd"],
               "reported_log10_kd": kd.get("reported_log10_kd"),
               "baseline_q50": kd["baseline_q50"], "baseline_width90": kd["baseline_width90"],
               "augmented_q50": kd["augmented_q50"], "augmented_width90": kd["augmented_width90"],
               "width_ratio": kd["augmented_width90"] / kd["baseline_width90"]}
        if "baseline_error" in kd:
            row |= {"baseline_error": kd["baseline_error"], "augmented_error": kd["augmented_error"],
                    "toward_literature": kd["augmented_error"] < kd["baseline_error"]}
        per_reaction.append(row)
    frame = pd.DataFrame(per_reaction)
    loo = summary.get("loo", {})
    variant = {"variant": name, "reactions": len(frame), "narrower": int((frame["width_ratio"] < 1).sum()),
               "toward_literature": int(frame.get("toward_literature", pd.Series(dtype=bool)).sum()),
               "max_rhat": summary["max_rhat"], "min_bulk_ess": summary["min_bulk_ess"],
               "converged": all(d["converged"] for d in summary["diagnostics"].values()),
               "gain_bits": summary["information_gain_total_bits"]["augmented_vs_baseline"],
               "elpd_diff": loo.get("elpd_diff_augmented_minus_baseline"), "elpd_diff_se": loo.get("elpd_diff_se"),
               "wall_time_s": summary["wall_time_s"]}
    for key, value in summary.get("held_out", {}).items():
        if key.startswith("rmse"):
            variant[f"held_out_{key}"] = value
    return per_reaction, variant


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variants", nargs="*", help="default: see the module docstring")
    parser.add_argument("--sampler", default="{}", help="JSON mapping of SamplerSettings fields for every run")
    args = parser.parse_args(argv)
    from celltwin.twin import read_case, run_case

    case = read_case(args.case)
    names = args.variants or default_variants(case)
    sampler = json.loads(args.sampler)
    reactions, variants = [], []
    for name in names:
        folder = args.out / name.replace(":", "_")
        started = time.perf_counter()
        print(f"== {name} ({folder})", flush=True)
        summary = run_case(variant_case(case, name, folder / "problem"), folder, sampler=sampler,
                           log=lambda m: print(f"   {m}", flush=True))
        per_reaction, variant = rows_of(name, summary)
        reactions += per_reaction
        variants.append(variant)
        print(f"   {variant['narrower']}/{variant['reactions']} narrower, {variant['toward_literature']} toward the "
              f"literature; max R-hat {variant['max_rhat']:.3f}, min ESS {variant['min_bulk_ess']:.0f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        pd.DataFrame(reactions).to_csv(args.out / "sensitivity.tsv", sep="\t", index=False, float_format="%.4g")
        pd.DataFrame(variants).to_csv(args.out / "variants.tsv", sep="\t", index=False, float_format="%.4g")
    print(pd.DataFrame(variants).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
