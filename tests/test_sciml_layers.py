"""PEtab SciML ``ml_model_import`` cases: each network, with each of its parameter files and
inputs, must give the reference outputs (computed by the format's authors with PyTorch).

Dropout cases are references averaged over 40000 stochastic passes, so they are compared
with the layer's expected value at a Monte Carlo tolerance (5 % of the output scale; the
identity, the wrong expectation for AlphaDropout, is off by > 50 %).
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import yaml

from celltwin.errors import UnsupportedFeatureError
from celltwin.hybrid.sciml import Network, parse_network, read_network, read_parameters

from .conftest import require_shared

CASES = [f"{i:03d}" for i in range(1, 55)]


def _arrays(path, group):
    with h5py.File(path, "r") as f:
        g = f[group]
        return [np.asarray(g[k]["data"][()], dtype=float) for k in sorted(g)]


@pytest.mark.parametrize("case", CASES)
def test_ml_model_import_case(case):
    folder = require_shared("petab-sciml-test-suite", "ml_model_import", case)
    solution = yaml.safe_load((folder / "solutions.yaml").read_text())
    spec = read_network(folder / solution["net_file"])
    arg_keys = sorted(k for k in solution if k.startswith("net_input_arg"))
    for i, out_file in enumerate(solution["net_output"]):
        params = read_parameters(folder / solution["net_ps"][i], spec.id) if "net_ps" in solution else {}
        net = Network.from_spec(spec, params)
        if "net_input" in solution:
            inputs = _arrays(folder / solution["net_input"][i], "inputs")
        else:
            inputs = [_arrays(folder / solution[k][i], "inputs")[0] for k in arg_keys]
        out = net(*inputs)
        outs = out if isinstance(out, tuple) else (out,)
        expected = _arrays(folder / out_file, "outputs")
        assert len(outs) == len(expected)
        for ours, ref in zip(outs, expected):
            assert ours.shape == ref.shape
            if "dropout" in solution:
                np.testing.assert_allclose(ours, ref, rtol=0, atol=0.05 * np.max(np.abs(ref)))
            else:  # references are float32
                np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * max(1.0, np.max(np.abs(ref))))


def test_unsupported_layer_is_named():
    raw = {"nn_model_id": "n", "inputs": [{"input_id": "input0"}],
           "layers": [{"layer_id": "rnn", "layer_type": "LSTM", "args": {}}],
           "forward": [{"name": "x", "op": "placeholder", "target": "x", "args": [], "kwargs": {}},
                       {"name": "rnn", "op": "call_module", "target": "rnn", "args": ["x"], "kwargs": {}},
                       {"name": "y", "op": "call_function", "target": "fancy_op", "args": ["rnn"], "kwargs": {}},
                       {"name": "output", "op": "output", "target": "output", "args": ["y"], "kwargs": {}}]}
    with pytest.raises(UnsupportedFeatureError, match="LSTM") as info:
        parse_network(raw, "net.yaml")
    assert "fancy_op" in str(info.value) and "net.yaml" in str(info.value)


def test_linear_tanh_network_matches_numpy():
    """An independent NumPy forward pass of Linear-tanh-Linear."""
    raw = {"nn_model_id": "n", "layers": [
        {"layer_id": "l1", "layer_type": "Linear", "args": {"in_features": 3, "out_features": 4}},
        {"layer_id": "l2", "layer_type": "Linear", "args": {"in_features": 4, "out_features": 2}}],
        "forward": [{"name": "x", "op": "placeholder", "target": "x"},
                    {"name": "l1", "op": "call_module", "target": "l1", "args": ["x"]},
                    {"name": "t", "op": "call_method", "target": "tanh", "args": ["l1"]},
                    {"name": "l2", "op": "call_module", "target": "l2", "args": ["t"]},
                    {"name": "output", "op": "output", "target": "output", "args": ["l2"]}]}
    net = Network.from_spec(parse_network(raw), seed=3)
    x = np.array([0.3, -1.2, 2.0])
    p = {k: {a: np.asarray(v) for a, v in d.items()} for k, d in net.parameters.items()}
    h = np.tanh(p["l1"]["weight"] @ x + p["l1"]["bias"])
    np.testing.assert_allclose(net(x), p["l2"]["weight"] @ h + p["l2"]["bias"], rtol=1e-13)
