"""PEtab input (v1 and v2): read a problem's files once, lint it, hand it to :func:`celltwin.problem.from_petab`.

* :func:`read_petab` reads the YAML and every file it names once, with errors that name the
  file, row and column, into a :class:`PEtabSource`.
* A v2 extension (:class:`Extension`, e.g. PEtab SciML) adds the tables its section lists
  to the same reading; the package that reads the extension interprets them.
* :func:`lint` runs the PEtab library's checks and returns :class:`Issue` objects
  (severity, message, file, row, column).
"""

from ._extension import Extension as Extension
from ._files import ProblemFiles as ProblemFiles
from ._files import format_version as format_version
from ._files import read_yaml as read_yaml
from ._issue import Issue as Issue
from ._lint import lint as lint
from ._lint import raise_for_errors as raise_for_errors
from ._source import PEtabSource as PEtabSource
from ._source import read_petab as read_petab
from ._tables import check_ids as check_ids
from ._tables import read_table as read_table
from ._tables import require_columns as require_columns
