"""Host functions called from compiled JAX code, through XLA's FFI.

Why this exists: the native engine's solves run on the host, called from inside jitted
log-likelihoods and gradients. Through ``jax.pure_callback`` such a call costs ~100 us of
CPU (a jitted function doubling 6 numbers: 95 us, against 6 us without the callback), more
than a small model's whole solve. The handler in ``_host_call.c``, registered as an XLA
FFI target, hands XLA's buffers to Python as numpy arrays without copies: ~10 us per call.
Measured by ``benchmarks/host_call.py`` (each way in its own processes): Bertozzi's
log-likelihood 418 -> 141 us, its gradient 1021 -> 490 us; Boehm 749 -> 583 and
1957 -> 1232 us. And unlike pure_callback's, executables that call it can be kept by
JAX's persistent compilation cache (a second process compiles Lucarelli's log-likelihood
and gradient in 20 s instead of 44 s).

One handler serves every host function: the call's integer attribute ``key`` names the
function in a registry (:func:`register`). It is a key, not an object's address, because
JAX's persistent compilation cache keeps executables across processes: a key computed
from what the function does (its name) means the same function in every process that
traces the call, and tracing registers it before any cached executable can run.

Where the handler cannot be built (no C compiler, no Python or jaxlib headers, a GPU
backend) :func:`host_call` falls back to ``jax.pure_callback`` with the same semantics.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import jax
import numpy as np

from ._build import c_compiler, cache_folder

log = logging.getLogger(__name__)

TARGET = "celltwin_host_call"

# Set to False to use jax.pure_callback even where the handler can be built (tests compare both).
USE_FFI = True

_REGISTRY: dict[int, Callable] = {}
_LIBRARY: list = []  # keeps the handler's library loaded


def register(name: str, function: Callable) -> int:
    """The key under which ``function`` is called: a hash of ``name``, which must say
    everything the function computes (the first function registered under a name is kept,
    so that every executable that calls it reaches the same host state)."""
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little") & (2**63 - 1)
    _REGISTRY.setdefault(key, function)
    return key


def host_call(key: int, result_shapes, *args):
    """``function(*args, *results)`` on the host, for the function registered under
    ``key``; it writes the results (numpy arrays of ``result_shapes``) in place. Under
    ``vmap`` all arguments and results gain the batch dimensions first (as
    ``pure_callback``'s ``vmap_method="broadcast_all"``)."""
    if USE_FFI and jax.default_backend() == "cpu" and _handler() is not None:
        return jax.ffi.ffi_call(TARGET, result_shapes, vmap_method="broadcast_all")(*args, key=np.int64(key))
    ranks = tuple(np.ndim(a) for a in args)
    run = functools.partial(_allocate_and_call, key, result_shapes, ranks)
    return jax.pure_callback(run, result_shapes, *args, vmap_method="broadcast_all")


def _allocate_and_call(key: int, result_shapes, ranks: tuple[int, ...], *args):
    first = np.asarray(args[0])
    batch = first.shape[:first.ndim - ranks[0]]
    shapes, tree = jax.tree.flatten(result_shapes)
    results = [np.empty(batch + s.shape, s.dtype) for s in shapes]
    _REGISTRY[key](*args, *results)
    return jax.tree.unflatten(tree, results)


def _dispatch(key: int, *arrays) -> None:
    """The handler's entry into Python."""
    _REGISTRY[key](*arrays)


_LOCK = threading.Lock()


@functools.cache
def _handler() -> str | None:
    """Build (once per installation: cached), load and register the handler; None where
    it cannot be built."""
    compiler = c_compiler()
    includes = [jax.ffi.include_dir(), np.get_include(), sysconfig.get_paths()["include"]]
    if compiler is None or not all(Path(i, h).exists() for i, h in
                                   zip(includes, ("xla/ffi/api/c_api.h", "numpy/arrayobject.h", "Python.h"))):
        log.info("jax.pure_callback calls the native solves (no C compiler or headers for the FFI handler)")
        return None
    source = Path(__file__).with_suffix(".c").read_text()
    digest = hashlib.sha256("\n".join([source, compiler, sys.version, metadata.version("jaxlib"), np.__version__,
                                       *includes]).encode()).hexdigest()[:20]
    library = cache_folder() / f"celltwin_host_call_{digest}.so"
    with _LOCK:
        if not library.exists():
            stem = library.with_name(f".{library.stem}.{os.getpid()}.{threading.get_ident()}")
            c_file, tmp = stem.with_suffix(".c"), stem.with_suffix(".so")
            try:
                c_file.write_text(source)
                # Python's symbols come from the running interpreter (macOS must be told so).
                lazy = ["-undefined", "dynamic_lookup"] if sys.platform == "darwin" else []
                done = subprocess.run([compiler, "-O2", "-shared", "-fPIC", *lazy, *(f"-I{i}" for i in includes),
                                       "-o", str(tmp), str(c_file)], capture_output=True, text=True)
                if done.returncode != 0:
                    log.warning("the FFI handler did not compile (%s); jax.pure_callback calls the native solves",
                                done.stderr.strip()[-300:])
                    return None
                os.replace(tmp, library)  # atomic: concurrent processes see a whole file
            finally:
                c_file.unlink(missing_ok=True)
                tmp.unlink(missing_ok=True)
        lib = ctypes.PyDLL(str(library))  # PyDLL: the init call holds the GIL
        lib.celltwin_host_call_init.argtypes = [ctypes.py_object]
        if lib.celltwin_host_call_init(_dispatch) != 0:
            return None
        _LIBRARY.append(lib)
        jax.ffi.register_ffi_target(TARGET, jax.ffi.pycapsule(lib.celltwin_host_call), platform="cpu")
    return TARGET
