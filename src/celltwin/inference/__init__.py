"""Inference: multi-start optimisation (and, as they land, profiles and sampling)."""

from ._executor import Executor as Executor
from ._optimize import MultistartResult as MultistartResult
from ._optimize import latin_hypercube as latin_hypercube
from ._optimize import multistart as multistart
