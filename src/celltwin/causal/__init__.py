"""Causal diagnostics of affinity predictors: is a predictor's error driven by a hidden mechanism?

Stratify the error by candidate mechanisms (kinase family, chemotype cluster, user labels),
score how much of it each explains (focus, an ANOVA eta^2), and test for Simpson-type
reversals of the predicted-measured trend. A simple baseline predictor (Morgan
fingerprints x protein k-mer spectra, Kronecker kernel ridge) and the Davis kinase-inhibitor
data loader make the diagnostics runnable end to end.
"""

from ._diagnose import Diagnosis as Diagnosis
from ._diagnose import ErrorSummary as ErrorSummary
from ._diagnose import StratumDiagnosis as StratumDiagnosis
from ._diagnose import diagnose as diagnose
from ._diagnose import error_summary as error_summary
from ._focus import FocusScore as FocusScore
from ._focus import eta_squared as eta_squared
from ._focus import focus_score as focus_score
from ._reversal import SimpsonReversal as SimpsonReversal
from ._reversal import StratumSlope as StratumSlope
from ._reversal import simpson_reversal as simpson_reversal
from ._table import PredictionTable as PredictionTable
from ._table import read_predictions as read_predictions
from ._table import table_from_frame as table_from_frame
from ._html import write_html as write_html
