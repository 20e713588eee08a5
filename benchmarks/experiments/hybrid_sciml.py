"""Time celltwin on PEtab SciML problems: compile, log-likelihood and gradient per call.

    PYTHONPATH=src python benchmarks/experiments/hybrid_sciml.py [CASE ...] [--repeats 20]

Cases are ``sciml_problem_import`` folders of the PEtab SciML test suite (default: 001 a
network in the right-hand side, 002 upstream of the ODE, 004 in an observable) under
``$CELLTWIN_SHARED_DATA/petab-sciml-test-suite``. Prints one row per case: seconds to read
the problem, to compile llh and llh+gradient, and the median milliseconds per evaluation
afterwards, with the load average (the machine is shared: read timings with it).

No peer runs here: PEtab.jl (the format's reference) is Julia and the petab-sciml Python
package needs Python >= 3.12; their published numbers are not comparable to this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import SHARED  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=["001", "002", "004"])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    from celltwin.hybrid.sciml import from_petab_sciml

    print("case\tn_theta\tread_s\tcompile_llh_s\tcompile_grad_s\tllh_ms\tgrad_ms\tload_avg")
    for case in args.cases:
        path = SHARED / "petab-sciml-test-suite" / "sciml_problem_import" / case / "petab" / "problem.yaml"
        t0 = time.perf_counter()
        problem = from_petab_sciml(path)
        read = time.perf_counter() - t0
        theta = jnp.asarray(problem.x_nominal)
        llh = jax.jit(problem.log_likelihood)
        grad = jax.jit(jax.value_and_grad(problem.log_likelihood))
        t0 = time.perf_counter()
        llh(theta).block_until_ready()
        c_llh = time.perf_counter() - t0
        t0 = time.perf_counter()
        jax.block_until_ready(grad(theta))
        c_grad = time.perf_counter() - t0
        t_llh, t_grad = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            llh(theta).block_until_ready()
            t_llh.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            jax.block_until_ready(grad(theta))
            t_grad.append(time.perf_counter() - t0)
        print(f"{case}\t{theta.size}\t{read:.2f}\t{c_llh:.1f}\t{c_grad:.1f}\t"
              f"{1e3 * statistics.median(t_llh):.2f}\t{1e3 * statistics.median(t_grad):.2f}\t{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
