"""celltwin.petab: one reading of a problem's files, ``lint`` as a list of located Issues, v2 input.

Expected locations are the rows and columns each test breaks by hand; expected log-likelihoods
are the PEtab test suite's reference values.
"""

from __future__ import annotations

import json
import math
import pathlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import require_shared
from typer.testing import CliRunner

from celltwin.cli import app
from celltwin.errors import PEtabError
from celltwin.petab import Issue, lint, read_petab
from celltwin.problem import from_petab

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mapk_cascade"


def _copy(src: Path, tmp_path: Path) -> Path:
    folder = tmp_path / src.name
    shutil.copytree(src, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


def _edit(path: Path, row: int, column: str, value: str) -> None:
    """Set the cell at file line ``row`` (header = 1)."""
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    df.loc[row - 2, column] = value
    df.to_csv(path, sep="\t", index=False)


def _v2_case(case: str, tmp_path: Path) -> Path:
    return _copy(require_shared("petab-test-suite", "v2.0.0", "sbml", case), tmp_path)


def test_clean_problems_have_no_issues():
    assert lint(EXAMPLE / "mapk_cascade.yaml") == []


def test_v1_issue_names_file_row_and_column(tmp_path):
    folder = _copy(EXAMPLE, tmp_path)
    _edit(folder / "parameters.tsv", 3, "lowerBound", "500")  # above its upperBound (100)
    issues = lint(folder / "mapk_cascade.yaml")
    errors = [i for i in issues if i.severity == "error"]
    assert len(errors) == 1, issues
    issue = errors[0]
    assert (issue.file, issue.row, issue.column) == (str(folder / "parameters.tsv"), 3, "lowerBound")
    assert "upperBound" in issue.message
    assert issue.as_dict()["row"] == 3 and issue.as_dict()["severity"] == "error"


def test_v2_issue_comes_from_the_structured_results(tmp_path):
    """An observable the observable table lacks (case 0002, measurement row 6): the PEtab library's
    v2 check reports it; celltwin places it in the measurement table."""
    folder = _v2_case("0002", tmp_path)
    _edit(folder / "_measurements.tsv", 6, "observableId", "obs_ghost")
    issues = lint(folder / "_0002.yaml")
    located = [i for i in issues if i.severity == "error" and i.column == "observableId"]
    assert located, issues
    assert located[0].file == str(folder / "_measurements.tsv") and located[0].rows == (6,)
    assert "obs_ghost" in located[0].message


def test_issue_row_is_the_first_of_its_rows():
    issue = Issue("warning", "m", "f.tsv", rows=(4, 7))
    assert issue.row == 4 and issue.describe() == "f.tsv, rows 4, 7: m"
    assert Issue("error", "m", "f.tsv", row=5, column="c").rows == (5,)
    with pytest.raises(ValueError):
        Issue("fatal", "m")


@pytest.mark.parametrize("yaml_name", ["mapk_cascade.yaml", "v2"])
def test_each_file_is_read_once(tmp_path, monkeypatch, yaml_name):
    """read_petab + lint + from_petab read each file of the problem once, and the PEtab library
    reads none itself."""
    yaml_path = (EXAMPLE / yaml_name if yaml_name != "v2"
                 else require_shared("petab-test-suite", "v2.0.0", "sbml", "0009", "_0009.yaml"))
    reads: list[Path] = []
    original = pathlib.Path.read_bytes

    def counted(self):
        reads.append(self.resolve())
        return original(self)

    import petab.v1
    import petab.v2

    def refuse(*args, **kwargs):
        raise AssertionError("the PEtab library re-read the problem")

    monkeypatch.setattr(pathlib.Path, "read_bytes", counted)
    monkeypatch.setattr(petab.v1.Problem, "from_yaml", refuse)
    monkeypatch.setattr(petab.v2.Problem, "from_yaml", refuse)
    source = read_petab(yaml_path)
    lint(source)
    from_petab(source)
    table_files = [p.resolve() for paths in source.files.tables.values() for p in paths]
    folder = yaml_path.resolve().parent
    problem_reads = [p for p in reads if p.is_relative_to(folder)]  # not the compilation caches
    assert sorted(map(str, problem_reads)) == sorted(map(str, {yaml_path.resolve(), source.files.sbml[0].resolve(),
                                                               *table_files}))


def test_check_on_a_v2_problem():
    folder = require_shared("petab-test-suite", "v2.0.0", "sbml", "0009")
    solution = yaml.safe_load((folder / "_0009_solution.yaml").read_text())
    result = CliRunner().invoke(app, ["check", str(folder / "_0009.yaml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert math.isclose(out["llh"], solution["llh"], rel_tol=0, abs_tol=solution["tol_llh"])
    assert out["lint"] == [] and out["n_measurements"] == 2


def test_check_refuses_a_v2_problem_with_lint_errors(tmp_path):
    folder = _v2_case("0002", tmp_path)
    _edit(folder / "_measurements.tsv", 6, "observableId", "obs_ghost")
    result = CliRunner().invoke(app, ["check", str(folder / "_0002.yaml")])
    assert result.exit_code == 2, result.output
    assert "_measurements.tsv, row 6, column 'observableId'" in result.output


def test_v1_fields_under_a_v2_version_are_refused(tmp_path):
    folder = _copy(EXAMPLE, tmp_path)
    path = folder / "mapk_cascade.yaml"
    path.write_text(path.read_text().replace("format_version: 1", "format_version: 2.0.0"))
    with pytest.raises(PEtabError, match="format_version '2.0.0' is PEtab v2"):
        read_petab(path)
