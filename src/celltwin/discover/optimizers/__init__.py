"""Sparse optimizers, one per file; each fits one target on the candidate terms."""

from .base import AbstractSparseOptimizer as AbstractSparseOptimizer
from .base import SparseFit as SparseFit
from .best_subset import BestSubset as BestSubset
from .elastic_net import ElasticNet as ElasticNet
from .elastic_net import Lasso as Lasso
from .ensemble import Ensemble as Ensemble
from .horseshoe import Horseshoe as Horseshoe
from .stlsq import STLSQ as STLSQ
from .threshold_path import ThresholdPath as ThresholdPath
