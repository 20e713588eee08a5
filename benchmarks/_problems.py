"""Problems that several benchmark scripts measure: the EGFR twin case with its affinity
evidence, and the small conversion model of simulation-based calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import EGFR_CASE

SBC_TIMES = np.array([0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0])
SBC_PRIORS = {"k1": (0.0, 0.3), "k2": (-0.7, 0.3), "sigma": (-1.3, 0.2)}  # log10 scale: mean, sd


def augmented_problem(backend: str = "diffrax"):
    """The EGFR case's problem (its solver settings, ``backend``) and its evidence terms."""
    from celltwin.twin import case_evidence, read_case

    evidence = case_evidence(read_case(EGFR_CASE), backend=backend)
    return evidence.problem, evidence


def conversion_problem():
    """The SBC problem (measured values are placeholders: calibration simulates its own)."""
    from celltwin.model import Model
    from celltwin.problem import Problem

    m = Model("conversion")
    m.add_species("A", 1.0)
    m.add_species("B", 0.0)
    m.add_parameter("k1", 1.0)
    m.add_parameter("k2", 0.2)
    m.add_reaction("convert", "A -> B", rate="k1 * A")
    m.add_reaction("degrade", "B ->", rate="k2 * B")
    obs = pd.DataFrame({"observableFormula": ["B"], "noiseFormula": ["noiseParameter1_B_obs"]},
                       index=pd.Index(["B_obs"], name="observableId"))
    meas = pd.DataFrame({"observableId": "B_obs", "simulationConditionId": "c", "time": SBC_TIMES,
                         "measurement": 0.0, "noiseParameters": "sigma"})
    rows = [[pid, "log10", 10 ** (mu - 6 * sd), 10 ** (mu + 6 * sd), 10**mu, 1, "parameterScaleNormal", f"{mu};{sd}"]
            for pid, (mu, sd) in SBC_PRIORS.items()]
    par = pd.DataFrame(rows, columns=["parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue",
                                      "estimate", "objectivePriorType", "objectivePriorParameters"]).set_index("parameterId")
    return Problem.from_tables(m, measurements=meas, observables=obs, parameters=par, name="conversion")
