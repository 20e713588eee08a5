"""The error raised for malformed PEtab SciML files."""

from ...errors import PEtabError


class SciMLError(PEtabError):
    """A PEtab SciML file is malformed or inconsistent: the message names the file, row and column."""
