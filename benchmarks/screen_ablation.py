"""Network and effect recovery on simulated screens: count likelihood and control steady-state
term vs plain MSE (issue 7, must-show 2).

    PYTHONPATH=src python benchmarks/screen_ablation.py [--seeds 0 1 2] [--steps 1500]

Each seed simulates a CRISPRa screen (20 genes, sparse acyclic network, 10 targets with 2 guides
each, 6 doubles, 4 batches with controls in each, NB counts) and fits four variants. Prints one
row per variant and seed and a summary (mean over seeds, and in how many seeds each variant
beats plain MSE).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from celltwin.perturb import effect_rmse, fit_screen, network_auprc, simulate_screen

VARIANTS = {
    "plain MSE": dict(likelihood="mse", steady_state_weight=0.0),
    "NB counts": dict(likelihood="negative_binomial", steady_state_weight=0.0),
    "MSE + steady state": dict(likelihood="mse", steady_state_weight=0.2),
    "NB + steady state": dict(likelihood="negative_binomial", steady_state_weight=0.2),
}


def run(seeds, steps: int) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        sim = simulate_screen(seed)
        for name, options in VARIANTS.items():
            t0 = time.perf_counter()
            fitted = fit_screen(sim.screen, steps=steps, **options)
            rows.append({"seed": seed, "variant": name, "auprc": network_auprc(sim.network, fitted.network),
                         "effect_rmse": effect_rmse(sim, fitted), "seconds": time.perf_counter() - t0})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    table = run(args.seeds, args.steps)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    base = table[table.variant == "plain MSE"].set_index("seed")
    summary = []
    for name, group in table.groupby("variant", sort=False):
        g = group.set_index("seed")
        summary.append({"variant": name, "auprc_mean": g.auprc.mean(), "effect_rmse_mean": g.effect_rmse.mean(),
                        "auprc_beats_mse": f"{int((g.auprc > base.auprc).sum())}/{len(g)}",
                        "effect_beats_mse": f"{int((g.effect_rmse < base.effect_rmse).sum())}/{len(g)}"})
    print(pd.DataFrame(summary).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    edges = [float(np.mean(simulate_screen(s).network != 0)) for s in args.seeds]
    print(f"edge density (AUPRC of a random score): {np.mean(edges) * 20 / 19:.3f}")


if __name__ == "__main__":
    main()
