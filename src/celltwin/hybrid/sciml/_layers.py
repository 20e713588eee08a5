"""The layers of the PEtab SciML neural-network format, with PyTorch's meaning, in JAX.

Each layer is a function ``apply(params, x, args)`` of its parameter arrays (``weight``,
``bias``, ... as in the format's HDF5 parameter files), its input(s) and the ``args`` the
network YAML gives it. Arrays follow PyTorch's layout (channels first, optional leading
batch dimension). Stochastic layers are deterministic here: a dropout layer returns its
expected value (what the format's reference outputs, means over many passes, estimate).
Batch normalisation uses the running statistics when the parameter file holds them and the
batch's own statistics otherwise, as PyTorch does in training mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

LayerFn = Callable[[dict, tuple, dict], jax.Array]


def _tuple(value, n: int) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _batched(x: jax.Array, n_spatial: int) -> tuple[jax.Array, bool]:
    """Add PyTorch's optional batch dimension: ``(C, *spatial)`` -> ``(1, C, *spatial)``."""
    if x.ndim == n_spatial + 1:
        return x[None], True
    return x, False


def linear(params, inputs, args):
    (x,) = inputs
    y = x @ params["weight"].T
    return y + params["bias"] if "bias" in params else y


def bilinear(params, inputs, args):
    x1, x2 = inputs
    y = jnp.einsum("...i,kij,...j->...k", x1, params["weight"], x2)
    return y + params["bias"] if "bias" in params else y


def _conv(n: int, transpose: bool) -> LayerFn:
    def apply(params, inputs, args):
        (x,) = inputs
        if args.get("padding_mode", "zeros") != "zeros":
            raise NotImplementedError(f"padding_mode {args['padding_mode']!r} (only 'zeros')")
        groups = int(args.get("groups", 1))
        stride = _tuple(args.get("stride", 1), n)
        dilation = _tuple(args.get("dilation", 1), n)
        padding = args.get("padding", 0)
        if isinstance(padding, str):
            raise NotImplementedError(f"padding {padding!r} given as a string")
        padding = _tuple(padding, n)
        w = params["weight"]
        xb, added = _batched(x, n)
        spatial = "DHW"[3 - n:] if n <= 3 else None
        dims = ("NC" + spatial, "OI" + spatial, "NC" + spatial)
        if not transpose:
            y = jax.lax.conv_general_dilated(
                xb, w, window_strides=stride, padding=[(p, p) for p in padding],
                rhs_dilation=dilation, dimension_numbers=dims, feature_group_count=groups)
        else:
            if groups != 1:
                raise NotImplementedError("ConvTranspose with groups > 1")
            out_pad = _tuple(args.get("output_padding", 0), n)
            k = w.shape[2:]
            # A transposed convolution is the convolution of the stride-dilated input with the
            # flipped kernel, in/out channels swapped.
            wt = jnp.flip(jnp.swapaxes(w, 0, 1), axis=tuple(range(2, 2 + n)))
            pads = [(dilation[i] * (k[i] - 1) - padding[i], dilation[i] * (k[i] - 1) - padding[i] + out_pad[i])
                    for i in range(n)]
            y = jax.lax.conv_general_dilated(
                xb, wt, window_strides=(1,) * n, padding=pads, lhs_dilation=stride,
                rhs_dilation=dilation, dimension_numbers=dims)
        if "bias" in params:
            y = y + params["bias"].reshape((1, -1) + (1,) * n)
        return y[0] if added else y

    return apply


def _pool(n: int, kind: str) -> LayerFn:
    def apply(params, inputs, args):
        (x,) = inputs
        k = _tuple(args["kernel_size"], n)
        stride = (() if args.get("stride") is None else _tuple(args["stride"], n)) or k
        if args.get("ceil_mode", False):
            raise NotImplementedError("ceil_mode=True")
        pad = _tuple(args.get("padding", 0), n)
        dil = _tuple(args.get("dilation", 1), n)
        if any(pad) and kind != "max":
            raise NotImplementedError("padding in average / power-average pooling")
        if args.get("divisor_override") is not None:
            raise NotImplementedError("divisor_override")
        lead = x.ndim - n
        window = (1,) * lead + k
        strides = (1,) * lead + stride
        padding = [(0, 0)] * lead + [(p, p) for p in pad]
        wdil = (1,) * lead + dil
        if kind == "max":
            return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, strides, padding, window_dilation=wdil)
        if kind == "avg":
            s = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, padding, window_dilation=wdil)
            return s / math.prod(k)
        p = float(args["norm_type"])
        s = jax.lax.reduce_window(x**p, 0.0, jax.lax.add, window, strides, padding, window_dilation=wdil)
        return s ** (1.0 / p)

    return apply


