"""The medium and time operators of the screen model: a closed form for the time operator, and
recovery of known medium and time-course effects from simulated screens."""

from __future__ import annotations

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from celltwin.errors import CelltwinInputError
from celltwin.perturb import (
    ScreenFitSettings,
    ScreenLayout,
    fit_screen,
    screen_from_labels,
    simulate_screen,
)
from celltwin.perturb._model import transient_change

SMALL = {"n_genes": 6, "n_targets": 3, "n_doubles": 1, "n_batches": 1, "edge_probability": 0.3}


def test_time_operator_linear_closed_form():
    """With ``W = 0`` the dynamics are linear and decoupled: starting from the control steady state
    ``m`` of a medium with input ``m``, ``d(t) = m + (1 - exp(-t)) B v``."""
    rng = np.random.default_rng(3)
    g = 4
    screen = screen_from_labels(np.ones((3, g)), ["control", "X", "Y"], genes=[f"g{i}" for i in range(g)],
                                kind="lognorm")
    layout = ScreenLayout.from_screen(screen)  # X, Y are not measured genes: free effects
    b = rng.normal(size=(g, 2))
    params = {"x0": jnp.zeros(g), "W": jnp.zeros((g, g)), "B": jnp.asarray(b)}
    v = np.array([1.0, -0.7])
    m = rng.normal(size=g)
    solve = jax.jit(lambda t, m: transient_change(params, layout, jnp.asarray(v), t, nonlinearity="linear",
                                                  medium_input=m, iterations=200, steps=32))
    for t in (0.0, 0.3, 1.0, 2.5, 6.0):
        expected = m + (1.0 - np.exp(-t)) * (b @ v)
        np.testing.assert_allclose(np.asarray(solve(t, jnp.asarray(m))), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(solve(np.inf, jnp.zeros(g))), b @ v, atol=1e-12)


def test_covariates_are_checked():
    with pytest.raises(CelltwinInputError, match="time of cell 1 is not >= 0"):
        screen_from_labels(np.ones((2, 2)), ["control", "A"], genes=["u", "v"], kind="lognorm", time=[1.0, -1.0])
    with pytest.raises(CelltwinInputError, match="medium has 1 entries for 2 cells"):
        screen_from_labels(np.ones((2, 2)), ["control", "A"], genes=["u", "v"], kind="lognorm", medium=["a"])
    with pytest.raises(CelltwinInputError, match="time_rate must be > 0"):
        ScreenFitSettings(time_rate=0.0)
    s = screen_from_labels(np.ones((3, 2)), ["control", "control", "A"], genes=["u", "v"], kind="lognorm",
                           medium=["rich", "poor", "poor"])
    # the controls' most common medium is the reference (a tie goes to the first name)
    assert ScreenLayout.from_screen(s).media == ("poor", "rich")
    assert ScreenLayout.from_screen(s.subset(np.array([0]))).media == ("rich",)


def test_medium_operator_recovers_the_medium_input():
    """On screens whose second medium adds an input to every gene, the model with the medium
    operator recovers that input vector (error well below the vector's size, which is the error
    of a model without the operator: its implicit input is zero), and predicts perturbation
    effects within the second medium better than the same model fitted without the operator, in
    each of three seeds. (The controls' mean shift between media, a network-free reading of the
    medium, is about as close to the input as the fitted vector here: the input is identified
    only through the fitted network, ``m = shift - W tanh(shift)``.)"""
    rows = []
    for seed in range(3):
        sim = simulate_screen(seed, **SMALL, n_media=2, cells_per_condition=80, controls_per_batch=80)
        s = sim.screen
        with_medium = fit_screen(s, steps=300, learning_rate=0.03)
        without = fit_screen(replace(s, medium=None), steps=300, learning_rate=0.03)
        true = sim.medium_effects[1]
        state = np.log((s.expression + 0.5) / s.library_size[:, None])
        shift = state[s.is_control & (s.medium == "m1")].mean(0) - state[s.is_control & (s.medium == "m0")].mean(0)
        conditions = [(t,) for t in s.targets]

        def effect_error(fitted, medium, sim=sim, conditions=conditions):
            return np.sqrt(np.mean([(fitted.predict_change(c, medium=medium) - sim.true_change(c, medium="m1")) ** 2
                                    for c in conditions]))

        rows.append((np.sqrt(np.mean((with_medium.medium_effects["m1"] - true) ** 2)),
                     np.sqrt(np.mean((shift - true) ** 2)), np.sqrt(np.mean(true ** 2)),
                     effect_error(with_medium, "m1"), effect_error(without, None)))
    rows = np.array(rows)
    assert np.all(rows[:, 0] < 0.6 * rows[:, 2]), rows
    assert np.all(rows[:, 3] < rows[:, 4]), rows


def test_time_operator_recovers_effects_from_a_time_course():
    """Cells observed 0.5, 1 and 2 time units after activation: the model with the time operator
    recovers the steady-state effects and the transient ones better than the same cells fitted as
    if they were at steady state."""
    sim = simulate_screen(4, **SMALL, cells_per_condition=120, controls_per_batch=80, times=(0.5, 1.0, 2.0))
    s = sim.screen
    timed = fit_screen(s, steps=300, learning_rate=0.04)
    steady = fit_screen(replace(s, time=None), steps=300, learning_rate=0.04)
    conditions = [(t,) for t in s.targets] + [s.condition_targets(c) for c in set(s.conditions) if "+" in c]

    def error(fitted, time):
        return np.sqrt(np.mean([(fitted.predict_change(c, time=time) - sim.true_change(c, time=time)) ** 2
                                for c in conditions]))

    scale = np.sqrt(np.mean([sim.true_change(c) ** 2 for c in conditions]))
    table = {t: (error(timed, t), error(steady, t)) for t in (0.5, 1.0, 2.0, np.inf)}
    assert table[np.inf][0] < 0.25 * scale, table
    for t, (with_time, without) in table.items():
        assert with_time < without, table
        assert np.isinf(t) or with_time < 0.15 * scale, table


def test_read_screen_medium_and_time(tmp_path, capsys):
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    from celltwin.cli import main
    from celltwin.perturb import read_screen

    obs = pd.DataFrame({"perturbation": ["control", "control", "A", "A"], "medium": ["rich", "rich", "poor", "rich"],
                        "hours": [np.nan, 0.0, 6.0, 24.0]}, index=[f"c{i}" for i in range(4)])
    adata = anndata.AnnData(X=np.ones((4, 2)), obs=obs, var=pd.DataFrame(index=["u", "v"]))
    path = tmp_path / "s.h5ad"
    try:
        with anndata.settings.override(allow_write_nullable_strings=True):
            adata.write_h5ad(path)
    except AttributeError:
        adata.write_h5ad(path)
    s = read_screen(path, medium_key="medium", time_key="hours")
    assert s.medium.tolist() == ["rich", "rich", "poor", "rich"]
    np.testing.assert_array_equal(s.time, [np.inf, 0.0, 6.0, 24.0])  # missing: at steady state
    assert ScreenLayout.from_screen(s).media == ("rich", "poor")
    assert read_screen(path).medium is None and read_screen(path).time is None
    with pytest.raises(CelltwinInputError, match="obs has no column 'dish'"):
        read_screen(path, medium_key="dish")
    # the CLI passes the keys through to the reader
    with pytest.raises(SystemExit):
        main(["screen", "fit", str(path), "--out", str(tmp_path / "out"), "--time-key", "minutes"])
    assert "obs has no column 'minutes'" in capsys.readouterr().err
