"""Inference: multi-start optimisation and profile likelihoods (sampling lands next)."""

from ._executor import Executor as Executor
from ._optimize import MultistartResult as MultistartResult
from ._optimize import latin_hypercube as latin_hypercube
from ._optimize import multistart as multistart
from ._profile import ProfileResult as ProfileResult
from ._profile import profile as profile
