"""The NumPy-to-autograd bridge: your forward/backward pair as a PyTorch layer.

A layer written to the course contract,

    out, cache = conv_forward_naive(x, w, b, conv_param)
    dx, dw, db = conv_backward_naive(dout, cache)

becomes a function on tensors that autograd can differentiate,

    conv = as_autograd(conv_forward_naive, conv_backward_naive, config={"stride": 1, "pad": 1})
    out = conv(x, w, b)              # tensors in, tensor out; out.backward() calls your backward

or a module with learnable parameters that fits in any nn.Sequential:

    layer = NumpyLayer(conv_forward_naive, conv_backward_naive,
                       params={"w": 0.1 * torch.randn(8, 1, 3, 3), "b": torch.zeros(8)},
                       config={"stride": 1, "pad": 1})

Tensors travel to your functions as fresh float64 NumPy arrays on the CPU (copies: your code
may change them freely), and results travel back to the device and dtype of the input that
came in, so a NumPy layer works inside a model on a GPU (slowly: every call crosses to the
CPU). The gradient of a tensor argument is converted to that argument's own dtype.

What the bridge asks of your functions, and checks with a clear error:
- forward returns a tuple (out, cache); out is a NumPy array (a number for a loss);
- backward returns one gradient per tensor argument: a bare array when there is one
  (relu_backward -> dx), a tuple otherwise (conv_backward_naive -> (dx, dw, db)), each with
  the shape of its argument.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable


def _name(fn: Callable) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _describe(value) -> str:
    """One phrase for an unexpected return value: "one numpy.ndarray of shape (2, 3)"."""
    if isinstance(value, np.ndarray):
        return f"one numpy.ndarray of shape {value.shape}"
    if isinstance(value, torch.Tensor):
        return f"one torch.Tensor of shape {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__module__}.{type(value).__qualname__}".replace("builtins.", "")


def _array_names(forward: Callable, count: int) -> list[str]:
    """Names of forward's first `count` arguments ("x", "w", "b"), from its signature."""
    try:
        params = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
    ]
    if len(names) >= count:
        return names[:count]
    return [f"input {i}" for i in range(count)]


def _to_numpy64(t: torch.Tensor) -> np.ndarray:
    """A tensor on any device -> a fresh float64 ndarray on the CPU (a copy, always)."""
    t = t.detach().cpu()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()  # NumPy has no bfloat16
    # NumPy converts dtypes several times faster than Tensor.to on a small CPU.
    return np.array(t.numpy(), dtype=np.float64)


_NUMPY_DTYPES = {torch.float64: np.float64, torch.float32: np.float32}


def _to_tensor(value, like: torch.Tensor, what: str, fn: Callable) -> torch.Tensor:
    """A NumPy result -> a tensor with like's device and dtype, or a TypeError naming fn."""
    if isinstance(value, (np.ndarray, np.generic, float, int)) and not isinstance(value, bool):
        array = np.asarray(value)
        if array.dtype.kind not in "fiub":
            raise TypeError(
                f"{_name(fn)} returned {what} with dtype {array.dtype}; expected numbers."
            )
        target = _NUMPY_DTYPES.get(like.dtype, np.float64)
        tensor = torch.from_numpy(np.array(array, dtype=target))
        return tensor.to(device=like.device, dtype=like.dtype)
    raise TypeError(
        f"{_name(fn)} must return {what} as a NumPy array; it returned {_describe(value)}."
        + (" Use .numpy() on tensors, or NumPy operations only." if torch.is_tensor(value) else "")
    )


class NumpyFunction(torch.autograd.Function):
    """torch.autograd.Function that runs a NumPy forward/backward pair.

    Called as NumpyFunction.apply(forward, backward, config, *tensors); as_autograd hides the
    first three arguments. config is passed last to forward when it is not None (the very
    same dict, so that a bn_param's running statistics update in place).
    """

    @staticmethod
    def forward(ctx, forward_fn, backward_fn, config, *tensors):
        arrays = [_to_numpy64(t) for t in tensors]
        result = forward_fn(*arrays) if config is None else forward_fn(*arrays, config)
        if not isinstance(result, tuple) or len(result) != 2:
            got = (
                f"a tuple of {len(result)} items"
                if isinstance(result, tuple)
                else _describe(result)
            )
            raise TypeError(
                f"{_name(forward_fn)} must return a tuple (out, cache); it returned {got}."
            )
        out, cache = result
        ctx.backward_fn = backward_fn
        ctx.forward_fn = forward_fn
        ctx.cache = cache
        ctx.inputs = [(tuple(t.shape), t.dtype, t.device) for t in tensors]
        ctx.out_shape = np.shape(out)
        return _to_tensor(out, tensors[0], "out", forward_fn)

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        backward_fn, forward_fn = ctx.backward_fn, ctx.forward_fn
        grads = backward_fn(_to_numpy64(dout), ctx.cache)
        count = len(ctx.inputs)
        names = _array_names(forward_fn, count)
        expected = ", ".join(f"d{n}" if not n.startswith("input") else f"d({n})" for n in names)
        if count == 1 and not isinstance(grads, (tuple, list)):
            grads = (grads,)
        if not isinstance(grads, (tuple, list)):
            raise TypeError(
                f"{_name(backward_fn)} must return a tuple of {count} gradients ({expected}), "
                f"one per array that {_name(forward_fn)} takes; it returned {_describe(grads)}."
            )
        if len(grads) != count:
            raise ValueError(
                f"{_name(backward_fn)} returned {len(grads)} gradients, expected {count} "
                f"({expected}): one per array that {_name(forward_fn)} takes "
                f"({', '.join(names)})."
            )
        tensors = []
        for grad, name, (shape, dtype, device) in zip(grads, names, ctx.inputs):
            like = torch.empty(0, dtype=dtype, device=device)
            grad_name = f"d{name}" if not name.startswith("input") else f"the gradient of {name}"
            tensor = _to_tensor(grad, like, grad_name, backward_fn)
            if tuple(tensor.shape) != shape:
                raise ValueError(
                    f"{_name(backward_fn)} returned {grad_name} of shape {tuple(tensor.shape)}, "
                    f"expected {shape}, the shape of {name}."
                )
            tensors.append(tensor)
        return (None, None, None, *tensors)


