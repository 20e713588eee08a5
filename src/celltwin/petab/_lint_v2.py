"""Lint a PEtab v2 problem with the PEtab library's structured results.

``petab.v2`` returns a ``ValidationResultList`` of ``ValidationIssue`` (severity, message and
the name of the check that found it), so no log record is parsed. The issues carry no file,
row or column; the check's name says which table it looked at and which column holds the
ids it names, and those ids are looked up there.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._issue import Issue

if TYPE_CHECKING:
    from ._source import PEtabSource

# check (ValidationTask class name) -> (table kind, column holding the ids its messages name)
_WHERE = {
    "CheckProblemConfig": (None, None),
    "CheckModel": ("model", None),
    "CheckMeasuredObservablesDefined": ("measurement", "observableId"),
    "CheckOverridesMatchPlaceholders": ("measurement", "observableId"),
    "CheckPosLogMeasurements": ("measurement", "measurement"),
    "CheckMeasuredExperimentsDefined": ("measurement", "experimentId"),
    "CheckMeasurementModelId": ("measurement", "modelId"),
    "CheckValidConditionTargets": ("condition", "targetId"),
    "CheckUniquePrimaryKeys": (None, None),
    "CheckObservablesDoNotShadowModelEntities": ("observable", "observableId"),
    "CheckExperimentTable": ("experiment", "experimentId"),
    "CheckExperimentConditionsExist": ("experiment", "conditionId"),
    "CheckAllParametersPresentInParameterTable": ("parameter", "parameterId"),
    "CheckValidParameterInConditionOrParameterTable": ("condition", "targetId"),
    "CheckUnusedExperiments": ("experiment", "experimentId"),
    "CheckUndefinedExperiments": ("measurement", "experimentId"),
    "CheckUnusedConditions": ("condition", "conditionId"),
    "CheckInitialChangeSymbols": ("condition", "conditionId"),
    "CheckPriorDistribution": ("parameter", "parameterId"),
}
_QUOTED = re.compile(r"""'([^'\s]+)'|`([^`'\s]+)'?""")


def _located(issue: Issue, task: str | None, source: PEtabSource) -> Issue:
    kind, column = _WHERE.get(task or "", (None, None))
    if kind is None:
        return issue
    if kind == "model":
        return issue.located(source.files.names("model"))
    tables = source.tables.get(kind, [])
    ids = {next(g for g in m.groups() if g) for m in _QUOTED.finditer(issue.message)}
    for path, df in tables:
        if column in df.columns:
            rows = [i + 2 for i, v in enumerate(df[column]) if v.strip() in ids]
            if rows:
                return issue.located(str(path), rows, column)
    return issue.located(source.files.names(kind) or None, column=column if len(tables) == 1 else None)


def lint_v2(source: PEtabSource) -> list[Issue]:
    """Run the PEtab library's v2 validation on a read problem; its issues, located where possible."""
    from petab.v2.lint import ValidationIssueSeverity

    issues = []
    for result in source.library.validate():
        if result.level < ValidationIssueSeverity.WARNING:
            continue
        severity = "error" if result.level >= ValidationIssueSeverity.ERROR else "warning"
        message = result.message.strip()
        if result.level >= ValidationIssueSeverity.CRITICAL:  # a check that crashed: its message ends in a traceback
            message = message.split("\nTraceback", 1)[0].strip()
        issues.append(_located(Issue(severity, message), result.task, source))
    return issues
