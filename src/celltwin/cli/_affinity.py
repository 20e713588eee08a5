"""``celltwin affinity predict``: binding free energy, Kd and a calibrated interval of a
protein-protein complex from its structure (PRODIGY), or the free energy and Kd of a small
molecule bound to a protein (PRODIGY-LIG, ``--ligand``), optionally as a row of an affinity table."""

from __future__ import annotations

import enum
import json
from pathlib import Path

import typer

from ..errors import CelltwinInputError
from ._destinations import writable_file
from ._errors import guarded
from ._output import err_console, out_console

affinity_app = typer.Typer(help="Binding affinities: predict a Kd from a complex's structure.", no_args_is_help=True)


class Format(str, enum.Enum):
    text = "text"
    json = "json"


def predict(
    structure: Path = typer.Argument(..., metavar="COMPLEX.(pdb|cif)", help="Structure of the complex (PDB or mmCIF; "
                                                                         "crystal or AlphaFold model)."),
    chains: str | None = typer.Option(None, "--chains", "-c",
                                      help="The two sides of the interface: A:B (the default), or A,B:C to treat "
                                           "chains A and B as one molecule. With --ligand: the protein chain(s), A or "
                                           "A,B (default: every chain with amino acids)."),
    ligand: str | None = typer.Option(None, "--ligand", "-l", metavar="CHAIN:RESNAME",
                                      help="Predict a small molecule's binding instead (PRODIGY-LIG): its chain and "
                                           "three-character residue name, e.g. B:FRH."),
    electrostatics: float | None = typer.Option(None, "--electrostatics", metavar="KCAL",
                                                help="With --ligand: HADDOCK's electrostatic energy (kcal/mol) for "
                                                     "PRODIGY-LIG's electrostatic variant (default: the value on a "
                                                     "HADDOCK PDB file's REMARK energies line, if any)."),
    temperature: float = typer.Option(298.15, "--temperature", "-t", metavar="K",
                                      help="Temperature for the Kd, in kelvin (PRODIGY's dG does not depend on it)."),
    format: Format = typer.Option(Format.text, "--format", "-f", help="text, or json: one JSON object on stdout."),
    out: Path | None = typer.Option(None, "--out", "-o", metavar="TABLE.tsv",
                                    help="Add the prediction as a row of this affinity table (created if missing); "
                                         "needs --reaction."),
    reaction: str | None = typer.Option(None, "--reaction", "-r",
                                        help="The model's binding reaction the Kd is for (the row's 'reaction')."),
) -> None:
    """Predict the binding free energy and Kd of a protein-protein complex with PRODIGY's contact
    model (the prodigy-prot package), with the 50 % and 90 % intervals of the true log10 Kd from
    the learned error model of that predictor (fitted on leave-one-out predictions of its 81
    benchmark complexes; docs/evidence.md). With --ligand, a small molecule's with PRODIGY-LIG
    (the prodigy-lig package), which has no calibrated interval.
    """
    if out is not None:
        if not reaction:
            raise CelltwinInputError("--out: name the model reaction this Kd is evidence for with --reaction ID")
        writable_file(out, "--out", suffixes=(".tsv", ".csv", ".txt"))
    from ..evidence import (
        append_prediction_row,
        check_prediction_table,
        parse_chains,
        parse_ligand,
        parse_protein_chains,
        predict_ligand_affinity,
        predict_structure_affinity,
        shipped_error_model,
    )

    if ligand is None and electrostatics is not None:
        raise CelltwinInputError("--electrostatics belongs to small-molecule predictions: give --ligand CHAIN:RESNAME")
    # the options before the slow imports and the structure
    if ligand is None:
        groups = parse_chains("A:B" if chains is None else chains)
    else:
        site, proteins = parse_ligand(ligand), None if chains is None else parse_protein_chains(chains)
    if out is not None and reaction:  # --out needs --reaction (checked above)
        check_prediction_table(out, reaction)  # an existing table that cannot take the row, before the prediction
    if ligand is None:
        summary = predict_structure_affinity(structure, groups, temperature).summary(shipped_error_model("prodigy"))
    else:
        summary = predict_ligand_affinity(structure, site, proteins, temperature, electrostatics).summary()
    if out is not None and reaction:
        append_prediction_row(out, reaction, summary)
    if format is Format.json:
        typer.echo(json.dumps(summary, indent=1))
    else:
        _print(summary)
    if out is not None:
        err_console().print(f"added the row for {reaction} to {out}", markup=False, soft_wrap=True)


def _print(s: dict) -> None:
    if "ligand" in s:
        _print_ligand(s)
        return
    show = out_console()
    contacts = ", ".join(f"{k} {v}" for k, v in s["contacts"].items())
    show.print(f"{s['structure']} (chains {s['chains']}, {s['temperature_k']:g} K): {s['predictor']}", markup=False,
               soft_wrap=True)
    show.print(f"  interface contacts: {s['n_contacts']} ({contacts}); non-interacting surface: "
               f"{s['nis_apolar_percent']:.1f} % apolar, {s['nis_charged_percent']:.1f} % charged",
               markup=False, soft_wrap=True)
    show.print(f"  dG {s['dg_kcal_per_mol']:.2f} kcal/mol, Kd {s['kd_molar']:.3g} M (log10 {s['log10_kd_molar']:.2f})",
               markup=False, soft_wrap=True)
    show.print(f"  log10 Kd, calibrated: median {s['calibrated_log10_kd']:.2f}, 50 % [{s['lower_50_log10_kd']:.2f}, "
               f"{s['upper_50_log10_kd']:.2f}], 90 % [{s['lower_log10_kd']:.2f}, {s['upper_log10_kd']:.2f}] "
               f"(error model '{s['error_model']}', {s['error_model_pairs']} pairs)", markup=False, soft_wrap=True)



def _print_ligand(s: dict) -> None:
    show = out_console()
    contacts = ", ".join(f"{k} {v}" for k, v in s["contacts"].items())
    show.print(f"{s['structure']} (ligand {s['ligand']}, protein chains {s['chains']}, {s['temperature_k']:g} K): "
               f"{s['predictor']}", markup=False, soft_wrap=True)
    show.print(f"  atom contacts within {s['distance_cutoff_a']:g} A: {s['n_contacts']} ({contacts})", markup=False,
               soft_wrap=True)
    if s["electrostatics_kcal_per_mol"] is not None:
        show.print(f"  HADDOCK electrostatics {s['electrostatics_kcal_per_mol']:g} kcal/mol (from the "
                   f"{s['electrostatics_source']}); score {s['haddock_score']:.2f}", markup=False, soft_wrap=True)
    show.print(f"  dG {s['dg_kcal_per_mol']:.2f} kcal/mol, Kd {s['kd_molar']:.3g} M (log10 {s['log10_kd_molar']:.2f})",
               markup=False, soft_wrap=True)
    show.print(f"  no calibrated interval: {s['note']}", markup=False, soft_wrap=True)


affinity_app.command("predict")(guarded(predict))
