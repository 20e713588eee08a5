"""What the benchmark scripts share: paths, the PEtab benchmark collection, timing and
child-process helpers, and the command line of two-variant comparisons.

Scripts import it by name (``from _common import ...``): ``python benchmarks/x.py`` puts
``benchmarks/`` on ``sys.path``; scripts in ``benchmarks/experiments/`` add it first. Scripts
never import each other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

# The timings repeat one point: celltwin's native engine would answer repeats from its memo
# of solved rows (simulate/_row_memo.py) and the scripts would time look-ups, not solves.
os.environ.setdefault("CELLTWIN_ROW_MEMO", "0")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("CELLTWIN_SHARED_DATA", ROOT.parent / "shared" / "data"))
BENCH = SHARED / "petab-benchmark"
AMICI_PYTHON = Path(os.environ.get("CELLTWIN_AMICI_PYTHON", ROOT / ".venv-amici" / "bin" / "python"))
EGFR_CASE = ROOT / "examples" / "egfr_kholodenko" / "case.yaml"
EGFR = "egfr_kholodenko (example)"  # the EGFR example's row name next to benchmark problems


def problem_yaml(name: str) -> Path:
    """The PEtab YAML of the benchmark collection's problem ``name``."""
    folder = BENCH / name
    candidates = sorted(folder.glob("*.yaml"))
    if not candidates:
        raise SystemExit(f"{folder}: no PEtab YAML file")
    return candidates[0]


def median_ms(fn, *args, repeats=5) -> float:
    """Median milliseconds of ``fn(*args)`` (a JAX function; one call first, not timed)."""
    import jax
    import numpy as np

    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def interleaved_round_medians(calls: dict, rounds: int, per_round: int, before=None,
                              by_blocks: bool = False) -> dict[str, list[float]]:
    """Median milliseconds per round of each of ``calls`` (name -> a JAX call without
    arguments), the calls alternating call by call, so that the machine's drift falls on all
    alike; ``before(name)``, if given, runs untimed before each of that call's timings.
    ``by_blocks``: in each round every call runs its ``per_round`` times in a row (as a
    sampler's trajectory calls its gradient) before the next one's; the drift still falls
    on all alike from round to round."""
    import statistics

    import jax

    medians: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in calls}
        order = ([[name] * per_round for name in calls] if by_blocks else [list(calls)] * per_round)
        for names in order:
            for name in names:
                call = calls[name]
                if before is not None:
                    before(name)
                start = time.perf_counter()
                jax.block_until_ready(call())
                times[name].append(time.perf_counter() - start)
        for name in calls:
            medians[name].append(1000 * statistics.median(times[name]))
    return medians


def fmt(value, spec: str) -> str:
    """``spec.format(value)``, or the value as text where it is not a number."""
    try:
        return spec.format(value)
    except (ValueError, TypeError):
        return str(value)


def run_child(args: list[str], env: dict, timeout: float) -> dict:
    """Run a measuring subprocess; its result is the last JSON line it prints (``status``
    ``ok``), or a row whose ``status`` says why there is none."""
    try:
        out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout after {timeout:.0f} s"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return {"status": "error: " + " | ".join(tail)}
    result = json.loads(lines[-1])
    result.setdefault("status", "ok")
    return result


def compare_main(doc: str, measure, problems: list[str], default_out: str, columns: list[str]) -> None:
    """The command line of a two-variant comparison script: measure each ``--problems``
    entry (default ``problems``; ``measure(name, repeats, tolerances)`` returns a row), write the rows to
    ``--out`` (default ``benchmarks/results/<default_out>``) and print ``columns``."""
    import pandas as pd

    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--problems", nargs="*", default=problems)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--out", type=Path, default=RESULTS / default_out)
    parser.add_argument("--tolerances", nargs=2, type=float, metavar=("RTOL", "ATOL"),
                        help="solver tolerances for every problem (default: as described above)")
    args = parser.parse_args()
    tolerances = dict(zip(("rtol", "atol"), args.tolerances)) if args.tolerances else None
    rows = []
    for name in args.problems:
        rows.append(measure(name, args.repeats, tolerances))
        print({k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False, float_format="%.4g")
    print()
    print(table[[c for c in columns if c in table]].to_string(index=False, float_format=lambda v: f"{v:.3g}"))


def variant_case(case, name: str, folder: Path):
    """The twin case ``case`` under the sensitivity variant ``name`` (``case``, ``prior1``,
    ``prior3``, ``weight1``, ``weight-score``, ``holdout:OBS``, ``holdout-train:OBS``; see
    ``twin_sensitivity.py``), its PEtab files written into ``folder``."""
    from celltwin.twin import case_variant

    if name == "case":
        return case
    if name in ("prior1", "prior3"):
        return case_variant(case, folder, prior_decades=float(name[-1]))
    if name in ("weight1", "weight-score"):
        return case_variant(case, folder, evidence_weight=1.0 if name == "weight1" else "score")
    if name.startswith(("holdout:", "holdout-train:")):
        kind, observable = name.split(":", 1)
        return case_variant(case, folder, held_out_observable=observable, fit_held_out_data=kind == "holdout")
    raise SystemExit(f"unknown variant {name!r} (case, prior1, prior3, weight1, weight-score, holdout:OBS, "
                     "holdout-train:OBS)")
