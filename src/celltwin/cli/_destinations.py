"""Checks, before any compute, that a command can write where its options say.

A fit or a sampling run that finds its ``--out`` unwritable only when it writes has spent its
compute for nothing. Every command checks its outputs first: the folder exists (or can be
created), a temporary file can be created and removed there, and a file is not expected where
a folder is (or the other way round). A failure is a :class:`CelltwinInputError` that names
the option and the path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import CelltwinInputError


def writable_file(path: str | os.PathLike, option: str = "--out", *, suffixes: tuple[str, ...] = ()) -> Path:
    """``path`` if the command can write a file there; the parent folder must exist.

    Arguments:
        path: the file the command will write (or replace).
        option: the command-line option that named it, for the message.
        suffixes: accepted file name endings (lower case, with the dot); empty: any.

    Raises:
        CelltwinInputError: naming ``option`` and ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise CelltwinInputError(f"{path}: {option} names a folder; give a file name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise CelltwinInputError(f"{path}: {option} must end in {' or '.join(suffixes)}")
    folder = path.parent
    if not folder.is_dir():
        raise CelltwinInputError(f"{path}: {option}: {_not_a_folder(folder)}")
    _probe(folder, path, option)
    if path.exists() and not os.access(path, os.W_OK):
        raise CelltwinInputError(f"{path}: {option}: the file exists and is read-only; "
                                 "make it writable or choose another name")
    return path


def writable_folder(path: str | os.PathLike, option: str = "--out", *, parents: bool = False) -> Path:
    """``path`` if the command can create it (or write into it, if it exists) as a folder.

    Nothing is created here: a folder that does not exist yet is checked through the folder
    that will hold it.

    Arguments:
        path: the folder the command will write into.
        option: the command-line option that named it, for the message.
        parents: the command creates missing parent folders too (else the parent must exist).

    Raises:
        CelltwinInputError: naming ``option`` and ``path``.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CelltwinInputError(f"{path}: {option} names a file; give a folder (it is created if missing)")
    if path.is_dir():
        _probe(path, path, option)
        return path
    holder = path.parent
    if parents:
        while not holder.exists() and holder != holder.parent:
            holder = holder.parent
    if not holder.is_dir():
        raise CelltwinInputError(f"{path}: {option}: {_not_a_folder(holder)}")
    _probe(holder, path, option)
    return path


def _not_a_folder(folder: Path) -> str:
    if folder.exists():
        return f"{folder} is a file, not a folder"
    return f"the folder {folder} does not exist (create it first)"


def _probe(folder: Path, path: Path, option: str) -> None:
    """Create and remove a temporary file in ``folder``: permissions alone do not tell (root,
    read-only mounts, full disks)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".celltwin-write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CelltwinInputError(f"{path}: {option}: cannot write in the folder {folder} ({reason}); "
                                 "choose a folder you can write to") from None
