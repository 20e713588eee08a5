"""The numbers of the commit recorded in tests/data/regression_pins.json, to 1e-10.

A refactoring must leave log-likelihoods, priors, gradients, simulations and a short fit
unchanged; correctness against closed forms is tested elsewhere. See regression_pins.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import regression_pins

RTOL, ATOL = 1e-10, 1e-12


@pytest.fixture(scope="module")
def computed() -> dict:
    return regression_pins.compute()


def test_every_pin_is_reproduced(computed):
    pinned = json.loads(regression_pins.PINS.read_text())["values"]
    assert set(computed) == set(pinned)
    off = []
    for name, expected in pinned.items():
        got = np.asarray(computed[name], dtype=float)
        expected = np.asarray(expected, dtype=float)
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True):
            off.append(f"{name}: {got.ravel()[:4]} != pinned {expected.ravel()[:4]}")
    assert not off, "\n".join(off)
