"""Checkpoint files of a sampling run: the sampler state and the draws so far as named
arrays in one ``.npz``, with the settings that made them (written atomically, so a kill
leaves the previous checkpoint whole)."""

from __future__ import annotations

import glob
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .._atomic import atomic_path
from ..errors import CelltwinInputError


def save_checkpoint(path: Path, arrays: dict, meta: dict) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)


def load_checkpoint(path: Path) -> tuple[dict, dict]:
    """The arrays and settings of a checkpoint; a damaged file (truncated, not written by
    celltwin) is bad input: resuming from it cannot work."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["__meta__"]).decode())
            if not isinstance(meta, dict):
                raise ValueError("its settings record is not a mapping")
            return {k: np.array(data[k]) for k in data.files if k != "__meta__"}, meta
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise CelltwinInputError(f"{path}: the checkpoint cannot be read (truncated or not written by celltwin "
                                 f"sample: {exc}); delete it and run again without --resume") from None


# Settings added after checkpoints were first written, with the value the runs that wrote
# those checkpoints had (so that they still resume).
ADDED_SETTINGS = {"imh_proposals": 0}


def load_checked(path: Path, meta: dict) -> dict:
    """The checkpoint's arrays; raises if it was written with other settings than ``meta``."""
    state, saved = load_checkpoint(path)
    saved = {**ADDED_SETTINGS, **saved}
    differs = {k: (saved.get(k), v) for k, v in meta.items() if saved.get(k) != v}
    if differs:
        detail = "; ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, (a, b) in differs.items())
        raise CelltwinInputError(f"{path}: the checkpoint was written with other settings ({detail})")
    return state


def group_checkpoint(path: Path, ids: np.ndarray) -> Path:
    """The checkpoint of the group of chains ``ids`` of a run checkpointed at ``path``."""
    return path.with_name(f"{path.stem}.chains{ids[0]}-{ids[-1]}{path.suffix}")


def checkpoint_files(path: str | os.PathLike) -> list[Path]:
    """The files of the checkpoint ``path``: itself and, while a run with ``workers > 1``
    is under way, one per group of chains (``<stem>.chains<first>-<last><suffix>``)."""
    path = Path(path)
    groups = sorted(path.parent.glob(f"{glob.escape(path.stem)}.chains*{glob.escape(path.suffix)}"))
    return ([path] if path.is_file() else []) + groups
