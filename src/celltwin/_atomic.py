"""Writes that a kill cannot leave half done, and that a reader never sees half done.

Every file that celltwin writes, and above all the ones a long run rewrites while it goes
(``fits.tsv`` after every start, sampler checkpoints, the bench leaderboard), is written to
a temporary file in the same folder, flushed to disk, and renamed over the target with
``os.replace``. A rename within one file system is atomic: the target is at every moment
either the old complete file or the new complete file, also for another process reading
it, and also after a ``kill -9`` or a crash. A kill in the middle of a write leaves the
old file (or none) and a hidden ``.celltwin-tmp-PID-*`` file next to it, which can be
deleted.

Writers that want a path (pandas, xarray, matplotlib, h5py) use :func:`atomic_path`; the
temporary name keeps the target's suffixes, so that format and compression are still
inferred from them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

TEMPORARY_PREFIX = ".celltwin-tmp-"


def _temporary_sibling(path: Path) -> Path:
    """A new, empty file next to ``path`` (created here, so the name is ours alone; mode
    0o666 less the umask, as an ordinary ``open(path, "w")`` would give). Its name ends with
    ``path``'s name after a hyphen, so it has the same suffixes, and none if ``path`` has none."""
    while True:
        tmp = path.with_name(f"{TEMPORARY_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{path.name}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
        except OSError as exc:  # name the file the caller asked for, not the temporary one
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None


def _fsync(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # folders cannot be opened on some systems (Windows): the rename still holds
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; renamed over ``path`` when the
    block ends without an exception, removed when it raises.

    Example:
        >>> import pandas as pd, tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with atomic_path(folder / "table.tsv") as tmp:
        ...     pd.DataFrame({"a": [1]}).to_csv(tmp, sep="\\t", index=False)
        >>> (folder / "table.tsv").read_text()
        'a\\n1\\n'
        >>> sorted(p.name for p in folder.iterdir())
        ['table.tsv']
    """
    path = Path(path)
    tmp = _temporary_sibling(path)
    try:
        yield tmp
        _fsync(tmp)  # the data is on disk before the name points at it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent, directory=True)  # and the rename itself survives a power cut


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see the module docstring)."""
    atomic_write_bytes(path, text.encode(encoding))
