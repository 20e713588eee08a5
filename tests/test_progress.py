"""Progress off a terminal (plain lines at a steady interval) and a light ``celltwin --help``.

The plain lines are checked against a fake clock with hand-computed rates and times left;
the command line's start-up is checked by what it imports (timings are in
benchmarks/cli_startup.py), in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from celltwin.errors import CelltwinInputError
from celltwin.inference._progress import INTERVAL_ENV, ProgressLines, clock, progress_bar, progress_interval

ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_at_the_interval_with_the_time_left():
    timer, lines = FakeClock(), []
    progress = ProgressLines("nuts: 4 chains x 10 draws", 10, unit="draws per chain", interval=30.0,
                             write=lines.append, timer=timer)
    timer.now += 10
    progress.advance(1)
    assert lines == []  # 10 s < 30 s: nothing yet
    timer.now += 21
    progress.advance(1, note="0 divergent")
    # 2 draws in 31 s: the 8 left take 8 * 31 / 2 = 124 s.
    assert lines == ["nuts: 4 chains x 10 draws: 2/10 draws per chain, 0:00:31 elapsed, eta 0:02:04, 0 divergent"]
    timer.now += 29
    progress.advance(3)
    assert len(lines) == 1  # 29 s after the last line
    timer.now += 3600
    progress.advance(4, note="2 divergent")
    # 9 draws in 10 + 21 + 29 + 3600 = 3660 s: the last one takes 3660 / 9 = 406.7 s.
    assert lines[-1] == "nuts: 4 chains x 10 draws: 9/10 draws per chain, 1:01:00 elapsed, eta 0:06:47, 2 divergent"
    timer.now += 5
    progress.advance(1)
    progress.finish()  # the end is always shown, without an eta
    assert lines[-1] == "nuts: 4 chains x 10 draws: 10/10 draws per chain, 1:01:05 elapsed, 2 divergent"
    assert len(lines) == 3


def test_a_resumed_run_counts_only_its_own_steps_for_the_rate():
    timer, lines = FakeClock(), []
    progress = ProgressLines("warm-up", 1000, unit="steps", completed=600, interval=0.0, write=lines.append,
                             timer=timer)
    timer.now += 50
    progress.advance(100)
    # 100 steps in 50 s (the 600 of the earlier run took no time here): 300 left take 150 s.
    assert lines == ["warm-up: 700/1000 steps, 0:00:50 elapsed, eta 0:02:30"]
    progress.finish()
    assert len(lines) == 1  # the last line already shows this state


def test_a_run_with_a_stopping_rule_shows_its_eta_as_a_bound_and_may_shrink_its_total():
    """With a stopping rule the total is the limit, so the time left is at most the eta; a
    run that stopped early (at once with another) takes its blocks out of the total."""
    timer, lines = FakeClock(), []
    progress = ProgressLines("a and b at once", 20, unit="blocks", completed=4, interval=0.0, write=lines.append,
                             timer=timer, total_is_limit=True)
    timer.now += 60
    progress.advance(2)
    # 2 blocks in 60 s (the 4 earlier ones not counted): the 14 left take at most 420 s
    assert lines[-1] == "a and b at once: 6/20 blocks, 0:01:00 elapsed, eta <= 0:07:00"
    timer.now += 30
    progress.advance(1, total=13)  # run a stopped by the rule after 3 of its 10 blocks
    # 3 blocks in 90 s; 6 left of the 13: at most 180 s
    assert lines[-1] == "a and b at once: 7/13 blocks, 0:01:30 elapsed, eta <= 0:03:00"


def test_no_step_done_yet_gives_an_unknown_eta():
    timer, lines = FakeClock(), []
    progress = ProgressLines("bench quick", 5, interval=0.0, write=lines.append, timer=timer)
    timer.now += 1
    progress.advance(0)
    assert lines == ["bench quick: 0/5, 0:00:01 elapsed, eta unknown"]
    assert clock(3599.6) == "1:00:00" and clock(59) == "0:00:59"


def test_interval_from_the_environment(monkeypatch):
    monkeypatch.delenv(INTERVAL_ENV, raising=False)
    assert progress_interval() == 30.0
    monkeypatch.setenv(INTERVAL_ENV, "0.5")
    assert progress_interval() == 0.5
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(INTERVAL_ENV, bad)
        with pytest.raises(CelltwinInputError, match=INTERVAL_ENV):
            progress_interval()


def test_progress_bar_off_a_terminal_writes_plain_lines(monkeypatch, capsys):
    monkeypatch.setenv(INTERVAL_ENV, "0")
    with progress_bar("fitting m", 3, unit="starts") as advance:
        for _ in range(3):
            advance()
    err = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in err] == ["fitting m: 1/3 starts", "fitting m: 2/3 starts",
                                                    "fitting m: 3/3 starts"]
    assert not any("━" in line for line in err)  # no bar glyphs in a log file
    with progress_bar("quiet", 3, enabled=False) as advance:
        advance()
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["sample", "--help"], ["bench", "run", "--help"],
                                  ["affinity", "predict", "--help"]],
                         ids=" ".join)
def test_version_and_help_import_neither_jax_nor_numpy(args):
    """``celltwin --version`` and ``--help`` must answer at once: JAX alone takes seconds to import."""
    code = ("import sys\nfrom celltwin.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'jax', 'numpy', 'pandas', 'scipy'})\n"
            "assert not heavy, heavy\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "celltwin" in proc.stdout


def test_the_package_is_light_until_a_model_is_used():
    """``import celltwin`` does not import JAX; ``celltwin.Model`` does, with float64 on."""
    code = ("import sys, celltwin\nassert 'jax' not in sys.modules\n"
            "from celltwin import Model, compile_model, from_sbml, CelltwinInputError\n"
            "import jax.numpy as jnp\nassert jnp.asarray(1.0).dtype == jnp.float64\nprint(Model.__name__)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Model"


# --- where `sample --resume` continues from ------------------------------------------------------

def write_checkpoint(path: Path, meta: dict, **arrays) -> None:
    """A checkpoint in the sampler's format: the arrays and the settings as JSON."""
    import json

    import numpy as np

    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)


