"""Write a PEtab SciML hybrid problem for the PC12 EGF / NGF time courses (Brown et al. 2004
data, as shipped with SloppyCell: Trav2EGF.csv and Trav2NGF.csv, active Mek and Erk).

Mechanistic skeleton, shared by both ligands: an active receptor signal R decays (kR) and
drives a Mek -> Erk cascade (activation k1, k3 on the inactive fraction; deactivation k2,
k4). The ligands differ only in the initial receptor activity (R0_EGF, R0_NGF). The skeleton
cannot make NGF's response sustained and EGF's transient; in PC12 cells that difference comes
from NGF's Rap1 / B-Raf branch, which the skeleton leaves out. A neural term stands in for it:
a flux nn_flux * (1 - Mek) into active Mek, nn_flux = net(R, Mek, Erk, ngf) with ngf = 1
under NGF and 0 under EGF. Its last layer starts at zero, so training starts from the
skeleton; with the network zeroed and frozen the problem is the mechanistic-only model.

Usage: python examples/pc12_hybrid/make_problem.py OUT_DIR [DATA_DIR]
(DATA_DIR default: $CELLTWIN_SHARED_DATA/signalling-timecourses/pc12_brown2004)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml

SBML = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level2/version4" level="2" version="4">
  <model id="pc12_skeleton">
    <listOfCompartments><compartment id="cell" size="1" constant="true"/></listOfCompartments>
    <listOfSpecies>
      <species id="R" compartment="cell" initialConcentration="1" hasOnlySubstanceUnits="true"/>
      <species id="Mek" compartment="cell" initialConcentration="0" hasOnlySubstanceUnits="true"/>
      <species id="Erk" compartment="cell" initialConcentration="0" hasOnlySubstanceUnits="true"/>
    </listOfSpecies>
    <listOfParameters>
      {parameters}
    </listOfParameters>
    <listOfReactions>
      {reactions}
    </listOfReactions>
  </model>
</sbml>
"""

REACTIONS = {  # id: (reactant, product, MathML of the rate)
    "receptor_decay": ("R", None, "<apply><times/><ci>kR</ci><ci>R</ci></apply>"),
    "mek_activation": (None, "Mek", "<apply><times/><ci>k1</ci><ci>R</ci><apply><minus/><cn>1</cn><ci>Mek</ci></apply></apply>"),
    "mek_deactivation": ("Mek", None, "<apply><times/><ci>k2</ci><ci>Mek</ci></apply>"),
    "erk_activation": (None, "Erk", "<apply><times/><ci>k3</ci><ci>Mek</ci><apply><minus/><cn>1</cn><ci>Erk</ci></apply></apply>"),
    "erk_deactivation": ("Erk", None, "<apply><times/><ci>k4</ci><ci>Erk</ci></apply>"),
    "missing_branch": (None, "Mek", "<apply><times/><ci>nn_flux</ci><apply><minus/><cn>1</cn><ci>Mek</ci></apply></apply>"),
}

MODEL_PARAMETERS = {"kR": 0.1, "k1": 1.0, "k2": 0.2, "k3": 1.0, "k4": 0.2, "ngf": 0.0, "nn_flux": 0.0}
# id, scale, lower, upper, nominal
ESTIMATED = [("kR", "log10", 1e-3, 10), ("k1", "log10", 1e-3, 100), ("k2", "log10", 1e-3, 10),
             ("k3", "log10", 1e-3, 100), ("k4", "log10", 1e-3, 10), ("R0_EGF", "log10", 1e-2, 100),
             ("R0_NGF", "log10", 1e-2, 100), ("scale_Mek", "log10", 0.1, 100), ("scale_Erk", "log10", 0.1, 100),
             ("sd_Mek", "log10", 1e-3, 10), ("sd_Erk", "log10", 1e-3, 10)]
NOMINAL = {"kR": 0.1, "k1": 1.0, "k2": 0.2, "k3": 1.0, "k4": 0.2, "R0_EGF": 1.0, "R0_NGF": 1.0,
           "scale_Mek": 2.0, "scale_Erk": 5.0, "sd_Mek": 0.3, "sd_Erk": 0.8}
HIDDEN = 8


def _reaction(rid, reactant, product, math):
    parts = [f'<reaction id="{rid}" reversible="false">']
    if reactant:
        parts.append(f'<listOfReactants><speciesReference species="{reactant}" stoichiometry="1"/></listOfReactants>')
    if product:
        parts.append(f'<listOfProducts><speciesReference species="{product}" stoichiometry="1"/></listOfProducts>')
    parts.append(f'<kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">{math}</math></kineticLaw></reaction>')
    return "".join(parts)


def _network():
    node = lambda name, op, target, args: {"name": name, "op": op, "target": target, "args": args, "kwargs": {}}
    return {
        "nn_model_id": "net1",
        "inputs": [{"input_id": "input0"}],
        "layers": [{"layer_id": "layer1", "layer_type": "Linear", "args": {"in_features": 4, "out_features": HIDDEN, "bias": True}},
                   {"layer_id": "layer2", "layer_type": "Linear", "args": {"in_features": HIDDEN, "out_features": 1, "bias": True}}],
        "forward": [node("net_input", "placeholder", "net_input", []), node("layer1", "call_module", "layer1", ["net_input"]),
                    node("tanh", "call_method", "tanh", ["layer1"]), node("layer2", "call_module", "layer2", ["tanh"]),
                    node("output", "output", "output", ["layer2"])],
    }


