"""Problems: model + experiments + observables + noise + data + parameter space."""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from ._parameters import ParameterSpace as ParameterSpace
from ._parameters import Prior as Prior
from ._petab import from_petab as from_petab
from ._petab import table_files as table_files
from ._problem import Problem as Problem
from ._problem import Simulation as Simulation
from ._tables import Files as Files
