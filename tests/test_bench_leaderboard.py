"""The leaderboard page and the ``celltwin bench`` commands.

The page is built from a store filled with hand-made rows (known means), checked to be
self-contained with every section, and rendered in headless Chromium (skipped without
it). One test runs the real quick suite through the CLI (every method on two tasks) and
checks that the mechanistic fits beat the no-learning baseline on held-out data."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pytest
from test_report import assert_self_contained, chrome_driver
from typer.testing import CliRunner

from celltwin.bench import METHODS, ResultStore, cells, suite
from celltwin.bench._leaderboard import (
    challenge,
    ranking,
    render_leaderboard,
    write_leaderboard,
)
from celltwin.bench._runner import unavailable_methods
from celltwin.cli import app

AXES = {"noise": 0.05, "n_times": 8, "n_conditions": 2, "unobserved": 0.0, "prior": "none", "skeleton": "true"}


def fake_rows() -> list[dict]:
    """Two methods on a noise sweep and an unobserved sweep of one model, plus a failure."""
    rows = []
    now = datetime.datetime(2026, 1, 1)
    sweeps = [{"noise": x} for x in (0.02, 0.05, 0.1)] + [{"unobserved": x} for x in (0.25, 0.5)]
    for k, change in enumerate(sweeps):
        axes = {**AXES, **change}
        task = f"v1/toy/{k}"
        for method, err in (("good", 0.5), ("bad", 2.0)):
            for seed in (0, 1):
                value = err * (1 + axes["noise"] + axes["unobserved"]) + 0.1 * seed
                rows.append({"suite": "quick", "task_id": task, "method": method, "seed": seed,
                             "registry_version": "v1", "kind": "synthetic", "status": "ok", "nrmse": value,
                             "coverage90": 0.9, "crps": value / 2, "log10_error": 0.1, "structure_f1": 1.0,
                             "wall_s": 1.0, "model": "toy", "finished_at": now, **axes})
    rows.append({**rows[0], "method": "broken", "status": "failed", "error": "fitting: <script>x</script>",
                 "nrmse": None, "crps": None})
    return rows


@pytest.fixture()
def store(tmp_path):
    s = ResultStore(tmp_path / "fake.duckdb")
    s.create()
    for row in fake_rows():
        assert s.write(row)
    return s


def test_ranking_means_and_failures(store):
    df = store.table()
    table = ranking(df)
    good = [r for r in fake_rows() if r["method"] == "good"]
    assert table.loc["good", "crps"] == pytest.approx(np.mean([r["crps"] for r in good]))
    assert list(table.index[:2]) == ["good", "bad"]
    assert table.loc["good", "median crps"] == pytest.approx(np.median([r["crps"] for r in good]))
    assert table.loc["broken", "failures"] == 1 and table.loc["good", "failures"] == 0
    assert challenge(df.iloc[0]) == "toy: noise=0.02"
    assert challenge(df[df["task_id"] == "v1/toy/1"].iloc[0]) == "toy: default"


def test_ranking_is_not_overturned_by_one_blown_up_cell(store):
    """One cell off by a factor of 100 lifts the good method's mean CRPS above the bad
    method's; the ranking follows the medians, so the good method stays first."""
    df = store.table()
    first = df.index[(df["method"] == "good")][0]
    df.loc[first, "crps"] = 100.0
    table = ranking(df)
    assert table.loc["good", "crps"] > table.loc["bad", "crps"]
    assert list(table.index[:2]) == ["good", "bad"]


def test_page_is_self_contained_with_every_section(store, tmp_path):
    out = write_leaderboard(store.path, tmp_path / "board.html")
    text = out.read_text()
    page = assert_self_contained(text)
    for anchor in ("ranking", "heatmap", "axes", "rows"):
        assert f'id="{anchor}"' in text
    # a heat map and two per-axis figures (noise, unobserved); the error text is escaped
    assert len(re.findall(r'<img src="data:image/png;base64,', text)) == 3
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert page is not None


def test_leaderboard_renders_in_a_browser(store, tmp_path):
    path = tmp_path / "board.html"
    path.write_text(render_leaderboard(store.table(), source="fake"))
    driver = chrome_driver()
    try:
        driver.get(path.resolve().as_uri())
        sizes = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]);")
        assert len(sizes) == 3 and all(c and w > 0 and h > 0 for c, w, h in sizes), sizes
        assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert driver.find_element("css selector", "#ranking").text == "Ranking"
    finally:
        driver.quit()


def test_cli_errors_for_bad_input(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["bench", "run", "--suite", "huge", "--out", str(tmp_path / "r.duckdb")])
    assert result.exit_code == 2 and "unknown suite 'huge'" in result.output
    result = runner.invoke(app, ["bench", "run", "--methods", "magic", "--out", str(tmp_path / "r.duckdb")])
    assert result.exit_code == 2 and "unknown method(s) magic" in result.output
    result = runner.invoke(app, ["bench", "report", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "b.html")])
    assert result.exit_code == 2 and "result store not found" in result.output


@pytest.mark.slow  # 3-5 min on a quiet 2-core machine, more on a loaded one
def check_quick_suite_rows(df) -> None:
    """What the quick suite's rows must show (also checked against stored runs by hand)."""
    # Discovery no longer fails on the cascades (conserved species are reduced away), however
    # poorly it extrapolates in dose; the other model-free methods may fail (a failure is a row).
    assert (df.loc[df["method"] == "sparse_discovery", "status"] == "ok").all()
    df = df[~df["method"].isin(["sparse_discovery", "neural_ode", "pysindy"])]
    assert (df["status"] == "ok").all(), df[["task_id", "method", "error"]]
    assert set(df["method"]) == {"training_mean", "mechanistic_map", "mechanistic_bayes", "bayes_ml_evidence",
                                 "hybrid_neural"}
    for _, g in df.groupby("task_id"):
        nrmse = g.set_index("method")["nrmse"]
        assert (nrmse.drop("training_mean") < nrmse["training_mean"]).all()
    fits = df[df["method"] != "training_mean"]
    assert (fits["log10_error"] < 0.5).all() and (fits["structure_f1"] == 1.0).all()
    assert fits["coverage90"].between(0.5, 1.0).all()


@pytest.mark.slow  # ~5 min; .ci/run runs it after the default suite
def test_quick_suite_through_the_cli(tmp_path):
    """`celltwin bench run --suite quick` then `celltwin bench report` (the heavy test)."""
    out, board = tmp_path / "results.duckdb", tmp_path / "leaderboard.html"
    runner = CliRunner()
    result = runner.invoke(app, ["bench", "run", "--suite", "quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    df = ResultStore(out).table()
    n_cells = len(cells(suite("quick")))
    assert len(df) == n_cells and set(df["method"]) == set(METHODS) - set(unavailable_methods(suite("quick")))
    check_quick_suite_rows(df)
    result = runner.invoke(app, ["bench", "run", "--suite", "quick", "--out", str(out)])
    assert result.exit_code == 0 and f"{n_cells} already stored, 0 run" in result.output
    result = runner.invoke(app, ["bench", "report", str(out), "--out", str(board)])
    assert result.exit_code == 0 and board.stat().st_size > 10_000
