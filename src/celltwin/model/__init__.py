"""Reaction networks: the symbolic model (Python DSL or SBML) and its compilation to JAX."""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from . import ratelaws as ratelaws
from ._blocks import independent_blocks as independent_blocks
from ._blocks import parameters_read as parameters_read
from ._blocks import restricted as restricted
from ._compile import CompiledEvent as CompiledEvent
from ._compile import CompiledModel as CompiledModel
from ._compile import compile_model as compile_model
from ._compile import rhs_expressions as rhs_expressions
from ._formula import parse_formula as parse_formula
from ._jaxify import vector_function as vector_function
from ._model import TIME as TIME
from ._model import as_expr as as_expr
from ._model import is_identifier as is_identifier
from ._model import Compartment as Compartment
from ._model import Event as Event
from ._model import Model as Model
from ._model import Parameter as Parameter
from ._model import Reaction as Reaction
from ._model import Species as Species
from ._model import symbol as symbol
from ._sbml import from_sbml as from_sbml
from ._sbml_math import check_math_names as check_math_names
from ._sbml_export import to_sbml as to_sbml
from ._sbml_export import write_sbml as write_sbml
from .ratelaws import hill as hill
from .ratelaws import mass_action as mass_action
from .ratelaws import michaelis_menten as michaelis_menten
