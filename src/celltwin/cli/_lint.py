"""Run the PEtab library's linter and turn its log messages into located issues.

``petab.v1.lint_problem`` reports through :mod:`logging`: an info record "Checking
measurement table..." precedes the checks of each table, and every problem is a warning or
error record. The current table gives the file; ids and column names quoted in the message
give the row and column where they can be found in that file.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from pathlib import Path

from ..errors import PEtabError
from ._inputs import ProblemFiles

_SECTION = re.compile(r"^Checking (model|condition|observable|measurement|parameter|visualization)")
_IGNORED = ("Visualization table not available", "Not OK", "PEtab format check completed")
_QUOTED = re.compile(r"""'([^'\s]+)'|"([^"\s]+)"|`([^`\s]+)`""")
_PETAB_CONSTANT = re.compile(r"petab\.C\.([A-Z_0-9]+)")
_MAX_ROWS = 10
_ROW_ID_COLUMNS = ("parameterId", "observableId", "conditionId")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# "Observable table requires the columns {'noiseFormula'}." / "Missing required column(s) ..."
_ABSENT_COLUMN = re.compile(r"(?:requires the columns?|[Mm]issing (?:required )?columns?)\W*(\w+)")
_COLUMN_WORDS = {"Bounds": "lowerBound"}  # "Bounds for log10 scaled parameter k1 must be positive"
_GOT = re.compile(r"\bbut got (\S+?)(?: in (\w+) column)?\.?$")  # "Expected 0 or 1 but got 2 in estimate column."
# petab.v1.math.sympify_petab: "Error parsing '<formula>': Syntax error at 1:12: ..."
_PARSE_ERROR = re.compile(r"""Error parsing ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"): (.*)""", re.DOTALL)


@dataclasses.dataclass
class LintIssue:
    """One problem the linter found."""

    level: str  # "error" or "warning"
    message: str
    file: str | None = None
    rows: list[int] = dataclasses.field(default_factory=list)  # file line numbers (header = 1)
    column: str | None = None

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
        where = self.location()
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict:
        return {"level": self.level, "file": self.file, "rows": self.rows[:_MAX_ROWS], "column": self.column,
                "message": self.message}


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


def _locate(issue: LintIssue, paths: list[Path]) -> None:
    """Fill rows and column from ids or column names that the message quotes."""
    import pandas as pd  # not at the top: `celltwin --help` must not wait for pandas

    tokens = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(issue.message)]
    tokens = [t.strip(".,:;") for t in tokens]
    for path in paths:
        try:
            df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        except Exception:  # noqa: BLE001 - locating is best effort
            continue
        columns = [c for c in df.columns if c in tokens]
        if not columns:
            named = re.findall(r"(\w+)\W? column", issue.message)
            columns = [c for c in df.columns if c in named]
        explicit = bool(columns)  # quoted, or "<name> column"
        if not columns:  # "Some measurement(s) are null": a column named as a word, not as "... table"
            columns = [c for c in df.columns
                       if re.search(rf"\b{re.escape(c)}\b(?!s? table)", issue.message)]
        for col in columns:
            if "numeric" in issue.message:
                rows = [i + 2 for i, v in enumerate(df[col]) if not _is_number(v)]
            elif "null" in issue.message or "missing" in issue.message:
                missing = pd.read_csv(path, sep="\t", dtype=str)[col].isna()
                rows = [i + 2 for i, m in enumerate(missing) if m]
            else:
                continue
            if rows:
                issue.file, issue.rows, issue.column = str(path), rows, col
                return
        ids = [t for t in tokens if t not in df.columns]
        search = columns or list(df.columns)
        for col in search:
            rows = [i + 2 for i, v in enumerate(df[col]) if v.strip() in ids]
            if rows:
                issue.file, issue.rows, issue.column = str(path), rows, col
                return
        if _locate_unquoted(issue, df, path):
            return
        if explicit:
            issue.file, issue.column = str(path), columns[0]
            return


def _locate_unquoted(issue: LintIssue, df: pd.DataFrame, path: Path) -> bool:
    """Messages such as "lowerBound greater than upperBound for parameterId k1." or "Expected
    lin, log, or log10, but got ln." name the row's id or the bad value without quotes."""
    absent = _ABSENT_COLUMN.search(issue.message)
    if absent and absent.group(1) not in df.columns:
        issue.file, issue.column = str(path), absent.group(1)
        return True
    got = _GOT.search(issue.message)
    if got:
        for col in [got.group(2)] if got.group(2) in df.columns else df.columns:
            rows = [i + 2 for i, v in enumerate(df[col]) if v.strip() == got.group(1)]
            if rows:
                issue.file, issue.rows, issue.column = str(path), rows, col
                return True
    if not len(df.columns) or df.columns[0] not in _ROW_ID_COLUMNS:
        return False
    id_column = df.columns[0]
    words = _WORD.findall(issue.message)
    rows = [i + 2 for i, v in enumerate(df[id_column]) if v.strip() in words]
    if not rows:
        return False
    # The first other column the message names ("lowerBound greater than ..."), else the id column.
    named = [_COLUMN_WORDS.get(w, w) for w in words]
    named = [w for w in named if w in df.columns and w != id_column]
    issue.file, issue.rows, issue.column = str(path), rows, named[0] if named else id_column
    return True


