"""Prior knowledge: an interaction list with confidences, turned into per-term prior weights.

Accepted files:

* ``.sif`` (cellnopt / Cytoscape): ``source  sign  target`` per line, whitespace separated;
  every listed edge gets ``confidence`` ``default_confidence``.
* ``.tsv`` / ``.csv`` with a header: columns ``source`` and ``target``, optional ``confidence``
  (a probability in [0, 1]) and ``sign`` (ignored by discovery).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .._textfile import read_text
from ..errors import CelltwinInputError
from .library import Term

NEUTRAL = 0.5  # a prior inclusion probability of one half leaves the penalty unchanged


@dataclasses.dataclass(frozen=True)
class Knowledge:
    """Edges ``(source, target) -> confidence``: how sure we are that ``source`` acts on ``target``.

    A term in the equation of species ``X`` whose other species are all listed as acting on
    ``X`` gets the smallest of their confidences as prior inclusion probability; a term that
    involves an unlisted species gets ``unlisted``; terms in ``X`` alone (and the constant)
    stay neutral (0.5). The penalty factor that scales the term's threshold is
    ``1 - 2 * strength * (p - 0.5)``: 1 for a neutral term; with the default ``strength=0.5``,
    0.5 for a certain edge and 1.4 for an unlisted one; ``strength=1`` makes a certain edge
    unremovable. A moderate strength matters with large libraries: an edge ``Y -> X`` lowers
    the bar for every term in ``Y`` in the equation of ``X``, and nearly collinear ones (``Y``,
    ``Y^2``, ``hill(Y, ...)``) could otherwise enter together with cancelling coefficients.
    """

    edges: Mapping[tuple[str, str], float]
    unlisted: float = 0.1
    strength: float = 0.5

    def prior(self, target: str, term: Term) -> float:
        others = term.species() - {target}
        if not others:
            return NEUTRAL
        return min(self.edges.get((s, target), self.unlisted) for s in others)

    def penalties(self, species: Sequence[str], terms: Sequence[Term]) -> np.ndarray:
        """Penalty factors, shape (n_species, n_terms)."""
        p = np.array([[self.prior(s, t) for t in terms] for s in species])
        return 1.0 - 2.0 * self.strength * (p - NEUTRAL)


def read_knowledge(path: str | Path, *, default_confidence: float = 0.9, unlisted: float = 0.1) -> Knowledge:
    """Read a ``.sif`` network or a TSV/CSV edge table (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise CelltwinInputError(f"{path}: no such file")
    edges: dict[tuple[str, str], float] = {}
    lines = read_text(path, "interaction list").splitlines()
    if path.suffix.lower() == ".sif":
        for i, line in enumerate(lines, start=1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if len(parts) != 3:
                raise CelltwinInputError(f"{path}: line {i}: expected 'source sign target', got {line.strip()!r}")
            edges[(parts[0], parts[2])] = default_confidence
        return Knowledge(edges, unlisted)
    import pandas as pd

    sep = "," if path.suffix.lower() == ".csv" else "\t"
    df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    for col in ("source", "target"):
        if col not in df.columns:
            raise CelltwinInputError(f"{path}: no column {col!r} (columns: {', '.join(df.columns)})")
    for i, row in enumerate(df.itertuples(index=False), start=2):
        conf = default_confidence
        if "confidence" in df.columns:
            try:
                conf = float(row.confidence)
            except ValueError:
                conf = float("nan")
            if not 0.0 <= conf <= 1.0:
                raise CelltwinInputError(f"{path}: line {i}, column 'confidence': {row.confidence!r} is not a "
                                         "probability in [0, 1]")
        edges[(row.source.strip(), row.target.strip())] = conf
    return Knowledge(edges, unlisted)
