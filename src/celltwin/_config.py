"""Process-wide JAX settings that every celltwin computation relies on.

Imported first by ``celltwin/__init__.py`` so that float64 is on before any array
is created, and so that a second process re-uses compiled programs from disk.
"""

import os
from pathlib import Path

# Inside compiled code a failed check must give NaN (a rejected proposal, an infinite loss),
# not a host callback that raises: callbacks also keep XLA from caching executables on disk.
os.environ.setdefault("EQX_ON_ERROR", "nan")
# XLA's C++ logs ("algebraic simplifier is likely stuck ...") are noise for our users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402  (after the environment above)

jax.config.update("jax_enable_x64", True)


def cache_dir(kind: str, env: str) -> Path:
    """The folder of one of celltwin's disk caches: ``$env`` if set, else
    ``$XDG_CACHE_HOME/celltwin/<kind>`` (``~/.cache/celltwin/<kind>``)."""
    value = os.environ.get(env)
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "celltwin" / kind


def enable_persistent_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Store XLA executables on disk so that a second process does not compile again.

    Arguments:
        path: cache folder; default ``$CELLTWIN_JAX_CACHE`` or ``~/.cache/celltwin/jax``.

    Returns:
        The folder in use.
    """
    folder = Path(path) if path is not None else cache_dir("jax", "CELLTWIN_JAX_CACHE")
    folder.mkdir(parents=True, exist_ok=True)
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
