"""Kinase annotations derived from the data themselves: gene families from names, sequence
clusters from protein sequences.

* :func:`gene_family`: the kinase name without mutation/construct tags and without the
  trailing isoform number (``AKT1`` -> ``AKT``, ``ABL1(T315I)p`` -> ``ABL``,
  ``MAP2K1`` -> ``MAP2K``, ``AMPK-alpha1`` -> ``AMPK``). A naming heuristic: gene symbols of
  paralogues share their stem, but unrelated kinases can too.
* :func:`sequence_clusters`: spectral clustering of the proteins on a k-mer similarity.
  Each sequence is the set of its k-mers (k = 4), weighted by inverse document frequency
  (k-mers shared by every kinase carry no information) and L2-normalised; the cosine
  similarity feeds a symmetric k-nearest-neighbour graph whose normalised Laplacian gives a
  spectral embedding, clustered by Ward linkage. On the Davis kinases this recovers
  recognisable groups (Src family, type III RTKs, Eph receptors, ErbB, PI3K, ABL), which
  full-length sequence identity alone does not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_TAG = re.compile(r"\(.*?\)")
_ISOFORM = re.compile(r"(?<=[A-Za-z])\d+[A-Za-z]?$")


def gene_family(name: str) -> str:
    """The gene-family stem of a kinase name (see the module docstring)."""
    stem = _TAG.sub("", name).split("-")[0].strip()
    if stem.endswith("p") and len(stem) > 1 and (stem[-2].isdigit() or stem[-2].isupper()):
        stem = stem[:-1]  # Davis marks phosphorylated constructs with a trailing 'p'
    reduced = _ISOFORM.sub("", stem)
    return reduced or stem


def kmer_similarity(sequences: Sequence[str], k: int = 4) -> np.ndarray:
    """Cosine similarity of IDF-weighted k-mer sets, ``(n, n)``."""
    import scipy.sparse as sp

    sets = [{s[i:i + k] for i in range(len(s) - k + 1)} for s in sequences]
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, kmers in enumerate(sets):
        for kmer in kmers:
            rows.append(i)
            cols.append(vocab.setdefault(kmer, len(vocab)))
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sets), len(vocab)))
    idf = np.log(len(sets) / np.asarray(m.sum(axis=0)).ravel())
    w = m.multiply(idf[None, :]).tocsr()
    norm = np.sqrt(np.asarray(w.multiply(w).sum(axis=1)).ravel())
    w = sp.diags(1.0 / np.where(norm > 0, norm, 1.0)) @ w
    return np.asarray((w @ w.T).todense())


def sequence_clusters(names: Sequence[str], sequences: Sequence[str], n_clusters: int = 12, *,
                      k: int = 4, neighbours: int = 10) -> list[str]:
    """A cluster label per protein (see the module docstring), named after its medoid:
    the member most similar to the rest of its cluster (``"SRC-like"``)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    sim = kmer_similarity(sequences, k=k)
    n = len(sim)
    if n <= n_clusters:
        return [f"{name}-like" for name in names]
    adjacency = np.zeros_like(sim)
    order = np.argsort(-sim, axis=1, kind="stable")
    for i in range(n):
        near = [j for j in order[i] if j != i][:neighbours]
        adjacency[i, near] = sim[i, near]
    adjacency = np.maximum(adjacency, adjacency.T)
    degree = adjacency.sum(axis=1)
    inv = 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0))
    laplacian = np.eye(n) - inv[:, None] * adjacency * inv[None, :]
    _, vectors = np.linalg.eigh(laplacian)
    embedding = vectors[:, :n_clusters]
    embedding = embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
    codes = fcluster(linkage(embedding, "ward"), n_clusters, "maxclust")
    labels = {}
    for c in np.unique(codes):
        members = np.flatnonzero(codes == c)
        medoid = members[np.argmax(sim[np.ix_(members, members)].sum(axis=1))]
        labels[c] = f"{_TAG.sub('', names[medoid])}-like"
    return [labels[c] for c in codes]
