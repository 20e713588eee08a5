"""Exceptions that celltwin raises for problems in the user's input.

Every message names the file (where there is one), the element or row, and what to change.
The CLI turns these into exit status 2 and a one-paragraph message.
"""


class CelltwinInputError(ValueError):
    """Bad user input: a file, a table row, a model element."""


class UnsupportedFeatureError(CelltwinInputError):
    """The input uses a feature celltwin does not support (yet); never silently ignored."""


class SBMLError(CelltwinInputError):
    """An SBML model is malformed or uses something celltwin cannot simulate faithfully."""


class PEtabError(CelltwinInputError):
    """A PEtab problem is inconsistent: named file, row and column."""
