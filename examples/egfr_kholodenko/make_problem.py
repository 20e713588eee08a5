"""Write the EGFR example (Kholodenko et al. 1999, J Biol Chem 274:30169) as a PEtab v1 problem.

Run ``python examples/egfr_kholodenko/make_problem.py [SHARED_DATA]``. The model is built here
with celltwin's Python DSL from the published reaction scheme and rate constants (Table I of
Kholodenko et al.); the data values (Huber & Finley's digitised time courses) and the ML
affinity predictions are read from the shared data folder (``$CELLTWIN_SHARED_DATA`` or the
argument, default ``../shared/data``). It writes, next to itself:

* ``model.xml``: 23 species, 25 reactions, 50 rate parameters (nM, s);
* ``conditions.tsv``: EGF 20, 2 and 0.2 nM, simulated as initial EGF 680, 68 and 6.8 nM
  (the model's x34 scaling);
* ``observables.tsv``: five percentages (phospho-EGFR, -Shc, -PLCgamma, Grb2-bound EGFR, Grb2-bound Shc);
* ``measurements.tsv`` (training, 42 points) and ``measurements_test.tsv`` (held-out p_shc,
  6 points), Gaussian noise with the fixed sds of Huber & Finley;
* ``parameters.tsv``: all 50 rate parameters estimated on log10 scale with uniform priors:
  +/- 2 decades around the published value, and koff in [1e-6, 1] /s, kon in [1e-4, 1]
  /(nM s) for the nine binding reactions that have Kd predictions;
* ``evidence.tsv``: the AlphaFold 3 + PPI-Affinity Kd predictions (log10 sd 1.3, AlphaFold
  ipTM as score) with the literature Kds (format: :mod:`celltwin.evidence._table`);
* ``egfr_kholodenko.yaml`` (training) and ``egfr_kholodenko_test.yaml`` (held out).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent

# Reaction scheme: id -> (equation, forward constant, backward constant). Mass action in
# both directions (Michaelis-Menten dephosphorylations are listed in MICHAELIS_MENTEN).
REACTIONS = {
    "v_1": ("EGF + R -> Ra", "k1f", "k1b"),
    "v_2": ("2 Ra -> R2", "k2f", "k2b"),
    "v_3": ("R2 -> RP", "k3f", "k3b"),
    "v_5": ("RP + PLCg -> RPLCg", "k5f", "k5b"),
    "v_6": ("RPLCg -> RPLCgP", "k6f", "k6b"),
    "v_7": ("RPLCgP -> RP + PLCgP", "k7f", "k7b"),
    "v_9": ("RP + Grb -> RG", "k9f", "k9b"),
    "v_10": ("RG + SOS -> RGS", "k10f", "k10b"),
    "v_11": ("RGS -> RP + GS", "k11f", "k11b"),
    "v_12": ("GS -> Grb + SOS", "k12f", "k12b"),
    "v_13": ("RP + Shc -> RSh", "k13f", "k13b"),
    "v_14": ("RSh -> RShP", "k14f", "k14b"),
    "v_15": ("RShP -> ShP + RP", "k15f", "k15b"),
    "v_17": ("RShP + Grb -> RShG", "k17f", "k17b"),
    "v_18": ("RShG -> RP + ShG", "k18f", "k18b"),
    "v_19": ("RShG + SOS -> RShGS", "k19f", "k19b"),
    "v_20": ("RShGS -> ShGS + RP", "k20f", "k20b"),
    "v_21": ("ShP + Grb -> ShG", "k21f", "k21b"),
    "v_22": ("ShG + SOS -> ShGS", "k22f", "k22b"),
    "v_23": ("ShGS -> ShP + GS", "k23f", "k23b"),
    "v_24": ("RShP + GS -> RShGS", "k24f", "k24b"),
    "v_25": ("PLCgP -> PLCgl", "k25f", "k25b"),
}
MICHAELIS_MENTEN = {"v_4": ("RP -> R2", "V4", "K4"), "v_8": ("PLCgP -> PLCg", "V8", "K8"),
                    "v_16": ("ShP -> Shc", "V16", "K16")}
# Published values (Kholodenko et al. 1999, Table I): first order 1/s, second order 1/(nM s),
# V nM/s, K nM.
NOMINAL = {
    "k1f": 0.003, "k1b": 0.06, "k2f": 0.01, "k2b": 0.1, "k3f": 1.0, "k3b": 0.01, "V4": 450.0, "K4": 50.0,
    "k5f": 0.06, "k5b": 0.2, "k6f": 1.0, "k6b": 0.05, "k7f": 0.3, "k7b": 0.006, "V8": 1.0, "K8": 100.0,
    "k9f": 0.003, "k9b": 0.05, "k10f": 0.01, "k10b": 0.06, "k11f": 0.03, "k11b": 0.0045, "k12f": 0.0015,
    "k12b": 0.0001, "k13f": 0.09, "k13b": 0.6, "k14f": 6.0, "k14b": 0.06, "k15f": 0.3, "k15b": 0.0009,
    "V16": 1.7, "K16": 340.0, "k17f": 0.003, "k17b": 0.1, "k18f": 0.3, "k18b": 0.0009, "k19f": 0.01,
    "k19b": 0.0214, "k20f": 0.12, "k20b": 0.00024, "k21f": 0.003, "k21b": 0.1, "k22f": 0.03, "k22b": 0.064,
    "k23f": 0.1, "k23b": 0.021, "k24f": 0.009, "k24b": 0.0429, "k25f": 1.0, "k25b": 0.03,
}
STATES = ["EGF", "R", "Ra", "R2", "RP", "RPLCg", "RPLCgP", "RG", "RGS", "RSh", "RShP", "RShG", "RShGS", "GS",
          "ShP", "ShG", "PLCg", "PLCgP", "PLCgl", "Grb", "Shc", "SOS", "ShGS"]
INITIAL = {"EGF": 680.0, "R": 100.0, "PLCg": 105.0, "Grb": 85.0, "Shc": 150.0, "SOS": 34.0}
DOSES = {"egf_20nM": 680.0, "egf_2nM": 68.0, "egf_0p2nM": 6.8}  # x34 scaling of the dose in nM
AUGMENTED = ["v_1", "v_5", "v_9", "v_10", "v_12", "v_13", "v_17", "v_19", "v_21"]

EGFR_TOTAL = "(R + Ra + R2 + RP + RPLCg + RPLCgP + RG + RGS + RSh + RShP + RShG + RShGS)"
EGFR_PHOSPHO = "(RP + RPLCg + RPLCgP + RG + RGS + RSh + RShP + RShG + RShGS)"
SHC_TOTAL = "(Shc + RSh + ShP + ShG + ShGS + RShP + RShG + RShGS)"
OBSERVABLES = {  # id -> (formula, data files {condition: file}, sd per condition)
    "p_egfr": (f"100 * {EGFR_PHOSPHO} / {EGFR_TOTAL}",
               {"egf_20nM": "p_egfr_20.csv", "egf_2nM": "p_egfr_2.csv", "egf_0p2nM": "p_egfr_02.csv"},
               {"egf_20nM": 5.0, "egf_2nM": 1.0, "egf_0p2nM": 1.0}),
    "p_shc": (f"100 * (ShP + ShG + ShGS + RShP + RShG + RShGS) / {SHC_TOTAL}", {"egf_20nM": "p_shc_20.csv"},
              {"egf_20nM": 1.0}),
    "p_plcg": ("100 * (PLCgP + RPLCgP) / (PLCg + PLCgP + PLCgl + RPLCg + RPLCgP)",
               {"egf_20nM": "p_plcg_20.csv", "egf_2nM": "p_plcg_2.csv"}, {"egf_20nM": 1.0, "egf_2nM": 1.0}),
    "grb_egfr": (f"100 * (RG + RGS + RShG + RShGS) / {EGFR_TOTAL}", {"egf_20nM": "grb_egfr_20.csv"},
                 {"egf_20nM": 2.5}),
    "grb_shc": (f"100 * (ShG + ShGS + RShG + RShGS) / {SHC_TOTAL}", {"egf_20nM": "grb_shc_20.csv"},
                {"egf_20nM": 5.0}),
}
HELD_OUT = "p_shc"


def build_model():
    from celltwin.model import Model

    m = Model("egfr_kholodenko1999")
    m.add_compartment("cell", 1.0)
    for sid in STATES:
        m.add_species(sid, INITIAL.get(sid, 0.0), compartment="cell")
    for pid, value in NOMINAL.items():
        m.add_parameter(pid, value)
    rates = {rid: f"{kf} * {' * '.join(_sides(eq)[0])} - {kb} * {' * '.join(_sides(eq)[1])}"
             for rid, (eq, kf, kb) in REACTIONS.items()}
    rates |= {rid: f"{v} * {eq.split()[0]} / ({k} + {eq.split()[0]})" for rid, (eq, v, k) in MICHAELIS_MENTEN.items()}
    equations = {rid: spec[0] for rid, spec in (REACTIONS | MICHAELIS_MENTEN).items()}
    for rid in sorted(equations, key=lambda r: int(r.split("_")[1])):
        m.add_reaction(rid, equations[rid], rate=rates[rid])
    return m


def _sides(equation: str) -> tuple[list[str], list[str]]:
    """Species factors of each side, ``2 Ra`` as ``Ra * Ra``."""
    out = []
    for side in equation.split("->"):
        factors = []
        for term in side.split("+"):
            words = term.split()
            factors += [words[-1]] * (int(words[0]) if len(words) == 2 else 1)
        out.append(factors)
    return out[0], out[1]


def binding_bounds() -> dict[str, tuple[float, float]]:
    """koff in [1e-6, 1] /s and kon in [1e-4, 1] /(nM s) for the augmented reactions."""
    from celltwin.evidence import binding_rate_constants

    model = build_model()
    out = {}
    for rid in AUGMENTED:
        kon, koff = binding_rate_constants(model, rid)
        out[kon], out[koff] = (1e-4, 1.0), (1e-6, 1.0)
    return out


def write(shared: Path) -> None:
    from celltwin.model import write_sbml

    data = shared / "huber-finley" / "egfr"
    write_sbml(build_model(), HERE / "model.xml")
    pd.DataFrame({"conditionId": list(DOSES), "conditionName": ["EGF 20 nM", "EGF 2 nM", "EGF 0.2 nM"],
                  "EGF": list(DOSES.values())}).to_csv(HERE / "conditions.tsv", sep="\t", index=False)
    pd.DataFrame([{"observableId": oid, "observableName": f"{oid} (%)", "observableFormula": formula,
                   "noiseFormula": f"noiseParameter1_{oid}", "observableTransformation": "lin",
                   "noiseDistribution": "normal"} for oid, (formula, _, _) in OBSERVABLES.items()]
                 ).to_csv(HERE / "observables.tsv", sep="\t", index=False)
    rows = []
    for oid, (_, files, sds) in OBSERVABLES.items():
        for cid, name in files.items():
            series = pd.read_csv(data / name, skipinitialspace=True)
            for t, y in zip(series["x"], series["y"]):
                rows.append({"observableId": oid, "simulationConditionId": cid, "time": float(t),
                             "measurement": float(y), "noiseParameters": sds[cid]})
    table = pd.DataFrame(rows)
    table[table.observableId != HELD_OUT].to_csv(HERE / "measurements.tsv", sep="\t", index=False)
    table[table.observableId == HELD_OUT].to_csv(HERE / "measurements_test.tsv", sep="\t", index=False)
    bounds = binding_bounds()
    params = []
    for pid, value in NOMINAL.items():
        lower, upper = bounds.get(pid, (value / 100, value * 100))
        params.append({"parameterId": pid, "parameterScale": "log10", "lowerBound": lower, "upperBound": upper,
                       "nominalValue": value, "estimate": 1})
    pd.DataFrame(params).to_csv(HERE / "parameters.tsv", sep="\t", index=False)
    predicted = pd.read_csv(data / "predicted_kd.csv", encoding="utf-8-sig")
    predicted["reaction"] = "v_" + predicted["parameter"].str[1:]
    evidence = pd.DataFrame({"reaction": predicted["reaction"], "value": predicted["predicted_Kd(M)"], "unit": "M",
                             "sd": 1.3, "score": predicted["AF_ipTM"], "reported_value": predicted["reported_Kd(M)"]})
    evidence = evidence.set_index("reaction").loc[AUGMENTED].reset_index()
    with open(HERE / "evidence.tsv", "w") as fh:
        fh.write("# Kd of the binding reactions predicted by AlphaFold 3 + PPI-Affinity (Huber & Finley);\n"
                 "# sd: log10 spread (the predictor's reported error); score: AlphaFold ipTM;\n"
                 "# reported_value: literature Kd (Kholodenko 1999), for comparison only. v_1 values x 0.03.\n")
        evidence.to_csv(fh, sep="\t", index=False)
    for name, measurements in (("egfr_kholodenko", "measurements.tsv"), ("egfr_kholodenko_test", "measurements_test.tsv")):
        (HERE / f"{name}.yaml").write_text(
            "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n- sbml_files: [model.xml]\n"
            f"  condition_files: [conditions.tsv]\n  observable_files: [observables.tsv]\n"
            f"  measurement_files: [{measurements}]\n")


def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CELLTWIN_SHARED_DATA", HERE / "../../../shared/data"))
    write(shared.resolve())
    print(f"wrote the EGFR problem to {HERE}")


if __name__ == "__main__":
    main()
