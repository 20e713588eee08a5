"""PEtab v2 extensions read by the one PEtab reader: PEtab SciML's section adds its tables and
files to the v2 problem that :func:`celltwin.petab.read_petab` reads (issue 25, item 3)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest

from celltwin.errors import PEtabError, UnsupportedFeatureError
from celltwin.hybrid.sciml import SCIML
from celltwin.petab import Extension, check_ids, lint, read_petab, require_columns

from .conftest import require_shared

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mapk_cascade"


def _sciml_case() -> Path:
    return require_shared("petab-sciml-test-suite", "sciml_problem_import", "001", "petab")


def test_sciml_problem_is_read_with_its_extension_tables_and_files():
    folder = _sciml_case()
    source = read_petab(folder / "problem.yaml", extension=SCIML)
    with open(folder / "hybridization.tsv", newline="") as f:  # the file as the csv module reads it
        expected = list(csv.DictReader(f, delimiter="\t"))
    ((path, table),) = source.tables["hybridization"]
    assert path == folder / "hybridization.tsv"
    assert table.to_dict("records") == expected
    assert source.files.extension == {"array_files": [folder / "net1_ps.hdf5"]}
    assert set(source.extension_section["neural_networks"]) == {"net1"}
    # the v2 base tables come from the same reading
    assert [p.name for p, _ in source.tables["mapping"]] == ["mapping.tsv"]
    assert source.sbml_model.getNumSpecies() == 2  # prey and predator
    # The PEtab library's v2 tables refuse nominalValue 'array': no library problem, and no lint.
    assert source.library is None
    with pytest.raises(UnsupportedFeatureError, match="sciml extension"):
        lint(source)


def test_a_sciml_problem_read_as_plain_petab_points_to_the_hybrid_reader():
    """Plain PEtab (``celltwin check``, ``from_petab``) cannot read SciML tables; the message
    names the file and where it can be read, instead of the library's pydantic error."""
    path = _sciml_case() / "problem.yaml"
    with pytest.raises(UnsupportedFeatureError) as info:
        read_petab(path)
    assert str(path) in str(info.value) and "celltwin hybrid" in str(info.value)


def test_an_extension_needs_a_v2_problem_with_its_section(tmp_path):
    with pytest.raises(UnsupportedFeatureError, match="format_version.*PEtab sciml problems are PEtab v2"):
        read_petab(EXAMPLE / "mapk_cascade.yaml", extension=SCIML)
    shutil.copytree(_sciml_case(), tmp_path / "p")
    with pytest.raises(PEtabError, match=r"problem.yaml: no extensions.other section"):
        read_petab(tmp_path / "p" / "problem.yaml", extension=Extension("other"))
    yaml = tmp_path / "p" / "problem.yaml"
    yaml.write_text(yaml.read_text().replace('      - "hybridization.tsv"', '      - 7'))
    with pytest.raises(PEtabError, match=r"field 'extensions.sciml.hybridization_files' must be a file name"):
        read_petab(yaml, extension=SCIML)


def test_table_checks_name_file_row_and_column():
    table = pd.DataFrame({"targetId": ["a", "b c", "a"]})
    with pytest.raises(PEtabError, match=r"^t.tsv, row 3, column 'targetId': 'b c' is not a PEtab id"):
        check_ids(Path("t.tsv"), table, "targetId")
    with pytest.raises(PEtabError, match=r"^t.tsv, row 4, column 'targetId': 'a' is duplicated \(first in row 2\)"):
        check_ids(Path("t.tsv"), pd.DataFrame({"targetId": ["a", "b", "a"]}), "targetId", unique=True)
    check_ids(Path("t.tsv"), pd.DataFrame({"targetId": ["a", "", "a"]}), "targetId")  # repeats allowed
    with pytest.raises(PEtabError, match=r"^t.tsv, column 'targetValue': this required column is missing"):
        require_columns(Path("t.tsv"), table, ("targetId", "targetValue"))
