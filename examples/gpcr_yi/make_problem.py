"""Write the GPCR example (Yi, Kitano & Simon 2003, PNAS 100:10764; yeast pheromone
G-protein cycle) as a PEtab v1 problem.

Run ``python examples/gpcr_yi/make_problem.py [SHARED_DATA]``. The model is built here with
celltwin's DSL from the published scheme; the data (Huber & Finley's digitised curves) and
the Kd of the ligand-receptor complex are read from the shared data folder. It writes:

* ``model.xml``: receptor R, complex RL, heterotrimer G and active G alpha Ga (molecules
  per cell); ligand L (nM) held constant; Gd = Gt - G - Ga, Gbg = Gt - G, Gt = 10,000.
  The dose-response observable is relative to the response at the top dose (100 nM), so
  the model carries a second copy of the cycle at that dose (``*_ref``) and the observable
  is their ratio: exact, with no extra parameter.
* training data: active G alpha fraction over time at 1 uM (sd 0.015) and relative Ga at
  60 s over eight doses (sd 0.03); held out: receptor occupancy RL / (R + RL) over doses
  at 600 s (sd 0.03, our choice: the source gives none).
* ``parameters.tsv``: the eight rate constants on log10 scale, uniform priors +/- 2 decades
  around the published values, kon (k1f, per nM per s) in [1e-4, 1] and koff (k1b) in [1e-6, 1].
* ``evidence.tsv``: the Kd of k1 from the experimental structure 7QBI (weight 1, log10 sd 0.8).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
NOMINAL = {"k1f": 2e-3, "k1b": 0.01, "k2": 1.0, "k3": 1e-5, "k4": 4.0, "k5": 4e-4, "k6": 0.004, "k7": 0.11}
G_TOTAL = 10_000.0
TOP_DOSE = 100.0  # nM: the dose-response data are relative to the response here
BINDING = {"k1f": (1e-4, 1.0), "k1b": (1e-6, 1.0)}
OCCUPANCY_TIME = 600.0


def build_model():
    from celltwin.model import Model

    m = Model("gpcr_yi2003")
    m.add_compartment("cell", 1.0)
    for pid, value in NOMINAL.items():
        m.add_parameter(pid, value)
    m.add_parameter("Gt", G_TOTAL)
    for suffix, dose in (("", 1000.0), ("_ref", TOP_DOSE)):
        m.add_species("L" + suffix, dose, compartment="cell", boundary=True, constant=True)
        for sid, initial in (("R", 10_000.0), ("RL", 0.0), ("G", G_TOTAL), ("Ga", 0.0)):
            m.add_species(sid + suffix, initial, compartment="cell")
        R, RL, G, Ga, L = (s + suffix for s in ("R", "RL", "G", "Ga", "L"))
        m.add_assignment_rule("Gd" + suffix, f"Gt - {G} - {Ga}")
        m.add_assignment_rule("Gbg" + suffix, f"Gt - {G}")
        m.add_reaction("binding" + suffix, f"{R} + {L} -> {RL}", rate=f"k1f * {L} * {R} - k1b * {RL}")
        m.add_reaction("reassociation" + suffix, f"-> {G}", rate=f"k2 * Gd{suffix} * Gbg{suffix}")
        m.add_reaction("activation" + suffix, f"{G} -> {Ga}", rate=f"k3 * {RL} * {G}", modifiers=(RL,))
        m.add_reaction("synthesis" + suffix, f"-> {R}", rate="k4")
        m.add_reaction("degradation" + suffix, f"{R} ->", rate=f"k5 * {R}")
        m.add_reaction("internalisation" + suffix, f"{RL} ->", rate=f"k6 * {RL}")
        m.add_reaction("hydrolysis" + suffix, f"{Ga} ->", rate=f"k7 * {Ga}")
    return m


def write(shared: Path) -> None:
    from celltwin.model import write_sbml

    data = shared / "huber-finley" / "gpcr"
    write_sbml(build_model(), HERE / "model.xml")
    course = pd.read_csv(data / "active_g_timecourse.csv", skipinitialspace=True)
    doses = pd.read_csv(data / "active_g_dose_response.csv", skipinitialspace=True)
    occupancy = pd.read_csv(data / "rl_dose_response.csv", skipinitialspace=True)
    conditions = [{"conditionId": "L_1uM", "conditionName": "1 uM ligand", "L": 1000.0}]
    rows = [{"observableId": "active_ga", "simulationConditionId": "L_1uM", "time": float(t), "measurement": float(y)}
            for t, y in zip(course.iloc[:, 0], course.iloc[:, 1])]
    for log_dose, y in zip(doses.iloc[:, 0], doses.iloc[:, 1]):
        cid = _dose_id(10.0**log_dose)
        conditions.append({"conditionId": cid, "conditionName": f"{10.0**log_dose:g} nM ligand", "L": 10.0**log_dose})
        rows.append({"observableId": "relative_ga", "simulationConditionId": cid, "time": 60.0, "measurement": float(y)})
    test = []
    for dose, y in zip(occupancy.iloc[:, 0], occupancy.iloc[:, 1]):
        cid = _dose_id(dose)
        if cid not in {c["conditionId"] for c in conditions}:
            conditions.append({"conditionId": cid, "conditionName": f"{dose:g} nM ligand", "L": float(dose)})
        test.append({"observableId": "occupancy", "simulationConditionId": cid, "time": OCCUPANCY_TIME,
                     "measurement": float(y)})
    pd.DataFrame(conditions).to_csv(HERE / "conditions.tsv", sep="\t", index=False)
    pd.DataFrame([
        {"observableId": "active_ga", "observableName": "active G alpha (fraction)", "observableFormula": "Ga / Gt",
         "noiseFormula": "0.015"},
        {"observableId": "relative_ga", "observableName": "Ga at 60 s relative to 100 nM",
         "observableFormula": "Ga / Ga_ref", "noiseFormula": "0.03"},
        {"observableId": "occupancy", "observableName": "receptor occupancy RL / (R + RL)",
         "observableFormula": "RL / (R + RL)", "noiseFormula": "0.03"},
    ]).assign(observableTransformation="lin", noiseDistribution="normal").to_csv(
        HERE / "observables.tsv", sep="\t", index=False)
    pd.DataFrame(rows).to_csv(HERE / "measurements.tsv", sep="\t", index=False)
    pd.DataFrame(test).to_csv(HERE / "measurements_test.tsv", sep="\t", index=False)
    params = [{"parameterId": pid, "parameterScale": "log10", "lowerBound": BINDING.get(pid, (v / 100, v * 100))[0],
               "upperBound": BINDING.get(pid, (v / 100, v * 100))[1], "nominalValue": v, "estimate": 1}
              for pid, v in NOMINAL.items()]
    pd.DataFrame(params).to_csv(HERE / "parameters.tsv", sep="\t", index=False)
    kd = pd.read_csv(data / "predicted_kd.csv", encoding="utf-8-sig")
    row = kd[kd["parameter"] == "k1"].iloc[0]
    with open(HERE / "evidence.tsv", "w") as fh:
        fh.write("# Kd of ligand-receptor binding (k1) from the experimental structure PDB 7QBI\n"
                 "# (Huber & Finley): weight 1, log10 sd 0.8 (the predictor's error for protein-peptide complexes).\n")
        pd.DataFrame([{"reaction": "binding", "value": row["predicted_Kd(M)"], "unit": "M", "sd": 0.8,
                       "score": row["AF_ranking_score"], "reported_value": row["reported_Kd(M)"]}]
                     ).to_csv(fh, sep="\t", index=False)
    for name, measurements in (("gpcr_yi", "measurements.tsv"), ("gpcr_yi_test", "measurements_test.tsv")):
        (HERE / f"{name}.yaml").write_text(
            "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n- sbml_files: [model.xml]\n"
            f"  condition_files: [conditions.tsv]\n  observable_files: [observables.tsv]\n"
            f"  measurement_files: [{measurements}]\n")


def _dose_id(dose: float) -> str:
    return "L_" + (f"{dose:.3g}".replace(".", "p")) + "nM"


def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CELLTWIN_SHARED_DATA", HERE / "../../../shared/data"))
    write(shared.resolve())
    print(f"wrote the GPCR problem to {HERE}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
