"""What a call from jitted JAX code into celltwin's host functions costs: the FFI handler
(celltwin.simulate._host_call) against jax.pure_callback, in the same run.

    python benchmarks/host_call.py [--problems Boehm_JProteomeRes2014 ...] [--repeats 300]

Prints (and writes benchmarks/results/host_call.tsv): the time of a jitted function that
doubles 6 numbers without a callback, through the handler and through pure_callback; then
for each PEtab problem the native engine's log-likelihood and gradient both ways. Each way
runs in its own processes, taking turns (``--rounds`` each; switching inside one process
would need ``jax.clear_caches()``, which leaves jitted functions on a slow dispatch path);
reported: the median over rounds of each round's median, and the CPU time per call of the
whole process (less sensitive to a loaded machine than wall time). The machine's load is
printed with them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def child(use_ffi: bool, problems: list[str], repeats: int) -> list[tuple[str, float, float]]:
    """Runs inside a child process: (what, median wall us, CPU us per call) per item."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from celltwin.problem import from_petab
    from celltwin.simulate import _host_call
    from _common import problem_yaml

    _host_call.USE_FFI = use_ffi

    def timed(fn, n):
        fn()
        wall, cpu = [], time.process_time()
        for _ in range(n):
            start = time.perf_counter()
            fn()
            wall.append(time.perf_counter() - start)
        return 1e6 * statistics.median(wall), 1e6 * (time.process_time() - cpu) / n

    def double(x, out):
        np.multiply(x, 2.0, out=out)

    key = _host_call.register("benchmark double", double)
    x = jnp.arange(6.0)
    doubled = jax.jit(lambda x: _host_call.host_call(key, jax.ShapeDtypeStruct(x.shape, x.dtype), x).sum())
    rows = [("double 6 numbers", *timed(lambda: doubled(x).block_until_ready(), repeats))]
    for name in problems:
        problem = from_petab(problem_yaml(name))
        theta = jnp.asarray(problem.x_nominal)
        llh, grad = jax.jit(problem.log_likelihood), problem.value_and_grad("reverse")
        rows.append((f"{name} llh ({problem.engine})", *timed(lambda: llh(theta).block_until_ready(), repeats)))
        rows.append((f"{name} llh+gradient", *timed(lambda: grad(theta)[1].block_until_ready(), max(20, repeats // 3))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="*", default=["Boehm_JProteomeRes2014", "Bertozzi_PNAS2020",
                                                           "Crauste_CellSystems2017"])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="child processes per way")
    parser.add_argument("--child", choices=["ffi", "pure_callback"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "host_call.tsv")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child == "ffi", args.problems, args.repeats)))
        return

    import jax
    import jax.numpy as jnp

    plain = jax.jit(lambda x: (2.0 * x).sum())
    x = jnp.arange(6.0)
    plain(x)
    start = time.perf_counter()
    for _ in range(args.repeats):
        plain(x).block_until_ready()
    rows = [("double 6 numbers", "no callback", 1e6 * (time.perf_counter() - start) / args.repeats, math.nan)]
    runs: dict[str, list] = {"ffi": [], "pure_callback": []}
    for _ in range(args.rounds):
        for how in runs:
            out = subprocess.run([sys.executable, __file__, "--child", how, "--repeats", str(args.repeats),
                                  "--problems", *args.problems], capture_output=True, text=True, check=True)
            runs[how].append(json.loads(out.stdout.splitlines()[-1]))
    for k, (what, *_) in enumerate(runs["ffi"][0]):
        for how, rounds in runs.items():
            rows.append((what, how, statistics.median(r[k][1] for r in rounds),
                         statistics.median(r[k][2] for r in rounds)))
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} on {os.cpu_count()} cores")
    print(f"{'what':<50} {'call':<14} {'median us':>10} {'cpu us':>10}")
    for what, how, us, cpu in rows:
        print(f"{what:<50} {how:<14} {us:>10.1f} {cpu:>10.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        out.write(f"# load average {load:.2f} on {os.cpu_count()} cores\nwhat\tcall\tmedian_us\tcpu_us\n")
        out.writelines(f"{what}\t{how}\t{us:.1f}\t{cpu:.1f}\n" for what, how, us, cpu in rows)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
