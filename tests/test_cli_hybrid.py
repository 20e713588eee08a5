"""``celltwin hybrid``: bad input is refused with a message naming the file; a short training
run on a PEtab SciML test case writes every promised output file."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from celltwin.cli import app

from .conftest import require_shared


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _case_copy(tmp_path, case="001"):
    folder = require_shared("petab-sciml-test-suite", "sciml_problem_import", case, "petab")
    target = tmp_path / "petab"
    shutil.copytree(folder, target)
    return target


def test_petab_v1_problem_is_refused(tmp_path):
    folder = require_shared("petab-test-suite", "v1.0.0", "sbml", "0001")
    result = invoke("hybrid", folder / "_0001.yaml", "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "_0001.yaml" in result.stderr and "format_version" in result.stderr


def test_unsupported_layer_is_named(tmp_path):
    petab = _case_copy(tmp_path)
    text = (petab / "net1.yaml").read_text().replace("layer_type: Linear", "layer_type: GRU", 1)
    (petab / "net1.yaml").write_text(text)
    result = invoke("hybrid", petab / "problem.yaml", "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "GRU" in result.stderr and "net1.yaml" in result.stderr


def test_bad_measurement_value_names_row_and_column(tmp_path):
    petab = _case_copy(tmp_path)
    df = pd.read_csv(petab / "measurements.tsv", sep="\t", dtype=str)
    df.loc[2, "measurement"] = "abc"
    df.to_csv(petab / "measurements.tsv", sep="\t", index=False)
    result = invoke("hybrid", petab / "problem.yaml", "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "measurements.tsv, row 4, column measurement" in result.stderr


def test_non_positive_continuity_weight_is_refused(tmp_path):
    petab = _case_copy(tmp_path)
    result = invoke("hybrid", petab / "problem.yaml", "--out", tmp_path / "out", "--shooting-segments", "2",
                    "--continuity", "0", "10")
    assert result.exit_code == 2, result.output
    assert "--continuity" in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_short_training_writes_all_outputs(tmp_path):
    petab = _case_copy(tmp_path)
    out = tmp_path / "out"
    result = invoke("hybrid", petab / "problem.yaml", "--out", out, "--epochs", "3", "--validation", "0.25",
                    "--test", "0.25")
    assert result.exit_code == 0, result.output
    for name in ("parameters.tsv", "networks.hdf5", "metrics.tsv", "history.tsv", "simulations.tsv"):
        assert (out / name).is_file(), name
    metrics = pd.read_csv(out / "metrics.tsv", sep="\t")
    assert set(metrics["model"]) == {"hybrid", "mechanistic"}
    held = metrics[(metrics["set"] == "test")]
    assert (held["n"] == 5).all()  # 25 % of the 20 measurements
    assert (metrics[metrics["set"] == "validation"]["n"] == 5).all()
    sims = pd.read_csv(out / "simulations.tsv", sep="\t")
    rmse = np.sqrt(np.mean((sims["simulation"] - sims["measurement"])[sims["set"] == "test"] ** 2))
    hybrid_rmse = float(held[held["model"] == "hybrid"]["rmse"].iloc[0])
    assert rmse == pytest.approx(hybrid_rmse, rel=1e-5)
    with h5py.File(out / "networks.hdf5", "r") as f:
        assert f["parameters/net1/layer1/weight"].shape == (5, 2)


@pytest.mark.slow
def test_multiple_shooting_run_records_the_continuity(tmp_path):
    petab = _case_copy(tmp_path)
    out = tmp_path / "out"
    result = invoke("hybrid", petab / "problem.yaml", "--out", out, "--epochs", "3", "--shooting-segments", "2",
                    "--continuity", "1", "10", "--no-baseline")
    assert result.exit_code == 0, result.output
    history = pd.read_csv(out / "history.tsv", sep="\t")
    assert len(history) == 3 and np.isfinite(history["continuity"]).all()
    np.testing.assert_allclose(history["continuity_weight"], [1.0, np.sqrt(10.0), 10.0], rtol=1e-5)  # written with 6 digits
