"""A v1 problem's tables read without the PEtab library equal the library's own reading
(``PEtabSource.v1_tables`` against ``petab.v1.Problem``), on every v1 problem at hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import require_shared

from celltwin.errors import PEtabError
from celltwin.petab import read_petab

LIBRARY = {"measurement": "measurement_df", "observable": "observable_df", "parameter": "parameter_df",
           "condition": "condition_df"}


def _v1_problems() -> list[Path]:
    suite = require_shared("petab-test-suite", "v1.0.0", "sbml")
    benchmark = require_shared("petab-benchmark")
    cases = sorted(p for p in suite.glob("*/_*.yaml") if not p.name.endswith("_solution.yaml"))
    problems = sorted(p for p in benchmark.glob("*/*.yaml") if p.name == "problem.yaml" or p.stem == p.parent.name)
    return cases + problems


def _assert_equal_to_the_librarys(path: Path) -> None:
    source = read_petab(path)
    ours, library = source.v1_tables(), source.library
    for kind, attribute in LIBRARY.items():
        theirs = getattr(library, attribute)
        if theirs is None:
            assert ours[kind] is None, (path, kind)
        else:
            pd.testing.assert_frame_equal(ours[kind], theirs, obj=f"{path} {kind}")


def test_tables_equal_the_librarys_on_every_v1_problem():
    problems = _v1_problems()
    assert len(problems) >= 30  # the 20 suite cases and the benchmark problems
    for path in problems:
        _assert_equal_to_the_librarys(path)


def _case_0001(tmp_path: Path) -> Path:
    folder = require_shared("petab-test-suite", "v1.0.0", "sbml", "0001")
    for f in folder.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    return tmp_path / "_0001.yaml"


def test_several_files_of_a_kind_follow_one_another(tmp_path):
    path = _case_0001(tmp_path)
    measurements = pd.read_csv(tmp_path / "_measurements.tsv", sep="\t")
    measurements.iloc[:1].to_csv(tmp_path / "m1.tsv", sep="\t", index=False)
    measurements.iloc[1:].to_csv(tmp_path / "m2.tsv", sep="\t", index=False)
    (tmp_path / "c2.tsv").write_text("conditionId\nc1\n")
    text = path.read_text().replace("  - _measurements.tsv", "  - m1.tsv\n  - m2.tsv")
    path.write_text(text.replace("  - _conditions.tsv", "  - _conditions.tsv\n  - c2.tsv"))
    _assert_equal_to_the_librarys(path)
    tables = read_petab(path).v1_tables()
    assert len(tables["measurement"]) == len(measurements)
    assert list(tables["condition"].index) == ["c0", "c1"]


def test_a_column_name_with_whitespace_names_the_file(tmp_path):
    path = _case_0001(tmp_path)
    table = tmp_path / "_measurements.tsv"
    table.write_text(table.read_text().replace("measurement\n", "measurement \n", 1))
    with pytest.raises(PEtabError, match=r"_measurements\.tsv.*'measurement '"):
        read_petab(path).v1_tables()
