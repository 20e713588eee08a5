"""Twin cases end to end: a PEtab problem with ML evidence, calibrated with and without the
evidence, compared on held-out data, with information gain and an intervention scenario."""

from .. import _config  # noqa: F401  (float64 on before any JAX use; celltwin/__init__ stays light)

from ._case import Case as Case
from ._case import case_evidence as case_evidence
from ._case import read_case as read_case
from ._run import CaseFieldError as CaseFieldError
from ._run import run_case as run_case
from ._run import loo_comparison as loo_comparison
from ._variants import case_variant as case_variant
