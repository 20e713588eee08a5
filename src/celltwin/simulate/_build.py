"""Where the native engine finds its C compiler and keeps what it compiles."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from .._config import private_cache_dir


def c_compiler() -> str | None:
    """The C compiler for generated code (``$CELLTWIN_CC``, else ``cc``, ``gcc`` or
    ``clang`` on the PATH); None: there is none (``CELLTWIN_CC=""`` says so)."""
    if "CELLTWIN_CC" in os.environ:
        return os.environ["CELLTWIN_CC"] or None
    return next((path for cc in ("cc", "gcc", "clang") if (path := shutil.which(cc))), None)


@functools.cache
def cache_folder() -> Path:
    """The private folder for compiled code (``$CELLTWIN_NATIVE_CACHE`` or
    ``~/.cache/celltwin/native``, checked to be this user's alone)."""
    return private_cache_dir("native", "CELLTWIN_NATIVE_CACHE")
