"""kill -9 at random moments never leaves an empty or partial output and never leaves worker
processes behind; a reader polling a table that a run rewrites never sees it half written;
two benchmark runners on one store do not both run.

Every process a test starts carries a marker in its environment, which the worker processes
(and multiprocessing's helper processes) inherit: after a kill, no live process may carry it.
The moments are drawn from a seeded generator: events (the k-th finished start, the first
checkpoint) plus a random delay, so that kills land before, between and during writes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import require_shared

REPO = Path(__file__).resolve().parent.parent
MARK = "CELLTWIN_KILL_TEST_MARK"
FIT_COLUMNS = ["start", "objective", "llh", "log_prior", "status", "message", "iterations", "evaluations", "time_s"]

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")


# --- helpers -------------------------------------------------------------------------------

def marked_env(mark: str) -> dict:
    path = os.pathsep.join([str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", MARK: mark}


def marked_processes(mark: str) -> list[int]:
    """Live processes (not zombies) whose environment holds the marker."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            state = next(line for line in Path(f"/proc/{entry}/status").read_text().splitlines()
                         if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if needle in environ.split(b"\0") and "zombie" not in state:
            found.append(int(entry))
    return found


def assert_no_survivors(mark: str, timeout: float = 15.0) -> None:
    """The killed command's processes end within ``timeout`` (the kernel and the workers'
    watchdogs act at once; the margin is for a loaded machine)."""
    deadline = time.monotonic() + timeout
    while (alive := marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"processes outlived the killed command: {[_cmdline(p) for p in alive]}"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return f"{pid} (gone)"


def start_cli(args: list[str], mark: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celltwin.cli", *args], env=marked_env(mark), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill(proc: subprocess.Popen) -> bool:
    """SIGKILL ``proc``; ``False`` if it had already ended."""
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    return True


def wait_until(condition, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            return  # finished early: the caller checks the finished outputs instead
        assert time.monotonic() < deadline, "the command did not get there in time"
        time.sleep(0.02)


def complete_tsv(path: Path, columns: list[str]) -> pd.DataFrame:
    """The table at ``path``, which must be whole: a header with ``columns``, at least one row,
    every line ending in a newline and with the header's number of fields."""
    data = path.read_bytes()
    assert data, f"{path} is empty"
    assert data.endswith(b"\n"), f"{path} ends in the middle of a line"
    lines = data.decode().splitlines()
    assert len(lines) >= 2, f"{path} has no rows"
    width = lines[0].count("\t")
    assert all(line.count("\t") == width for line in lines), f"{path} has a partial line"
    table = pd.read_csv(path, sep="\t")
    assert set(columns) <= set(table.columns), f"{path}: columns {list(table.columns)}"
    return table


def rows_in(path: Path) -> int:
    try:
        return len(pd.read_csv(path, sep="\t"))
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return 0


def complete_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[-12:-8] == b"\x00\x00\x00\x00" and data[-8:-4] == b"IEND", \
        f"{path} is not a whole PNG"


def complete_npz(path: Path) -> dict:
    """Every array of the checkpoint (a truncated .npz fails to open or to read)."""
    with np.load(path) as data:
        arrays = {k: np.array(data[k]) for k in data.files}
    assert "__meta__" in arrays, f"{path} has no metadata"
    return arrays


def suite_case_0001() -> Path:
    return require_shared("petab-test-suite", "v1.0.0", "sbml", "0001", "_0001.yaml")


# --- atomic writes, without celltwin's heavy imports -----------------------------------------

WRITER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("atomic", sys.argv[1])
atomic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic)
target = sys.argv[2]
body = "x" * 199 + "\\n"
version = 0
print("ready", flush=True)
while True:
    version += 1
    atomic.atomic_write_text(target, f"version {version}\\n" + body * 20000 + "end\\n")
"""


def check_version_file(path: Path) -> None:
    text = path.read_text()
    lines = text.split("\n")
    assert lines[0].startswith("version ") and text.endswith("end\n") and len(lines) == 20003, \
        f"{path} is partial ({len(text)} characters)"


def test_a_killed_writer_leaves_the_old_or_the_new_file_never_a_partial_one(tmp_path):
    """SIGKILL a process that rewrites a 4 MB file in a loop, at 12 random moments; each
    time the file is absent (killed before the first rename) or one whole version. (Writing
    in place, as fits.tsv was, fails this at once.)"""
    rng = random.Random(22)
    target = tmp_path / "table.txt"
    module = REPO / "src" / "celltwin" / "_atomic.py"
    hits = 0
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(module), str(target)], stdout=subprocess.PIPE)
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.4))
        assert kill(proc), "the writer ended by itself"
        if target.exists():
            check_version_file(target)
            hits += 1
        leftovers = [p for p in tmp_path.iterdir() if p != target]
        assert all(p.name.startswith(".celltwin-tmp-") and p.name.endswith("-table.txt") for p in leftovers)
        for p in leftovers:  # an interrupted write leaves only its hidden temporary file
            p.unlink()
    assert hits >= 6  # most kills came after a first whole version


def test_a_reader_never_sees_a_partial_fits_table(tmp_path):
    """One thread rewrites fits.tsv (``MultistartResult.to_tsv``, growing by a row each time,
    as `celltwin fit` does after every start) while another reads it as fast as it can."""
    from celltwin.inference import MultistartResult

    path = tmp_path / "fits.tsv"
    rng = np.random.default_rng(0)
    ids = [f"p{i}" for i in range(6)]
    done = threading.Event()
    seen, bad = [], []

    def read_loop():
        while not done.is_set():
            if not path.exists():
                continue
            try:
                seen.append(len(complete_tsv(path, FIT_COLUMNS)))
            except AssertionError as exc:
                bad.append(str(exc))

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        rows = []
        for n in range(150):
            rows.append({"start": n, "objective": float(rng.normal()), "llh": 0.0, "log_prior": 0.0,
                         "status": "converged", "message": "ok " * 20, "iterations": 10, "evaluations": 12,
                         "time_s": 0.1, **dict(zip(ids, rng.normal(size=6)))})
            MultistartResult(pd.DataFrame(rows), ids, 0).to_tsv(path)
    finally:
        done.set()
        reader.join()
    assert not bad, f"{len(bad)} of {len(bad) + len(seen)} reads saw a partial table: {bad[:3]}"
    assert len(seen) > 50 and seen == sorted(seen)  # many reads, and the table only ever grew


def test_an_atomic_write_that_raises_leaves_the_old_file(tmp_path):
    from celltwin._atomic import atomic_path, atomic_write_text

    target = tmp_path / "report.html"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer failed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert (target.stat().st_mode & 0o777) == (0o666 & ~_umask())  # as open(path, "w") would make it
    with pytest.raises(FileNotFoundError, match="missing/x.txt"):  # the error names the file asked for
        atomic_write_text(tmp_path / "missing" / "x.txt", "new")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- workers end with their parent -----------------------------------------------------------

GUARD = """
import runpy, sys
runpy.run_path(sys.argv[1], {"PARENT_PID": -1, "SET_DEATH_SIGNAL": True}, "__celltwin_worker__")
"""


def test_the_worker_guard_acts_before_any_heavy_import():
    """The guard a worker runs first imports neither celltwin nor JAX (whose import takes
    seconds, during which a worker of a killed parent used to live on), and ends the worker
    when its parent is not the one it was started by (here: PID -1)."""
    from celltwin.inference import _exit_with_parent

    probe = subprocess.run([sys.executable, "-c", GUARD + "print(sorted(sys.modules))",
                            str(Path(_exit_with_parent.__file__))], capture_output=True, text=True, timeout=60)
    assert probe.returncode == 1 and probe.stdout == ""  # os._exit(1) before the print
    imported = subprocess.run([sys.executable, "-c", GUARD.replace("-1", "__import__('os').getppid()")
                               + "print(' '.join(sys.modules))", str(Path(_exit_with_parent.__file__))],
                              capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    modules = imported.stdout.split()
    assert "multiprocessing" in modules and not [m for m in modules if m.split(".")[0] in ("celltwin", "jax")]


# --- kill -9 of the commands -----------------------------------------------------------------

def kill_fit(tmp_path: Path, rng: random.Random, *, starts: int = 6, poll_reads: list | None = None) -> bool:
    """``celltwin fit --workers 2`` killed after a random number of finished starts (0 to
    all but one) plus a random delay; returns whether it was killed while running."""
    mark = uuid.uuid4().hex
    out = tmp_path / "fits.tsv"
    proc = start_cli(["fit", str(suite_case_0001()), "--starts", str(starts), "--workers", "2", "--seed",
                      str(rng.randrange(1000)), "--out", str(out)], mark)
    stop = threading.Event()

    def read_loop():  # a reader polling the table as the run rewrites it
        while not stop.is_set():
            if out.exists():
                try:
                    poll_reads.append(len(complete_tsv(out, FIT_COLUMNS)))
                except AssertionError as exc:
                    poll_reads.append(str(exc))
            time.sleep(0.002)

    reader = threading.Thread(target=read_loop) if poll_reads is not None else None
    if reader is not None:
        reader.start()
    try:
        rows = rng.randrange(starts)
        if rows == 0:  # before the first start ends: once the workers are up
            wait_until(lambda: len(marked_processes(mark)) >= 3, proc)
        else:
            wait_until(lambda: rows_in(out) >= rows, proc)
        time.sleep(rng.uniform(0.0, 0.3))
        workers_running = len(marked_processes(mark)) >= 3
        killed = kill(proc)
    finally:
        stop.set()
        if reader is not None:
            reader.join()
        if proc.poll() is None:
            proc.kill()
    assert not killed or workers_running, "the workers were not running when the parent was killed"
    assert_no_survivors(mark)
    if out.exists():
        table = complete_tsv(out, FIT_COLUMNS)
        assert list(table["objective"]) == sorted(table["objective"]) and table["start"].is_unique
        assert killed or len(table) == starts
    for name in ("fits.best.tsv",):
        if (tmp_path / name).exists():
            complete_tsv(tmp_path / name, ["parameterId", "value"])
    if (tmp_path / "fits.waterfall.png").exists():
        complete_png(tmp_path / "fits.waterfall.png")
    return killed


def test_killed_fit_keeps_whole_tables_and_no_workers(tmp_path):
    """One kill at a random moment, with a reader polling fits.tsv all along: every read
    and the table left behind are whole; the two worker processes end with the parent."""
    reads: list = []
    kill_fit(tmp_path, random.Random(5), poll_reads=reads)
    partial = [r for r in reads if isinstance(r, str)]
    assert not partial, f"{len(partial)} of {len(reads)} reads saw a partial fits.tsv: {partial[:3]}"


@pytest.mark.slow  # each kill point is a fresh `celltwin fit` (~10-40 s)
def test_fit_killed_at_several_moments(tmp_path):
    rng = random.Random(2022)
    killed = 0
    for k in range(4):
        folder = tmp_path / f"kill{k}"
        folder.mkdir()
        reads: list = []
        killed += kill_fit(folder, rng, poll_reads=reads)
        assert not [r for r in reads if isinstance(r, str)]
    assert killed >= 3


def _fits_table_at_nominal(path: Path) -> None:
    """A one-row `celltwin fit` table at case 0001's nominal values (profile's --fits)."""
    nominal = pd.read_csv(suite_case_0001().parent / "_parameters.tsv", sep="\t")
    row = {"start": 0, "objective": 0.0, **dict(zip(nominal["parameterId"], nominal["nominalValue"]))}
    row["b0"] = 0.1  # off the lower bound, so that the profile has room on both sides
    pd.DataFrame([row]).to_csv(path, sep="\t", index=False)


@pytest.mark.slow
def test_profile_killed_at_several_moments(tmp_path):
    """Kills while the profiles run (workers busy) and once the result files start to
    appear; each of points.tsv, intervals.tsv and profiles.png is absent or whole."""
    rng = random.Random(7)
    fits = tmp_path / "fits.tsv"
    _fits_table_at_nominal(fits)
    killed = 0
    for k in range(4):
        mark, out = uuid.uuid4().hex, tmp_path / f"profile{k}"
        proc = start_cli(["profile", str(suite_case_0001()), "--fits", str(fits), "--workers", "2", "--out", str(out)],
                         mark)
        try:
            if k % 2:  # as the outputs are written
                wait_until(lambda: out.is_dir() and any(out.iterdir()), proc)
                time.sleep(rng.uniform(0.0, 0.2))
            else:  # during the computation
                wait_until(lambda: len(marked_processes(mark)) >= 3, proc)
                time.sleep(rng.uniform(0.0, 3.0))
            killed += kill(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert_no_survivors(mark)
        if (out / "points.tsv").exists():
            complete_tsv(out / "points.tsv", ["parameter", "value", "objective"])
        if (out / "intervals.tsv").exists():
            complete_tsv(out / "intervals.tsv", ["parameter", "optimum", "lower", "upper"])
        if (out / "profiles.png").exists():
            complete_png(out / "profiles.png")
    assert killed >= 3


@pytest.mark.slow
def test_sample_killed_at_several_moments_resumes(tmp_path):
    """NUTS in two worker processes (one checkpoint per group), killed at random moments
    after checkpoints appear: every checkpoint left is whole, no worker survives, and
    --resume then finishes with a readable posterior."""
    import arviz as az

    rng = random.Random(11)
    out = tmp_path / "posterior.nc"
    args = ["sample", str(suite_case_0001()), "--method", "nuts", "--chains", "2", "--workers", "2", "--draws", "60",
            "--warmup", "60", "--block", "10", "--no-predictive", "--out", str(out)]
    killed = 0
    for k in range(3):
        mark = uuid.uuid4().hex
        proc = start_cli(args + (["--resume"] if k else []), mark)
        try:
            wait_until(lambda: len(list(tmp_path.glob("posterior.nc.checkpoint*.npz"))) >= 1, proc)
            time.sleep(rng.uniform(0.0, 2.0))
            killed += kill(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert_no_survivors(mark)
        for checkpoint in tmp_path.glob("posterior.nc.checkpoint*.npz"):
            complete_npz(checkpoint)
        if out.exists():
            az.from_netcdf(out)
            break
    assert killed >= 2
    if not out.exists():
        done = subprocess.run([sys.executable, "-m", "celltwin.cli", *args, "--resume"], env=marked_env("resume"),
                              capture_output=True, text=True, timeout=900, cwd=REPO)
        assert done.returncode == 0, done.stderr[-2000:]
    posterior = az.from_netcdf(out).posterior
    assert posterior.sizes["chain"] == 2 and posterior.sizes["draw"] == 60


BENCH = ["bench", "run", "--suite", "quick", "--methods", "training_mean,mechanistic_map", "--workers", "2"]


@pytest.mark.slow
def test_bench_run_killed_at_several_moments(tmp_path):
    """Local workers, killed before and after rows are stored: the store stays readable, no
    worker survives, the lock is released with the runner, and a final run completes the
    grid with every cell once."""
    from celltwin.bench import ResultStore, cells, run, suite
    from celltwin.errors import CelltwinInputError

    rng = random.Random(3)
    out = tmp_path / "results.duckdb"
    grid = {c.key for c in cells(suite("quick"), methods=["training_mean", "mechanistic_map"])}

    def stored() -> int:
        try:
            return len(ResultStore(out).finished())
        except CelltwinInputError:
            return 0

    for k in range(3):
        mark = uuid.uuid4().hex
        proc = start_cli([*BENCH, "--out", str(out)], mark)
        before = stored() if out.exists() else 0
        try:
            if k == 0:
                wait_until(lambda: len(marked_processes(mark)) >= 3, proc)
            else:
                wait_until(lambda: out.exists() and stored() > before, proc)
            time.sleep(rng.uniform(0.0, 0.5))
            kill(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert_no_survivors(mark)
        table = ResultStore(out).table() if out.exists() else pd.DataFrame(columns=["suite"])
        keys = list(zip(table.get("suite", []), table.get("task_id", []), table.get("method", []),
                        table.get("seed", [])))
        assert len(keys) == len(set(keys)) and set(keys) <= grid
    summary = run(suite("quick"), out, methods=["training_mean", "mechanistic_map"], scheduler="serial",
                  progress=False)  # not refused: the killed runners' locks went with them
    table = ResultStore(out).table()
    keys = list(zip(table["suite"], table["task_id"], table["method"], table["seed"]))
    assert len(keys) == len(set(keys)) == len(grid) and summary.skipped + summary.ran == len(grid)


# --- two runners on one store ----------------------------------------------------------------

def test_a_second_bench_runner_is_refused_and_told_who_runs(tmp_path):
    from typer.testing import CliRunner

    from celltwin.bench import StoreBusyError, run
    from celltwin.bench._lock import exclusive_run
    from celltwin.cli import app
    from test_bench_runner import tiny_suite

    out = tmp_path / "r.duckdb"
    with exclusive_run(out):  # another runner, as far as the lock can tell
        with pytest.raises(StoreBusyError, match=rf"PID {os.getpid()} on .*r\.duckdb\.lock"):
            run(tiny_suite(), out, scheduler="serial", progress=False)
        result = CliRunner().invoke(app, ["bench", "run", "--suite", "quick", "--methods", "training_mean",
                                          "--scheduler", "serial", "--out", str(out)])
        assert result.exit_code == 2, result.stderr + result.stdout
        assert f"PID {os.getpid()}" in result.stderr and "r.duckdb.lock" in result.stderr
        assert "--wait" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()  # the refused runners did nothing


def test_two_runners_on_one_store_run_each_cell_once(tmp_path):
    """A second runner started while the first runs waits (``wait=True``), then finds every
    cell stored and runs none: each of the grid's cells is stored once, by the first."""
    from celltwin.bench import ResultStore, run
    from celltwin.bench._lock import lock_path
    from test_bench_runner import tiny_suite

    out = tmp_path / "r.duckdb"
    first: dict = {}
    second_waits = threading.Event()  # the first runner stores its rows only once the second waits

    def first_runner():
        first["summary"] = run(tiny_suite(), out, scheduler="serial", progress=False,
                               on_row=lambda row: second_waits.wait(120))

    runner = threading.Thread(target=first_runner)
    runner.start()
    deadline = time.monotonic() + 60
    while not (lock_path(out).exists() and lock_path(out).read_text()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    waits: list[str] = []
    second = run(tiny_suite(), out, scheduler="serial", progress=False, wait=True,
                 on_wait=lambda holder: (waits.append(holder), second_waits.set()))
    runner.join()
    assert first["summary"].ran == 4 and (second.ran, second.skipped) == (0, 4)
    assert len(waits) == 1 and f"PID {os.getpid()}" in waits[0] and second.waited > 0
    table = ResultStore(out).table()
    keys = list(zip(table["task_id"], table["method"], table["seed"]))
    assert len(keys) == len(set(keys)) == 4


@pytest.mark.slow
def test_two_cli_runners_at_once(tmp_path):
    """Real processes: the second is refused with status 2 naming the first's PID, a third
    with --wait says it waits and then runs nothing; every cell is stored once."""
    from celltwin.bench import ResultStore, cells, suite

    out = tmp_path / "results.duckdb"
    args = [*BENCH[:-2], "--scheduler", "serial", "--out", str(out)]
    mark = uuid.uuid4().hex
    first = start_cli(args, mark)
    lock = Path(str(out) + ".lock")
    wait_until(lambda: lock.exists() and f"PID {first.pid}" in lock.read_text(), first)
    assert first.poll() is None, "the first runner ended before the others started"
    env = marked_env(mark)
    second = subprocess.run([sys.executable, "-m", "celltwin.cli", *args], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    waiting = subprocess.Popen([sys.executable, "-m", "celltwin.cli", *args, "--wait"], env=env, cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    third_out, third_err = waiting.communicate(timeout=900)
    assert first.wait(900) == 0, first.stderr.read().decode()[-2000:]
    grid = cells(suite("quick"), methods=["training_mean", "mechanistic_map"])
    if second.returncode == 2:  # refused while the first ran (else it started after the first had ended)
        message = " ".join(second.stderr.split())
        assert f"PID {first.pid}" in message and str(lock) in message and "--wait" in message
    else:
        assert second.returncode == 0 and f"{len(grid)} already stored, 0 run" in second.stdout, second.stderr
    assert waiting.returncode == 0, third_err[-2000:]
    if f"PID {first.pid}" in third_err:  # it started while the first still ran
        assert "waiting for it to end" in third_err and f"{len(grid)} already stored, 0 run" in third_out
    table = ResultStore(out).table()
    keys = list(zip(table["task_id"], table["method"], table["seed"]))
    assert len(keys) == len(set(keys)) == len(grid)
    assert set(table["worker"].str.split(":").str[1].astype(int)) == {first.pid}  # the first ran every cell
