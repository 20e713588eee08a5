"""User-written candidate terms."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from ...model import as_expr
from .base import AbstractLibrary, Term


@dataclasses.dataclass(frozen=True)
class CustomLibrary(AbstractLibrary):
    """Terms given as expression strings over species ids (``"A*B/(1 + C)"``, ``"exp(-A)"``).

    ``expressions`` is a sequence of strings (each is its own name) or a mapping
    ``name -> expression``.
    """

    expressions: Sequence[str] | Mapping[str, str]

    def terms(self, species: Sequence[str]) -> list[Term]:
        items = (self.expressions.items() if isinstance(self.expressions, Mapping)
                 else [(e, e) for e in self.expressions])
        return [Term(str(name), as_expr(expr, where=f"candidate term {name!r}")) for name, expr in items]
