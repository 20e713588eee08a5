"""``celltwin diagnose``: output contract (table, JSON, HTML) and errors that name line and column."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_causal_diagnostics import simpson_data
from typer.testing import CliRunner

from celltwin.cli import app


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def simpson_csv(tmp_path):
    x, y, labels = simpson_data(0)
    rng = np.random.default_rng(0)
    path = tmp_path / "preds.csv"
    # predicted/measured in nM: pKd = 9 - log10(nM), so the trend keeps its sign
    pd.DataFrame({"compound": [f"c{i}" for i in range(len(x))], "target": "AKT1",
                  "predicted": 10 ** (9 - x), "measured": 10 ** (9 - y), "unit": "nM",
                  "family": labels, "coin": rng.choice(["heads", "tails"], len(x))}).to_csv(path, index=False)
    return path


def assert_input_error(result, *names: str) -> None:
    text = result.stderr + result.stdout
    assert result.exit_code == 2, text
    assert "error:" in result.stderr
    for name in names:
        assert name in result.stderr, (name, result.stderr)
    assert "Traceback" not in text


def test_diagnose_table_and_json(simpson_csv, tmp_path):
    out = tmp_path / "d.json"
    r = invoke("diagnose", str(simpson_csv), "--strata", "family", "--strata", "coin", "--bootstrap", "300",
               "--permutations", "300", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    assert "REVERSAL" in r.stdout and "stratum column 'coin'" in r.stdout
    d = json.loads(out.read_text())
    family, coin = d["columns"]
    assert family["column"] == "family" and family["reversal"]["reversal"] is True
    assert coin["reversal"]["reversal"] is False
    x, y, labels = simpson_data(0)
    e = x - y
    ss_b = sum((labels == s).sum() * (e[labels == s].mean() - e.mean()) ** 2 for s in "abc")
    assert family["focus"]["eta2"] == pytest.approx(ss_b / np.sum((e - e.mean()) ** 2), rel=1e-9)
    assert sum(s["focus_share"] for s in family["strata"]) == pytest.approx(family["focus"]["eta2"], rel=1e-9)


def test_diagnose_html(simpson_csv, tmp_path):
    out = tmp_path / "d.html"
    r = invoke("diagnose", str(simpson_csv), "-s", "family", "--bootstrap", "100", "--permutations", "100",
               "--out", str(out))
    assert r.exit_code == 0, r.stderr
    page = out.read_text()
    assert "data:image/png;base64," in page and "reversal" in page


def test_diagnose_errors(simpson_csv, tmp_path):
    assert_input_error(invoke("diagnose", str(simpson_csv), "--strata", "chemotype"), "chemotype", "family")
    assert_input_error(invoke("diagnose", str(tmp_path / "none.csv"), "--strata", "x"), "none.csv")
    assert_input_error(invoke("diagnose", str(simpson_csv), "-s", "family", "--out", str(tmp_path / "d.txt")),
                       "d.txt", ".json")
    bad = tmp_path / "bad.csv"
    lines = simpson_csv.read_text().splitlines()
    fields = lines[4].split(",")
    fields[3] = "n/a"
    lines[4] = ",".join(fields)
    bad.write_text("\n".join(lines) + "\n")
    assert_input_error(invoke("diagnose", str(bad), "--strata", "family"), "bad.csv", "line 5", "'measured'", "n/a")


def test_diagnose_reads_tsv_and_rejects_header_only(simpson_csv, tmp_path):
    tsv = tmp_path / "preds.tsv"
    pd.read_csv(simpson_csv).to_csv(tsv, sep="\t", index=False)
    r = invoke("diagnose", str(tsv), "-s", "family", "--bootstrap", "50", "--permutations", "50")
    assert r.exit_code == 0, r.stderr
    assert "REVERSAL" in r.stdout
    empty = tmp_path / "empty.csv"
    empty.write_text("compound,target,predicted,measured,family\n")
    assert_input_error(invoke("diagnose", str(empty), "-s", "family"), "empty.csv", "no data rows")
