"""celltwin: digital twins of cell signalling.

Mechanistic ODE models from SBML/PEtab or Python, simulated and differentiated in JAX
(float64), scored against data exactly like the reference tools.

Importing ``celltwin`` is light (the command line's ``--version`` and ``--help`` must not
wait for JAX): the model names below are imported on first use, and every subpackage that
computes with JAX imports :mod:`celltwin._config` first, so float64 is on before any
array is created.
"""

from .errors import CelltwinInputError as CelltwinInputError

__version__ = "0.1.0"

# Public names imported on first access: name -> module that defines it.
_LAZY = {"Model": "celltwin.model", "compile_model": "celltwin.model", "from_sbml": "celltwin.model"}

__all__ = ["CelltwinInputError", "Model", "compile_model", "from_sbml", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'celltwin' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
