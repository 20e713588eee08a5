"""Deep-ensemble members are the same whichever executor trains them: in this process, in
local worker processes, or on a Dask LocalCluster with two worker processes (same seeds,
same initial weights, same training => the same weights)."""

from __future__ import annotations

import numpy as np
import pytest
from hybrid_cases import decay_with_mlp

from celltwin.hybrid import TrainingSettings, train_ensemble

SETTINGS = TrainingSettings(epochs=15, learning_rate=0.02, validation_fraction=0.2, seed=4)


def _same_members(a, b):
    np.testing.assert_allclose(a.thetas, b.thetas, rtol=1e-10, atol=1e-12)
    for m, n in zip(a.members, b.members):
        assert m.best_epoch == n.best_epoch
        np.testing.assert_array_equal(m.validation_mask, n.validation_mask)


@pytest.mark.slow  # ~1-2 min: every worker process compiles the training step
def test_members_from_processes_and_dask_equal_the_serial_members():
    distributed = pytest.importorskip("distributed")
    problem = decay_with_mlp()
    serial = train_ensemble(problem, 3, SETTINGS, executor="serial")
    assert not np.allclose(serial.thetas[1], serial.thetas[2])  # members do differ from each other
    local = train_ensemble(problem, 3, SETTINGS, executor="local", workers=2)
    _same_members(serial, local)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = train_ensemble(problem, 3, SETTINGS, executor=cluster.scheduler_address)
        with distributed.Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
    _same_members(serial, dask)


def test_a_problem_without_source_is_refused_for_worker_processes():
    from celltwin.errors import CelltwinInputError

    problem = decay_with_mlp()
    problem.source = None
    with pytest.raises(CelltwinInputError, match="executor='serial'"):
        train_ensemble(problem, 2, SETTINGS, executor="local")
