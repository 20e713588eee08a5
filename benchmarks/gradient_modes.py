"""Forward sensitivities vs back-propagation through the solver: which gradient is faster.

    python benchmarks/gradient_modes.py [--repeats 9] [--batch 8] [--out FILE]

``Problem.gradient_mode("auto")`` picks forward mode up to ``FORWARD_MODE_MAX_PARAMETERS``
parameters and reverse mode above. This script measures both modes of
``Problem.value_and_grad`` (compile time in this process, median run time of one
evaluation) on small models: the SBC problem of ``benchmarks/sbc.py`` (also batched:
``vmap`` over ``--batch`` parameter sets of the samplers' ``differentiable_log_posterior``),
the benchmark suite's curated models (``celltwin.bench``, seed-0 default tasks) and the
GPCR twin case (8 parameters, 9 conditions). The larger PEtab benchmark problems are
measured in both modes by ``benchmarks/llh_gradient.py --modes forward reverse``
(results/llh_gradient_modes.tsv). Compile times are only comparable within one run (the
persistent compilation cache may hold earlier runs). Results: results/gradient_modes.tsv.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _time(fn, x, repeats: int) -> tuple[float, float]:
    """Seconds of the first call (compilation included) and the median ms of later calls."""
    import jax
    from _common import median_ms

    start = time.perf_counter()
    jax.block_until_ready(fn(x))
    return time.perf_counter() - start, median_ms(fn, x, repeats=repeats)


def problems():
    """(name, problem) pairs, smallest first."""
    from _problems import conversion_problem

    from celltwin.bench import build_task, task_registry
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings
    from celltwin.twin import read_case

    yield "sbc conversion", conversion_problem()
    for model in ("lotka_volterra", "kinase_cascade", "binding_cascade", "goodwin"):
        task_id = next(t for t in task_registry() if t.split("/")[1] == model)
        yield f"bench {model}", build_task(task_id, 0).problem
    case = read_case(ROOT / "examples" / "gpcr_yi" / "case.yaml")
    yield "gpcr_yi case", from_petab(case.problem, settings=SolverSettings(**case.solver))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batch", type=int, default=8, help="parameter sets of the batched SBC row")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gradient_modes.tsv")
    args = parser.parse_args()
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    from celltwin.problem._problem import FORWARD_MODE_MAX_PARAMETERS

    rows = []
    for name, problem in problems():
        x = jnp.asarray(problem.x_nominal)
        row = {"problem": name, "n_parameters": problem.n_parameters, "n_states": problem.compiled.n_states,
               "n_conditions": problem.n_conditions, "auto": problem.gradient_mode()}
        for mode in ("forward", "reverse"):
            row[f"{mode}_compile_s"], row[f"{mode}_ms"] = _time(problem.value_and_grad(mode), x, args.repeats)
        if name == "sbc conversion":  # the samplers' batched gradient
            batch = jnp.tile(x, (args.batch, 1))
            for mode in ("forward", "reverse"):
                fn = jax.jit(jax.vmap(jax.grad(problem.differentiable_log_posterior(mode))))
                row[f"{mode}_batch{args.batch}_ms"] = _time(fn, batch, args.repeats)[1]
        row["reverse_over_forward"] = row["reverse_ms"] / row["forward_ms"]
        rows.append(row)
        print(f"{name:<24} {row['n_parameters']:>3} parameters: forward {row['forward_ms']:8.2f} ms, "
              f"reverse {row['reverse_ms']:8.2f} ms (x{row['reverse_over_forward']:.2f}); auto: {row['auto']}",
              flush=True)
    table = pd.DataFrame(rows)
    print(f"\nFORWARD_MODE_MAX_PARAMETERS = {FORWARD_MODE_MAX_PARAMETERS}")
    print(table.round(3).to_string(index=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.round(4).to_csv(args.out, sep="\t", index=False)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
