"""Forward sensitivities vs back-propagation for the gradient NUTS takes, on a small model.

    python benchmarks/gradient_modes.py [--batch 8] [--repeats 20]

The SBC problem of ``benchmarks/sbc.py`` (2 states, 3 parameters): compile time and median
run time of a vmapped ``value_and_grad`` of the log-posterior, (a) reverse mode through the
solver (``jax.value_and_grad(problem.log_posterior)``) and (b) the forward-mode
``custom_vjp`` of ``problem.differentiable_log_posterior()``, which the samplers use. Each
mode is compiled in this process first time (the persistent cache may hold earlier runs:
compile times are only comparable within one run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    from sbc import conversion_problem

    problem = conversion_problem()
    theta = jnp.tile(jnp.asarray(problem.x_nominal), (args.batch, 1))
    modes = {"reverse": jax.jit(jax.vmap(jax.value_and_grad(problem.log_posterior))),
             "forward (custom_vjp)": jax.jit(jax.vmap(jax.value_and_grad(problem.differentiable_log_posterior())))}
    rows = {}
    for name, f in modes.items():
        start = time.perf_counter()
        value, grad = jax.block_until_ready(f(theta))
        compile_s = time.perf_counter() - start
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            jax.block_until_ready(f(theta))
            times.append(time.perf_counter() - start)
        rows[name] = (compile_s, 1e3 * statistics.median(times), grad[0])
    print(f"{'mode':<22}{'compile_s':>10}{'run_ms':>10}  gradient[0]")
    for name, (c, r, g) in rows.items():
        print(f"{name:<22}{c:>10.1f}{r:>10.2f}  {[round(float(v), 6) for v in g]}")
    (rc, rr, _), (fc, fr, _) = rows.values()
    print(f"reverse / forward: compile {rc / fc:.2f}x, run {rr / fr:.2f}x")


if __name__ == "__main__":
    main()
