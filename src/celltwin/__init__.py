"""celltwin: digital twins of cell signalling.

Mechanistic ODE models from SBML/PEtab or Python, simulated and differentiated in JAX
(float64), scored against data exactly like the reference tools.
"""

from . import _config  # noqa: F401  (float64 and the compilation cache, before anything else)
from .errors import CelltwinInputError as CelltwinInputError
from .model import Model as Model
from .model import compile_model as compile_model
from .model import from_sbml as from_sbml

__version__ = "0.1.0"
