"""One problem a PEtab check found, located in the problem's files."""

from __future__ import annotations

import dataclasses

_MAX_ROWS = 10  # rows listed in a message; more are summarised as "..."


@dataclasses.dataclass(frozen=True)
class Issue:
    """A lint finding: what is wrong, how bad, and where (as far as it can be told).

    Attributes:
        severity: ``"error"`` (the problem cannot be used as it is) or ``"warning"``.
        message: what is wrong, in the PEtab library's words or celltwin's.
        file: the file at fault (several, comma-separated, when the table is split), or None.
        row: the first file line at fault (header = 1), or None.
        column: the column (or YAML field) at fault, or None.
        rows: every file line with the same fault (``row`` is the first).
    """

    severity: str
    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    rows: tuple[int, ...] = ()

    def __post_init__(self):
        if self.severity not in ("error", "warning"):
            raise ValueError(f"severity must be 'error' or 'warning', got {self.severity!r}")
        rows = tuple(self.rows) or ((self.row,) if self.row is not None else ())
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "row", rows[0] if rows else None)

    def located(self, file: str | None, rows=(), column: str | None = None) -> Issue:
        """The same finding placed in ``file`` at ``rows`` and ``column``."""
        return dataclasses.replace(self, file=file, row=None, rows=tuple(rows), column=column)

    def location(self) -> str:
        parts = [self.file] if self.file else []
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:_MAX_ROWS])
            more = ", ..." if len(self.rows) > _MAX_ROWS else ""
            parts.append(f"row{'s' if len(self.rows) > 1 else ''} {shown}{more}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def describe(self) -> str:
        """The finding as one line: ``file, row N, column 'c': message``."""
        where = self.location()
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict:
        """Plain data for JSON output (``level`` repeats ``severity`` for older readers)."""
        return {"severity": self.severity, "level": self.severity, "file": self.file, "row": self.row,
                "rows": list(self.rows[:_MAX_ROWS]), "column": self.column, "message": self.message}
