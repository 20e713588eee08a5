"""Reading a user's text file (YAML, JSON, lists) as UTF-8, with errors that name the file and line."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from .errors import CelltwinInputError


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """The content of ``path`` decoded as UTF-8 (a byte-order mark is dropped).

    Arguments:
        path: the file.
        what: what the file is, for messages ("PEtab problem file", "case file").

    Raises:
        CelltwinInputError: the file is missing, unreadable, or not UTF-8 (naming the line
            and the first byte that is not).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CelltwinInputError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise CelltwinInputError(f"{path}: is a folder, not a {what}") from None
    except OSError as exc:
        raise CelltwinInputError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CelltwinInputError(
            f"{path}: line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8 text; save the {what} as UTF-8"
        ) from None


def read_yaml(path: str | os.PathLike, what: str = "file", error: type[CelltwinInputError] = CelltwinInputError):
    """The content of a YAML file (``yaml.safe_load``: plain data, never Python objects).

    Arguments:
        path: the file.
        what: what the file is, for messages.
        error: the :class:`CelltwinInputError` subclass to raise (``PEtabError``, ...).

    Raises:
        CelltwinInputError: the file cannot be read (see :func:`read_text`), or ``error``:
            it is not valid YAML.
    """
    import yaml

    try:
        return yaml.safe_load(read_text(path, what))
    except yaml.YAMLError as exc:
        raise error(f"{path}: the {what} is not valid YAML: {exc}") from None
