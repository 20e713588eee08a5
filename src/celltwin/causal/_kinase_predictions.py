"""Out-of-sample baseline predictions for a kinase-inhibitor matrix, as a predictions table
with candidate-mechanism columns, ready for :func:`celltwin.causal.diagnose`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ._baseline import group_folds, grouped_cross_validation
from ._chem import chemotype_clusters, morgan_fingerprints, tanimoto
from ._davis import KinaseInhibitorData
from ._kinome import gene_family, kmer_similarity, sequence_clusters

CV_GROUPS = ("chemotype", "compound")


def kinase_inhibitor_predictions(data: KinaseInhibitorData, *, n_folds: int = 10, cv_groups: str = "chemotype",
                                 n_kinase_clusters: int = 12, chemotype_distance: float = 0.8, seed: int = 0,
                                 progress: Callable[[], None] | None = None) -> pd.DataFrame:
    """Grouped cross-validated KronRLS predictions of every compound x kinase pair.

    Arguments:
        data: the Kd matrix with SMILES and sequences (e.g. :func:`load_davis`).
        n_folds: outer folds; ``cv_groups``: what a fold holds out whole, ``chemotype``
            (no analogue of a test compound in training) or ``compound``.
        n_kinase_clusters, chemotype_distance: granularity of the derived strata.
        seed: fold assignment seed.
        progress: called after each outer fold.

    Returns:
        One row per pair with ``compound, target, predicted, measured, unit`` (pKd) and the
        stratum columns ``kinase_family`` (gene family from the name), ``kinase_cluster``
        (sequence cluster), ``chemotype`` (fingerprint cluster), ``assay_limit``
        (``censored`` when Kd is at the 10 uM limit, else ``measured``), plus ``cv_fold``
        and ``ridge`` (the outer fold and the ridge chosen for it).
    """
    if cv_groups not in CV_GROUPS:
        raise ValueError(f"cv_groups must be one of {', '.join(CV_GROUPS)}, got {cv_groups!r}")
    fingerprints = morgan_fingerprints(data.smiles, names=data.compounds)
    compound_kernel = tanimoto(fingerprints)
    target_kernel = kmer_similarity(data.sequences)
    chemotypes = chemotype_clusters(fingerprints, distance=chemotype_distance)
    groups = chemotypes if cv_groups == "chemotype" else list(data.compounds)
    predicted, ridge = grouped_cross_validation(compound_kernel, target_kernel, data.pkd, groups, n_folds=n_folds,
                                                seed=seed, progress=progress)
    folds = group_folds(groups, n_folds, seed)
    clusters = sequence_clusters(data.targets, data.sequences, n_clusters=n_kinase_clusters)
    nc, nt = data.kd_nM.shape
    ci, ti = np.repeat(np.arange(nc), nt), np.tile(np.arange(nt), nc)
    return pd.DataFrame({
        "compound": np.asarray(data.compounds)[ci],
        "target": np.asarray(data.targets)[ti],
        "predicted": predicted[ci, ti],
        "measured": data.pkd[ci, ti],
        "unit": "pKd",
        "kinase_family": [gene_family(t) for t in np.asarray(data.targets)[ti]],
        "kinase_cluster": np.asarray(clusters)[ti],
        "chemotype": np.asarray(chemotypes)[ci],
        "assay_limit": np.where(data.censored[ci, ti], "censored", "measured"),
        "cv_fold": folds[ci],
        "ridge": ridge[ci],
    })
