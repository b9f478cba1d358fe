"""``torch.nn.Module`` layers built on the notebook 02 twins, for the later notebooks to train.

Each module's ``forward`` calls a functional twin from ``course_utils.reference.layers``;
autograd differentiates through it, so no module has a hand-written backward. The modules
keep the course's conventions: conv and pooling sizes must fit exactly (ValueError otherwise),
``Affine`` stores its weight as (D, M), ``Dropout(p)`` drops with probability p (inverted), and
max pooling sends a tied window's gradient to its first maximum.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from course_utils.reference.layers import (
    _dropout_settings,
    affine_forward,
    avg_pool_forward,
    conv_forward_fast,
    dropout_forward,
    max_pool_backward_naive,
    max_pool_forward_naive,
    relu_forward,
)

__all__ = ["Conv2d", "ReLU", "MaxPool", "AvgPool", "Dropout", "Flatten", "Affine", "small_cnn"]


def _pair(name: str, value) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair (height, width), got {value!r}.")


def _uniform_fan_in_(tensor: torch.Tensor, fan_in: int) -> None:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch.nn.Conv2d's and Linear's default initialisation."""
    bound = 1 / math.sqrt(fan_in)
    with torch.no_grad():
        tensor.uniform_(-bound, bound)


class Conv2d(nn.Module):
    """A conv layer on conv_forward_fast: x (N, C, H, W) -> (N, F, H_out, W_out).

    H_out = 1 + (H + 2P - HH) / S must be an integer (ValueError otherwise; nn.Conv2d floors).
    Parameters: weight (F, C, HH, WW) and bias (F,), initialised as nn.Conv2d's.

    Args:
        in_channels: C.
        out_channels: F.
        kernel_size: HH = WW (an int) or (HH, WW).
        stride: S.
        pad: P, zeros on each side of H and W.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride: int = 1, pad: int = 0
    ):
        super().__init__()
        hh, ww = _pair("kernel_size", kernel_size)
        self.stride, self.pad = stride, pad
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, hh, ww))
        self.bias = nn.Parameter(torch.empty(out_channels))
        fan_in = in_channels * hh * ww
        _uniform_fan_in_(self.weight, fan_in)
        _uniform_fan_in_(self.bias, fan_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv_param = {"stride": self.stride, "pad": self.pad}
        out, _ = conv_forward_fast(x, self.weight, self.bias, conv_param)
        return out

    def extra_repr(self) -> str:
        f, c, hh, ww = self.weight.shape
        return f"{c}, {f}, kernel_size=({hh}, {ww}), stride={self.stride}, pad={self.pad}"


class ReLU(nn.Module):
    """max(x, 0) elementwise, on relu_forward; any shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = relu_forward(x)
        return out


def _pool_param(pool_size, stride) -> dict:
    hh, ww = _pair("pool_size", pool_size)
    if stride is None:
        if hh != ww:
            raise ValueError(f"a {hh}x{ww} pooling window needs an explicit stride.")
        stride = hh
    return {"pool_height": hh, "pool_width": ww, "stride": stride}


class _MaxPoolFunction(torch.autograd.Function):
    """max_pool_forward_naive with max_pool_backward_naive as its backward: one scatter,
    where autograd would chain the selections of the non-CPU path."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, pool_param: dict) -> torch.Tensor:
        out, (_, _, index) = max_pool_forward_naive(x, pool_param)
        ctx.save_for_backward(x, index)
        ctx.pool_param = pool_param
        return out

    @staticmethod
    def backward(ctx, dout: torch.Tensor):
        x, index = ctx.saved_tensors
        return max_pool_backward_naive(dout, (x, ctx.pool_param, index)), None


class MaxPool(nn.Module):
    """Max pooling on max_pool_forward_naive: x (N, C, H, W) -> (N, C, H_out, W_out).

    H_out = 1 + (H - HH) / S must be an integer; no padding. A tied window's gradient goes to
    its first maximum in row-major order, on every device.

    Args:
        pool_size: HH = WW (an int) or (HH, WW).
        stride: S; defaults to the window size for a square window.
    """

    def __init__(self, pool_size=2, stride: int | None = None):
        super().__init__()
        self.pool_param = _pool_param(pool_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _MaxPoolFunction.apply(x, self.pool_param)

    def extra_repr(self) -> str:
        p = self.pool_param
        return f"pool_size=({p['pool_height']}, {p['pool_width']}), stride={p['stride']}"


class AvgPool(nn.Module):
    """Average pooling on avg_pool_forward: x (N, C, H, W) -> (N, C, H_out, W_out).

    Same arguments and size rule as MaxPool; pool_size = (H, W) gives global average pooling.
    """

    def __init__(self, pool_size=2, stride: int | None = None):
        super().__init__()
        self.pool_param = _pool_param(pool_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = avg_pool_forward(x, self.pool_param)
        return out

    def extra_repr(self) -> str:
        p = self.pool_param
        return f"pool_size=({p['pool_height']}, {p['pool_width']}), stride={p['stride']}"


class Dropout(nn.Module):
    """Inverted dropout on dropout_forward; any shape.

    In training mode (module.train()) each unit is dropped with probability p and the kept ones
    are scaled by 1 / (1 - p); in eval mode it is the identity. Same p as nn.Dropout. Masks come
    from torch's default generator (seed it with torch.manual_seed for repeatable runs).

    Args:
        p: the probability of DROPPING a unit, in [0, 1).
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        _dropout_settings({"p": p, "mode": "train"})
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode = "train" if self.training else "test"
        out, _ = dropout_forward(x, {"p": self.p, "mode": mode})
        return out

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(nn.Module):
    """x (N, d_1, ..., d_k) -> (N, d_1 * ... * d_k), the flattening affine_forward does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)  # (N, D)


class Affine(nn.Module):
    """A fully connected layer on affine_forward: x (N, d_1, ..., d_k) -> (N, M).

    out = x.reshape(N, D) @ weight + bias with weight (D, M) and bias (M,) (nn.Linear stores
    weight.T), initialised as nn.Linear's. Flattens its input itself.

    Args:
        in_features: D = d_1 * ... * d_k.
        out_features: M.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        _uniform_fan_in_(self.weight, in_features)
        _uniform_fan_in_(self.bias, in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = affine_forward(x, self.weight, self.bias)
        return out

    def extra_repr(self) -> str:
        return f"in_features={self.weight.shape[0]}, out_features={self.weight.shape[1]}"


def small_cnn(num_classes: int = 10, in_channels: int = 1, width: int = 16) -> nn.Sequential:
    """A small CNN for 28x28 images (Fashion-MNIST), built from this module's layers.

    x (N, in_channels, 28, 28)
      -> Conv2d(in_channels -> width, 3x3, pad 1) -> ReLU -> MaxPool(2)   (N, width, 14, 14)
      -> Conv2d(width -> 2 width, 3x3, pad 1) -> ReLU -> MaxPool(2)       (N, 2 width, 7, 7)
      -> Flatten -> Affine(2 width * 7 * 7 -> num_classes)                (N, num_classes) scores

    With the defaults: 160 + 4,640 + 15,690 = 20,490 parameters.
    """
    return nn.Sequential(
        Conv2d(in_channels, width, 3, stride=1, pad=1),
        ReLU(),
        MaxPool(2),
        Conv2d(width, 2 * width, 3, stride=1, pad=1),
        ReLU(),
        MaxPool(2),
        Flatten(),
        Affine(2 * width * 7 * 7, num_classes),
    )
