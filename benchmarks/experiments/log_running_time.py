"""The running time of a long twin-case run from its progress log, pauses and restarts left out.

    python benchmarks/experiments/log_running_time.py RUN.log [--interval 30]

RUN.log holds the plain progress lines of ``celltwin demo CASE --out DIR 2>> RUN.log`` over one
or more invocations (each resumed from the checkpoint; ``elapsed`` starts again at each).
Lines come every ``--interval`` seconds (``$CELLTWIN_PROGRESS_INTERVAL``) while the run
works; a longer step of ``elapsed`` between two lines of one invocation is a pause (the
process stopped with SIGSTOP, or starved by other work) and is not counted. Printed: per
invocation its running and paused seconds and the blocks it did; in all, the running hours and
for each posterior when it finished (``RUN: done``), in running hours from the start.

For runs started since the checkpoint keeps the sampling time, ``summary.json``'s
``seconds_all_invocations`` is the sampler's own measure; this script serves the runs before.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

LINE = re.compile(r"(\d+)/(\d+) blocks, (\d+):(\d\d):(\d\d) elapsed")
DONE = re.compile(r"^(\w+): done$")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between progress lines")
    args = parser.parse_args(argv)

    invocations: list[dict] = []
    running = 0.0
    finished: dict[str, float] = {}
    last = None  # (blocks, elapsed) of the previous line of this invocation
    for text in args.log.read_text().splitlines():
        done = DONE.match(text.strip())
        if done:
            finished.setdefault(done.group(1), running)
            continue
        match = LINE.search(text)
        if not match:
            continue
        blocks = int(match.group(1))
        elapsed = int(match.group(3)) * 3600 + int(match.group(4)) * 60 + int(match.group(5))
        if last is None or elapsed < last[1]:  # a new invocation: elapsed starts again
            invocations.append({"first_blocks": blocks, "blocks": blocks, "running": 0.0, "paused": 0.0})
            step = min(elapsed, args.interval)  # its start-up to the first line (compiling) counts
        else:
            step = elapsed - last[1]
        current = invocations[-1]
        if step <= 1.5 * args.interval:
            current["running"] += step
            running += step
        else:
            current["running"] += args.interval
            current["paused"] += step - args.interval
            running += args.interval
        current["blocks"] = blocks
        last = (blocks, elapsed)
    if not invocations:
        raise SystemExit(f"{args.log}: no progress lines")
    for k, inv in enumerate(invocations):
        print(f"invocation {k + 1}: blocks {inv['first_blocks']} -> {inv['blocks']}, running "
              f"{inv['running'] / 3600:.2f} h, paused or starved {inv['paused'] / 3600:.2f} h")
    print(f"in all: running {running / 3600:.2f} h over {len(invocations)} invocations")
    for run, at in finished.items():
        print(f"{run}: done after {at / 3600:.2f} h of running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
