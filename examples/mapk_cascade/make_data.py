"""Write the bundled demo problem: a two-tier kinase cascade in PEtab v1.

Run from anywhere: ``python examples/mapk_cascade/make_data.py``. It writes, next to itself,

* ``model.xml``: the SBML model (written here with libsbml),
* ``conditions.tsv``, ``observables.tsv``, ``parameters.tsv``: the PEtab tables,
* ``true_parameters.tsv``: the parameter values the data were simulated with,
* ``measurements.tsv``: synthetic data simulated with celltwin at the true parameters,
  plus Gaussian noise from a fixed seed (so the files are reproducible).

The model: a ligand L activates kinase K1 (K1 -> K1p), active K1p activates K2
(K2 -> K2p); phosphatases revert both. All four steps follow Michaelis-Menten kinetics.
Two conditions give a low and a high ligand dose; the observables are the phosphorylated
kinases with unknown scale factors, as on a western blot. Time is in minutes.
"""

from __future__ import annotations

from pathlib import Path

import libsbml
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent

# Values the synthetic data are generated with (linear scale).
TRUE = {
    "k_act1": 0.8,   # 1/min per unit ligand: K1 activation
    "V_deact1": 0.3,  # max rate of K1p dephosphorylation
    "k_act2": 2.0,   # 1/min per unit K1p: K2 activation
    "V_deact2": 0.5,  # max rate of K2p dephosphorylation
    "scale_pK1": 2.0,
    "scale_pK2": 5.0,
}
# Known (fixed) constants.
FIXED = {"Km1": 0.5, "Km2": 0.3, "Km3": 0.5, "Km4": 0.3, "sigma_pK1": 0.05, "sigma_pK2": 0.1}
# The starting point of the fit: the parameter table's nominal values.
START = {"k_act1": 0.3, "V_deact1": 1.0, "k_act2": 0.5, "V_deact2": 1.0, "scale_pK1": 1.0, "scale_pK2": 1.0}

DOSES = {"low_dose": 0.2, "high_dose": 2.0}
TIMES = [0.0, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0]
SEED = 20240611


def write_sbml(path: Path) -> None:
    doc = libsbml.SBMLDocument(3, 2)
    m = doc.createModel()
    m.setId("mapk_cascade")
    m.setName("Two-tier kinase cascade with Michaelis-Menten kinetics")
    c = m.createCompartment()
    c.setId("cell"), c.setSize(1.0), c.setConstant(True), c.setSpatialDimensions(3)

    def parameter(pid: str, value: float) -> None:
        p = m.createParameter()
        p.setId(pid), p.setValue(value), p.setConstant(True)

    parameter("L", 0.0)  # ligand dose: set by the condition table
    parameter("K1_total", 1.0)
    parameter("K2_total", 1.0)
    for pid in ("k_act1", "V_deact1", "k_act2", "V_deact2"):
        parameter(pid, TRUE[pid])
    for pid in ("Km1", "Km2", "Km3", "Km4"):
        parameter(pid, FIXED[pid])

    def species(sid: str) -> None:
        s = m.createSpecies()
        s.setId(sid), s.setCompartment("cell"), s.setInitialConcentration(0.0)
        s.setHasOnlySubstanceUnits(False), s.setBoundaryCondition(False), s.setConstant(False)

    for sid in ("K1", "K1p", "K2", "K2p"):
        species(sid)
    for sid, total in (("K1", "K1_total"), ("K2", "K2_total")):
        ia = m.createInitialAssignment()
        ia.setSymbol(sid), ia.setMath(libsbml.parseL3Formula(total))

    def reaction(rid: str, substrate: str, product: str, rate: str, modifier: str | None = None) -> None:
        r = m.createReaction()
        r.setId(rid), r.setReversible(False)
        sr = r.createReactant()
        sr.setSpecies(substrate), sr.setStoichiometry(1.0), sr.setConstant(True)
        sp_ = r.createProduct()
        sp_.setSpecies(product), sp_.setStoichiometry(1.0), sp_.setConstant(True)
        if modifier:
            r.createModifier().setSpecies(modifier)
        r.createKineticLaw().setMath(libsbml.parseL3Formula(rate))

    reaction("act1", "K1", "K1p", "cell * k_act1 * L * K1 / (Km1 + K1)")
    reaction("deact1", "K1p", "K1", "cell * V_deact1 * K1p / (Km2 + K1p)")
    reaction("act2", "K2", "K2p", "cell * k_act2 * K1p * K2 / (Km3 + K2)", modifier="K1p")
    reaction("deact2", "K2p", "K2", "cell * V_deact2 * K2p / (Km4 + K2p)")
    if doc.checkInternalConsistency():
        raise RuntimeError(doc.getErrorLog().toString())
    libsbml.writeSBMLToFile(doc, str(path))


