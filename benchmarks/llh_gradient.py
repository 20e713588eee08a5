"""Log-likelihood and gradient speed on the PEtab benchmark collection, celltwin vs AMICI.

For each problem: compile time (cold: empty compilation cache; warm: a second process
re-using the persistent cache), median single llh time, median llh + gradient time, and
throughput when many parameter sets are evaluated at once (vmap over parameter sets, as a
sampler with many chains or a multi-start does). The same is measured for AMICI when its
optional peer virtualenv exists (``make amici-peer``), in the same run, and the ratios are
printed as a table and written as TSV.

    python benchmarks/llh_gradient.py [--problems Boehm_JProteomeRes2014 ...] [--out FILE.tsv]

Each problem is measured in a fresh subprocess (so compile times are honest and one
problem's memory does not carry into the next).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common
from _common import AMICI_PYTHON, BENCH, ROOT, fmt, problem_yaml, run_child  # noqa: E402


# Each timed quantity gets at most this much wall time: slow problems (Chen, Smith) are
# timed with fewer repeats (never fewer than 3) and smaller batches (never fewer than 2).
BUDGET_S = 60.0


def median_ms(fn, repeats: int) -> float:
    times = []
    while len(times) < repeats:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if len(times) >= 3 and sum(times) > BUDGET_S:
            break
    return 1000 * statistics.median(times)


def measure_celltwin(name: str, repeats: int, batch: int, modes: list[str], compile_only: bool = False) -> dict:
    """Runs inside the child process."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from celltwin.problem import from_petab

    start = time.perf_counter()
    problem = from_petab(problem_yaml(name))
    load_s = time.perf_counter() - start
    theta = jnp.asarray(problem.x_nominal)
    compile_s = problem.compile()
    if compile_only:
        return {"problem": name, "compile_s": compile_s, "load_s": load_s}
    llh = float(problem.jit_log_likelihood(theta))
    llh_ms = median_ms(lambda: problem.jit_log_likelihood(theta).block_until_ready(), repeats)

    grad = {}
    modes = [problem.gradient_mode() if m == "auto" else m for m in modes]
    for mode in dict.fromkeys(modes):
        vg = problem.value_and_grad(mode)
        start = time.perf_counter()
        vg(theta)[1].block_until_ready()
        grad[f"{mode}_compile_s"] = time.perf_counter() - start
        grad[f"{mode}_ms"] = median_ms(lambda: vg(theta)[1].block_until_ready(), repeats)
    chosen = problem.gradient_mode()
    if f"{chosen}_ms" not in grad:  # the automatic choice was not timed: report what was
        chosen = min(modes, key=lambda m: grad[f"{m}_ms"])
    grad_ms = grad[f"{chosen}_ms"]

    batch = min(batch, max(2, int(BUDGET_S * 1000 / 3 / llh_ms)))
    rng = np.random.default_rng(0)
    thetas = jnp.asarray(problem.x_nominal + 0.01 * rng.standard_normal((batch, problem.n_parameters)))
    batched = jax.jit(jax.vmap(problem.log_likelihood))
    batched(thetas).block_until_ready()
    batch_ms = median_ms(lambda: batched(thetas).block_until_ready(), max(3, repeats // 4)) / batch
    return {
        "problem": name, "n_parameters": problem.n_parameters, "n_states": problem.compiled.n_states,
        "n_conditions": problem.n_conditions, "n_measurements": problem.n_measurements, "llh": llh,
        "load_s": load_s, "compile_s": compile_s, "llh_ms": llh_ms, "llh_grad_ms": grad_ms,
        "grad_mode": chosen, "batch": batch, "batch_llh_ms_per_eval": batch_ms, "engine": problem.engine, **grad,
    }


def celltwin_row(name: str, repeats: int, batch: int, timeout: float, modes: list[str]) -> dict:
    # Cold: empty JAX and native-code caches (the native engine's kernels compile too);
    # warm: a second process that finds both.
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as native:
        env = {**os.environ, "CELLTWIN_JAX_CACHE": cache, "CELLTWIN_NATIVE_CACHE": native}
        cmd = [sys.executable, __file__, "--child", name, "--repeats", str(repeats), "--batch", str(batch),
               "--modes", *modes]
        cold = run_child(cmd, env, timeout)
        if cold.get("status") != "ok":
            return cold
        warm = run_child([*cmd, "--compile-only"], env, timeout)
        cold["warm_compile_s"] = warm.get("compile_s", float("nan"))
        cold["warm_load_s"] = warm.get("load_s", float("nan"))
        return cold


def amici_row(name: str, repeats: int, batch: int, timeout: float) -> dict:
    if not AMICI_PYTHON.exists():
        return {"status": "AMICI peer not installed (make amici-peer)"}
    env = {**os.environ, "PATH": f"{AMICI_PYTHON.parent}:{os.environ.get('PATH', '')}"}
    cmd = [str(AMICI_PYTHON), str(ROOT / "benchmarks" / "amici_peer.py"), str(problem_yaml(name)),
           "--repeats", str(repeats), "--batch", str(batch), "--model-dir", str(ROOT / ".amici-models"), "--json"]
    return run_child(cmd, env, timeout)


COLUMNS = [
    ("problem", "{}"), ("n_parameters", "{}"), ("n_states", "{}"), ("llh", "{:.4f}"), ("amici_llh", "{:.4f}"),
    ("load_s", "{:.1f}"), ("compile_s", "{:.1f}"), ("warm_load_s", "{:.1f}"), ("warm_compile_s", "{:.1f}"),
    ("amici_compile_s", "{:.1f}"), ("engine", "{}"),
    ("llh_ms", "{:.2f}"), ("amici_llh_ms", "{:.2f}"), ("llh_ratio", "{:.2f}"),
    ("llh_grad_ms", "{:.2f}"), ("amici_llh_grad_ms", "{:.2f}"), ("grad_ratio", "{:.2f}"),
    ("batch_llh_ms_per_eval", "{:.2f}"), ("amici_batch_llh_ms_per_eval", "{:.2f}"), ("throughput_ratio", "{:.2f}"),
    ("grad_mode", "{}"), ("batch", "{}"), ("forward_ms", "{:.2f}"), ("reverse_ms", "{:.2f}"),
    ("forward_compile_s", "{:.1f}"), ("reverse_compile_s", "{:.1f}"), ("status", "{}"),
]


def combine(ours: dict, peer: dict) -> dict:
    row = dict(ours)
    for key in ("llh", "compile_s", "llh_ms", "llh_grad_ms", "batch_llh_ms_per_eval"):
        row[f"amici_{key}"] = peer.get(key, float("nan"))

    def ratio(a, b):  # > 1 means celltwin is faster
        try:
            return float(peer[b]) / float(ours[a])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return float("nan")

    row["llh_ratio"] = ratio("llh_ms", "llh_ms")
    row["grad_ratio"] = ratio("llh_grad_ms", "llh_grad_ms")
    row["throughput_ratio"] = ratio("batch_llh_ms_per_eval", "batch_llh_ms_per_eval")
    row["status"] = f"{ours.get('status', '?')} / amici: {peer.get('status', '?')}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", nargs="*", help="benchmark problem names (default: all)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32, help="parameter sets per batched evaluation")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--no-amici", action="store_true")
    parser.add_argument("--modes", nargs="+", default=["forward", "reverse"], choices=["auto", "forward", "reverse"],
                        help="gradient modes to time (the problem's automatic choice is reported as llh_grad_ms; "
                             "'auto' times only that one)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "llh_gradient.tsv")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--compile-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_celltwin(args.child, args.repeats, args.batch, args.modes, args.compile_only)))
        return
    names = args.problems or sorted(p.name for p in BENCH.iterdir() if p.is_dir())
    rows = []
    header = "\t".join(name for name, _ in COLUMNS)
    print(header, flush=True)
    for name in names:
        ours = celltwin_row(name, args.repeats, args.batch, args.timeout, args.modes)
        # AMICI evaluates as many parameter sets as celltwin did (fewer for slow problems).
        batch = int(ours.get("batch", args.batch))
        peer = {"status": "skipped"} if args.no_amici else amici_row(name, args.repeats, batch, args.timeout)
        row = combine(ours, peer)
        rows.append(row)
        print("\t".join(fmt(row.get(k, ""), spec) for k, spec in COLUMNS), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(header + "\n")
        for row in rows:
            fh.write("\t".join(fmt(row.get(k, ""), spec) for k, spec in COLUMNS) + "\n")
    ratios = sorted(r["throughput_ratio"] for r in rows if r["throughput_ratio"] == r["throughput_ratio"])
    if ratios:
        print(f"\nmedian throughput ratio (AMICI time / celltwin time, > 1 = celltwin faster): {statistics.median(ratios):.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
