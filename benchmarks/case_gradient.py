"""A twin case's log-posterior gradient at the case's own settings, native engine against diffrax.

    python benchmarks/case_gradient.py [CASE.yaml] [--rounds 9] [--calls 20] [--batch 4] [--no-diffrax]
        [--by-blocks]

Issue 23's goals: the EGFR example's gradient <= 2 ms (the default case,
``examples/egfr_kholodenko/case.yaml``) and the GPCR example's (``examples/gpcr_yi/case.yaml``) at
least 10x faster than the diffrax path. The case's problem, solver tolerances and Kd evidence;
value and gradient of the log-posterior, jitted, once at the nominal parameters and (``--batch``)
vmapped over that many parameter sets near them, as the sampler's chains call it. Each engine is
timed after one warm-up call; the engines alternate call by call in each round, so that the
machine's drift (+-30 % over minutes on the 2-core development machine) falls on both alike
(``--by-blocks``: each engine's calls of a round in a row, as a sampler's leapfrog steps call
the gradient; the native engine's calls are slower alternating with diffrax's than in a row,
docs/benchmarks.md). Every
round's medians are printed, then the median of the rounds and the ratio diffrax / native.
The row memo (which answers a repeated parameter set from memory) is off.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
from pathlib import Path

os.environ["CELLTWIN_ROW_MEMO"] = "0"  # before celltwin is imported: every call solves
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common
from _common import EGFR_CASE, interleaved_round_medians  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="?", default=str(EGFR_CASE))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--batch", type=int, default=4, help="parameter sets per batched call (0: none)")
    parser.add_argument("--no-diffrax", action="store_true", help="time the default engine only")
    parser.add_argument("--by-blocks", action="store_true",
                        help="each round: every call --calls times in a row (as a sampler calls it), not alternating")
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np

    from celltwin.twin import case_evidence, read_case

    case = read_case(args.case)
    engines = {"default": {}} if args.no_diffrax else {"default": {}, "diffrax": {"backend": "diffrax"}}
    calls = {}
    for name, extra in engines.items():
        evidence = case_evidence(case, **extra)
        problem = evidence.problem
        x = jnp.asarray(problem.x_nominal)
        value_and_grad = jax.jit(jax.value_and_grad(evidence.log_density))
        calls[f"{name} ({problem.engine}), one"] = (value_and_grad, x)
        if args.batch:
            # nearby points inside the bounds: the nominal values moved by 1 % of each range
            rng = np.random.default_rng(0)
            span = np.asarray(problem.upper) - np.asarray(problem.lower)
            xs = jnp.asarray(np.clip(np.asarray(x) + 0.01 * span * rng.uniform(-1, 1, (args.batch, x.size)),
                                     problem.lower, problem.upper))
            calls[f"{name} ({problem.engine}), batch of {args.batch}"] = (jax.jit(jax.vmap(jax.value_and_grad(
                evidence.log_density))), xs)
    for f, at in calls.values():
        jax.block_until_ready(f(at))
    values = {label: float(np.ravel(f(at)[0])[0]) for label, (f, at) in calls.items()}  # a batch: its first
    medians = interleaved_round_medians({label: functools.partial(f, at) for label, (f, at) in calls.items()},
                                        args.rounds, args.calls, by_blocks=args.by_blocks)
    print(f"case: {args.case}; load average {os.getloadavg()[0]:.2f}")
    for label in calls:
        print(f"{label}: log-posterior {values[label]:.6f}; ms per round:",
              " ".join(f"{m:.2f}" for m in medians[label]), f"; median {statistics.median(medians[label]):.2f} ms")
    if not args.no_diffrax:
        for kind in ("one", f"batch of {args.batch}") if args.batch else ("one",):
            native = next(statistics.median(m) for label, m in medians.items() if label.startswith("default")
                          and label.endswith(kind))
            diffrax = next(statistics.median(m) for label, m in medians.items() if label.startswith("diffrax")
                           and label.endswith(kind))
            print(f"diffrax / default, {kind}: {diffrax / native:.1f}x")


if __name__ == "__main__":
    main()
