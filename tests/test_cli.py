"""The ``celltwin`` command line: output contracts, exit statuses and error messages.

Most tests run the typer app in-process (``CliRunner``); one runs ``python -m celltwin.cli``
in a subprocess to check what a user sees (exactly one JSON object on stdout).
Tests that read the shared PEtab test suite skip when ``CELLTWIN_SHARED_DATA`` (default
``../shared/data`` beside the checkout) is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import norm
from typer.testing import CliRunner

from celltwin.cli import app

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CELLTWIN_SHARED_DATA", ROOT.parent / "shared" / "data"))
SUITE = SHARED / "petab-test-suite" / "v1.0.0" / "sbml"
EXAMPLE = ROOT / "examples" / "mapk_cascade"
REQUIRED_KEYS = ["llh", "log_prior", "n_measurements", "n_parameters", "compile_s", "llh_ms"]


def suite_case(case: str) -> Path:
    folder = SUITE / case
    if not folder.is_dir():
        pytest.skip(f"PEtab test suite not found at {SUITE}: set CELLTWIN_SHARED_DATA to the shared data folder")
    return folder


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def assert_input_error(result, *names: str) -> None:
    """Exit status 2, a message that names each of ``names``, and no traceback."""
    text = result.stderr + result.stdout
    assert result.exit_code == 2, text
    assert "error:" in result.stderr
    for name in names:
        assert name in result.stderr, (name, result.stderr)
    assert "Traceback" not in text
    assert result.stdout == ""


@pytest.fixture
def example_copy(tmp_path) -> Path:
    """A writable copy of the bundled example; tests break one file of it."""
    folder = tmp_path / "mapk_cascade"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


# --- the installed entry point -------------------------------------------------------------

def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "celltwin.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_check_json_matches_test_suite_llh():
    case = suite_case("0001")
    solution = yaml.safe_load((case / "_0001_solution.yaml").read_text())
    proc = _run("check", str(case / "_0001.yaml"), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout must hold exactly one JSON object, got: {proc.stdout!r}"
    result = json.loads(lines[0])
    assert list(result)[:6] == REQUIRED_KEYS
    assert result["llh"] == pytest.approx(solution["llh"], abs=solution["tol_llh"])
    assert result["n_measurements"] == 2 and result["n_parameters"] == 4
    assert result["log_prior"] == 0.0
    assert result["compile_s"] > 0 and result["llh_ms"] > 0


# --- in-process --------------------------------------------------------------------------

def test_version():
    import celltwin

    result = invoke("--version")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"celltwin {celltwin.__version__}"


def test_check_json_bundled_example():
    result = invoke("check", str(EXAMPLE / "mapk_cascade.yaml"), "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert list(out)[:6] == REQUIRED_KEYS
    assert out["n_measurements"] == 32 and out["n_parameters"] == 6
    # far from the data at the (deliberately wrong) nominal parameters
    assert out["llh"] == pytest.approx(mapk_cascade_llh_by_scipy(), rel=1e-7)
    assert out["problem"] == "mapk_cascade" and out["lint"] == []


def mapk_cascade_llh_by_scipy() -> float:
    """The bundled example's Gaussian log-likelihood at the parameter table's nominal values, from
    the cascade's rate laws (examples/mapk_cascade/make_data.py) written here, solved by scipy."""
    from scipy.integrate import solve_ivp

    p = pd.read_csv(EXAMPLE / "parameters.tsv", sep="\t").set_index("parameterId")["nominalValue"]
    doses = pd.read_csv(EXAMPLE / "conditions.tsv", sep="\t").set_index("conditionId")["L"]
    data = pd.read_csv(EXAMPLE / "measurements.tsv", sep="\t")

    def rates(t, y, dose):
        k1, k1p, k2, k2p = y
        act1 = p.k_act1 * dose * k1 / (p.Km1 + k1)
        deact1 = p.V_deact1 * k1p / (p.Km2 + k1p)
        act2 = p.k_act2 * k1p * k2 / (p.Km3 + k2)
        deact2 = p.V_deact2 * k2p / (p.Km4 + k2p)
        return [deact1 - act1, act1 - deact1, deact2 - act2, act2 - deact2]

    llh = 0.0
    for condition, rows in data.groupby("simulationConditionId"):
        times = np.unique(rows["time"])
        solution = solve_ivp(rates, (0.0, times[-1]), [1.0, 0.0, 1.0, 0.0], args=(doses[condition],),
                             t_eval=times, method="LSODA", rtol=1e-11, atol=1e-13)
        state = dict(zip(["K1", "K1p", "K2", "K2p"], solution.y))
        for observable, species in (("pK1", "K1p"), ("pK2", "K2p")):
            obs = rows[rows["observableId"] == observable]
            model = p[f"scale_{observable}"] * state[species][np.searchsorted(times, obs["time"])]
            llh += norm.logpdf(obs["measurement"], model, p[f"sigma_{observable}"]).sum()
    return llh


