"""The library's readers of parameter-value tables: a values table as ``theta``
(``celltwin.problem.read_parameter_values``) and the best row of a fit table
(``celltwin.inference.read_best_fit``), against values written by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from celltwin.errors import CelltwinInputError, PEtabError
from celltwin.inference import read_best_fit
from celltwin.problem import from_petab, read_parameter_values

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mapk_cascade" / "mapk_cascade.yaml"


@pytest.fixture(scope="module")
def problem():
    return from_petab(EXAMPLE)


def test_values_on_linear_scale_become_theta_on_the_parameter_scale(problem, tmp_path):
    path = tmp_path / "values.tsv"
    path.write_text("parameterId\tvalue\nk_act1\t0.8\nV_deact1\t0.3\n")
    theta = read_parameter_values(problem, path)
    expected = np.array(problem.x_nominal, dtype=float)
    ids = list(problem.parameter_ids)
    assert problem.parameter_scales[ids.index("k_act1")] == "log10"  # the example's scale
    expected[ids.index("k_act1")] = math.log10(0.8)
    expected[ids.index("V_deact1")] = math.log10(0.3)
    np.testing.assert_allclose(theta, expected, rtol=0, atol=1e-15)


def test_a_negative_value_on_log_scale_names_row_and_column(problem, tmp_path):
    path = tmp_path / "values.tsv"
    path.write_text("parameterId\tvalue\nk_act1\t0.8\nk_act2\t-1\n")
    with pytest.raises(PEtabError, match=r"row 3, column 'value'.*'k_act2'.*log10 scale"):
        read_parameter_values(problem, path)


def test_the_best_fit_is_the_row_with_the_smallest_finite_objective(problem, tmp_path):
    ids = list(problem.parameter_ids)
    rows = {"inf": [9.0] * len(ids), "3.5": [1.0] * len(ids), "2.25": [-0.5 + 0.1 * k for k in range(len(ids))],
            "nan": [7.0] * len(ids)}
    lines = ["\t".join(["start", "objective", *ids])]
    lines += ["\t".join([str(k), obj, *map(str, values)]) for k, (obj, values) in enumerate(rows.items())]
    path = tmp_path / "fits.tsv"
    path.write_text("\n".join(lines) + "\n")
    np.testing.assert_array_equal(read_best_fit(problem, path), rows["2.25"])


def test_a_fit_table_of_another_problem_is_refused(problem, tmp_path):
    path = tmp_path / "fits.tsv"
    path.write_text("start\tobjective\tother\n0\t1.0\t2.0\n")
    with pytest.raises(CelltwinInputError, match="not a `celltwin fit` table of this problem"):
        read_best_fit(problem, path)
