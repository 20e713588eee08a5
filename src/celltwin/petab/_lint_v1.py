"""Lint a PEtab v1 problem with the PEtab library and locate each finding in the files.

``petab.v1.lint_problem`` offers no structured result: it reports through :mod:`logging` (an
info record "Checking measurement table..." precedes the checks of each table, and every
problem is a warning or error record) and returns only whether it found errors. The current
table gives the file; ids and column names quoted in the message give the row and column
where they can be found in that file. (PEtab v2 problems are linted with the library's
structured results instead: ``_lint_v2``.)
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ._issue import Issue

if TYPE_CHECKING:
    import pandas as pd

    from ._source import PEtabSource

_SECTION = re.compile(r"^Checking (model|condition|observable|measurement|parameter|visualization)")
_IGNORED = ("Visualization table not available", "Not OK", "PEtab format check completed")
_QUOTED = re.compile(r"""'([^'\s]+)'|"([^"\s]+)"|`([^`\s]+)`""")
_PETAB_CONSTANT = re.compile(r"petab\.C\.([A-Z_0-9]+)")
_ROW_ID_COLUMNS = ("parameterId", "observableId", "conditionId")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# "Observable table requires the columns {'noiseFormula'}." / "Missing required column(s) ..."
_ABSENT_COLUMN = re.compile(r"(?:requires the columns?|[Mm]issing (?:required )?columns?)\W*(\w+)")
_COLUMN_WORDS = {"Bounds": "lowerBound"}  # "Bounds for log10 scaled parameter k1 must be positive"
_GOT = re.compile(r"\bbut got (\S+?)(?: in (\w+) column)?\.?$")  # "Expected 0 or 1 but got 2 in estimate column."
# petab.v1.math.sympify_petab: "Error parsing '<formula>': Syntax error at 1:12: ..."
_PARSE_ERROR = re.compile(r"""Error parsing ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"): (.*)""", re.DOTALL)
# the cells pandas reads as missing (its default na_values), for "... is null" messages
_MISSING = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
            "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}


@dataclasses.dataclass
class _Finding:
    """An issue while it is being located (becomes an :class:`Issue`)."""

    level: str
    message: str
    file: str | None = None
    rows: list[int] = dataclasses.field(default_factory=list)
    column: str | None = None

    def issue(self) -> Issue:
        return Issue(self.level, self.message, self.file, None, self.column, tuple(self.rows))


class _Collector(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[tuple[str | None, logging.LogRecord]] = []
        self.section: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match = _SECTION.match(message)
        if match and record.levelno <= logging.INFO:
            self.section = match.group(1)
            return
        if record.levelno >= logging.WARNING:
            self.records.append((self.section, record))


def _readable(message: str) -> str:
    from petab.v1 import C

    return _PETAB_CONSTANT.sub(lambda m: str(getattr(C, m.group(1), m.group(0))), message.strip())


def _is_number(text: str) -> bool:
    try:
        return not math.isnan(float(text)) or text.strip().lower() == "nan"
    except ValueError:
        return False


def _locate(finding: _Finding, tables: list[tuple[Path, pd.DataFrame]]) -> None:
    """Fill rows and column from ids or column names that the message quotes."""
    tokens = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(finding.message)]
    tokens = [t.strip(".,:;") for t in tokens]
    for path, df in tables:
        columns = [c for c in df.columns if c in tokens]
        if not columns:
            named = re.findall(r"(\w+)\W? column", finding.message)
            columns = [c for c in df.columns if c in named]
        explicit = bool(columns)  # quoted, or "<name> column"
        if not columns:  # "Some measurement(s) are null": a column named as a word, not as "... table"
            columns = [c for c in df.columns
                       if re.search(rf"\b{re.escape(c)}\b(?!s? table)", finding.message)]
        for col in columns:
            if "numeric" in finding.message:
                rows = [i + 2 for i, v in enumerate(df[col]) if not _is_number(v)]
            elif "null" in finding.message or "missing" in finding.message:
                rows = [i + 2 for i, v in enumerate(df[col]) if v in _MISSING]
            else:
                continue
            if rows:
                finding.file, finding.rows, finding.column = str(path), rows, col
                return
        ids = [t for t in tokens if t not in df.columns]
        search = columns or list(df.columns)
        for col in search:
            rows = [i + 2 for i, v in enumerate(df[col]) if v.strip() in ids]
            if rows:
                finding.file, finding.rows, finding.column = str(path), rows, col
                return
        if _locate_unquoted(finding, df, path):
            return
        if explicit:
            finding.file, finding.column = str(path), columns[0]
            return