def _locate_elsewhere(issue: LintIssue, section: str, files: ProblemFiles) -> None:
    """Checks of one table also report ids used in another ("Missing parameter(s) in the model
    or the parameters table: {'k9'}" comes from the parameter check, k9 is in the condition
    table): where the checked table does not hold them, look in the others."""
    for kind in ("condition", "observable", "measurement", "parameter"):
        if kind == section:
            continue
        probe = LintIssue(issue.level, issue.message)
        _locate(probe, files.tables.get(kind, []))
        if probe.rows:
            issue.file, issue.rows, issue.column = probe.file, probe.rows, probe.column
            return


def _formula_issue(message: str, files: ProblemFiles) -> LintIssue | None:
    """An error for a formula that PEtab's grammar rejects, located in the table that holds it.

    The linter meets formulas while checking other tables (the condition table's check parses
    the observable formulas), so the table being checked does not say where the formula is.
    """
    import pandas as pd  # not at the top: `celltwin --help` must not wait for pandas

    match = _PARSE_ERROR.search(message)
    if match is None:
        return None
    quoted = match.group(1)  # the formula as Python's repr() wrote it; never parsed back as Python
    issue = LintIssue("error", f"the formula {quoted} cannot be parsed: {match.group(2).strip()}")
    for paths in files.tables.values():
        for path in paths:
            try:
                df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
            except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError):  # locating is best effort
                continue
            for col in df.columns:
                rows = [i + 2 for i, v in enumerate(df[col]) if repr(v.strip()) == quoted or repr(v) == quoted]
                if rows:
                    issue.file, issue.rows, issue.column = str(path), rows, col
                    return issue
    return issue


def lint(files: ProblemFiles) -> list[LintIssue]:
    """Lint the PEtab problem; returns the warnings and errors, located where possible.

    Raises:
        PEtabError: the PEtab library cannot read the problem at all.
    """
    import petab.v1 as petab

    from ..model import check_math_names
    from ..problem._petab import check_unique_ids, read_yaml

    check_unique_ids(files.yaml, read_yaml(files.yaml))
    logger = logging.getLogger("petab")
    collector = _Collector()
    saved = logger.level, logger.propagate
    logger.addHandler(collector)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        try:
            problem = petab.Problem.from_yaml(str(files.yaml))
        except Exception as exc:  # noqa: BLE001 - petab raises many types for malformed tables
            raise PEtabError(f"{files.yaml}: the PEtab library cannot read the problem: {exc}") from None
        sbml_model = getattr(problem.model, "sbml_model", None)
        if sbml_model is not None:  # the PEtab library sympifies some SBML math: names first
            check_math_names(sbml_model, files.names("model") or str(files.yaml))
        try:
            petab.lint_problem(problem)
        except Exception as exc:  # noqa: BLE001 - a check that crashed instead of logging
            crashed = exc
        else:
            crashed = None
    finally:
        logger.removeHandler(collector)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

    issues = []
    for section, record in collector.records:
        message = _readable(record.getMessage())
        if any(message.startswith(prefix) for prefix in _IGNORED):
            continue
        level = "error" if record.levelno >= logging.ERROR else "warning"
        issue = _formula_issue(message, files) or LintIssue(level, message)
        if issue.file is None and section is not None:
            issue.file = files.names(section) or None
            paths = files.sbml if section == "model" else files.tables.get(section, [])
            if section != "model":
                _locate(issue, paths)
                if not issue.rows:
                    _locate_elsewhere(issue, section, files)
        issues.append(issue)
    formula = None if crashed is None else _formula_issue(str(crashed), files)
    if formula is not None:
        # A formula the PEtab grammar cannot parse is wrong whichever table's check met it first.
        formula.message += " (the PEtab linter stopped there; its remaining checks were skipped)"
        issues.append(formula)
    elif crashed is not None:
        # The linter's own failure (e.g. a TypeError on a malformed cell) is no verdict on the
        # problem: report it as a warning and let celltwin's import name the row and column.
        where = f" while checking the {collector.section} table" if collector.section else ""
        issue = LintIssue("warning", f"the PEtab linter stopped{where} ({type(crashed).__name__}: {crashed}); "
                                     "its remaining checks were skipped")
        if collector.section:
            issue.file = files.names(collector.section) or None
        issues.append(issue)
    return issues


def raise_for_errors(files: ProblemFiles, issues: list[LintIssue]) -> None:
    """Raise one :class:`PEtabError` listing the lint errors, if there are any."""
    errors = [i for i in issues if i.level == "error"]
    if errors:
        listed = "; ".join(f"({k}) {issue.describe()}" for k, issue in enumerate(errors, start=1))
        raise PEtabError(f"{files.yaml}: the PEtab linter found {len(errors)} error(s): {listed}")
