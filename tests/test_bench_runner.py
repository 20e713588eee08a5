"""The benchmark runner and its result store: one row per cell, reruns skip finished cells,
a runner killed mid-way loses and duplicates nothing, and the same grid gives identical
results in this process and on a Dask LocalCluster with two workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from celltwin.bench import METHODS, ResultStore, Suite, cells, run, run_cell, suite
from celltwin.bench._registry import build_task
from celltwin.bench._runner import PREDICTIVE_DRAWS, Cell, unavailable_methods
from celltwin.bench.methods import TrainingMean
from celltwin.errors import CelltwinInputError

REPO = Path(__file__).resolve().parent.parent
LV = "v2/lotka_volterra/noise=0.05/times=8/conditions=2/unobserved=0/prior=none/skeleton=true"
CASCADE = "v2/kinase_cascade/noise=0.05/times=8/conditions=2/unobserved=0/prior=none/skeleton=true"
METRICS = ["nrmse", "coverage90", "crps", "log10_error", "structure_f1", "status", "error", "n_heldout"]


def tiny_suite(seeds=(0, 1)) -> Suite:
    return Suite("tiny", (LV, CASCADE), (TrainingMean(),), tuple(seeds))


def test_quick_suite_has_every_method_and_evidence_only_where_there_is_some():
    grid = cells(suite("quick"))
    assert {c.method.name for c in grid} == set(METHODS) - set(unavailable_methods(suite("quick")))
    assert len({c.key for c in grid}) == len(grid)
    evidence = [c for c in grid if c.method.name == "bayes_ml_evidence"]
    assert evidence and all("prior=none" not in c.task_id for c in evidence)


def test_a_failing_cell_is_a_row_not_a_crash():
    row = run_cell(Cell("tiny", "v1/no/such/task", TrainingMean(), 0))
    assert row["status"] == "failed" and "unknown task" in row["error"] and row["wall_s"] >= 0


def test_rows_are_written_once_and_reruns_skip_them(tmp_path):
    out = tmp_path / "r.duckdb"
    first = run(tiny_suite(), out, scheduler="serial", progress=False)
    assert (first.total, first.skipped, first.ran, first.failed) == (4, 0, 4, 0)
    table = ResultStore(out).table()
    assert len(table) == 4 and (table["status"] == "ok").all()
    for _, row in table.iterrows():
        assert_metrics_of_training_mean(row)
    again = run(tiny_suite(), out, scheduler="serial", progress=False)
    assert (again.skipped, again.ran) == (4, 0)
    assert ResultStore(out).write(table.iloc[0].to_dict()) is False
    pd.testing.assert_frame_equal(ResultStore(out).table(), table)


def assert_metrics_of_training_mean(row) -> None:
    """The stored metrics of a training-mean cell, recomputed here with numpy from the method's
    predictive draws (whose centre is checked against the training data's per-time means)."""
    task = build_task(row["task_id"], int(row["seed"]))
    draws = TrainingMean().fit(task, seed=int(row["seed"])).predict(task.heldout, PREDICTIVE_DRAWS, int(row["seed"]))
    heldout = task.heldout.measurement_df
    measured = heldout["measurement"].to_numpy(dtype=float)
    assert draws.shape == (PREDICTIVE_DRAWS, len(measured)) == (PREDICTIVE_DRAWS, row["n_heldout"])
    # the draws centre on the training mean at the same observable and time (within 4 Monte
    # Carlo standard errors: the draws are normal around it)
    train = task.problem.measurement_df.astype({"time": float, "measurement": float})
    curve = train.groupby(["observableId", "time"])["measurement"].mean()
    centre = curve.loc[list(zip(heldout["observableId"], heldout["time"].astype(float)))].to_numpy()
    assert np.all(np.abs(draws.mean(0) - centre) <= 4 * draws.std(0) / np.sqrt(PREDICTIVE_DRAWS))
    # each observable's scale: the root mean square of its held-out measurements
    observables = heldout["observableId"].to_numpy()
    scale = np.array([np.sqrt(np.mean(measured[observables == o] ** 2)) for o in observables])
    nrmse = np.sqrt(np.mean(((draws.mean(0) - measured) / scale) ** 2))
    lower, upper = np.percentile(draws, [5, 95], axis=0)
    coverage = np.mean((lower <= measured) & (measured <= upper))
    # CRPS of the empirical distribution, E|X - y| - E|X - X'| / 2, over all pairs of draws
    pairs = np.abs(draws[:, None, :] - draws[None, :, :]).mean(axis=(0, 1))
    crps = np.mean((np.abs(draws - measured).mean(0) - pairs / 2) / scale)
    assert (row["nrmse"], row["coverage90"], row["crps"]) == pytest.approx((nrmse, coverage, crps), rel=1e-10)
    assert np.isnan(row["log10_error"]) and np.isnan(row["structure_f1"])  # no parameters, no structure


def test_store_errors_name_the_file(tmp_path):
    bad = tmp_path / "not.duckdb"
    bad.write_text("hello")
    with pytest.raises(CelltwinInputError, match="not.duckdb"):
        ResultStore(bad).table()
    with pytest.raises(CelltwinInputError, match="result store not found"):
        ResultStore(tmp_path / "absent.duckdb").table()
    import duckdb

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    with pytest.raises(CelltwinInputError, match="without a 'results' table"):
        ResultStore(other).table()


def test_local_cluster_gives_the_in_process_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    serial = tmp_path / "serial.duckdb"
    run(tiny_suite(seeds=(0,)), serial, scheduler="serial", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = tmp_path / "dask.duckdb"
        run(tiny_suite(seeds=(0,)), dask, scheduler=cluster.scheduler_address, progress=False)
    a, b = ResultStore(serial).table(), ResultStore(dask).table()
    assert len(a) == 2 and len(set(b["worker"])) >= 1
    pd.testing.assert_frame_equal(a[["task_id", "method", "seed", *METRICS]], b[["task_id", "method", "seed", *METRICS]])


KILL_ARGS = ["-m", "celltwin.cli", "bench", "run", "--suite", "quick", "--methods", "mechanistic_map",
             "--scheduler", "serial"]


def test_killed_runner_resumes_without_duplicates_or_losses(tmp_path):
    """SIGKILL the runner (a `celltwin bench run` process) as soon as a row is stored (two
    quick cells can finish within one poll, so one or more); the rerun (in this process,
    the same code path) adds the rest."""
    out = tmp_path / "killed.duckdb"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, *KILL_ARGS, "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if out.exists() and proc.poll() is None:
                try:
                    if ResultStore(out).finished():
                        break
                except CelltwinInputError:
                    pass
            if proc.poll() is not None:
                pytest.fail(f"the runner ended before it was killed: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
        else:
            pytest.fail("no row was stored in time")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = ResultStore(out).table()
    grid = {c.key for c in cells(suite("quick"), methods=["mechanistic_map"])}
    done = len(before)
    assert 1 <= done < len(grid)
    summary = run(suite("quick"), out, scheduler="serial", methods=["mechanistic_map"], progress=False)
    assert (summary.skipped, summary.ran, summary.failed) == (done, len(grid) - done, 0)
    after = ResultStore(out).table()
    keys = list(zip(after["suite"], after["task_id"], after["method"], after["seed"]))
    assert len(keys) == len(set(keys)) == len(grid) and set(keys) == grid
    kept = after.merge(before[["task_id", "finished_at"]], on=["task_id", "finished_at"])
    assert len(kept) == done  # the rows written before the kill are unchanged
    assert np.all(after["status"] == "ok")


def test_local_workers_are_replaced_after_their_task_quota():
    """``max_tasks_per_child`` (the runner uses it to bound the memory JAX's caches hold in
    a long run): with a quota of one, every task runs in a fresh worker process."""
    from celltwin.inference._executor import Executor

    with Executor("local", workers=1, max_tasks_per_child=1) as pool:
        pids = [pid for _, pid in pool.map_unordered(os.getpid, [(), (), ()])]
    assert len(set(pids)) == 3 and os.getpid() not in pids
    with Executor("local", workers=1) as pool:
        pids = [pid for _, pid in pool.map_unordered(os.getpid, [(), (), ()])]
    assert len(set(pids)) == 1


def test_a_task_quota_above_one_does_not_hang_the_pool():
    """A quota of 2 with more tasks queued: ProcessPoolExecutor(max_tasks_per_child=2)
    deadlocks there on Python 3.11-3.13 after the first worker exits (CPython gh-115634),
    which stopped a full-suite run after 20 cells. Run in a subprocess with a time limit."""
    code = ("import os\n"
            "from celltwin.inference._executor import Executor\n"
            "if __name__ == '__main__':\n"
            "    with Executor('local', workers=1, max_tasks_per_child=2) as pool:\n"
            "        pids = [pid for _, pid in pool.map_unordered(os.getpid, [()] * 5)]\n"
            "    print(len(pids), len(set(pids)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["5", "3"]  # 5 tasks in 3 worker processes (2 + 2 + 1)
