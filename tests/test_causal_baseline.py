"""The baseline predictor and its inputs: Kronecker ridge against a direct solve, grouped folds,
Tanimoto against RDKit, kinase annotations, and the Davis loader (real data and broken files)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import require_shared

from celltwin.causal import (
    chemotype_clusters,
    fit_kronecker_ridge,
    gene_family,
    group_folds,
    grouped_cross_validation,
    load_davis,
    sequence_clusters,
    tanimoto,
)
from celltwin.errors import CelltwinInputError


def psd(rng, n, rank=None):
    a = rng.normal(size=(n, rank or n))
    return a @ a.T / (rank or n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kronecker_ridge_matches_direct_solve(seed):
    rng = np.random.default_rng(seed)
    kd, kt = psd(rng, 7), psd(rng, 5, rank=3)  # a singular target kernel too
    y = rng.normal(size=(7, 5)) + 6.0
    ridge = 0.3
    model = fit_kronecker_ridge(kd, kt, y, ridge)
    # vec in row-major order: pair (i, j) -> i * 5 + j, kernel kron(kd, kt)
    big = np.kron(kd, kt) + ridge * np.eye(35)
    alpha = np.linalg.solve(big, (y - y.mean()).ravel())
    np.testing.assert_allclose(model.coef.ravel(), alpha, rtol=1e-8, atol=1e-10)
    new = rng.normal(size=(2, 7))
    expected = y.mean() + (np.kron(new, kt) @ alpha).reshape(2, 5)
    np.testing.assert_allclose(model.predict(new), expected, rtol=1e-10)


def test_group_folds_never_split_a_group():
    groups = np.array(list("aaabbbbccdeeeeefg"))
    folds = group_folds(groups, 3, seed=4)
    for g in np.unique(groups):
        assert len(np.unique(folds[groups == g])) == 1
    assert set(folds) == {0, 1, 2}


def test_cross_validated_predictions_are_out_of_sample():
    # one compound is a duplicate of another: with both in one group it cannot be copied
    rng = np.random.default_rng(0)
    fp = (rng.random((12, 64)) < 0.3).astype(float)
    fp[11] = fp[0]
    y = rng.normal(size=(12, 4)) + 6
    y[11] = y[0]
    groups = [f"g{i}" for i in range(11)] + ["g0"]
    pred, ridge = grouped_cross_validation(tanimoto(fp), np.eye(4), y, groups, n_folds=4)
    assert np.all(np.isfinite(pred)) and np.all(ridge > 0)
    assert not np.allclose(pred[0], y[0], atol=1e-3)  # its twin was held out with it


def test_tanimoto_matches_rdkit():
    pytest.importorskip("rdkit")
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    from celltwin.causal import morgan_fingerprints

    smiles = ["CC1=C2C=C(C=CC2=NN1)C3=CC(=CN=C3)OCC(CC4=CC=CC=C4)N", "c1ccccc1O", "CCN(CC)CC", "c1ccccc1N"]
    fps = morgan_fingerprints(smiles)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    bits = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    reference = np.array([DataStructs.BulkTanimotoSimilarity(b, bits) for b in bits])
    np.testing.assert_allclose(tanimoto(fps), reference, rtol=1e-12)
    with pytest.raises(CelltwinInputError, match="cannot parse.*bad"):
        morgan_fingerprints(["C1CC"], names=["bad"])


def test_chemotypes_group_near_duplicates():
    fp = np.zeros((5, 20))
    fp[0, :10] = fp[1, :9] = 1  # Tanimoto 0.9
    fp[2, 10:] = fp[3, 10:19] = 1
    fp[4, [0, 10]] = 1
    labels = chemotype_clusters(fp, distance=0.5)
    assert labels[0] == labels[1] != labels[2] == labels[3] != labels[4]


@pytest.mark.parametrize(("name", "family"), [
    ("AKT1", "AKT"), ("ABL1(T315I)p", "ABL"), ("ABL1p", "ABL"), ("MAP2K1", "MAP2K"), ("AMPK-alpha1", "AMPK"),
    ("PIK3CA", "PIK3CA"), ("EGFR(L858R)", "EGFR"), ("CDK4-cyclinD1", "CDK"), ("AURKA", "AURKA"), ("ERBB2", "ERBB"),
])
def test_gene_family(name, family):
    assert gene_family(name) == family


def test_davis_loader_and_akt_cluster():
    folder = require_shared("kinase-inhibitors")
    data = load_davis(folder)
    assert data.kd_nM.shape == (68, 442) == (len(data.compounds), len(data.targets))
    assert {"AKT1", "AKT2", "AKT3"} <= set(data.targets)
    np.testing.assert_allclose(data.pkd[data.censored], 5.0)  # 10 uM limit
    clusters = dict(zip(data.targets, sequence_clusters(data.targets, data.sequences, n_clusters=12)))
    assert clusters["AKT1"] == clusters["AKT2"] == clusters["AKT3"] == clusters["PKAC-alpha"] == clusters["SGK3"]
    assert clusters["AKT1"] != clusters["SRC"] and clusters["SRC"] == clusters["LCK"] == clusters["FYN"]


def test_davis_loader_errors(tmp_path):
    with pytest.raises(CelltwinInputError, match="ligands_can.txt: ligand SMILES file not found"):
        load_davis(tmp_path)
    (tmp_path / "ligands_can.txt").write_text(json.dumps({"1": "CCO", "2": "CCN"}))
    (tmp_path / "proteins.txt").write_text(json.dumps({"K1": "MKV", "K2": "MKL", "K3": "MRL"}))
    matrix = tmp_path / "drug-target_interaction_affinities_Kd__Davis_et_al.2011v1.txt"
    matrix.write_text("1 2 3\n4 x 6\n")
    with pytest.raises(CelltwinInputError, match="line 2, column 2: 'x' is not a number"):
        load_davis(tmp_path)
    matrix.write_text("1 2 3\n4 5\n")
    with pytest.raises(CelltwinInputError, match="line 2 has 2 values"):
        load_davis(tmp_path)
    matrix.write_text("1 2 3\n4 0 6\n")
    with pytest.raises(CelltwinInputError, match="line 2, column 2: a Kd must be a positive"):
        load_davis(tmp_path)
