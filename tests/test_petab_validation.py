"""Wrong PEtab models are rejected, not run: one case per defect (issue 22, item 3).

Each case copies ``examples/mapk_cascade``, breaks one cell (or a few that make one defect),
runs ``celltwin check`` with and without the PEtab linter, and expects exit status 2 with a
message that names the file, the row and the column. The noise-level cases at run time are
also checked against a hand-computed Gaussian log-likelihood, so that positive noise
levels are seen to give the same numbers as before.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from celltwin.cli import app
from celltwin.errors import PEtabError
from celltwin.model import Model
from celltwin.problem import Problem

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mapk_cascade"
Edit = Callable[[Path], None]


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _write(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, sep="\t", index=False)


def cell(file: str, row: int, column: str, value: str) -> Edit:
    """Set one cell (``row`` is the file's line number, header = 1); a new column is added empty."""

    def edit(folder: Path) -> None:
        df = _read(folder / file)
        if column not in df.columns:
            df[column] = ""
        df.loc[row - 2, column] = value
        _write(df, folder / file)

    return edit


def drop_row(file: str, row: int) -> Edit:
    def edit(folder: Path) -> None:
        df = _read(folder / file)
        _write(df.drop(index=row - 2), folder / file)

    return edit


def drop_column(file: str, column: str) -> Edit:
    def edit(folder: Path) -> None:
        _write(_read(folder / file).drop(columns=[column]), folder / file)

    return edit


def noise_parameters(value_in_row_3: str) -> Edit:
    """Observable pK1's noise level becomes a placeholder that the measurement table sets:
    ``sigma_pK1`` in every pK1 row but row 3, which gets ``value_in_row_3``."""

    def edit(folder: Path) -> None:
        cell("observables.tsv", 2, "noiseFormula", "noiseParameter1_pK1")(folder)
        df = _read(folder / "measurements.tsv")
        df["noiseParameters"] = np.where(df["observableId"] == "pK1", "sigma_pK1", "")
        assert df.loc[1, "observableId"] == "pK1"
        df.loc[1, "noiseParameters"] = value_in_row_3
        _write(df, folder / "measurements.tsv")

    return edit


def broken_copy(tmp_path: Path, *edits: Edit) -> Path:
    folder = tmp_path / "mapk_cascade"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for edit in edits:
        edit(folder)
    return folder / "mapk_cascade.yaml"


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_names_cell(result, file: str, row: int | None, column: str, *words: str) -> None:
    """Exit status 2 and a message naming ``file``, ``row`` (possibly among other rows; None: a
    whole column) and ``column``."""
    text = result.stderr
    assert result.exit_code == 2, (result.exit_code, text, result.stdout)
    assert "error:" in text and "Traceback" not in text + result.stdout
    rows = "" if row is None else rf"rows? (?:\d+, )*{row}\b[^;]*?"
    location = rf"{re.escape(file)}, {rows}column '{re.escape(column)}'"
    assert re.search(location, text), (location, text)
    for word in words:
        assert word in text, (word, text)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    edits: tuple[Edit, ...]
    file: str
    row: int | None
    column: str
    words: tuple[str, ...] = ()


_PRIOR = ("parameters.tsv", 2)
CASES = [
    # noise levels that are one value
    Case("sigma nominal negative", (cell("parameters.tsv", 12, "nominalValue", "-0.05"),),
         "parameters.tsv", 12, "nominalValue", ("sigma_pK1", "positive")),
    Case("sigma nominal zero", (cell("parameters.tsv", 12, "nominalValue", "0"),),
         "parameters.tsv", 12, "nominalValue", ("sigma_pK1", "positive")),
    Case("noiseFormula a negative number",
         (cell("observables.tsv", 2, "noiseFormula", "-0.05"), drop_row("parameters.tsv", 12)),
         "observables.tsv", 2, "noiseFormula", ("positive",)),
    Case("noiseParameters a negative number", (noise_parameters("-0.05"),),
         "measurements.tsv", 3, "noiseParameters", ("noiseParameter1_pK1", "positive")),
    # measurements and times
    Case("measurement inf", (cell("measurements.tsv", 3, "measurement", "inf"),),
         "measurements.tsv", 3, "measurement"),
    Case("measurement -inf", (cell("measurements.tsv", 3, "measurement", "-inf"),),
         "measurements.tsv", 3, "measurement"),
    Case("measurement nan", (cell("measurements.tsv", 3, "measurement", "nan"),),
         "measurements.tsv", 3, "measurement"),
    Case("measurement not a number", (cell("measurements.tsv", 3, "measurement", "abc"),),
         "measurements.tsv", 3, "measurement"),
    Case("time negative", (cell("measurements.tsv", 3, "time", "-1"),), "measurements.tsv", 3, "time"),
    Case("time nan", (cell("measurements.tsv", 3, "time", "nan"),), "measurements.tsv", 3, "time"),
    Case("time not a number", (cell("measurements.tsv", 3, "time", "abc"),), "measurements.tsv", 3, "time"),
    # parameter table
    Case("nominal inf", (cell("parameters.tsv", 2, "nominalValue", "inf"),), "parameters.tsv", 2, "nominalValue"),
    Case("nominal not a number", (cell("parameters.tsv", 2, "nominalValue", "abc"),),
         "parameters.tsv", 2, "nominalValue"),
    Case("nominal above upper bound", (cell("parameters.tsv", 2, "nominalValue", "1000"),),
         "parameters.tsv", 2, "nominalValue", ("bounds",)),
    Case("nominal below lower bound", (cell("parameters.tsv", 2, "nominalValue", "0.001"),),
         "parameters.tsv", 2, "nominalValue", ("bounds",)),
    Case("lowerBound above upperBound", (cell("parameters.tsv", 2, "lowerBound", "1000"),),
         "parameters.tsv", 2, "lowerBound", ("upperBound",)),
    Case("log scale, lowerBound zero", (cell("parameters.tsv", 2, "lowerBound", "0"),),
         "parameters.tsv", 2, "lowerBound", ("positive",)),
    Case("log scale, lowerBound negative", (cell("parameters.tsv", 2, "lowerBound", "-1"),),
         "parameters.tsv", 2, "lowerBound", ("positive",)),
    Case("parameterScale unknown", (cell("parameters.tsv", 2, "parameterScale", "ln"),),
         "parameters.tsv", 2, "parameterScale", ("ln",)),
    Case("estimate not 0 or 1", (cell("parameters.tsv", 2, "estimate", "2"),), "parameters.tsv", 2, "estimate"),
    Case("parameterId duplicated", (cell("parameters.tsv", 3, "parameterId", "k_act1"),),
         "parameters.tsv", 3, "parameterId", ("k_act1",)),
    Case("prior normal, negative sd",
         (cell(*_PRIOR, "objectivePriorType", "normal"), cell(*_PRIOR, "objectivePriorParameters", "0.3;-1")),
         "parameters.tsv", 2, "objectivePriorParameters"),
    Case("prior uniform, empty interval",
         (cell(*_PRIOR, "objectivePriorType", "uniform"), cell(*_PRIOR, "objectivePriorParameters", "2;1")),
         "parameters.tsv", 2, "objectivePriorParameters"),
    Case("prior laplace, one parameter",
         (cell(*_PRIOR, "objectivePriorType", "laplace"), cell(*_PRIOR, "objectivePriorParameters", "1")),
         "parameters.tsv", 2, "objectivePriorParameters"),
    Case("prior type unknown",
         (cell(*_PRIOR, "objectivePriorType", "gaussian"), cell(*_PRIOR, "objectivePriorParameters", "0;1")),
         "parameters.tsv", 2, "objectivePriorType", ("gaussian",)),
    # ids that do not match up
    Case("observableId duplicated", (cell("observables.tsv", 3, "observableId", "pK1"),),
         "observables.tsv", 3, "observableId", ("pK1",)),
    Case("conditionId duplicated", (cell("conditions.tsv", 3, "conditionId", "low_dose"),),
         "conditions.tsv", 3, "conditionId", ("low_dose",)),
    Case("measurement of an unknown observable", (cell("measurements.tsv", 3, "observableId", "pK3"),),
         "measurements.tsv", 3, "observableId", ("pK3",)),
    Case("measurement in an unknown condition", (cell("measurements.tsv", 3, "simulationConditionId", "mid_dose"),),
         "measurements.tsv", 3, "simulationConditionId", ("mid_dose",)),
    Case("condition value inf", (cell("conditions.tsv", 2, "L", "inf"),), "conditions.tsv", 2, "L"),
    Case("condition value an unknown id", (cell("conditions.tsv", 2, "L", "L_low"),),
         "conditions.tsv", 2, "L", ("L_low",)),
    Case("noiseFormula column missing", (drop_column("observables.tsv", "noiseFormula"),
                                            drop_row("parameters.tsv", 13), drop_row("parameters.tsv", 12)),
         "observables.tsv", None, "noiseFormula", ("require",)),
    # formulas
    Case("observableFormula with a dangling operator", (cell("observables.tsv", 2, "observableFormula",
                                                              "scale_pK1 * * K1p"),),
         "observables.tsv", 2, "observableFormula", ("scale_pK1 * * K1p",)),
]


@pytest.mark.parametrize("lint", ["--lint", "--no-lint"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_check_rejects_the_defect(tmp_path, case: Case, lint: str):
    problem = broken_copy(tmp_path, *case.edits)
    assert_names_cell(invoke("check", problem, lint), case.file, case.row, case.column, *case.words)


def test_the_unbroken_example_passes(tmp_path):
    """The edits above break only what they mean to: an edit to a valid value passes."""
    problem = broken_copy(tmp_path, cell("parameters.tsv", 2, "nominalValue", "0.5"), noise_parameters("0.07"))
    result = invoke("check", problem, "--format", "json")
    assert result.exit_code == 0, result.stderr


def test_steady_state_time_inf_is_still_accepted(tmp_path):
    """PEtab allows time = inf (a steady-state measurement); celltwin simulates it."""
    problem = broken_copy(tmp_path, cell("measurements.tsv", 9, "time", "inf"))
    result = invoke("check", problem, "--format", "json")
    assert result.exit_code == 0, result.stderr


# --- noise formulas that give a non-positive sigma only when evaluated ----------------------

def test_check_names_the_noise_formula_with_a_negative_sigma(tmp_path):
    problem = broken_copy(tmp_path, cell("observables.tsv", 2, "noiseFormula", "-sigma_pK1"))
    result = invoke("check", problem)
    assert_names_cell(result, "observables.tsv", 2, "noiseFormula", "'-sigma_pK1'", "pK1", "-0.05",
                      "measurements.tsv, row 2")


def test_simulate_names_the_noise_formula_with_a_zero_sigma(tmp_path):
    problem = broken_copy(tmp_path, cell("observables.tsv", 3, "noiseFormula", "sigma_pK2 - 0.1"))
    out = tmp_path / "simulations.tsv"
    result = invoke("simulate", problem, "--out", out)
    assert_names_cell(result, "observables.tsv", 3, "noiseFormula", "'sigma_pK2 - 0.1'", "pK2")
    assert not out.exists()


A0, K, SIGMA = 5.0, 0.3, 0.4
TIMES = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
MEASURED = np.array([5.2, 4.1, 3.6, 2.9, 1.4])


def decay_problem(noise: str, distribution: str = "normal") -> Problem:
    """A(t) = a0 exp(-k t) measured directly; theta = (k, sigma) on linear scale."""
    m = Model("decay")
    m.add_compartment("cell", 1.0)
    m.add_species("A", "a0", compartment="cell")
    m.add_parameter("a0", A0)
    m.add_parameter("k", K)
    m.add_reaction("deg", "A ->", rate="cell*k*A")
    observables = pd.DataFrame({"observableFormula": ["A"], "noiseFormula": [noise],
                                "noiseDistribution": [distribution]},
                               index=pd.Index(["obs_A"], name="observableId"))
    measurements = pd.DataFrame({"observableId": "obs_A", "simulationConditionId": "c0", "time": TIMES,
                                 "measurement": MEASURED})
    parameters = pd.DataFrame([["k", "lin", 0.01, 10, K, 1], ["sigma", "lin", 0.01, 10, SIGMA, 1]],
                              columns=["parameterId", "parameterScale", "lowerBound", "upperBound",
                                       "nominalValue", "estimate"]).set_index("parameterId")
    conditions = pd.DataFrame(index=pd.Index(["c0"], name="conditionId"))
    return Problem.from_tables(m, measurements=measurements, observables=observables, parameters=parameters,
                               conditions=conditions)


def gaussian_llh(sigma: float) -> float:
    """By hand: sum of log N(m; a0 exp(-k t), sigma^2)."""
    r = MEASURED - A0 * np.exp(-K * TIMES)
    return float(np.sum(-0.5 * np.log(2 * math.pi * sigma**2) - 0.5 * (r / sigma) ** 2))


@pytest.mark.parametrize("distribution", ["normal", "laplace"])
def test_non_positive_sigma_gives_minus_infinity(distribution):
    problem = decay_problem("sigma", distribution)
    assert math.isfinite(float(problem.log_likelihood(np.array([K, SIGMA]))))
    for sigma in (-SIGMA, 0.0, -math.inf, math.nan):
        assert float(problem.log_likelihood(np.array([K, sigma]))) == -math.inf, sigma
        assert np.isnan(np.asarray(problem.pointwise_log_likelihood(np.array([K, sigma])))).all()
        assert math.isnan(float(problem.chi2(np.array([K, sigma]))))


def test_positive_sigma_log_likelihood_and_gradient_are_unchanged():
    problem = decay_problem("sigma")
    theta = np.array([K, SIGMA])
    assert float(problem.log_likelihood(theta)) == pytest.approx(gaussian_llh(SIGMA), abs=1e-6)
    # d llh / d sigma = sum(-1/sigma + r^2/sigma^3): the guard must not touch the derivative.
    r = MEASURED - A0 * np.exp(-K * TIMES)
    expected = float(np.sum(-1 / SIGMA + r**2 / SIGMA**3))
    for mode in ("forward", "reverse"):
        value, grad = problem.value_and_grad(mode)(theta)
        assert float(value) == pytest.approx(gaussian_llh(SIGMA), abs=1e-6)
        assert float(grad[1]) == pytest.approx(expected, rel=1e-6)
        assert np.all(np.isfinite(np.asarray(grad)))


def test_a_formula_that_turns_negative_is_minus_infinity_where_it_does():
    """sigma = sigma - 0.5 is positive for sigma > 0.5 only: the same formula, both sides."""
    problem = decay_problem("sigma - 0.5")
    assert float(problem.log_likelihood(np.array([K, 0.9]))) == pytest.approx(gaussian_llh(0.4), abs=1e-6)
    assert float(problem.log_likelihood(np.array([K, 0.1]))) == -math.inf
    simulation = jax.jit(problem.simulate)(np.array([K, 0.1]))
    with pytest.raises(PEtabError, match=r"observable table, row 2 \(observable 'obs_A'\), column 'noiseFormula'"):
        problem.check_noise_levels(simulation)
    problem.check_noise_levels(jax.jit(problem.simulate)(np.array([K, 0.9])))
