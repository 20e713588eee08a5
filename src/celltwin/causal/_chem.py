"""Compound fingerprints, Tanimoto similarity and chemotype clusters (RDKit, optional extra).

* Morgan (ECFP-like) bit fingerprints, radius 2, 2048 bits, from SMILES.
* Tanimoto similarity ``|a & b| / |a | b|``: a positive semi-definite kernel on bit vectors.
* Chemotypes: average-linkage hierarchical clustering of Tanimoto distances ``1 - T`` cut
  at ``distance`` (default 0.8: a compound joins a cluster whose members are on average
  at least 0.2 similar), the usual scaffold-agnostic chemotype grouping.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import CelltwinInputError

RDKIT_MISSING = ("compound fingerprints need RDKit, which is not installed: "
                 "pip install 'celltwin[chem]' (or pip install rdkit)")


def morgan_fingerprints(smiles: Sequence[str], *, radius: int = 2, n_bits: int = 2048,
                        names: Sequence[str] | None = None) -> np.ndarray:
    """``(n, n_bits)`` 0/1 float array of Morgan fingerprints.

    Raises:
        ImportError: RDKit is missing (the message names the extra to install).
        CelltwinInputError: a SMILES RDKit cannot parse (named by its compound).
    """
    try:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import rdFingerprintGenerator
    except ImportError:
        raise ImportError(RDKIT_MISSING) from None
    RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]  # rdkit's stubs omit it
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    out = np.zeros((len(smiles), n_bits))
    bad: list[str] = []
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        if mol is None:
            bad.append(f"{names[i] if names is not None else i}: {s!r}")
            continue
        out[i] = generator.GetFingerprintAsNumPy(mol)
    if bad:
        raise CelltwinInputError(f"SMILES that RDKit cannot parse: {'; '.join(bad[:10])}")
    return out


def tanimoto(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Tanimoto similarity between the rows of 0/1 arrays ``a`` and ``b`` (default ``a``)."""
    b = a if b is None else b
    inter = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)


def chemotype_clusters(fingerprints: np.ndarray, *, distance: float = 0.8) -> list[str]:
    """A chemotype label per compound, ``"C01"``, ``"C02"``, ... numbered by decreasing size
    (ties by first member), from average-linkage clustering of Tanimoto distances."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    n = len(fingerprints)
    if n < 2:
        return ["C01"] * n
    dist = np.clip(1.0 - tanimoto(fingerprints), 0.0, None)
    np.fill_diagonal(dist, 0.0)
    codes = fcluster(linkage(squareform(dist, checks=False), "average"), distance, "distance")
    sizes = {c: int(np.sum(codes == c)) for c in np.unique(codes)}
    first = {c: int(np.flatnonzero(codes == c)[0]) for c in sizes}
    order = sorted(sizes, key=lambda c: (-sizes[c], first[c]))
    width = max(2, len(str(len(order))))
    name = {c: f"C{j + 1:0{width}d}" for j, c in enumerate(order)}
    return [name[c] for c in codes]
