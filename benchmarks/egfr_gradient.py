"""The EGFR example's log-posterior gradient at the case's own settings (issue 23's goal: <= 2 ms).

    python benchmarks/egfr_gradient.py [--rounds 9] [--calls 20]

The case's problem, solver tolerances and Kd evidence (``examples/egfr_kholodenko/case.yaml``),
the engine the case gets by default; value and gradient of the log-posterior at the nominal
parameters, jitted, timed after one warm-up call: the median of ``--calls`` calls in each of
``--rounds`` rounds, every round's median printed (this machine's speed drifts between rounds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common
from _common import EGFR_CASE  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    from celltwin.evidence import Evidence, read_affinity_table
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings
    from celltwin.twin import read_case

    case = read_case(EGFR_CASE)
    problem = from_petab(case.problem, settings=SolverSettings(**case.solver))
    evidence = Evidence(problem, read_affinity_table(case.evidence, problem.model, weight=case.evidence_weight))
    x = jnp.asarray(problem.x_nominal)
    value_and_grad = jax.jit(jax.value_and_grad(evidence.log_density))
    value_and_grad(x)[1].block_until_ready()
    medians = []
    for _ in range(args.rounds):
        times = []
        for _ in range(args.calls):
            start = time.perf_counter()
            value_and_grad(x)[1].block_until_ready()
            times.append(time.perf_counter() - start)
        medians.append(1000 * statistics.median(times))
    print(f"engine: {problem.engine}")
    print("log-posterior value and gradient, ms per round:", " ".join(f"{m:.2f}" for m in medians))
    print(f"median of the rounds: {statistics.median(medians):.2f} ms (goal <= 2 ms)")


if __name__ == "__main__":
    main()