def test_describe_checkpoint_of_each_sampler(tmp_path):
    import numpy as np

    from celltwin.inference import describe_checkpoint

    nuts = {"method": "nuts", "draws": 1000, "warmup": 500}
    ckpt = tmp_path / "post.nc.checkpoint.npz"
    write_checkpoint(ckpt, nuts, warmup_done=np.array(300))
    assert describe_checkpoint(ckpt) == "warm-up 300 of 500 steps done, no draws yet"
    write_checkpoint(ckpt, nuts, blocks_done=np.array(0))
    assert describe_checkpoint(ckpt) == "warm-up finished, 0 of 1000 draws per chain done"
    write_checkpoint(ckpt, nuts, blocks_done=np.array(4), draws_z=np.zeros((4, 400, 3)))
    assert describe_checkpoint(ckpt) == "warm-up finished, 400 of 1000 draws per chain done"
    write_checkpoint(ckpt, {**nuts, "warmup": 0}, blocks_done=np.array(1), draws_z=np.zeros((4, 100, 3)))
    assert describe_checkpoint(ckpt) == "no warm-up, 100 of 1000 draws per chain done"
    write_checkpoint(ckpt, {"method": "ensemble", "draws": 60, "warmup": 20}, blocks_done=np.array(3),
                     draws_z=np.zeros((8, 30, 2)))
    assert describe_checkpoint(ckpt) == "burn-in finished, 30 of 60 draws per walker done"
    smc = {"method": "smc", "draws": 100, "warmup": 0}
    write_checkpoint(ckpt, smc, stages_done=np.array(7), lam=np.array([0.35, 0.2]), finished=np.array(False))
    assert describe_checkpoint(ckpt) == "7 tempering stages done, temperature 0.2 of 1"
    write_checkpoint(ckpt, smc, stages_done=np.array(12), lam=np.array([1.0, 1.0]), finished=np.array(True))
    assert describe_checkpoint(ckpt) == "12 tempering stages done, at the posterior"


def test_describe_checkpoint_of_chain_groups_and_bad_files(tmp_path):
    import numpy as np

    from celltwin.inference import describe_checkpoint

    ckpt = tmp_path / "post.nc.checkpoint.npz"
    with pytest.raises(CelltwinInputError, match="no checkpoint"):
        describe_checkpoint(ckpt)
    nuts = {"method": "nuts", "draws": 50, "warmup": 40}
    write_checkpoint(tmp_path / "post.nc.checkpoint.chains0-1.npz", nuts, blocks_done=np.array(2),
                     draws_z=np.zeros((2, 20, 3)))
    write_checkpoint(tmp_path / "post.nc.checkpoint.chains2-3.npz", nuts, warmup_done=np.array(30))
    assert describe_checkpoint(ckpt) == ("chains 0-1: warm-up finished, 20 of 50 draws per chain done; "
                                         "chains 2-3: warm-up 30 of 40 steps done, no draws yet")
    whole = (tmp_path / "post.nc.checkpoint.chains0-1.npz").read_bytes()
    ckpt.write_bytes(whole[: len(whole) // 2])  # a truncated copy
    with pytest.raises(CelltwinInputError, match="post.nc.checkpoint.npz: the checkpoint cannot be read"):
        describe_checkpoint(ckpt)
