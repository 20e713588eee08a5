"""Start-up time of the ``celltwin`` command: ``--version`` and ``--help`` must answer at once.

    python benchmarks/cli_startup.py [--repeats 11] [--compare OTHER/src]

Each command runs in a fresh interpreter (``python -m celltwin.cli ...``), repeated; the
table gives the median and the fastest wall time, next to ``python -c pass`` (the
interpreter alone) and ``import jax`` (what every command paid before the package's
imports were made lazy: 1.8 s for ``--version`` at 9c7b554). The goal is under 0.3 s on
an idle machine. ``--compare`` adds the same commands run from another source tree (an
older checkout's ``src``) in the same run. ``tests/test_progress.py`` checks that these commands import neither JAX
nor numpy; this script measures the time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass (interpreter)": ["-c", "pass"],
    "import jax (the old floor)": ["-c", "import jax"],
    "celltwin --version": ["-m", "celltwin.cli", "--version"],
    "celltwin --help": ["-m", "celltwin.cli", "--help"],
    "celltwin sample --help": ["-m", "celltwin.cli", "sample", "--help"],
    "celltwin bench run --help": ["-m", "celltwin.cli", "bench", "run", "--help"],
}


def wall_times(args: list[str], repeats: int, env: dict) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--compare", type=Path, metavar="SRC", help="another checkout's src folder")
    args = parser.parse_args()
    trees = {"": ROOT / "src"} | ({f" [{args.compare}]": args.compare} if args.compare else {})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.repeats} runs each, {os.cpu_count()} cores, load average {load:.2f} at the start")
    print(f"{'command':48s} {'median s':>9s} {'fastest s':>10s}")
    for tree, src in trees.items():
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
        for name, command in COMMANDS.items():
            if tree and command[0] == "-c":  # the interpreter and JAX rows do not depend on the tree
                continue
            times = wall_times(command, args.repeats, env)
            print(f"{name + tree:48s} {statistics.median(times):9.3f} {min(times):10.3f}")


if __name__ == "__main__":
    main()
