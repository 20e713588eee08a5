"""Sampler settings: the typed settings of each algorithm and the flat SamplerSettings
that case files and the command line fill name the same runs, and each refuses bad values
in its own words."""

from __future__ import annotations

import dataclasses

import pytest

from celltwin.errors import CelltwinInputError
from celltwin.inference import (
    EnsembleSettings,
    NUTSSettings,
    SamplerSettings,
    SMCSettings,
)


def test_flat_and_typed_settings_translate_field_by_field():
    flat = SamplerSettings(method="nuts", chains=3, draws=50, warmup=40, seed=9, block=7, target_accept=0.9,
                           max_tree_depth=6, dense_mass=True, pooled_mass=True, init_scale=0.3, stop_rhat=1.05,
                           stop_ess=200)
    assert flat.algorithm == NUTSSettings(chains=3, draws=50, warmup=40, target_accept=0.9, max_tree_depth=6,
                                          dense_mass=True, pooled_mass=True, stop_rhat=1.05, stop_ess=200, seed=9,
                                          block=7, init_scale=0.3)
    assert SamplerSettings.of(flat.algorithm) == flat
    ensemble = SamplerSettings(method="ensemble", chains=10, draws=20, warmup=30, seed=1, thin=3, block=5,
                               stretch=1.7, init_scale=0.05)
    assert ensemble.algorithm == EnsembleSettings(walkers=10, draws=20, burn_in=30, thin=3, stretch=1.7, seed=1,
                                                  block=5, init_scale=0.05)
    assert SamplerSettings.of(ensemble.algorithm) == ensemble
    smc = SamplerSettings(method="smc", chains=3, draws=200, seed=4, mcmc_steps=5, target_ess=0.7)
    assert smc.algorithm == SMCSettings(runs=3, particles=200, mcmc_steps=5, target_ess=0.7, seed=4)
    assert SamplerSettings.of(smc.algorithm) == smc
    # Another method's fields do not reach the typed settings (nor come back from them).
    odd = dataclasses.replace(smc, target_accept=0.95, thin=4)
    assert odd.algorithm == smc.algorithm and SamplerSettings.of(odd.algorithm) == smc
    with pytest.raises(TypeError, match="NUTSSettings"):
        SamplerSettings.of({"method": "nuts"})


@pytest.mark.parametrize("make, words", [
    (lambda: NUTSSettings(chains=0), "NUTS setting chains must be at least 1"),
    (lambda: NUTSSettings(warmup=-1), "NUTS setting warmup must be >= 0"),
    (lambda: NUTSSettings(stop_rhat=1.0), "stop_rhat must be above 1"),
    (lambda: EnsembleSettings(walkers=0), "ensemble setting walkers must be at least 1"),
    (lambda: EnsembleSettings(burn_in=-5), "ensemble setting burn_in must be >= 0"),
    (lambda: SMCSettings(particles=5), "SMC setting particles must be at least 10"),
    (lambda: SMCSettings(target_ess=1.0), "target_ess must be in"),
])
def test_typed_settings_refuse_bad_values_by_their_own_names(make, words):
    with pytest.raises(CelltwinInputError, match=words):
        make()


@pytest.mark.parametrize("method, flat, typed, field, bad, must", [
    ("nuts", "chains", NUTSSettings, "chains", 0, "must be at least 1, got 0"),
    ("nuts", "warmup", NUTSSettings, "warmup", -1, "must be >= 0, got -1"),
    ("nuts", "stop_ess", NUTSSettings, "stop_ess", 0, "must be positive, got 0"),
    ("ensemble", "chains", EnsembleSettings, "walkers", 0, "must be at least 1, got 0"),
    ("ensemble", "thin", EnsembleSettings, "thin", 0, "must be at least 1, got 0"),
    ("smc", "target_ess", SMCSettings, "target_ess", 1.5, r"must be in \(0, 1\), got 1.5"),
    ("smc", "draws", SMCSettings, "particles", 9, "must be at least 10, got 9"),
])
def test_flat_and_typed_settings_refuse_the_same_values(method, flat, typed, field, bad, must):
    """The flat settings refuse a value exactly where the typed settings of the method do,
    each in its own words."""
    with pytest.raises(CelltwinInputError, match=f"^sampler setting {flat}.* {must}$"):
        SamplerSettings(method=method, **{flat: bad})
    owner = {"nuts": "NUTS", "ensemble": "ensemble", "smc": "SMC"}[method]
    with pytest.raises(CelltwinInputError, match=f"^{owner} setting {field} {must}$"):
        typed(**{field: bad})
