"""Candidate libraries for sparse regression: each turns species ids into named terms."""

from .base import AbstractLibrary as AbstractLibrary
from .base import CombinedLibrary as CombinedLibrary
from .base import Term as Term
from .base import evaluate as evaluate
from .base import term_function as term_function
from .custom import CustomLibrary as CustomLibrary
from .independent import IndependentLibrary as IndependentLibrary
from .mass_action import MassActionLibrary as MassActionLibrary
from .polynomial import PolynomialLibrary as PolynomialLibrary
from .saturating import HillLibrary as HillLibrary
from .saturating import MichaelisMentenLibrary as MichaelisMentenLibrary
