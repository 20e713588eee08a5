"""The progress of runs sampled at once, read from their checkpoints: each checkpoint is
loaded and measured once per write, not at every poll."""

from __future__ import annotations

import os

import numpy as np

from celltwin.inference import SamplerSettings
from celltwin.inference import _at_once
from celltwin.inference._checkpoint import save_checkpoint


def test_a_checkpoint_is_read_again_only_after_it_is_written(tmp_path, monkeypatch):
    settings = SamplerSettings(method="nuts", chains=2, warmup=10, draws=20, block=5, stop_rhat=1.01, stop_ess=100)
    path = tmp_path / "run.checkpoint.npz"
    loads = []
    real = _at_once.load_checkpoint
    monkeypatch.setattr(_at_once, "load_checkpoint", lambda p: loads.append(p) or real(p))
    seen: dict = {}
    assert _at_once._where(path, settings, seen) == (0, "starting")  # no checkpoint yet

    save_checkpoint(path, {"warmup_done": np.array(5)}, {})
    for _ in range(3):
        assert _at_once._where(path, settings, seen) == (1, "warm-up 5/10")
    assert len(loads) == 1

    draws = np.random.default_rng(0).normal(size=(2, 5, 3))
    save_checkpoint(path, {"blocks_done": np.array(1), "draws_z": draws}, {})
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp + 1_000_000, stamp + 1_000_000))  # (a coarse clock could give the same time)
    done, note = _at_once._where(path, settings, seen)
    assert done == 2 + 1 and note.startswith("5 draws; R-hat")  # 2 warm-up blocks and 1 draw block
    assert _at_once._where(path, settings, seen) == (done, note)
    assert len(loads) == 2
