"""Two versions of the native solver kernels, call by call in one process: a twin case's
log-posterior gradient with this checkout's kernels and with those of another commit.

    python benchmarks/kernels_ab.py REVISION [CASE.yaml] [--rounds 9] [--calls 20]

REVISION is a git revision whose ``src/celltwin/simulate/_native_kernels.py`` is compared
(e.g. ``139ab22``); the model's generated functions, the host calls and XLA are the same for
both, so the difference is the kernels'. Separate processes timed one after the other are
at the mercy of the machine's drift (on the 2-core development machine the same gradient
took 2.1 ms and 3.5 ms minutes apart); alternating call by call in one process puts the
drift on both alike. Prints each round's medians, the median of the rounds and the median of
the per-round ratios, after checking that both give the same value and gradient.
The row memo is off (every call solves).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
from pathlib import Path

os.environ["CELLTWIN_ROW_MEMO"] = "0"  # before celltwin is imported: every call solves
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common
from _common import EGFR_CASE, interleaved_round_medians  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision")
    parser.add_argument("case", nargs="?", default=str(EGFR_CASE))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()

    import jax
    import numpy as np

    from celltwin.evidence import Evidence, read_affinity_table
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings, _native
    from celltwin.twin import read_case

    other_source = subprocess.run(["git", "show", f"{args.revision}:src/celltwin/simulate/_native_kernels.py"],
                                  cwd=ROOT, capture_output=True, text=True, check=True).stdout
    case = read_case(args.case)
    problem = from_petab(case.problem, settings=SolverSettings(**case.solver))
    if problem.engine != "native":
        raise SystemExit(f"{args.case}: runs on the {problem.engine} engine, not the native one")
    evidence = Evidence(problem, read_affinity_table(case.evidence, problem.model, weight=case.evidence_weight))
    x = jax.numpy.asarray(problem.x_nominal)
    value_and_grad = jax.jit(jax.value_and_grad(evidence.log_density))
    value_and_grad(x)  # compiles; generates the model's functions
    kernels = {"this checkout": _native._kernels(), args.revision: _native._load_module(other_source)}
    models = list(_native._GENERATED.values())

    def use(name):
        for gen in models:
            gen.use_kernels(kernels[name])

    results = {}
    for name in kernels:
        use(name)
        value, gradient = value_and_grad(x)
        results[name] = (float(value), np.asarray(gradient))
    (v0, g0), (v1, g1) = results.values()
    print(f"log-posterior {v0:.9f} / {v1:.9f}; largest gradient difference {np.max(np.abs(g0 - g1)):.3g} "
          f"(of {np.max(np.abs(g0)):.3g})")
    medians = interleaved_round_medians({name: functools.partial(value_and_grad, x) for name in kernels},
                                        args.rounds, args.calls, before=use)
    print(f"case: {args.case}; load average {os.getloadavg()[0]:.2f}")
    for name, m in medians.items():
        print(f"{name}: ms per round:", " ".join(f"{v:.2f}" for v in m), f"; median {statistics.median(m):.2f} ms")
    mine, other = medians.values()
    print(f"this checkout / {args.revision}: {statistics.median([a / b for a, b in zip(mine, other)]):.3f} "
          "(median of the rounds' ratios)")


if __name__ == "__main__":
    main()