def _adaptive_pool(n: int, kind: str) -> LayerFn:
    reduce = jnp.max if kind == "max" else jnp.mean

    def apply(params, inputs, args):
        (x,) = inputs
        out = args["output_size"]
        out = _tuple(out, n)
        for i in range(n):
            axis = x.ndim - n + i
            size = x.shape[axis]
            target = size if out[i] is None else out[i]
            # PyTorch's bins: [floor(j*L/out), ceil((j+1)*L/out))
            pieces = [reduce(jax.lax.slice_in_dim(x, (j * size) // target, -((-(j + 1) * size) // target), axis=axis),
                             axis=axis, keepdims=True) for j in range(target)]
            x = jnp.concatenate(pieces, axis=axis)
        return x

    return apply


def flatten(params, inputs, args):
    (x,) = inputs
    start = int(args.get("start_dim", 1)) % x.ndim
    end = int(args.get("end_dim", -1)) % x.ndim
    return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])


def identity(params, inputs, args):
    (x,) = inputs
    return x


def alpha_dropout(params, inputs, args):
    """The expected value of AlphaDropout: ``a (1 - p) x`` (its affine correction cancels the
    mean of the dropped units); plain dropout's expected value is ``x`` itself."""
    (x,) = inputs
    p = float(args.get("p", 0.5))
    alpha = -_SELU_ALPHA * _SELU_SCALE
    a = ((1.0 - p) * (1.0 + p * alpha**2)) ** -0.5
    return a * (1.0 - p) * x


def _normalise(x, mean, var, params, args, shape):
    """``(x - mean) / sqrt(var + eps)``, then the optional per-channel ``weight`` and ``bias``."""
    y = (x - mean) / jnp.sqrt(var + float(args.get("eps", 1e-5)))
    if "weight" in params:
        y = y * params["weight"].reshape(shape)
    if "bias" in params:
        y = y + params["bias"].reshape(shape)
    return y


def _batch_norm(n: int) -> LayerFn:
    def apply(params, inputs, args):
        (x,) = inputs
        # BatchNorm1d takes (N, C) or (N, C, L); the others (N, C, *spatial) or (C, *spatial)
        channel_axis = (1 if x.ndim >= 2 else 0) if n == 1 else x.ndim - n - 1
        c = x.shape[channel_axis]
        shape = [1] * x.ndim
        shape[channel_axis] = c
        if "running_mean" in params:
            mean = params["running_mean"].reshape(shape)
            var = params["running_var"].reshape(shape)
        else:
            # no running statistics stored: the batch's own (PyTorch in training mode)
            axes = tuple(i for i in range(x.ndim) if i != channel_axis)
            mean = jnp.mean(x, axis=axes, keepdims=True)
            var = jnp.var(x, axis=axes, keepdims=True)
        return _normalise(x, mean, var, params, args, shape)

    return apply


def _instance_norm(n: int) -> LayerFn:
    def apply(params, inputs, args):
        (x,) = inputs
        axes = tuple(range(x.ndim - n, x.ndim))
        mean = jnp.mean(x, axis=axes, keepdims=True)
        var = jnp.var(x, axis=axes, keepdims=True)
        return _normalise(x, mean, var, params, args, (-1,) + (1,) * n)

    return apply


def layer_norm(params, inputs, args):
    (x,) = inputs
    shape = _tuple(args["normalized_shape"], 1)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.var(x, axis=axes, keepdims=True)
    y = (x - mean) / jnp.sqrt(var + float(args.get("eps", 1e-5)))
    if "weight" in params:
        y = y * params["weight"]
    if "bias" in params:
        y = y + params["bias"]
    return y


LAYERS: dict[str, LayerFn] = {
    "Linear": linear,
    "Bilinear": bilinear,
    "Flatten": flatten,
    "LayerNorm": layer_norm,
    "Dropout": identity,
    "Dropout1d": identity,
    "Dropout2d": identity,
    "Dropout3d": identity,
    "AlphaDropout": alpha_dropout,
    "Identity": identity,
}
for _n in (1, 2, 3):
    LAYERS[f"Conv{_n}d"] = _conv(_n, transpose=False)
    LAYERS[f"ConvTranspose{_n}d"] = _conv(_n, transpose=True)
    LAYERS[f"MaxPool{_n}d"] = _pool(_n, "max")
    LAYERS[f"AvgPool{_n}d"] = _pool(_n, "avg")
    LAYERS[f"LPPool{_n}d"] = _pool(_n, "lp")
    LAYERS[f"AdaptiveMaxPool{_n}d"] = _adaptive_pool(_n, "max")
    LAYERS[f"AdaptiveAvgPool{_n}d"] = _adaptive_pool(_n, "avg")
    LAYERS[f"BatchNorm{_n}d"] = _batch_norm(_n)
    LAYERS[f"InstanceNorm{_n}d"] = _instance_norm(_n)

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _dim(kwargs) -> int:
    return int(kwargs.get("dim", -1) if kwargs.get("dim") is not None else -1)


