"""The result store: one DuckDB table, one row per suite x task x method x seed.

Only the process that runs the benchmark writes (workers return rows). Each row is one
``INSERT ... ON CONFLICT DO NOTHING`` in its own connection: a statement is a transaction
that DuckDB makes durable through its write-ahead log, so a runner killed at any moment
leaves every row it wrote and no partial one, and a row already present is never
duplicated. A connection is held only for the moment of a write, so a report while a run
is going waits for DuckDB's lock instead of failing. (Two runners on one store do not run
at once: the runner holds ``<store>.lock`` for its whole run, see ``_lock.py``.)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from ..errors import CelltwinInputError

COLUMNS: dict[str, str] = {
    "suite": "VARCHAR", "task_id": "VARCHAR", "method": "VARCHAR", "seed": "INTEGER",
    "registry_version": "VARCHAR", "kind": "VARCHAR", "status": "VARCHAR", "error": "VARCHAR",
    "nrmse": "DOUBLE", "coverage90": "DOUBLE", "crps": "DOUBLE", "log10_error": "DOUBLE",
    "structure_f1": "DOUBLE", "build_s": "DOUBLE", "fit_s": "DOUBLE", "predict_s": "DOUBLE", "wall_s": "DOUBLE",
    "n_heldout": "INTEGER", "model": "VARCHAR", "noise": "DOUBLE", "n_times": "INTEGER", "n_conditions": "INTEGER",
    "unobserved": "DOUBLE", "prior": "VARCHAR", "skeleton": "VARCHAR", "settings": "VARCHAR", "worker": "VARCHAR",
    "finished_at": "TIMESTAMP",
}
KEY = ("suite", "task_id", "method", "seed")
LOCK_WAIT_S = 120.0


def _duckdb():
    try:
        import duckdb
    except ImportError:
        raise CelltwinInputError("the benchmark store needs duckdb: pip install duckdb") from None
    return duckdb


class ResultStore:
    """The DuckDB file at ``path`` (created with its table on first use)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def _connect(self, read_only: bool = False):
        duckdb = _duckdb()
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise CelltwinInputError(f"{self.path}: cannot open the result store: {exc}") from None
                time.sleep(0.2)
            except duckdb.Error as exc:
                raise CelltwinInputError(f"{self.path}: not a DuckDB result store: {exc}") from None

    def create(self) -> None:
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        with self._connect() as con:
            con.execute(f"CREATE TABLE IF NOT EXISTS results ({columns}, PRIMARY KEY ({', '.join(KEY)}))")

    def finished(self) -> set[tuple]:
        """Keys ``(suite, task_id, method, seed)`` already stored."""
        if not self.path.exists():
            return set()
        with self._connect(read_only=True) as con:
            self._check(con)
            return {tuple(r) for r in con.execute(f"SELECT {', '.join(KEY)} FROM results").fetchall()}

    def write(self, row: dict) -> bool:
        """Store one row; ``False`` if its key was already there (nothing changes then)."""
        names = list(COLUMNS)
        values = [row.get(n) for n in names]
        with self._connect() as con:
            inserted = con.execute(
                f"INSERT INTO results ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
                "ON CONFLICT DO NOTHING RETURNING suite", values).fetchall()
        return bool(inserted)

    def table(self) -> pd.DataFrame:
        """Every stored row."""
        if not self.path.is_file():
            raise CelltwinInputError(f"{self.path}: result store not found (run `celltwin bench run --out {self.path}`)")
        with self._connect(read_only=True) as con:
            self._check(con)
            return con.execute("SELECT * FROM results ORDER BY suite, task_id, method, seed").df()

    def _check(self, con) -> None:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "results" not in tables:
            raise CelltwinInputError(f"{self.path}: a DuckDB file without a 'results' table (not a celltwin bench store)")
        present = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_name = 'results'").fetchall()}
        missing = [c for c in COLUMNS if c not in present]
        if missing:
            raise CelltwinInputError(f"{self.path}: table 'results' lacks column(s) {', '.join(missing)}")
