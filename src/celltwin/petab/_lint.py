"""``lint``: the PEtab library's checks of a problem, as located :class:`Issue` objects."""

from __future__ import annotations

import os

from ..errors import PEtabError, UnsupportedFeatureError
from ._issue import Issue
from ._source import PEtabSource, read_petab


def lint(problem: str | os.PathLike | PEtabSource) -> list[Issue]:
    """Lint a PEtab problem (v1 or v2) with the PEtab library.

    Arguments:
        problem: the problem YAML file, or a problem already read with :func:`read_petab`.

    Returns:
        The warnings and errors, each with the file, row and column where they can be told
        (an empty list for a clean problem).

    Raises:
        PEtabError, SBMLError: the problem cannot be read at all (file, row and column named).
        UnsupportedFeatureError: a problem read with an extension, which the library does not read.
    """
    source = read_petab(problem)
    if source.library is None:
        name = source.extension.name if source.extension is not None else "an"
        raise UnsupportedFeatureError(f"{source.path}: the PEtab library does not lint problems with the {name} "
                                      "extension")
    if source.version == 1:
        from ._lint_v1 import lint_v1

        return lint_v1(source)
    from ._lint_v2 import lint_v2

    return lint_v2(source)


def raise_for_errors(problem: str | os.PathLike | PEtabSource, issues: list[Issue]) -> None:
    """Raise one :class:`PEtabError` listing the errors among ``issues``, if there are any."""
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        path = problem.path if isinstance(problem, PEtabSource) else problem
        listed = "; ".join(f"({k}) {issue.describe()}" for k, issue in enumerate(errors, start=1))
        raise PEtabError(f"{path}: the PEtab linter found {len(errors)} error(s): {listed}")
