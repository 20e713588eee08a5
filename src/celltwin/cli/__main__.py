"""``python -m celltwin.cli``: the same as the ``celltwin`` command."""

from . import main

main()
