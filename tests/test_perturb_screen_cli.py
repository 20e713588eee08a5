"""``celltwin screen fit`` end to end on a small simulated AnnData file, and the AnnData reader on
the shared Norman cells."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import require_shared

from celltwin.errors import CelltwinInputError

anndata = pytest.importorskip("anndata")


def _write_h5ad(path, sim):
    import pandas as pd

    s = sim.screen
    cell_type = "sim" if s.medium is None else np.asarray(s.medium).astype(str)  # media read as cell types
    obs = pd.DataFrame({"perturbation": s.conditions.astype(str), "gem": [s.batches[b] for b in s.batch],
                        "ncounts": s.library_size, "cell_type": cell_type},
                       index=[f"cell{i}-{b + 1}" for i, b in enumerate(s.batch)])
    adata = anndata.AnnData(X=s.expression, obs=obs, var=pd.DataFrame(index=list(s.genes)))
    try:  # pandas >= 3 stores strings as StringArray, which anndata writes only when allowed
        with anndata.settings.override(allow_write_nullable_strings=True):
            adata.write_h5ad(path)
    except AttributeError:  # an anndata without that setting
        adata.write_h5ad(path)


def test_screen_fit_cli(tmp_path):
    from celltwin.cli import main
    from celltwin.perturb import heldout_doubles, read_screen, simulate_screen

    sim = simulate_screen(1, n_genes=8, n_targets=4, n_doubles=2, guides_per_target=1, n_batches=2,
                          cells_per_condition=20, controls_per_batch=20)
    data = tmp_path / "screen.h5ad"
    _write_h5ad(data, sim)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["screen", "fit", str(data), "--holdout", "doubles", "--out", str(out), "--steps", "100",
              "--genes", "8", "--top-de", "5", "--batch-key", "gem", "--steady-state-weight", "0.2",
              "--bootstrap", "100"])
    assert exit_info.value.code in (0, None)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["methods"]) == {"model", "no_change", "mean", "additive", "linear"}
    for m in metrics["methods"].values():
        assert {"pearson_top_de", "mse_top_de", "direction_top_de", "mse_all_genes"} <= set(m)
    assert set(metrics["bootstrap"]["pooled"]) == {"no_change", "mean", "additive", "linear"}
    assert "--steady-state-weight 0.2" in metrics["command"]
    assert (out / "report.md").read_text().startswith("# Held-out")
    assert (out / "heldout.png").stat().st_size > 1000
    # the additive baseline's MSE, recomputed by hand from the cells (log-normalised, controls
    # compared within each batch), over the top DE genes of the two singles (training data)
    screen = read_screen(data, batch_key="gem")
    y = screen.lognormalised()
    shift = {k: y[screen.is_control & (screen.batch == k)].mean(0) - y[screen.is_control].mean(0) for k in range(2)}
    corrected = y - np.stack([shift[k] for k in screen.batch])
    mean_of = {c: corrected[screen.conditions == c].mean(0) for c in set(screen.conditions)}
    per = {r["unit"]: r for r in metrics["per_unit"] if r["method"] == "additive"}
    assert set(per) == set(metrics["units"]) and len(per) == len(heldout_doubles(screen)) == 2
    for label, row in per.items():
        a, b = label.split("+")
        change = {c: mean_of[c] - mean_of["control"] for c in (a, b, label)}
        pred = change[a] + change[b]
        de = np.argsort(-(np.abs(change[a]) + np.abs(change[b])), kind="stable")[:5]
        assert row["mse_top_de"] == pytest.approx(np.mean((pred[de] - change[label][de]) ** 2), rel=1e-9)


def test_screen_fit_cli_leave_one_cell_type_out(tmp_path):
    from celltwin.cli import main
    from celltwin.perturb import simulate_screen

    sim = simulate_screen(2, n_genes=6, n_targets=3, n_doubles=0, guides_per_target=1, n_batches=1,
                          n_media=3, cells_per_condition=30, controls_per_batch=30)
    data = tmp_path / "three_types.h5ad"
    _write_h5ad(data, sim)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["screen", "fit", str(data), "--holdout", "cell-type", "--out", str(out), "--steps", "50",
              "--genes", "6", "--top-de", "4", "--steady-state-weight", "0.2", "--bootstrap", "50"])
    assert exit_info.value.code in (0, None)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["folds"] == ["m0", "m1", "m2"] and metrics["n_units"] == 9
    assert {"context_mean", "nearest_context", "linear"} <= set(metrics["methods"])
    assert "--holdout cell-type" in metrics["command"] and "--context-key cell_type" in metrics["command"]


def test_screen_fit_cli_cell_type_needs_shared_perturbations(tmp_path, capsys):
    from celltwin.cli import main
    from celltwin.perturb import simulate_screen

    sim = simulate_screen(1, n_genes=6, n_targets=2, n_doubles=0, guides_per_target=1, n_batches=1,
                          cells_per_condition=10, controls_per_batch=10)
    data = tmp_path / "one_type.h5ad"
    _write_h5ad(data, sim)  # every cell has cell type "sim"
    with pytest.raises(SystemExit) as exit_info:
        main(["screen", "fit", str(data), "--holdout", "cell-type", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "no perturbation is shared by two cell types" in capsys.readouterr().err


def test_screen_fit_cli_bad_input(tmp_path, capsys):
    from celltwin.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["screen", "fit", str(tmp_path / "missing.h5ad"), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "missing.h5ad" in capsys.readouterr().err


def test_read_norman_cells():
    from celltwin.perturb import heldout_doubles, read_screen

    path = require_shared("perturbseq", "perturbench_devel.h5ad")
    screen = read_screen(path, where={"cell_type": "k562"}, batch_key="barcode")
    assert screen.kind == "lognorm" and screen.n_cells == 3375 and len(screen.batches) == 8
    assert len(heldout_doubles(screen)) == 5
    with pytest.raises(CelltwinInputError, match="no column 'guide'"):
        read_screen(path, perturbation_key="guide")


def test_screen_fit_cli_not_anndata(tmp_path, capsys):
    from celltwin.cli import main

    bad = tmp_path / "cells.h5ad"
    bad.write_text("not hdf5")
    with pytest.raises(SystemExit) as exit_info:
        main(["screen", "fit", str(bad), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "cells.h5ad" in capsys.readouterr().err
