"""XLA's CPU schedule: ordered for concurrency (XLA's default) or to minimise memory, in the same run.

    python benchmarks/xla_scheduler.py [--rounds 3] [--what native-noop native diffrax nuts]

XLA reads its flags when a process makes its CPU client, so each way runs in its own child
processes, taking turns (``--rounds`` each), with ``XLA_FLAGS`` naming
``--xla_cpu_enable_concurrency_optimized_scheduler`` true (XLA's default) or false. Measured
in each child:

* ``native-noop``: the GPCR example's log-posterior gradient with its host functions replaced
  by ones that do nothing: the XLA program around the native solves alone;
* ``native``: the GPCR and EGFR examples' log-posterior gradients (native engine), one point;
* ``diffrax``: the GPCR example's gradient on the diffrax engine;
* ``nuts``: NUTS on the EGFR example's baseline posterior, 4 chains vectorised as the sampler
  runs them, started at the nominal parameters (no warm-up: step size 0.01, unit mass
  matrix), trees of up to 63 leapfrog steps: milliseconds per leapfrog step of the 4 chains.

Printed per item: each round's median, the median over rounds for each way, and their ratio
(false / true: below 1, the memory-minimising schedule is faster), with the load average.
celltwin leaves XLA's default (docs/benchmarks.md, "XLA's CPU schedule": it helped one case's
native gradient and not the other's, and slowed the diffrax engine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import EGFR_CASE, run_child  # noqa: E402

FLAG = "xla_cpu_enable_concurrency_optimized_scheduler"
GPCR_CASE = ROOT / "examples" / "gpcr_yi" / "case.yaml"
WHAT = ("native-noop", "native", "diffrax", "nuts")


def _case_density(case_path, **solver):
    from celltwin.twin import case_evidence, read_case

    evidence = case_evidence(read_case(case_path), **solver)
    return evidence.problem, evidence.log_density


def _median_ms(call, n: int) -> float:
    import jax

    jax.block_until_ready(call())
    times = []
    for _ in range(n):
        start = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def child(what: str) -> dict:
    """Runs in a child process: milliseconds per item of ``what``."""
    import jax
    import jax.numpy as jnp

    out = {}
    if what in ("native-noop", "native", "diffrax"):
        cases = {"gpcr": GPCR_CASE} if what != "native" else {"gpcr": GPCR_CASE, "egfr": EGFR_CASE}
        for name, path in cases.items():
            problem, density = _case_density(path, **({"backend": "diffrax"} if what == "diffrax" else {}))
            x = jnp.asarray(problem.x_nominal)
            gradient = jax.jit(jax.value_and_grad(density))
            jax.block_until_ready(gradient(x))
            if what == "native-noop":
                from celltwin.simulate import _host_call

                for key in list(_host_call._REGISTRY):
                    _host_call._REGISTRY[key] = lambda *arrays: None
            out[f"{what} {name}"] = _median_ms(lambda: gradient(x), 60 if what == "diffrax" else 400)
    elif what == "nuts":
        import numpy as np

        from celltwin.inference import NUTSSettings, nuts_draws

        problem, density = _case_density(EGFR_CASE)
        space = problem.bounded_transform
        z0 = np.asarray(space.z(jnp.asarray(problem.x_nominal)))
        z0 = jnp.asarray(z0 + 0.01 * np.random.default_rng(0).standard_normal((4, z0.size)))
        settings = NUTSSettings(chains=4, warmup=0, draws=3, max_tree_depth=6)

        @jax.jit
        def run(key):
            return nuts_draws(lambda z: density(space.theta(z)) + space.log_jacobian(z), z0, settings, key)

        jax.block_until_ready(run(jax.random.PRNGKey(0)))
        per_step = []
        for seed in range(1, 4):
            start = time.perf_counter()
            _, stats = jax.block_until_ready(run(jax.random.PRNGKey(seed)))
            steps = int(np.asarray(stats["n_steps"]).sum(axis=1).max())  # the 4 chains in lockstep
            per_step.append(1e3 * (time.perf_counter() - start) / steps)
        out["nuts egfr, per leapfrog step of 4 chains"] = statistics.median(per_step)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--what", nargs="+", choices=WHAT, default=list(WHAT))
    parser.add_argument("--child", choices=WHAT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    base = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split() if FLAG not in f)
    results: dict[str, dict[str, list[float]]] = {}  # item -> way -> per-round ms
    loads = []
    for _ in range(args.rounds):
        for what in args.what:
            for way in ("true", "false"):
                env = {**os.environ, "XLA_FLAGS": f"{base} --{FLAG}={way}".strip()}
                row = run_child([sys.executable, __file__, "--child", what], env, timeout=1200)
                loads.append(os.getloadavg()[0])
                if row.pop("status") != "ok":
                    print(f"{what}, {FLAG}={way}: {row}", flush=True)
                    continue
                for item, ms in row.items():
                    results.setdefault(item, {}).setdefault(way, []).append(ms)
                print(f"{FLAG}={way}: " + ", ".join(f"{k} {v:.3f} ms" for k, v in row.items()), flush=True)
    print(f"\nload average {min(loads):.2f}-{max(loads):.2f}; medians over {args.rounds} rounds, ms")
    print(f"{'item':45s} {'concurrency (default)':>21s} {'memory':>8s} {'ratio':>6s}")
    for item, ways in results.items():
        if len(ways) == 2:
            a, b = statistics.median(ways["true"]), statistics.median(ways["false"])
            print(f"{item:45s} {a:21.3f} {b:8.3f} {b / a:6.2f}")


if __name__ == "__main__":
    main()