def _measurements(data: Path) -> pd.DataFrame:
    rows = []
    for ligand, file in (("EGF", "Trav2EGF.csv"), ("NGF", "Trav2NGF.csv")):
        df = pd.read_csv(data / file, skipinitialspace=True)
        df.columns = [c.strip() for c in df.columns]
        for _, r in df.iterrows():
            for species in ("Mek", "Erk"):
                rows.append({"observableId": f"{species}_active", "experimentId": ligand,
                             "measurement": float(r[f"{species}Active"]), "time": float(r["Time"])})
    return pd.DataFrame(rows)


def write_problem(out: Path, data: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    params = "\n      ".join(f'<parameter id="{k}" value="{v}" constant="true"/>' for k, v in MODEL_PARAMETERS.items())
    reactions = "\n      ".join(_reaction(k, *v) for k, v in REACTIONS.items())
    (out / "model.xml").write_text(SBML.format(parameters=params, reactions=reactions))
    (out / "net1.yaml").write_text(yaml.safe_dump(_network(), sort_keys=False))
    rng = np.random.default_rng(0)
    with h5py.File(out / "net1_ps.hdf5", "w") as f:
        f.create_dataset("metadata/pytorch_format", data=np.uint8(1))
        bound = 1 / np.sqrt(4)
        f.create_dataset("parameters/net1/layer1/weight", data=rng.uniform(-bound, bound, (HIDDEN, 4)))
        f.create_dataset("parameters/net1/layer1/bias", data=rng.uniform(-bound, bound, HIDDEN))
        f.create_dataset("parameters/net1/layer2/weight", data=np.zeros((1, HIDDEN)))
        f.create_dataset("parameters/net1/layer2/bias", data=np.zeros(1))
    _measurements(data).to_csv(out / "measurements.tsv", sep="\t", index=False)
    pd.DataFrame({"observableId": ["Mek_active", "Erk_active"],
                  "observableFormula": ["scale_Mek * Mek", "scale_Erk * Erk"],
                  "noiseFormula": ["sd_Mek", "sd_Erk"], "observableTransformation": ["lin", "lin"],
                  "noiseDistribution": ["normal", "normal"]}).to_csv(out / "observables.tsv", sep="\t", index=False)
    pd.DataFrame({"experimentId": ["EGF", "NGF"], "time": [0.0, 0.0], "conditionId": ["EGF", "NGF"]}).to_csv(
        out / "experiments.tsv", sep="\t", index=False)
    pd.DataFrame({"conditionId": ["EGF", "EGF", "NGF", "NGF"], "targetId": ["R", "ngf", "R", "ngf"],
                  "targetValue": ["R0_EGF", "0", "R0_NGF", "1"]}).to_csv(out / "conditions.tsv", sep="\t", index=False)
    params = pd.DataFrame([{"parameterId": pid, "parameterScale": s, "lowerBound": lo, "upperBound": hi,
                            "nominalValue": NOMINAL[pid], "estimate": "true"} for pid, s, lo, hi in ESTIMATED])
    params = params.astype(object)
    params.loc[len(params)] = {"parameterId": "net1_ps", "parameterScale": "lin", "lowerBound": "-inf",
                               "upperBound": "inf", "nominalValue": "array", "estimate": "true"}
    params.to_csv(out / "parameters.tsv", sep="\t", index=False)
    pd.DataFrame({"petabEntityId": ["net1_in_R", "net1_in_Mek", "net1_in_Erk", "net1_in_ngf", "net1_output1", "net1_ps"],
                  "modelEntityId": ["net1.inputs[0][0]", "net1.inputs[0][1]", "net1.inputs[0][2]", "net1.inputs[0][3]",
                                    "net1.outputs[0][0]", "net1.parameters"]}).to_csv(out / "mapping.tsv", sep="\t", index=False)
    pd.DataFrame({"targetId": ["net1_in_R", "net1_in_Mek", "net1_in_Erk", "net1_in_ngf", "nn_flux"],
                  "targetValue": ["R", "Mek", "Erk", "ngf", "net1_output1"]}).to_csv(out / "hybridization.tsv", sep="\t", index=False)
    problem = {
        "format_version": "2.0.0",
        "model_files": {"pc12": {"location": "model.xml", "language": "sbml"}},
        "measurement_files": ["measurements.tsv"], "observable_files": ["observables.tsv"],
        "experiment_files": ["experiments.tsv"], "condition_files": ["conditions.tsv"],
        "parameter_files": ["parameters.tsv"], "mapping_files": ["mapping.tsv"],
        "extensions": {"sciml": {"version": "0.1.0", "required": True, "array_files": ["net1_ps.hdf5"],
                                 "hybridization_files": ["hybridization.tsv"],
                                 "neural_networks": {"net1": {"location": "net1.yaml", "format": "YAML",
                                                              "pre_initialization": False}}}},
    }
    (out / "problem.yaml").write_text(yaml.safe_dump(problem, sort_keys=False))
    return out / "problem.yaml"


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    shared = Path(os.environ.get("CELLTWIN_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
    data = Path(sys.argv[2]) if len(sys.argv) > 2 else shared / "signalling-timecourses" / "pc12_brown2004"
    print(write_problem(Path(sys.argv[1]), data))
