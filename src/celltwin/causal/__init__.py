"""Causal diagnostics of affinity predictors: is a predictor's error driven by a hidden mechanism?

Stratify the error by candidate mechanisms (kinase family, chemotype cluster, user labels),
score how much of it each explains (focus, an ANOVA eta^2), and test for Simpson-type
reversals of the predicted-measured trend. A simple baseline predictor (Morgan
fingerprints x protein k-mer spectra, Kronecker kernel ridge) and the Davis kinase-inhibitor
data loader make the diagnostics runnable end to end.
"""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from ._baseline import KroneckerRidge as KroneckerRidge
from ._baseline import fit_kronecker_ridge as fit_kronecker_ridge
from ._baseline import group_folds as group_folds
from ._baseline import grouped_cross_validation as grouped_cross_validation
from ._chem import chemotype_clusters as chemotype_clusters
from ._chem import morgan_fingerprints as morgan_fingerprints
from ._chem import tanimoto as tanimoto
from ._davis import KinaseInhibitorData as KinaseInhibitorData
from ._davis import load_davis as load_davis
from ._diagnose import Diagnosis as Diagnosis
from ._diagnose import ErrorSummary as ErrorSummary
from ._diagnose import StratumDiagnosis as StratumDiagnosis
from ._diagnose import diagnose as diagnose
from ._diagnose import error_summary as error_summary
from ._focus import FocusScore as FocusScore
from ._focus import eta_squared as eta_squared
from ._focus import focus_score as focus_score
from ._html import write_html as write_html
from ._kinase_predictions import (
    kinase_inhibitor_predictions as kinase_inhibitor_predictions,
)
from ._kinome import gene_family as gene_family
from ._kinome import kmer_similarity as kmer_similarity
from ._kinome import sequence_clusters as sequence_clusters
from ._reversal import SimpsonReversal as SimpsonReversal
from ._reversal import StratumSlope as StratumSlope
from ._reversal import simpson_reversal as simpson_reversal
from ._table import PredictionTable as PredictionTable
from ._table import read_predictions as read_predictions
from ._table import table_from_frame as table_from_frame
