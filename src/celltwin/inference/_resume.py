"""Where a checkpointed sampling run stands: the words ``celltwin sample --resume`` prints."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import CelltwinInputError
from ._checkpoint import checkpoint_files, load_checkpoint


def describe_checkpoint(path: str | os.PathLike) -> str:
    """Say how far the run of the checkpoint ``path`` got, from its own settings.

    For example ``warm-up finished, 400 of 1000 draws per chain done``; a run in groups of
    chains (``workers > 1``) is described group by group.

    Raises:
        CelltwinInputError: there is no checkpoint, or a file of it cannot be read.
    """
    path = Path(path)
    files = checkpoint_files(path)
    if not files:
        raise CelltwinInputError(f"{path}: no checkpoint to resume from")
    if path in files:  # one process, or the groups already merged
        return _describe(path)
    parts = []
    for file in files:
        chains = re.search(r"\.chains(\d+-\d+)", file.name)
        parts.append(f"chains {chains.group(1) if chains else file.name}: {_describe(file)}")
    return "; ".join(parts)


def _describe(file: Path) -> str:
    data, meta = load_checkpoint(file)
    drawn = int(data["draws_z"].shape[1]) if "draws_z" in data else 0
    warmup_done = int(data["warmup_done"]) if "warmup_done" in data else None
    stages = int(data["stages_done"]) if "stages_done" in data else None
    temperature = float(np.min(data["lam"])) if "lam" in data else None
    finished = bool(data["finished"]) if "finished" in data else False
    method, draws, warmup = meta.get("method"), meta.get("draws"), meta.get("warmup")
    if method == "smc":
        if finished:
            return f"{stages} tempering stages done, at the posterior"
        return f"{stages} tempering stages done, temperature {temperature:.3g} of 1"
    if method == "ensemble":
        return f"burn-in finished, {drawn} of {draws} draws per walker done"
    if warmup_done is not None:
        return f"warm-up {warmup_done} of {warmup} steps done, no draws yet"
    done = "no warm-up" if warmup == 0 else "warm-up finished"
    return f"{done}, {drawn} of {draws} draws per chain done"