def write_tables(folder: Path) -> None:
    pd.DataFrame({"conditionId": list(DOSES), "conditionName": ["L = 0.2", "L = 2"], "L": list(DOSES.values())}
                 ).to_csv(folder / "conditions.tsv", sep="\t", index=False)
    pd.DataFrame({
        "observableId": ["pK1", "pK2"],
        "observableName": ["phospho-K1 (a.u.)", "phospho-K2 (a.u.)"],
        "observableFormula": ["scale_pK1 * K1p", "scale_pK2 * K2p"],
        "noiseFormula": ["sigma_pK1", "sigma_pK2"],
        "observableTransformation": ["lin", "lin"],
        "noiseDistribution": ["normal", "normal"],
    }).to_csv(folder / "observables.tsv", sep="\t", index=False)
    rows = []
    for pid, start in START.items():
        rows.append({"parameterId": pid, "parameterScale": "log10", "lowerBound": 1e-2, "upperBound": 1e2,
                     "nominalValue": start, "estimate": 1})
    for pid, value in FIXED.items():
        rows.append({"parameterId": pid, "parameterScale": "lin", "lowerBound": "", "upperBound": "",
                     "nominalValue": value, "estimate": 0})
    pd.DataFrame(rows).to_csv(folder / "parameters.tsv", sep="\t", index=False)
    pd.DataFrame({"parameterId": list(TRUE), "value": list(TRUE.values())}).to_csv(
        folder / "true_parameters.tsv", sep="\t", index=False)
    # A measurement table with placeholder values; replaced below by simulated data.
    rows = [{"observableId": obs, "simulationConditionId": cid, "time": t, "measurement": 0.0}
            for cid in DOSES for obs in ("pK1", "pK2") for t in TIMES]
    pd.DataFrame(rows).to_csv(folder / "measurements.tsv", sep="\t", index=False)
    (folder / "mapk_cascade.yaml").write_text(
        "format_version: 1\n"
        "parameter_file: parameters.tsv\n"
        "problems:\n"
        "- sbml_files: [model.xml]\n"
        "  condition_files: [conditions.tsv]\n"
        "  observable_files: [observables.tsv]\n"
        "  measurement_files: [measurements.tsv]\n"
    )


def simulate_data(folder: Path) -> None:
    from celltwin.problem import from_petab

    problem = from_petab(folder / "mapk_cascade.yaml")
    theta = np.log10([TRUE[pid] for pid in problem.parameter_ids])
    table = problem.simulation_table(theta)
    sigma = table["observableId"].map({"pK1": FIXED["sigma_pK1"], "pK2": FIXED["sigma_pK2"]}).to_numpy()
    rng = np.random.default_rng(SEED)
    noisy = table["simulation"].to_numpy() + sigma * rng.standard_normal(len(table))
    out = table.rename(columns={"simulation": "measurement"})
    out["measurement"] = np.round(noisy, 4)
    out.to_csv(folder / "measurements.tsv", sep="\t", index=False)


def main() -> None:
    write_sbml(HERE / "model.xml")
    write_tables(HERE)
    simulate_data(HERE)
    print(f"wrote the mapk_cascade problem to {HERE}")


if __name__ == "__main__":
    main()
