"""Reading single PEtab table cells: empty cells and numbers as pandas or a TSV gives them."""

from __future__ import annotations

import math

import numpy as np


def is_missing(value) -> bool:
    """An empty cell: None, NaN (how pandas reads an empty field) or blank text."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def as_float(value) -> float | None:
    """The number in a cell (``inf`` and ``nan`` included), or None where it holds no number."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def shown(value) -> str:
    """A cell value for a message: plain text, not a numpy repr."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN or an empty cell"  # pandas reads both as NaN
    return "an empty cell" if is_missing(value) else repr(str(value).strip())
