"""Accuracy at the default tolerances: celltwin and AMICI on the PEtab benchmark collection.

For each problem, at the nominal parameters: celltwin's log-likelihood at its default
``SolverSettings()`` (rtol 1e-8, atol 1e-10; the native engine on a CPU) and at tight
tolerances (rtol 1e-12, atol 1e-14); AMICI's at its own defaults (rtol 1e-8, atol 1e-16),
at rtol = atol = 1e-8 (the tolerances of ``benchmarks/llh_gradient.py``) and at the same
tight tolerances. The error of a default is its distance from the same tool's tight
solution; the two tight solutions must agree with each other (column ``tight_gap``), which
checks the references independently of either tool.

    python benchmarks/accuracy_defaults.py [--problems NAME ...] [--candidate RTOL ATOL] [--out FILE.tsv]

``--candidate`` adds the error of celltwin at other tolerances (``error_candidate``): how
far the defaults could be loosened within the goal.

Issue 23's goal: llh errors at the defaults below 1e-3 (absolute).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import AMICI_PYTHON, BENCH, fmt, problem_yaml, run_child  # noqa: E402

TIGHT = {"rtol": 1e-12, "atol": 1e-14, "max_steps": 10**6}
GOAL = 1e-3


def measure(name: str, candidate: list[float] | None) -> dict:
    """Runs in a child process."""
    from celltwin.problem import from_petab
    from celltwin.simulate import SolverSettings

    default = from_petab(problem_yaml(name))
    tight = from_petab(problem_yaml(name), settings=SolverSettings(**TIGHT))
    out = {"engine": default.engine, "llh_default": float(default.jit_log_likelihood(default.x_nominal)),
           "llh_tight": float(tight.jit_log_likelihood(tight.x_nominal))}
    if candidate:
        other = from_petab(problem_yaml(name), settings=SolverSettings(rtol=candidate[0], atol=candidate[1]))
        out["llh_candidate"] = float(other.jit_log_likelihood(other.x_nominal))
    return out


COLUMNS = [("problem", "{}"), ("engine", "{}"), ("llh_tight", "{:.6f}"), ("error_default", "{:.1e}"),
           ("error_candidate", "{:.1e}"),
           ("amici_error_default", "{:.1e}"), ("amici_error_1e-8", "{:.1e}"), ("tight_gap", "{:.1e}"),
           ("status", "{}")]


def row(name: str, timeout: float, candidate: list[float] | None, amici: bool) -> dict:
    extra = ["--candidate", *map(str, candidate)] if candidate else []
    ours = run_child([sys.executable, __file__, "--child", name, *extra], dict(os.environ), timeout)
    peer = {"status": "AMICI peer not installed (make amici-peer)" if amici else "not run (--no-amici)"}
    if amici and AMICI_PYTHON.exists():
        env = {**os.environ, "PATH": f"{AMICI_PYTHON.parent}:{os.environ.get('PATH', '')}"}
        peer = run_child([str(AMICI_PYTHON), str(ROOT / "benchmarks" / "amici_peer.py"), str(problem_yaml(name)),
                          "--model-dir", str(ROOT / ".amici-models"), "--accuracy", "--json"], env, timeout)

    def gap(a: dict, ka: str, b: dict, kb: str) -> float:
        try:
            return abs(float(a[ka]) - float(b[kb]))
        except (KeyError, TypeError, ValueError):
            return math.nan

    return {"problem": name, "engine": ours.get("engine", ""), "llh_tight": ours.get("llh_tight", math.nan),
            "error_default": gap(ours, "llh_default", ours, "llh_tight"),
            "error_candidate": gap(ours, "llh_candidate", ours, "llh_tight"),
            "amici_error_default": gap(peer, "llh_default", peer, "llh_tight"),
            "amici_error_1e-8": gap(peer, "llh", peer, "llh_tight"),
            "tight_gap": gap(ours, "llh_tight", peer, "llh_tight"),
            "status": f"{ours.get('status', '?')} / amici: {peer.get('status', '?')}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", nargs="*", help="benchmark problem names (default: all)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "accuracy_defaults.tsv")
    parser.add_argument("--candidate", nargs=2, type=float, metavar=("RTOL", "ATOL"),
                        help="also celltwin's error at these tolerances")
    parser.add_argument("--no-amici", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.candidate)))
        return
    names = args.problems or sorted(p.name for p in BENCH.iterdir() if p.is_dir() and any(p.glob("*.yaml")))
    rows = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in names:
        rows.append(row(name, args.timeout, args.candidate, not args.no_amici))
        print("\t".join(fmt(rows[-1][c], spec) for c, spec in COLUMNS), flush=True)
        with args.out.open("w") as out:  # after every problem: nothing lost if a later one hangs
            out.write("\t".join(c for c, _ in COLUMNS) + "\n")
            out.writelines("\t".join(fmt(r[c], spec) for c, spec in COLUMNS) + "\n" for r in rows)
    errors = [r["error_default"] for r in rows if not math.isnan(r["error_default"])]
    print(f"celltwin default llh error below {GOAL:g} on {sum(e < GOAL for e in errors)} of {len(rows)} problems; "
          f"wrote {args.out}")


if __name__ == "__main__":
    main()
