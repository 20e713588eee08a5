"""Results of single solves in a batch, remembered by their exact inputs.

Why: a sampler's chains run in lockstep (``vmap`` over chains): JAX runs a batched
``while_loop`` until the *last* chain's NUTS trajectory ends, and the chains that ended
first keep computing from their frozen states. Once a finished chain has taken its first
pass over new positions, its requests repeat earlier ones exactly (same position, same
direction, same step size), so those rows of a batch need not be solved again. On the GPCR
case the slowest chain's trajectory is ~30 % longer than the mean one, and the memo answers
~8 % of the rows (``benchmarks/shared_blocks.py``). A solve is a deterministic function of
its inputs, so a remembered result is the result; rows are compared byte for byte.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

# The memory one call site's memo may keep (least recently used rows go first): enough for
# the last ~100 calls of a 4-chain batch of a small model, where the repeats come from.
# ``CELLTWIN_ROW_MEMO=0`` turns it off: the timing scripts in benchmarks/ repeat one point and
# must measure solves, not look-ups.
MEMO_BYTES = 32 * 2**20


class RowMemo:
    """Per-row results of a batched function, keyed by the bytes of each row's inputs."""

    def __init__(self, max_bytes: int | None = None):
        if max_bytes is None:
            max_bytes = MEMO_BYTES if os.environ.get("CELLTWIN_ROW_MEMO", "1") != "0" else 0
        self.max_bytes, self.bytes = max_bytes, 0
        self.rows: OrderedDict[bytes, tuple[np.ndarray, ...]] = OrderedDict()
        self.hits = self.misses = 0

    @staticmethod
    def keys(arrays: Sequence[np.ndarray]) -> list[bytes]:
        """One key per row (leading axis) of the equally long ``arrays``."""
        flat = [np.ascontiguousarray(a).reshape(a.shape[0], -1).view(np.uint8) for a in arrays]
        return [b"".join(a[i].tobytes() for a in flat) for i in range(flat[0].shape[0])]

    def missing(self, keys: list[bytes]) -> np.ndarray:
        """Indices of the rows with no remembered result."""
        found = [k in self.rows for k in keys]
        hits = sum(found)
        self.hits, self.misses = self.hits + hits, self.misses + len(keys) - hits
        return np.array([i for i, f in enumerate(found) if not f], dtype=np.int64)

    def store(self, keys: list[bytes], outputs: Sequence[np.ndarray]) -> None:
        """Remember row ``i`` of every array in ``outputs`` under ``keys[i]``."""
        if self.max_bytes == 0:
            return
        for i, key in enumerate(keys):
            row = tuple(np.array(a[i]) for a in outputs)
            old = self.rows.pop(key, None)
            if old is not None:
                self.bytes -= len(key) + sum(a.nbytes for a in old)
            self.rows[key] = row
            self.bytes += len(key) + sum(a.nbytes for a in row)
        while self.bytes > self.max_bytes and self.rows:
            key, row = self.rows.popitem(last=False)
            self.bytes -= len(key) + sum(a.nbytes for a in row)

    def fill(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
             solve: Callable[[np.ndarray], None]) -> None:
        """Fill the rows of ``outputs`` for the rows of ``inputs`` (leading axis): the
        remembered ones from memory, the others by ``solve(rows)``, which writes them into
        ``outputs`` and is then remembered. Turned off, or for a batch of one row (the
        repeats come from batches run in lockstep; a single solve would pay the keys and the
        store, ~20 us, for nothing), every row is solved and no key made."""
        n = inputs[0].shape[0]
        if self.max_bytes == 0 or n < 2:
            solve(np.arange(n))
            return
        keys = self.keys(inputs)
        todo = self.missing(keys)
        if todo.size:
            solve(todo)
        keep = np.ones(n, dtype=bool)  # the other rows (np.setdiff1d sorts: ~20 us)
        keep[todo] = False
        done = np.flatnonzero(keep)
        self.gather([keys[i] for i in done], outputs, done)
        self.store([keys[i] for i in todo], tuple(a[todo] for a in outputs))

    def gather(self, keys: list[bytes], outputs: Sequence[np.ndarray], rows: np.ndarray) -> None:
        """Fill row ``rows[i]`` of every array in ``outputs`` with the result remembered for
        ``keys[i]`` (all must be remembered)."""
        for i, key in zip(rows, keys):
            remembered = self.rows[key]
            self.rows.move_to_end(key)
            for out, value in zip(outputs, remembered):
                out[i] = value
