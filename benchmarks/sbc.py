"""Simulation-based calibration of NUTS on a small nonlinear ODE problem.

    python benchmarks/sbc.py [--replicates 100] [--seed 0] [--out benchmarks/results/sbc]

The problem: A -> B -> (degradation), A(0) = 1, B(0) = 0, rates k1 A and k2 B; B observed
at 8 times with Gaussian noise of unknown sd sigma. Estimated: log10 k1, log10 k2,
log10 sigma with parameterScaleNormal priors. Each replicate draws the parameters from the
prior, simulates data, samples the posterior with NUTS (4 chains x 200 draws after 200
adaptation steps, every 4th draw kept: 200 draws) and ranks the true values among the draws.
Prints the rank tests (chi-square over 10 bins, KS of randomised ranks; uniform ranks give
p > 0.01 in 99 % of runs) and writes ``sbc.tsv`` (ranks), ``sbc_tests.tsv`` and
``sbc_ranks.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when a test loads this file by path
from _common import RESULTS  # noqa: E402
from _problems import conversion_problem  # noqa: E402, F401  (this script's problem, for the tests too)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "sbc"))
    args = parser.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    from celltwin.inference import SamplerSettings
    from celltwin.inference._sbc import calibrate

    settings = SamplerSettings(method="nuts", chains=4, draws=200, warmup=200)
    start = time.perf_counter()
    result = calibrate(conversion_problem(), args.replicates, settings, thin=4, seed=args.seed)
    wall = time.perf_counter() - start
    print(f"{args.replicates} replicates, {result.n_draws} thinned draws each, {wall:.0f} s; "
          f"divergent transitions: {int(result.divergences.sum())} in {int((result.divergences > 0).sum())} replicates")
    print(result.tests.to_string(float_format=lambda v: f"{v:.3f}"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result.ranks.assign(divergences=result.divergences).to_csv(out / "sbc.tsv", sep="\t", index_label="replicate")
    result.tests.to_csv(out / "sbc_tests.tsv", sep="\t", index_label="parameter", float_format="%.4f")
    result.plot().savefig(out / "sbc_ranks.png", dpi=110)


if __name__ == "__main__":
    main()
