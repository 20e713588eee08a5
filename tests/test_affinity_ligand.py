"""``celltwin affinity predict --ligand``: PRODIGY-LIG's prediction for its own test structure
1PY2 (tests/data/prodigy_lig, PDB and mmCIF) against the value its repository's tests publish
(haddocking/prodigy-lig, data/test_data.json: dG "-8.96" for chains A and B:FRH, 10.5 A, no
electrostatics); the Kd against the gas constant of scipy; the --out row through
``read_affinity_table``; exit-2 errors naming the file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import constants
from test_cli_bad_input import assert_input_error, invoke
from test_evidence_terms import binding_problem

from celltwin.errors import CelltwinInputError
from celltwin.evidence import predict_ligand_affinity, read_affinity_table

DATA = Path(__file__).parent / "data" / "prodigy_lig"
PDB, CIF = DATA / "1PY2.pdb", DATA / "1PY2.cif"
PUBLISHED_DG = "-8.96"  # prodigy-lig data/test_data.json, "no-elec" / "1PY2", compared as "{:.2f}"
R_KCAL = constants.R / constants.calorie / 1000  # kcal / (mol K), thermochemical calorie


def test_the_stored_structure_is_the_reference_file():
    text = PDB.read_text()
    lines = text.splitlines()
    assert len(text) == 82_863 and len(lines) == 1023 and all(len(line) == 80 for line in lines)
    assert lines[0].startswith("ATOM      1  N   SER A   6")
    assert lines[-1].startswith("ATOM   1026  O45 FRH B 501      21.623  22.443  19.385")


@pytest.mark.parametrize("path", [PDB, CIF], ids=["pdb", "mmcif"])
def test_1py2_matches_the_published_prodigy_lig_value(path):
    r = predict_ligand_affinity(path, "B:FRH", "A", 298.15)
    assert f"{r.dg_kcal_per_mol:.2f}" == PUBLISHED_DG
    assert r.electrostatics is None and r.haddock_score is None
    assert r.kd_molar == pytest.approx(math.exp(r.dg_kcal_per_mol / (R_KCAL * 298.15)), rel=1e-9)


def test_pdb_and_mmcif_give_the_same_answer():
    pdb, cif = (predict_ligand_affinity(p, "B:FRH", "A", 310.0) for p in (PDB, CIF))
    assert (pdb.dg_kcal_per_mol, pdb.contacts, pdb.kd_molar) == (cif.dg_kcal_per_mol, cif.contacts, cif.kd_molar)
    # the protein side defaults to every chain with amino acids: here chain A
    assert predict_ligand_affinity(CIF, "B:FRH").contacts == pdb.contacts


def test_a_ligand_in_the_protein_chain(tmp_path):
    """Crystal structures often put the ligand's HETATM records in the protein's chain: the
    published value holds with FRH moved into chain A (--chains A --ligand A:FRH)."""
    lines = PDB.read_text().splitlines()
    moved = tmp_path / "1PY2_one_chain.pdb"
    moved.write_text("\n".join(f"{x[:21]}A{x[22:72]}A{x[73:]}" if x[17:20] == "FRH" else x for x in lines) + "\n")
    r = predict_ligand_affinity(moved, "A:FRH", "A")
    assert f"{r.dg_kcal_per_mol:.2f}" == PUBLISHED_DG
    assert r.contacts == predict_ligand_affinity(PDB, "B:FRH", "A").contacts


def test_kd_follows_the_temperature_not_the_free_energy():
    cold, hot = (predict_ligand_affinity(PDB, "B:FRH", "A", t) for t in (298.15, 310.0))
    assert hot.dg_kcal_per_mol == cold.dg_kcal_per_mol
    assert hot.log10_kd_molar == pytest.approx(cold.dg_kcal_per_mol / (R_KCAL * 310.0 * math.log(10)), rel=1e-9)


def test_electrostatics_from_the_option_and_from_a_haddock_remark(tmp_path):
    """The electrostatic variant is used with --electrostatics or a HADDOCK ``REMARK energies``
    line (its 7th value, as prodigy-lig's test file data/elec/1PY2.pdb has it, -43.4775). The
    published weight of the electrostatic energy in that model is 0.0115148 per kcal/mol
    (prodigy-lig's calculate_DG_electrostatics): two energies 10 kcal/mol apart change dG by
    0.115148 with the same contacts."""
    plain = predict_ligand_affinity(PDB, "B:FRH", "A")
    a = predict_ligand_affinity(PDB, "B:FRH", "A", electrostatics=-43.4775)
    b = predict_ligand_affinity(PDB, "B:FRH", "A", electrostatics=-33.4775)
    assert (a.electrostatics_source, a.contacts) == ("option", plain.contacts)
    assert a.dg_kcal_per_mol != plain.dg_kcal_per_mol and a.haddock_score is not None
    assert b.dg_kcal_per_mol - a.dg_kcal_per_mol == pytest.approx(0.115148, abs=1e-9)
    haddock = tmp_path / "haddock.pdb"
    remark = "REMARK energies: -84.5271, 0, 0, 0, 0, -41.0543, -43.4775, 4.769072E-03, 0, 0, 0, 0, 0, 0, 0\n"
    haddock.write_text(remark + PDB.read_text())
    from_file = predict_ligand_affinity(haddock, "B:FRH", "A")
    assert from_file.electrostatics_source == "file"
    assert (from_file.electrostatics, from_file.dg_kcal_per_mol) == (-43.4775, a.dg_kcal_per_mol)
    overridden = predict_ligand_affinity(haddock, "B:FRH", "A", electrostatics=-33.4775)
    assert overridden.dg_kcal_per_mol == b.dg_kcal_per_mol and overridden.electrostatics_source == "option"


def test_json_output_has_no_interval():
    result = invoke("affinity", "predict", str(CIF), "--chains", "A", "--ligand", "B:FRH", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert f"{out['dg_kcal_per_mol']:.2f}" == PUBLISHED_DG and out["ligand"] == "B:FRH" and out["chains"] == "A"
    assert out["log10_kd_molar"] == pytest.approx(math.log10(out["kd_molar"]), rel=1e-12)
    for key in ("lower_log10_kd", "upper_log10_kd", "lower_50_log10_kd", "upper_50_log10_kd", "calibrated_log10_kd",
                "error_model"):
        assert out[key] is None, key
    assert "no calibrated error model" in out["note"] and "prodigy-lig" in out["predictor"]
    assert out["n_contacts"] == sum(out["contacts"].values()) > 0 and out["distance_cutoff_a"] == 10.5


def test_out_row_is_read_as_evidence_only_with_a_spread_given(tmp_path):
    table = tmp_path / "evidence.tsv"
    result = invoke("affinity", "predict", str(PDB), "--chains", "A", "--ligand", "B:FRH", "--temperature", "310",
                    "--out", str(table), "--reaction", "bind")
    assert result.exit_code == 0, result.stderr
    problem = binding_problem()
    # no spread is made up: the reader must give one
    with pytest.raises(CelltwinInputError, match="column 'sd': empty"):
        read_affinity_table(table, problem.model)
    (term,) = read_affinity_table(table, problem.model, default_sd=1.0)
    assert (term.kon, term.koff, term.unit, term.sd, term.calibration) == ("kon", "koff", "log10_M", 1.0, None)
    # the published dG (two decimals) at 310 K, within its rounding
    per_kcal = 1 / (R_KCAL * 310.0 * math.log(10))
    assert term.value == pytest.approx(float(PUBLISHED_DG) * per_kcal, abs=0.005 * per_kcal + 1e-4)
    assert "no calibrated error model" in table.read_text()


@pytest.mark.parametrize("case", ["ligand residue", "ligand chain", "protein chain", "no contact", "two copies"])
def test_bad_input_is_exit_2_naming_the_file(tmp_path, case):
    args = ["--chains", "A", "--ligand", "B:FRH"]
    path = PDB
    if case == "ligand residue":
        args[3], words = "B:ATP", ["no residue ATP in chain B", "hetero groups in the structure: B:FRH"]
    elif case == "ligand chain":
        args[3], words = "C:FRH", ["no chain C", "chains A, B", "B:FRH"]
    elif case == "protein chain":
        args[1], words = "A,D", ["no chain D", "--chains"]
    else:
        lines = PDB.read_text().splitlines()
        if case == "no contact":  # the ligand moved 200 A along x
            lines = [f"{x[:30]}{float(x[30:38]) + 200:8.3f}{x[38:]}" if x[21] == "B" else x for x in lines]
            words = ["no atom of chain(s) A is within 10.5 A of ligand B:FRH"]
        else:  # a second copy of FRH in chain B
            lines += [f"{x[:22]} 502{x[26:]}" for x in lines if x[21] == "B"]
            words = ["FRH occurs 2 times in chain B", "501, 502"]
        path = tmp_path / f"{case.replace(' ', '_')}.pdb"
        path.write_text("\n".join(lines) + "\n")
    assert_input_error(invoke("affinity", "predict", str(path), *args), str(path), *words)