def as_autograd(
    forward: Callable, backward: Callable, config: dict | None = None
) -> Callable[..., torch.Tensor]:
    """Wrap a NumPy forward/backward pair as a differentiable function of tensors.

    Args:
        forward: forward(*arrays) or forward(*arrays, config) -> (out, cache), e.g.
            relu_forward, affine_forward, conv_forward_naive, max_pool_forward_naive.
        backward: backward(dout, cache) -> one gradient per array argument of forward
            (a bare array for one, a tuple for several).
        config: the parameter dictionary forward takes last (conv_param, pool_param,
            dropout_param, bn_param), or None when forward takes none (relu, affine).

    Returns:
        f(*tensors) -> tensor: f(x, w, b) for conv, f(x) for relu. Its output has the first
        argument's device and dtype; torch.autograd.gradcheck works on it in float64.
    """
    if not callable(forward) or not callable(backward):
        raise TypeError(
            f"as_autograd takes two functions, forward and backward; got "
            f"{type(forward).__name__} and {type(backward).__name__}."
        )

    def function(*tensors: torch.Tensor) -> torch.Tensor:
        if not tensors:
            raise TypeError(f"{_name(forward)} (bridged) needs at least one tensor argument.")
        for i, t in enumerate(tensors):
            if not isinstance(t, torch.Tensor):
                raise TypeError(
                    f"{_name(forward)} (bridged) takes tensors; argument {i} is "
                    f"{type(t).__name__}. Use torch.as_tensor(...) first."
                )
        return NumpyFunction.apply(forward, backward, config, *tensors)

    function.__name__ = f"{_name(forward)}_autograd"
    function.__doc__ = f"{_name(forward)} / {_name(backward)} as a differentiable tensor function."
    return function


def _check_arity(forward: Callable, params: dict, config: dict | None) -> None:
    """Refuse, before any data flows, a layer that would call forward with too few arguments."""
    try:
        positional = [
            p
            for p in inspect.signature(forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return  # a builtin or C function: nothing to read
    takes = 1 + len(params) + (config is not None)
    if len(positional) != takes:
        signature = ", ".join(p.name for p in positional)
        given = f"x, params {list(params)}" + (" and config" if config is not None else "")
        raise ValueError(
            f"{_name(forward)} takes ({signature}), but this layer would call it with {takes} "
            f"arguments ({given}). Give one param per array after x, in order, and a config "
            "when forward takes a parameter dict."
        )


class NumpyLayer(nn.Module):
    """A NumPy forward/backward pair as an nn.Module with learnable parameters.

        NumpyLayer(conv_forward_naive, conv_backward_naive,
                   params={"w": w, "b": b}, config={"stride": 1, "pad": 1})

    calls conv_forward_naive(x, w, b, conv_param) on every forward. The params become
    nn.Parameters (layer.w, layer.b), so optimisers, .to(device) and state_dict see them.
    When config has a "mode" key (dropout_param, bn_param) it follows the module:
    "train" after model.train(), "test" after model.eval().

    Args:
        forward, backward: the pair, as for as_autograd.
        params: {name: tensor or ndarray} in the order forward takes them after x.
            Arrays keep their dtype (a float64 array gives a float64 parameter).
        config: the dict forward takes last, or None.
    """

    def __init__(
        self,
        forward: Callable,
        backward: Callable,
        params: Mapping[str, torch.Tensor | np.ndarray] | None = None,
        config: dict | None = None,
    ):
        super().__init__()
        params = dict(params or {})
        self.config = config
        self._forward_name = _name(forward)
        self._function = as_autograd(forward, backward, config)
        _check_arity(forward, params, config)
        self._param_names = list(params)
        for name, value in params.items():
            tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
            if not tensor.is_floating_point():
                raise TypeError(
                    f"param {name!r} must hold floating-point numbers, got dtype {tensor.dtype}."
                )
            self.register_parameter(name, nn.Parameter(tensor.detach().clone()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config is not None and "mode" in self.config:
            self.config["mode"] = "train" if self.training else "test"
        return self._function(x, *(getattr(self, name) for name in self._param_names))

    def extra_repr(self) -> str:
        shapes = ", ".join(
            f"{name}={tuple(getattr(self, name).shape)}" for name in self._param_names
        )
        parts = [self._forward_name] + ([shapes] if shapes else [])
        if self.config is not None:
            shown = {k: v for k, v in self.config.items() if not isinstance(v, np.ndarray)}
            parts.append(f"config={shown}")
        return ", ".join(parts)