def _locate_unquoted(finding: _Finding, df: pd.DataFrame, path: Path) -> bool:
    """Messages such as "lowerBound greater than upperBound for parameterId k1." or "Expected
    lin, log, or log10, but got ln." name the row's id or the bad value without quotes."""
    absent = _ABSENT_COLUMN.search(finding.message)
    if absent and absent.group(1) not in df.columns:
        finding.file, finding.column = str(path), absent.group(1)
        return True
    got = _GOT.search(finding.message)
    if got:
        for col in [got.group(2)] if got.group(2) in df.columns else df.columns:
            rows = [i + 2 for i, v in enumerate(df[col]) if v.strip() == got.group(1)]
            if rows:
                finding.file, finding.rows, finding.column = str(path), rows, col
                return True
    if not len(df.columns) or df.columns[0] not in _ROW_ID_COLUMNS:
        return False
    id_column = df.columns[0]
    words = _WORD.findall(finding.message)
    rows = [i + 2 for i, v in enumerate(df[id_column]) if v.strip() in words]
    if not rows:
        return False
    # The first other column the message names ("lowerBound greater than ..."), else the id column.
    named = [_COLUMN_WORDS.get(w, w) for w in words]
    named = [w for w in named if w in df.columns and w != id_column]
    finding.file, finding.rows, finding.column = str(path), rows, named[0] if named else id_column
    return True


def _locate_elsewhere(finding: _Finding, section: str, source: PEtabSource) -> None:
    """Checks of one table also report ids used in another ("Missing parameter(s) in the model
    or the parameters table: {'k9'}" comes from the parameter check, k9 is in the condition
    table): where the checked table does not hold them, look in the others."""
    for kind in ("condition", "observable", "measurement", "parameter"):
        if kind == section:
            continue
        probe = _Finding(finding.level, finding.message)
        _locate(probe, source.tables.get(kind, []))
        if probe.rows:
            finding.file, finding.rows, finding.column = probe.file, probe.rows, probe.column
            return


def _formula_finding(message: str, source: PEtabSource) -> _Finding | None:
    """An error for a formula that PEtab's grammar rejects, located in the table that holds it.

    The linter meets formulas while checking other tables (the condition table's check parses
    the observable formulas), so the table being checked does not say where the formula is.
    """
    match = _PARSE_ERROR.search(message)
    if match is None:
        return None
    quoted = match.group(1)  # the formula as Python's repr() wrote it; never parsed back as Python
    finding = _Finding("error", f"the formula {quoted} cannot be parsed: {match.group(2).strip()}")
    for tables in source.tables.values():
        for path, df in tables:
            for col in df.columns:
                rows = [i + 2 for i, v in enumerate(df[col]) if repr(v.strip()) == quoted or repr(v) == quoted]
                if rows:
                    finding.file, finding.rows, finding.column = str(path), rows, col
                    return finding
    return finding


def lint_v1(source: PEtabSource) -> list[Issue]:
    """Run ``petab.v1.lint_problem`` on a read problem; its warnings and errors, located where possible."""
    import petab.v1 as petab

    files = source.files
    logger = logging.getLogger("petab")
    collector = _Collector()
    saved = logger.level, logger.propagate
    logger.addHandler(collector)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    crashed: Exception | None
    try:
        petab.lint_problem(source.library)
    except Exception as exc:  # noqa: BLE001 - a check that crashed instead of logging
        crashed = exc
    else:
        crashed = None
    finally:
        logger.removeHandler(collector)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

    findings = []
    for section, record in collector.records:
        message = _readable(record.getMessage())
        if any(message.startswith(prefix) for prefix in _IGNORED):
            continue
        level = "error" if record.levelno >= logging.ERROR else "warning"
        finding = _formula_finding(message, source) or _Finding(level, message)
        if finding.file is None and section is not None:
            finding.file = files.names(section) or None
            if section != "model":
                _locate(finding, source.tables.get(section, []))
                if not finding.rows:
                    _locate_elsewhere(finding, section, source)
        findings.append(finding)
    formula = None if crashed is None else _formula_finding(str(crashed), source)
    if formula is not None:
        # A formula the PEtab grammar cannot parse is wrong whichever table's check met it first.
        formula.message += " (the PEtab linter stopped there; its remaining checks were skipped)"
        findings.append(formula)
    elif crashed is not None:
        # The linter's own failure (e.g. a TypeError on a malformed cell) is no verdict on the
        # problem: report it as a warning and let celltwin's import name the row and column.
        where = f" while checking the {collector.section} table" if collector.section else ""
        finding = _Finding("warning", f"the PEtab linter stopped{where} ({type(crashed).__name__}: {crashed}); "
                                      "its remaining checks were skipped")
        if collector.section:
            finding.file = files.names(collector.section) or None
        findings.append(finding)
    return [f.issue() for f in findings]
