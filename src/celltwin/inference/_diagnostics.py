"""Convergence diagnostics of a sampling run, with plain-language warnings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

RHAT_MAX = 1.01  # Vehtari et al. (2021)
ESS_PER_CHAIN_MIN = 100
BFMI_MIN = 0.3


@dataclasses.dataclass
class Diagnostics:
    """Per-parameter R-hat and bulk/tail ESS, divergences, E-BFMI, and warnings."""

    table: pd.DataFrame
    divergences: int | None
    bfmi: np.ndarray | None
    warnings: list[str]

    @property
    def converged(self) -> bool:
        return not self.warnings


def diagnose(idata) -> Diagnostics:
    """R-hat (rank-normalised), bulk and tail ESS (arviz), divergences and E-BFMI (NUTS)."""
    import arviz as az

    table = az.summary(idata, kind="diagnostics")[["ess_bulk", "ess_tail", "r_hat", "mcse_mean"]]
    chains = idata.posterior.sizes["chain"]
    stats = idata.sample_stats if "sample_stats" in idata.groups() else {}  # a sampler may record none
    warnings = []
    bad_rhat = table.index[table["r_hat"] > RHAT_MAX].tolist()
    if bad_rhat:
        warnings.append(f"R-hat above {RHAT_MAX} for {', '.join(bad_rhat)}: the chains disagree. Run longer "
                        "(more --draws and --warmup); if chains sit in different modes, use --method smc.")
    ess_min = ESS_PER_CHAIN_MIN * chains
    low = table.index[(table["ess_bulk"] < ess_min) | (table["ess_tail"] < ess_min)].tolist()
    if low:
        warnings.append(f"effective sample size below {ess_min} ({ESS_PER_CHAIN_MIN} per chain) for "
                        f"{', '.join(low)}: means and intervals are imprecise. Draw more.")
    divergences = int(np.sum(stats["diverging"].values)) if "diverging" in stats else None
    if divergences:
        warnings.append(f"{divergences} divergent transitions: NUTS could not follow the posterior's curvature "
                        "there, so the draws may be biased. Raise the target acceptance (e.g. 0.95) or check "
                        "for failing simulations and extreme parameter regions.")
    bfmi = None
    if "energy" in stats:
        bfmi = np.asarray(az.bfmi(idata))
        weak = [str(c) for c, v in enumerate(bfmi) if v < BFMI_MIN]
        if weak:
            warnings.append(f"E-BFMI below {BFMI_MIN} in chain(s) {', '.join(weak)}: the sampler explores the "
                            "energy distribution poorly (heavy tails or a funnel); the draws may miss the tails.")
    return Diagnostics(table, divergences, bfmi, warnings)
