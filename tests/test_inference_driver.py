"""The sampling driver compiles each kernel's block once per block length: more blocks of
the same length trace the target no more often (a recompilation per block would be a
performance bug that no draw shows)."""

from __future__ import annotations

import dataclasses

import pytest
from test_inference_sample import linear_gaussian

from celltwin.inference import SamplerSettings, sample

RUNS = [SamplerSettings(method="nuts", chains=2, draws=4, warmup=4, seed=0, block=2, max_tree_depth=2),
        SamplerSettings(method="ensemble", chains=4, draws=4, warmup=3, seed=0, block=2)]


@pytest.mark.parametrize("settings", RUNS, ids=lambda s: s.method)
def test_more_blocks_of_one_length_trace_the_target_no_more_often(settings):
    problem, beta, _ = linear_gaussian(0)

    def traces(s: SamplerSettings) -> int:
        count = 0
        log_posterior = problem.differentiable_log_posterior()

        def counted(theta):  # runs once per trace, not per evaluation
            nonlocal count
            count += 1
            return log_posterior(theta)

        sample(problem, s, init=beta, log_density=counted, predictive=False, progress=False)
        return count

    two_blocks = traces(settings)
    assert two_blocks > 0
    assert traces(dataclasses.replace(settings, draws=4 * settings.draws)) == two_blocks  # 8 blocks