def test_simulate_matches_test_suite_simulations(tmp_path):
    case = suite_case("0001")
    tol = yaml.safe_load((case / "_0001_solution.yaml").read_text())["tol_simulations"]
    out = tmp_path / "simulations.tsv"
    result = invoke("simulate", str(case / "_0001.yaml"), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "engine: native" in result.stderr  # the one-line note of which engine ran
    got = pd.read_csv(out, sep="\t")
    expected = pd.read_csv(case / "_simulations.tsv", sep="\t")
    assert list(got.columns) == list(expected.columns)
    assert (got["observableId"] == expected["observableId"]).all()
    assert got["time"].tolist() == pytest.approx(expected["time"].tolist())
    assert got["simulation"].tolist() == pytest.approx(expected["simulation"].tolist(), abs=tol, rel=tol)


def test_simulate_parameters_file_unknown_id(example_copy, tmp_path):
    params = tmp_path / "params.tsv"
    params.write_text("parameterId\tvalue\nk_act1\t0.8\nno_such_parameter\t1.0\n")
    result = invoke("simulate", str(example_copy / "mapk_cascade.yaml"), "--out", str(tmp_path / "s.tsv"),
                    "--parameters", str(params))
    assert_input_error(result, str(params), "row 3", "no_such_parameter")
    assert not (tmp_path / "s.tsv").exists()


def test_simulate_parameters_file_bad_value(example_copy, tmp_path):
    params = tmp_path / "params.tsv"
    params.write_text("parameterId\tvalue\nk_act1\tfast\n")
    result = invoke("simulate", str(example_copy / "mapk_cascade.yaml"), "--out", str(tmp_path / "s.tsv"),
                    "-p", str(params))
    assert_input_error(result, str(params), "row 2", "'value'")


def test_simulate_out_folder_missing(tmp_path):
    out = tmp_path / "no" / "such" / "folder" / "s.tsv"
    result = invoke("simulate", str(EXAMPLE / "mapk_cascade.yaml"), "--out", str(out))
    assert_input_error(result, str(out))


# --- bad input: exit status 2, the file named, no traceback -------------------------------

def test_missing_problem_file(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    assert_input_error(invoke("check", str(missing)), str(missing), "not found")


def test_malformed_yaml(tmp_path):
    bad = tmp_path / "problem.yaml"
    bad.write_text("format_version: 1\nproblems: [\n")
    assert_input_error(invoke("check", str(bad)), str(bad), "YAML")


def test_yaml_field_of_wrong_type(example_copy):
    problem = example_copy / "mapk_cascade.yaml"
    problem.write_text(problem.read_text().replace("[measurements.tsv]", "7"))
    assert_input_error(invoke("check", str(problem)), str(problem), "measurement_files")


def test_missing_table_file(example_copy):
    (example_copy / "observables.tsv").unlink()
    assert_input_error(invoke("check", str(example_copy / "mapk_cascade.yaml")), "observables.tsv", "not found")


def test_malformed_tsv(example_copy):
    table = example_copy / "measurements.tsv"
    table.write_text(table.read_text() + 'pK1\t"high_dose\t90\t1.0\n')
    assert_input_error(invoke("check", str(example_copy / "mapk_cascade.yaml")), str(table))


def test_unknown_observable_id_in_measurements(example_copy):
    table = example_copy / "measurements.tsv"
    lines = table.read_text().splitlines()
    lines[3] = lines[3].replace("pK1", "pERK", 1)  # file row 4
    table.write_text("\n".join(lines) + "\n")
    result = invoke("check", str(example_copy / "mapk_cascade.yaml"), "--format", "json")
    assert_input_error(result, str(table), "pERK", "row 4", "observableId")


def test_unknown_observable_id_without_lint(example_copy, tmp_path):
    table = example_copy / "measurements.tsv"
    table.write_text(table.read_text().replace("pK2\thigh_dose\t60.0", "pERK\thigh_dose\t60.0"))
    result = invoke("simulate", str(example_copy / "mapk_cascade.yaml"), "--out", str(tmp_path / "s.tsv"))
    assert_input_error(result, str(table), "pERK", "row 33", "observableId")


def test_non_numeric_measurement(example_copy):
    table = example_copy / "measurements.tsv"
    lines = table.read_text().splitlines()
    lines[5] = "\t".join(lines[5].split("\t")[:3] + ["abc"])  # file row 6
    table.write_text("\n".join(lines) + "\n")
    assert_input_error(invoke("check", str(example_copy / "mapk_cascade.yaml")), str(table), "row 6", "measurement")


def test_malformed_sbml(example_copy):
    model = example_copy / "model.xml"
    model.write_text(model.read_text()[:400])
    assert_input_error(invoke("check", str(example_copy / "mapk_cascade.yaml")), str(model), "SBML")


# --- --debug and internal errors ----------------------------------------------------------

def test_debug_shows_traceback(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    result = invoke("--debug", "check", str(missing))
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert str(missing) in result.stderr
    # ... and only for that invocation.
    assert "Traceback" not in invoke("check", str(missing)).stderr


def test_internal_error_exits_1(monkeypatch, tmp_path):
    from celltwin.cli import _check

    def broken(*args, **kwargs):
        raise RuntimeError("something impossible")

    monkeypatch.setattr(_check, "load_problem", broken)
    result = invoke("check", str(tmp_path / "any.yaml"))
    assert result.exit_code == 1
    assert "internal error" in result.stderr and "something impossible" in result.stderr
    assert "Traceback" not in result.stderr
    result = invoke("--debug", "check", str(tmp_path / "any.yaml"))
    assert result.exit_code == 1 and "Traceback (most recent call last)" in result.stderr


def test_usage_error_exits_2():
    result = invoke("check", "x.yaml", "--format", "xml")
    assert result.exit_code == 2


# --- fit ---------------------------------------------------------------------------------------

def test_fit_writes_table_best_parameters_and_waterfall(tmp_path):
    case = suite_case("0001")
    out = tmp_path / "fits.tsv"
    result = invoke("fit", str(case / "_0001.yaml"), "--starts", "3", "--workers", "1", "--seed", "5", "--out", str(out))
    assert result.exit_code == 0, result.stderr + result.stdout
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 3 and list(table["objective"]) == sorted(table["objective"])
    assert (tmp_path / "fits.waterfall.png").stat().st_size > 1000
    assert "best log-likelihood" in result.stdout
    # each start's llh is the Gaussian llh of the closed-form A(t) at its parameters; four
    # parameters fit two points exactly, so the maximum is -log(pi / 2) (sigma 0.5, two points)
    data = pd.read_csv(case / "_measurements.tsv", sep="\t")
    for _, row in table.iterrows():
        a = conversion_reaction_a(data["time"].to_numpy(), row.a0, row.b0, row.k1, row.k2)
        assert row.llh == pytest.approx(norm.logpdf(data["measurement"], a, 0.5).sum(), abs=1e-9)
    assert table["llh"].iloc[0] == pytest.approx(-np.log(np.pi / 2), abs=1e-6)
    # The best parameters feed `simulate --parameters`: the closed form at them.
    best = tmp_path / "fits.best.tsv"
    sims = tmp_path / "sims.tsv"
    assert invoke("simulate", str(case / "_0001.yaml"), "--parameters", str(best), "--out", str(sims)).exit_code == 0
    theta = pd.read_csv(best, sep="\t").set_index("parameterId")["value"]
    simulated = pd.read_csv(sims, sep="\t")
    expected = conversion_reaction_a(simulated["time"].to_numpy(), theta.a0, theta.b0, theta.k1, theta.k2)
    np.testing.assert_allclose(simulated["simulation"], expected, rtol=1e-7, atol=1e-9)


def conversion_reaction_a(t, a0, b0, k1, k2):
    """A(t) of A <-> B (forward k1, backward k2) from A(0) = a0, B(0) = b0: test-suite case 0001."""
    rate = k1 + k2
    return (k2 * (a0 + b0) + (k1 * a0 - k2 * b0) * np.exp(-rate * t)) / rate


def test_fit_rejects_a_bad_scheduler_address(tmp_path):
    case = suite_case("0001")
    result = invoke("fit", str(case / "_0001.yaml"), "--scheduler", "nowhere:1", "--out", str(tmp_path / "f.tsv"))
    assert_input_error(result, "nowhere:1", "tcp://HOST:PORT")


def test_profile_from_a_fit_table_writes_intervals_and_plot(tmp_path):
    case = suite_case("0001")
    fits = tmp_path / "fits.tsv"
    assert invoke("fit", str(case / "_0001.yaml"), "--starts", "2", "--workers", "1", "--out", str(fits)).exit_code == 0
    out = tmp_path / "profiles"
    result = invoke("profile", str(case / "_0001.yaml"), "--fits", str(fits), "--workers", "1", "--out", str(out))
    assert result.exit_code == 0, result.stderr + result.stdout
    intervals = pd.read_csv(out / "intervals.tsv", sep="\t")
    problem_ids = set(pd.read_csv(fits, sep="\t").columns) - {"start", "objective", "llh", "log_prior", "status",
                                                             "message", "iterations", "evaluations", "time_s"}
    assert set(intervals["parameter"]) == problem_ids
    finite = intervals.dropna(subset=["lower", "upper"])
    assert ((finite["lower"] <= finite["optimum"]) & (finite["optimum"] <= finite["upper"])).all()
    assert (out / "profiles.png").stat().st_size > 1000
    assert (out / "points.tsv").is_file()


def test_profile_rejects_unknown_parameters(tmp_path):
    case = suite_case("0001")
    result = invoke("profile", str(case / "_0001.yaml"), "--parameters", "nope", "--out", str(tmp_path / "p"))
    assert_input_error(result, "--parameters", "nope")


def test_sample_workers_options_are_checked_before_any_work(tmp_path):
    problem = str(EXAMPLE / "mapk_cascade.yaml")
    out = str(tmp_path / "post.nc")
    assert_input_error(invoke("sample", problem, "--out", out, "--method", "ensemble", "--workers", "2"),
                       "--workers", "one process")
    assert_input_error(invoke("sample", problem, "--out", out, "--scheduler", "tcp://127.0.0.1:1"), "--scheduler",
                       "--workers")
    (tmp_path / "post.nc.checkpoint.chains0-1.npz").write_bytes(b"")  # a group checkpoint of an earlier run
    assert_input_error(invoke("sample", problem, "--out", out, "--workers", "2"), "chains0-1", "--resume")
