"""The GPCR case's gradient with its reference copy solved once per batch against once per
condition, and how many rows of a lockstep NUTS run the native engine's row memo answers.

    python benchmarks/shared_blocks.py [--repeats 15] [--nuts-steps 100]

1. The case's log-posterior gradient for a batch of 4 parameter sets (``vmap``, as the
   sampler's 4 chains call it), at the case's tolerances: the problem as built (the copy of
   the network at the reference dose is solved once per parameter set, problem/_shared_blocks.py)
   against the same problem with that turned off (solved in each of the 9 conditions);
   medians of interleaved repeats, new points every call (the row memo is off for this
   part), and the largest difference of the two log-likelihoods.
2. A short NUTS run of the case (4 chains, dense pooled mass matrix, ``--nuts-steps``
   warm-up steps and as many draws): the fraction of solved rows the memo answered
   (simulate/_row_memo.py), and the mean leapfrog steps per chain against the mean of the
   slowest chain per draw (the lockstep's cost).
Results: ``benchmarks/results/shared_blocks.tsv``; the load (``os.getloadavg``) is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _common
from _common import RESULTS, ROOT, run_child  # noqa: E402 (sets CELLTWIN_ROW_MEMO=0 for the timings)

CASE = ROOT / "examples" / "gpcr_yi" / "case.yaml"


def problems():
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings
    from celltwin.twin import read_case

    case = read_case(CASE)
    shared = from_petab(case.problem, settings=SolverSettings(**case.solver))
    whole = from_petab(case.problem, settings=SolverSettings(**case.solver))
    whole.__dict__["_shared_blocks"] = [None] * len(whole.arrays.groups)  # every condition solves the whole model
    assert shared._shared_blocks[0] is not None, "the case's problem should share its reference copy"
    return case, shared, whole


def gradient_timings(repeats: int) -> list[dict]:
    import jax
    import jax.numpy as jnp

    _, shared, whole = problems()
    rng = np.random.default_rng(0)
    fns = {name: jax.jit(jax.vmap(jax.value_and_grad(p.differentiable_log_posterior())))
           for name, p in (("shared", shared), ("whole", whole))}
    points = [jnp.asarray(shared.x_nominal + rng.normal(0, 0.1, (4, shared.x_nominal.size))) for _ in range(repeats)]
    times: dict[str, list[float]] = {name: [] for name in fns}
    gap = 0.0
    for name, fn in fns.items():
        jax.block_until_ready(fn(points[0]))
    for x in points:
        values = {}
        for name, fn in fns.items():  # interleaved
            start = time.perf_counter()
            values[name] = jax.block_until_ready(fn(x))[0]
            times[name].append(time.perf_counter() - start)
        gap = max(gap, float(jnp.max(jnp.abs(values["shared"] - values["whole"]))))
    return [{"measure": f"batch-4 gradient ms ({name})", "value": 1e3 * statistics.median(t)}
            for name, t in times.items()] + [
        {"measure": "speed-up (whole / shared)", "value": statistics.median(times["whole"]) /
         statistics.median(times["shared"])},
        {"measure": "largest log-posterior difference", "value": gap}]


def memo_hits(steps: int) -> list[dict]:
    """(In a process of its own, with the memo on.)"""
    from celltwin.inference import SamplerSettings, sample
    from celltwin.simulate import _row_memo

    memos: list = []
    init = _row_memo.RowMemo.__init__

    def recording(self, *args, **kwargs):
        init(self, *args, **kwargs)
        memos.append(self)

    _row_memo.RowMemo.__init__ = recording
    case, shared, _ = problems()
    settings = SamplerSettings(**{**case.sampler, "warmup": steps, "draws": steps, "stop_rhat": None,
                                  "stop_ess": None})
    start = time.perf_counter()
    idata = sample(shared, settings, progress=False, predictive=False)
    seconds = time.perf_counter() - start
    hits, misses = sum(m.hits for m in memos), sum(m.misses for m in memos)
    n_steps = idata.sample_stats["n_steps"]
    return [{"measure": "NUTS wall seconds", "value": seconds},
            {"measure": "rows answered by the memo (fraction)", "value": hits / max(1, hits + misses)},
            {"measure": "leapfrog steps per draw, mean chain", "value": float(n_steps.mean())},
            {"measure": "leapfrog steps per draw, slowest chain", "value": float(n_steps.max("chain").mean())}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--nuts-steps", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS / "shared_blocks.tsv")
    parser.add_argument("--child-nuts", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_nuts:
        print(json.dumps({"rows": memo_hits(args.nuts_steps)}))
        return
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rows = gradient_timings(args.repeats)
    if args.nuts_steps:
        child = run_child([sys.executable, __file__, "--child-nuts", "--nuts-steps", str(args.nuts_steps)],
                          {**os.environ, "CELLTWIN_ROW_MEMO": "1"}, timeout=3600)
        rows += child.get("rows", [{"measure": "NUTS run", "value": child["status"]}])
    print(f"load average {os.getloadavg()[0]:.2f}")
    import pandas as pd

    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    table.to_csv(args.out, sep="\t", index=False)


if __name__ == "__main__":
    main()
