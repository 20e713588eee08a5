"""The seed's tables from a twin case's results, as Markdown for docs/evidence.md.

    python benchmarks/experiments/case_tables.py DEMO_DIR [--top 12]

DEMO_DIR is the output folder of ``celltwin demo CASE --out DEMO_DIR`` (its ``summary.json``
and ``kd.tsv``). Printed:

1. **Diagnostics** per posterior: draws per chain, max R-hat, min bulk and tail ESS, divergent
   transitions (the report's warnings), sampling seconds of the last invocation.
2. **Per evidence reaction**: posterior log10 Kd (M), log10 koff and log10 kon (model units),
   median and 90 % interval, baseline and augmented; the prediction and the literature value;
   the width ratio (augmented / baseline 90 % interval of log10 Kd) and the distance of the
   median to the literature value, baseline -> augmented (toward or away).
3. **Information gain**: KL(augmented || baseline) per parameter with its block-bootstrap
   90 % interval (blocks of about twice the autocorrelation time), the ``--top`` largest, and
   the total (k-NN estimate over all parameters).
4. Held-out prediction and PSIS-LOO, as ``summary.json`` has them.

Nothing is computed here that the demo did not compute; the script only lays it out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd


def interval(row, prefix: str) -> str:
    return f"{row[f'{prefix}_q50']:.2f} [{row[f'{prefix}_q05']:.2f}, {row[f'{prefix}_q95']:.2f}]"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path)
    parser.add_argument("--top", type=int, default=12, help="parameters in the information-gain table")
    args = parser.parse_args(argv)
    summary = json.loads((args.demo / "summary.json").read_text())
    kd = pd.read_csv(args.demo / "kd.tsv", sep="\t")
    missing = [c for c in ("baseline_log10_koff_q50", "augmented_log10_kon_q50") if c not in kd.columns]
    if missing:
        raise SystemExit(f"{args.demo / 'kd.tsv'}: no columns {', '.join(missing)} (written by an older celltwin: "
                         "rerun the same `celltwin demo` command, which reads the finished runs back)")

    print("| posterior | draws per chain | max R-hat | min bulk / tail ESS | divergent | seconds |")
    print("|---|---|---|---|---|---|")
    for run, d in summary["diagnostics"].items():
        print(f"| {run} | {d['draws_per_chain']} | {d['max_rhat']:.3f} | {d['min_bulk_ess']:.0f} / "
              f"{d['min_tail_ess']:.0f} | {d.get('divergences', '-')} of {d['draws_per_chain'] * d['chains']} "
              f"| {d['seconds']:.0f} |")

    print("\n| reaction | predicted | literature | log10 Kd (M), baseline | augmented | width ratio | distance to "
          "literature | log10 koff, baseline | augmented | log10 kon, baseline | augmented |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for _, row in kd.iterrows():
        before, after = row.get("baseline_error"), row.get("augmented_error")
        distance = ("-" if pd.isna(before) else
                    f"{before:.2f} -> {after:.2f} ({'toward' if after < before else 'away'})")
        literature = "-" if pd.isna(row.get("reported_log10_kd")) else f"{row['reported_log10_kd']:.2f}"
        print(f"| {row['reaction']} ({row['koff']} / {row['kon']}) | {row['predicted_log10_kd']:.2f} | {literature} | "
              f"{interval(row, 'baseline')} | {interval(row, 'augmented')} | "
              f"{row['augmented_width90'] / row['baseline_width90']:.2f} | {distance} | "
              f"{interval(row, 'baseline_log10_koff')} | {interval(row, 'augmented_log10_koff')} | "
              f"{interval(row, 'baseline_log10_kon')} | {interval(row, 'augmented_log10_kon')} |")
    narrower = int((kd["augmented_width90"] < kd["baseline_width90"]).sum())
    toward = int((kd["augmented_error"] < kd["baseline_error"]).sum()) if "augmented_error" in kd else 0
    print(f"\n{narrower} of {len(kd)} narrower; {toward} of {int(kd['baseline_error'].notna().sum())} "
          "closer to the literature value")

    gains = sorted(summary["parameters"].items(), key=lambda item: -item[1]["kl_bits"])[:args.top]
    print("\n| parameter | KL(augmented \\|\\| baseline), bits [90 % block-bootstrap interval] | "
          "KL(baseline \\|\\| prior), bits |")
    print("|---|---|---|")
    for name, p in gains:
        lo, hi = p["kl_bits_interval"]
        print(f"| {name} | {p['kl_bits']:.2f} [{lo:.2f}, {hi:.2f}] | {p['kl_bits_baseline_vs_prior']:.2f} |")
    total = summary["information_gain_total_bits"]
    print(f"\nTotal information gain: {total['augmented_vs_baseline']:.2f} bits augmented vs baseline, "
          f"{total['baseline_vs_prior']:.2f} bits baseline vs prior; bootstrap blocks "
          f"{summary.get('bootstrap_block_draws')}")

    held = summary.get("held_out") or {}
    if held:
        print(f"Held-out: RMSE {held['rmse_baseline']:.3g} -> {held['rmse_augmented']:.3g}, log pointwise "
              f"predictive density {held['lppd_baseline']:.1f} -> {held['lppd_augmented']:.1f}")
    loo = summary.get("loo") or {}
    if loo:
        for run in ("baseline", "augmented"):
            v = loo[run]
            print(f"PSIS-LOO {run}: elpd {v['elpd_loo']:.1f} (se {v['se']:.1f}), p_loo {v['p_loo']:.1f}, "
                  f"Pareto k > 0.7 at {v['n_pareto_k_above_0.7']} of {v['n_points']} points "
                  f"(max {v['pareto_k_max'] or float('nan'):.2f}), 0.5-0.7 at {v['n_pareto_k_0.5_to_0.7']}")
        print(f"PSIS-LOO difference augmented - baseline: {loo['elpd_diff_augmented_minus_baseline']:.1f} "
              f"(se {loo['elpd_diff_se']:.1f})")
    print(f"Wall time of the demo invocation: {summary['wall_time_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
