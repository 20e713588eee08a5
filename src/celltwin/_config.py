"""Process-wide JAX settings that every celltwin computation relies on.

Imported first by ``celltwin/__init__.py`` so that float64 is on before any array
is created, and so that a second process re-uses compiled programs from disk.
"""

import os
import stat
import tempfile
import warnings
from pathlib import Path

# Inside compiled code a failed check must give NaN (a rejected proposal, an infinite loss),
# not a host callback that raises: callbacks also keep XLA from caching executables on disk.
os.environ.setdefault("EQX_ON_ERROR", "nan")
# XLA's C++ logs ("algebraic simplifier is likely stuck ...") are noise for our users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402  (after the environment above)

jax.config.update("jax_enable_x64", True)
# CPU programs run on the thread that calls them, not handed to a worker thread: the native
# engine's solves are host calls from inside the program, and the two thread hand-offs of an
# asynchronous call cost 0.15-0.35 ms per log-likelihood (four alternating processes each:
# Boehm 2014 0.71-0.93 -> 0.54-0.56 ms, Blasi 2016 0.74-0.98 -> 0.57-0.63 ms;
# docs/benchmarks.md). Applies where no JAX computation ran before celltwin was imported
# (the CPU client is made once); JAX_CPU_ENABLE_ASYNC_DISPATCH=1 keeps JAX's default.
if "JAX_CPU_ENABLE_ASYNC_DISPATCH" not in os.environ:
    jax.config.update("jax_cpu_enable_async_dispatch", False)


def cache_dir(kind: str, env: str) -> Path:
    """The folder of one of celltwin's disk caches: ``$env`` if set, else
    ``$XDG_CACHE_HOME/celltwin/<kind>`` (``~/.cache/celltwin/<kind>``)."""
    value = os.environ.get(env)
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "celltwin" / kind


def private_cache_dir(kind: str, env: str) -> Path:
    """:func:`cache_dir`, made if missing, and checked to be this user's alone.

    Code is loaded from these folders (generated modules, numba's and XLA's compiled
    code), so a folder that someone else owns or can write to would let them run code
    as this user. When the folder fails the check, a new private temporary folder is
    used instead (nothing is cached across processes then) and a warning says why.
    """
    folder = cache_dir(kind, env)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        problem = _not_private(folder)
    except OSError as exc:
        problem = f"cannot be created ({exc.strerror or exc})"
    if problem is None:
        return folder
    fallback = Path(tempfile.mkdtemp(prefix=f"celltwin-{kind}-"))  # 0700, unpredictable name
    warnings.warn(f"celltwin's {kind} cache {folder} {problem}; using {fallback} for this process "
                  f"(set ${env} to a folder only you can write to)", RuntimeWarning, stacklevel=2)
    return fallback


def _not_private(folder: Path) -> str | None:
    """Why ``folder`` is not safe to load code from, or None when it is."""
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "is not a folder (or is a symbolic link)"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"is owned by another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"can be written by other users (mode {stat.S_IMODE(info.st_mode):o})"
    if not os.access(folder, os.W_OK | os.X_OK):
        return "is not writable"
    return None


def enable_persistent_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Store XLA executables on disk so that a second process does not compile again.

    Arguments:
        path: cache folder; default ``$CELLTWIN_JAX_CACHE`` or ``~/.cache/celltwin/jax``.

    Returns:
        The folder in use.
    """
    if path is not None:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = private_cache_dir("jax", "CELLTWIN_JAX_CACHE")
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # Our programs are few and expensive: cache all of them, however quick to compile.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


if os.environ.get("CELLTWIN_NO_JAX_CACHE", "") in ("", "0"):
    try:
        enable_persistent_compilation_cache()
    except OSError:  # read-only home: run without the disk cache
        pass
