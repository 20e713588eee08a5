"""The native backend's LU kernels for one sparsity pattern as Python callables, as the
solver calls them (for tests and ``benchmarks/native_linear_algebra.py``). Above both
:mod:`._native_sparse` (the storage and the generated C) and :mod:`._native` (the kernels
module and the compiler)."""

from __future__ import annotations

import numpy as np

from ._native import _kernels, generated_lu_library
from ._native_sparse import _ints, linear_algebra


class Kernels:
    """The LU kernels for one pattern as Python callables, as the solver calls them:
    ``factor(jv, h, W, piv) -> bool`` (form ``W = I/gamma - h J`` and factorise it),
    ``solve(W, piv, b)``, ``solve_t(W, piv, b)``, and ``w_shape``; ``kind`` "dense",
    "sparse" (the numba loops) or "generated" (the sparse LU written out in C, compiled
    into the cache folder; needs a C compiler). ``sizes`` and ``arrays`` are what the
    kernels module's functions take (for loops in numba). For tests and
    ``benchmarks/native_linear_algebra.py``."""

    def __init__(self, n: int, rows, cols, *, kind: str, gamma: float = 1.0):
        self.la = linear_algebra(n, rows, cols, use_sparse=kind != "dense")
        self.w_shape = (self.la.w_size,)
        self.gamma, self.kernels = gamma, _kernels()
        arrays = self.la.arrays
        if kind == "generated":
            self._library, addresses = generated_lu_library(self.la)
            arrays = (*arrays[:6], np.asarray([*addresses, 0], dtype=np.int64))
        self.arrays = arrays
        self.sizes = _ints([n, n, -1, 2 if kind == "generated" else self.la.sparse])
        self._hg = np.empty(4)

    def factor(self, jv, h, W, piv) -> bool:
        return bool(self.kernels.factor_entry(self.sizes, self.arrays, np.ascontiguousarray(jv, dtype=float),
                                              float(h), W, piv, self._hg,
                                              1.0 / self.gamma))

    def solve(self, W, piv, b):
        self.kernels.solve_entry(self.sizes, self.arrays, W, piv, b)

    def solve_t(self, W, piv, b):
        self.kernels.solve_t_entry(self.sizes, self.arrays, W, piv, b)
