"""The solver kernels compiled in a second process while this one generates a model's code.

The first start on a new installation pays twice: numba compiles the solver kernels
(``_native_kernels.py``, ~25-35 s, once per installation) and sympy differentiates the
model and eliminates its common subexpressions (Chen 2009: ~25 s). Both run on one core,
and numba's compiler holds the GIL for most of its work, so a thread would not overlap
them; a second process on another core does. It compiles the kernels for a one-state
model (their argument types do not depend on the model) into numba's cache in the
native cache folder, from which the first process loads them when it needs them.

A marker file, written once the kernels have compiled in any process, says that there
is nothing to do; without it the job starts again, which costs only time.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from ._build import cache_folder

KERNELS_SOURCE = Path(__file__).with_name("_native_kernels.py")
# The longest the first process waits for the second (the kernels compile in under a
# minute on a slow machine); after that it stops it and compiles them itself.
WAIT_S = 600.0
_CHILD = "CELLTWIN_KERNELS_JOB"


@functools.cache
def _kernels_digest() -> str:
    return hashlib.sha256(KERNELS_SOURCE.read_bytes()).hexdigest()[:20]


def _marker() -> Path:
    # (the folder is not cached here: it follows $CELLTWIN_NATIVE_CACHE, as cache_folder does)
    return cache_folder() / f"celltwin_kernels_{_kernels_digest()}.compiled"


def mark_compiled() -> None:
    """Record that this version of the kernels is in numba's cache."""
    marker = _marker()
    if not marker.exists():
        marker.touch()


def start() -> subprocess.Popen | None:
    """Start compiling the kernels in another process, unless they are compiled already
    (or no process can be started: the caller then compiles them itself)."""
    if _marker().exists() or os.environ.get(_CHILD):  # (the job itself starts no other)
        return None
    package_root = str(Path(__file__).resolve().parents[2])  # the folder holding ``celltwin``
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, _CHILD: "1", "PYTHONPATH": package_root + (os.pathsep + path if path else "")}
    try:
        return subprocess.Popen([sys.executable, "-m", __name__], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None


def finish(job: subprocess.Popen | None) -> None:
    """Wait for ``job`` (from :func:`start`); a job that fails or hangs only means that
    the kernels compile in this process instead."""
    if job is None:
        return
    try:
        job.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        job.kill()
        job.wait()


def main() -> None:
    from ..model import Model, compile_model
    from ._native import generated

    model = Model("decay")
    model.add_species("X", 1.0)
    model.add_parameter("k", 1.0)
    model.add_reaction("decay", "X -> ", rate="k*X")
    generated(compile_model(model))  # compiles the kernels, then marks them compiled


if __name__ == "__main__":
    main()
