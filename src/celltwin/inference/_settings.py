"""Sampler settings: one typed object per algorithm, whose names mean one thing
(:class:`NUTSSettings`, :class:`EnsembleSettings`, :class:`SMCSettings`), and the flat
:class:`SamplerSettings` that case files and the command line fill by name (``chains`` is
NUTS chains, ensemble walkers or SMC runs there). ``SamplerSettings.algorithm`` gives the
typed object; ``SamplerSettings.of`` the flat one, which the checkpoint records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..errors import CelltwinInputError

METHODS = ("nuts", "ensemble", "smc")

_COUNT = (lambda v: v >= 1, "at least 1")
_DISCARDED = (lambda v: v >= 0, ">= 0")
# The bounds of every settings field: field -> (test, what the value must be). The typed
# settings and the flat SamplerSettings check their fields against this one table, each
# naming itself in the message ("NUTS setting chains ...", "sampler setting chains ...").
_BOUNDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **dict.fromkeys(("chains", "walkers", "runs", "draws", "block", "thin", "max_tree_depth", "mcmc_steps"), _COUNT),
    **dict.fromkeys(("warmup", "burn_in", "imh_proposals"), _DISCARDED),
    "particles": (lambda v: v >= 10, "at least 10"),
    "target_ess": (lambda v: 0 < v < 1, "in (0, 1)"),
    "stop_rhat": (lambda v: v > 1, "above 1"),  # None: no stopping rule
    "stop_ess": (lambda v: v > 0, "positive"),
}


def _check(owner: str, name: str, value, bound: str | None = None) -> None:
    """Raise naming ``{owner} setting {name}`` where ``value`` is outside the bounds of field
    ``bound`` (by default ``name``); None (an optional setting left unset) passes."""
    test, words = _BOUNDS[bound or name]
    if value is not None and not test(value):
        raise CelltwinInputError(f"{owner} setting {name} must be {words}, got {value}")


def _check_fields(owner: str, settings) -> None:
    """Check each field of a settings dataclass that has bounds, in field order."""
    for field in dataclasses.fields(settings):
        if field.name in _BOUNDS:
            _check(owner, field.name, getattr(settings, field.name))


@dataclasses.dataclass(frozen=True)
class NUTSSettings:
    """NUTS (blackjax) after Stan's windowed warm-up.

    Attributes:
        chains: independent chains.
        draws: kept draws per chain (the most, with a stopping rule).
        warmup: window-adaptation steps (discarded).
        target_accept: dual-averaging target acceptance rate.
        max_tree_depth: at most ``2**max_tree_depth - 1`` leapfrog steps per draw.
        dense_mass: adapt a dense inverse mass matrix instead of a diagonal one.
        pooled_mass: one mass matrix for all chains, from their merged warm-up draws, and
            one step size, adapted to the chains' mean acceptance.
        stop_rhat, stop_ess: stop after the first block of draws where the max R-hat is at
            most ``stop_rhat`` and the min bulk and tail ESS at least ``stop_ess``.
        imh_proposals: after each draw, this many independence Metropolis-Hastings
            proposals from a heavy-tailed fit to the warm-up (0: none; see
            :mod:`celltwin.inference._independence`).
        seed, block, init_scale: the random seed, draws (and warm-up steps) per checkpoint,
            spread of the starting points in ``z``.
    """

    chains: int = 4
    draws: int = 1000
    warmup: int = 1000
    target_accept: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False
    pooled_mass: bool = False
    stop_rhat: float | None = None
    stop_ess: float | None = None
    imh_proposals: int = 0
    seed: int = 0
    block: int = 100
    init_scale: float = 0.1

    method = "nuts"

    def __post_init__(self):
        _check_fields("NUTS", self)

    @property
    def stops_early(self) -> bool:
        return self.stop_rhat is not None or self.stop_ess is not None


@dataclasses.dataclass(frozen=True)
class EnsembleSettings:
    """The affine-invariant ensemble sampler (stretch move, Goodman and Weare 2010).

    Attributes:
        walkers: at least twice the number of parameters.
        draws: kept iterations per walker, after thinning.
        burn_in: iterations discarded before the first kept one.
        thin: keep every ``thin``-th iteration.
        stretch: the stretch scale ``a``.
        seed, block, init_scale: as for :class:`NUTSSettings`.
    """

    walkers: int = 32
    draws: int = 1000
    burn_in: int = 1000
    thin: int = 1
    stretch: float = 2.0
    seed: int = 0
    block: int = 100
    init_scale: float = 0.1

    method = "ensemble"

    def __post_init__(self):
        _check_fields("ensemble", self)


@dataclasses.dataclass(frozen=True)
class SMCSettings:
    """Adaptive tempered SMC from the prior (blackjax).

    Attributes:
        runs: independent SMC runs (each one its own log marginal likelihood).
        particles: particles per run, at least 10 (the draws of each run).
        mcmc_steps: random-walk Metropolis steps per particle and tempering stage.
        target_ess: effective sample size (fraction of the particles) that sets each next
            temperature.
        seed: the random seed.
    """

    runs: int = 4
    particles: int = 1000
    mcmc_steps: int = 10
    target_ess: float = 0.5
    seed: int = 0

    method = "smc"

    def __post_init__(self):
        _check_fields("SMC", self)


AlgorithmSettings = NUTSSettings | EnsembleSettings | SMCSettings


@dataclasses.dataclass(frozen=True)
class SamplerSettings:
    """Everything that determines the draws (recorded in the result and the checkpoint),
    flat, as case files and the command line give it; :attr:`algorithm` is the typed
    settings of the method.

    Attributes:
        method: ``nuts``, ``ensemble`` or ``smc``.
        chains: NUTS chains, ensemble walkers (at least twice the number of parameters),
            or independent SMC runs.
        draws: kept draws per chain (after thinning, for the ensemble; particles per run
            for SMC).
        warmup: NUTS window-adaptation steps, or ensemble burn-in iterations (discarded).
        seed: the random seed.
        thin: keep every ``thin``-th ensemble iteration.
        block: draws (and NUTS warm-up steps) per checkpoint.
        target_accept: NUTS target acceptance rate.
        max_tree_depth: NUTS: at most ``2**max_tree_depth - 1`` leapfrog steps per draw.
        dense_mass: NUTS: adapt a dense inverse mass matrix (for strongly correlated
            posteriors) instead of a diagonal one.
        pooled_mass: NUTS: adapt one mass matrix for all chains from their merged warm-up
            draws (within- and between-chain spread) instead of one per chain, and one
            step size, adapted to the chains' mean acceptance; needs ``workers=1`` (the
            chains must run together).
        stretch: the ensemble's stretch scale ``a``.
        init_scale: spread of the initial points around the starting point, in ``z``.
        mcmc_steps: SMC: random-walk Metropolis steps per particle and tempering stage.
        target_ess: SMC: the effective sample size (fraction of the particles) that sets
            each next temperature.
        stop_rhat, stop_ess: NUTS: a stopping rule. After each block of ``block`` draws,
            stop drawing if the max rank-normalised R-hat is at most ``stop_rhat`` and the
            min bulk and tail ESS at least ``stop_ess`` over all parameters (either may be left
            ``None``); ``draws`` is then the most draws per chain. The result records where
            it stopped (the posterior's attribute ``stopped_after_draws``).
        imh_proposals: NUTS: after each draw, this many independence Metropolis-Hastings
            proposals from a fixed heavy-tailed fit to the warm-up (each one log density,
            no gradient); helps where chains rarely move between a posterior's core and a
            long extension of it. 0: none.
    """

    method: str = "nuts"
    chains: int = 4
    draws: int = 1000
    warmup: int = 1000
    seed: int = 0
    thin: int = 1
    block: int = 100
    target_accept: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False
    pooled_mass: bool = False
    stretch: float = 2.0
    init_scale: float = 0.1
    mcmc_steps: int = 10
    target_ess: float = 0.5
    stop_rhat: float | None = None
    stop_ess: float | None = None
    imh_proposals: int = 0

    @property
    def stops_early(self) -> bool:
        return self.stop_rhat is not None or self.stop_ess is not None

    def __post_init__(self):
        if self.method not in METHODS:
            raise CelltwinInputError(f"sampling method {self.method!r}: choose one of {', '.join(METHODS)}")
        # Every field, whichever the method: a case file's value for another method is still checked.
        _check_fields("sampler", self)
        if self.stops_early and self.method != "nuts":
            raise CelltwinInputError(f"stop_rhat / stop_ess stop NUTS runs; the {self.method} sampler runs to its draws")
        if self.imh_proposals and self.method != "nuts":
            raise CelltwinInputError(f"imh_proposals follow NUTS draws; the {self.method} sampler has none")
        if self.method == "smc":
            _check("sampler", "draws (SMC particles per run)", self.draws, bound="particles")

    @property
    def algorithm(self) -> AlgorithmSettings:
        """The typed settings of :attr:`method` (the fields of other methods are dropped)."""
        if self.method == "nuts":
            return NUTSSettings(chains=self.chains, draws=self.draws, warmup=self.warmup,
                                target_accept=self.target_accept, max_tree_depth=self.max_tree_depth,
                                dense_mass=self.dense_mass, pooled_mass=self.pooled_mass, stop_rhat=self.stop_rhat,
                                stop_ess=self.stop_ess, imh_proposals=self.imh_proposals, seed=self.seed,
                                block=self.block, init_scale=self.init_scale)
        if self.method == "ensemble":
            return EnsembleSettings(walkers=self.chains, draws=self.draws, burn_in=self.warmup, thin=self.thin,
                                    stretch=self.stretch, seed=self.seed, block=self.block,
                                    init_scale=self.init_scale)
        return SMCSettings(runs=self.chains, particles=self.draws, mcmc_steps=self.mcmc_steps,
                           target_ess=self.target_ess, seed=self.seed)

    @classmethod
    def of(cls, settings: SamplerSettings | AlgorithmSettings) -> SamplerSettings:
        """The flat settings of typed ones (other methods' fields at their defaults)."""
        if isinstance(settings, SamplerSettings):
            return settings
        if isinstance(settings, NUTSSettings):
            fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
            return cls(method="nuts", **fields)
        if isinstance(settings, EnsembleSettings):
            return cls(method="ensemble", chains=settings.walkers, draws=settings.draws, warmup=settings.burn_in,
                       thin=settings.thin, stretch=settings.stretch, seed=settings.seed, block=settings.block,
                       init_scale=settings.init_scale)
        if isinstance(settings, SMCSettings):
            return cls(method="smc", chains=settings.runs, draws=settings.particles, mcmc_steps=settings.mcmc_steps,
                       target_ess=settings.target_ess, seed=settings.seed)
        raise TypeError(f"sampler settings must be SamplerSettings, NUTSSettings, EnsembleSettings or SMCSettings, "
                        f"got {type(settings).__name__}")
