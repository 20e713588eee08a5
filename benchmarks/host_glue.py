"""The Python between XLA and the native solver kernels: microseconds per gradient, kernels left out.

    python benchmarks/host_glue.py [CASE.yaml] [--repeats 3000]

A twin case's log-posterior gradient (default: the EGFR example) is run once with its host
calls recorded (the arrays the FFI handler hands to Python); then those calls are replayed
with the kernels replaced by a function that does nothing, so that what is timed is the
host side alone: checking and flattening the arrays, the tapes' bookkeeping, the results'
copies. Printed: the host calls per gradient and the five timings' sorted values (minimum
first; each the mean over ``--repeats`` replays). Compare two commits by running it in each
checkout (``PYTHONPATH=that/src``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EGFR_CASE  # noqa: E402  (also turns the row memo off)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="?", default=str(EGFR_CASE))
    parser.add_argument("--repeats", type=int, default=3000)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np

    from celltwin.simulate import _host_call, _native
    from celltwin.twin import case_evidence, read_case

    evidence = case_evidence(read_case(args.case))
    x = jnp.asarray(evidence.problem.x_nominal)
    gradient = jax.jit(jax.value_and_grad(evidence.log_density))
    jax.block_until_ready(gradient(x))
    recorded: list = []
    functions = dict(_host_call._REGISTRY)
    for key, function in functions.items():
        def record(*arrays, key=key, function=function):
            recorded.append((function, [np.array(a) for a in arrays]))
            function(*arrays)
        _host_call._REGISTRY[key] = record
    jax.block_until_ready(gradient(x))
    _host_call._REGISTRY.update(functions)
    if not recorded:
        raise SystemExit(f"{args.case}: the gradient made no host calls (not the native engine?)")
    _native._Timed.__call__ = lambda self, kernel, batch, *arrays: None  # the kernels left out

    def replay():
        for function, arrays in recorded:
            function(*arrays)

    replay()
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(args.repeats):
            replay()
        timings.append(1e6 * (time.perf_counter() - start) / args.repeats)
    print(f"{args.case}: {len(recorded)} host calls per gradient; host side without the kernels, us per gradient:",
          " ".join(f"{t:.1f}" for t in sorted(timings)))


if __name__ == "__main__":
    main()