# Element-wise functions and tensor operations of the forward graph (``call_function`` /
# ``call_method`` targets), with torch.nn.functional's keyword arguments.
FUNCTIONS: dict[str, Callable] = {
    "tanh": lambda x, **k: jnp.tanh(x),
    "sigmoid": lambda x, **k: jax.nn.sigmoid(x),
    "relu": lambda x, **k: jax.nn.relu(x),
    "relu6": lambda x, **k: jnp.clip(x, 0.0, 6.0),
    "hardtanh": lambda x, min_val=-1.0, max_val=1.0, **k: jnp.clip(x, min_val, max_val),
    "hardswish": lambda x, **k: x * jnp.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "hardsigmoid": lambda x, **k: jnp.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "selu": lambda x, **k: _SELU_SCALE * jnp.where(x > 0, x, _SELU_ALPHA * jnp.expm1(jnp.minimum(x, 0.0))),
    "elu": lambda x, alpha=1.0, **k: jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0.0))),
    "celu": lambda x, alpha=1.0, **k: jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0.0) / alpha)),
    "leaky_relu": lambda x, negative_slope=0.01, **k: jnp.where(x >= 0, x, negative_slope * x),
    # the format's reference outputs use the tanh form of GELU (the exact erf form differs by
    # up to 3e-4 on ml_model_import case 029)
    "gelu": lambda x, **k: jax.nn.gelu(x, approximate=True),
    "log_sigmoid": lambda x, **k: jax.nn.log_sigmoid(x),
    "tanhshrink": lambda x, **k: x - jnp.tanh(x),
    "softsign": lambda x, **k: x / (1.0 + jnp.abs(x)),
    "softplus": lambda x, beta=1.0, threshold=20.0, **k: jnp.where(
        beta * x > threshold, x, jax.nn.softplus(beta * x) / beta),
    "mish": lambda x, **k: x * jnp.tanh(jax.nn.softplus(x)),
    "silu": lambda x, **k: jax.nn.silu(x),
    "exp": lambda x, **k: jnp.exp(x),
    "softmax": lambda x, **k: jax.nn.softmax(x, axis=_dim(k)),
    "log_softmax": lambda x, **k: jax.nn.log_softmax(x, axis=_dim(k)),
}


def concatenate(arrays, dim=0, **kwargs):
    return jnp.concatenate(list(arrays), axis=int(dim))


TENSOR_FUNCTIONS: dict[str, Callable] = {"cat": concatenate, "concat": concatenate}


def parameter_shapes(layer_type: str, args: dict) -> dict[str, tuple[int, ...]]:
    """Shapes of a layer's trainable arrays (PyTorch's), to initialise one from scratch."""
    n = int(layer_type[-2]) if layer_type[-2:-1].isdigit() else 0
    if layer_type == "Linear":
        out = {"weight": (args["out_features"], args["in_features"])}
        return out | ({"bias": (args["out_features"],)} if args.get("bias", True) else {})
    if layer_type == "Bilinear":
        out = {"weight": (args["out_features"], args["in1_features"], args["in2_features"])}
        return out | ({"bias": (args["out_features"],)} if args.get("bias", True) else {})
    if layer_type.startswith("Conv"):
        k = _tuple(args["kernel_size"], n)
        g = int(args.get("groups", 1))
        if layer_type.startswith("ConvTranspose"):
            w = (args["in_channels"], args["out_channels"] // g, *k)
        else:
            w = (args["out_channels"], args["in_channels"] // g, *k)
        return {"weight": w} | ({"bias": (args["out_channels"],)} if args.get("bias", True) else {})
    if layer_type.startswith(("BatchNorm", "InstanceNorm")):
        affine = args.get("affine", layer_type.startswith("BatchNorm"))
        c = args["num_features"]
        return {"weight": (c,), "bias": (c,)} if affine else {}
    if layer_type == "LayerNorm":
        shape = _tuple(args["normalized_shape"], 1)
        if not args.get("elementwise_affine", True):
            return {}
        return {"weight": shape} | ({"bias": shape} if args.get("bias", True) else {})
    return {}


def initial_parameters(layer_type: str, args: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """PyTorch's default initialisation: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)); norms 1 and 0."""
    out = {}
    for name, shape in parameter_shapes(layer_type, args).items():
        if "Norm" in layer_type:
            out[name] = np.ones(shape) if name == "weight" else np.zeros(shape)
            continue
        w_shape = parameter_shapes(layer_type, args)["weight"]
        fan_in = int(np.prod(w_shape[1:])) if layer_type != "Bilinear" else int(w_shape[1])
        if layer_type.startswith("ConvTranspose"):
            fan_in = int(w_shape[1] * np.prod(w_shape[2:]))
        bound = 1.0 / math.sqrt(max(fan_in, 1))
        out[name] = rng.uniform(-bound, bound, size=shape)
    return out
