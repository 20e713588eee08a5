"""The ``celltwin`` command line: ``check``, ``simulate`` and ``demo``.

Exit status: 0 success, 2 bad input (a missing or malformed file, an unknown id; the
message names the file and the field), 1 an unexpected internal error. ``--debug``
prints the Python traceback as well.
"""

from ._app import app as app
from ._app import main as main
