"""Twins of notebook 01's functions: convolution arithmetic and 2-D correlation.

Sizes, paddings, parameter counts and receptive fields are plain Python integers;
``cross_correlate2d`` and ``convolve2d`` work on tensors (any device, float32 or float64) and
on NumPy arrays or nested lists (computed in float64).

Convention: every size formula is exact. When ``(W - F + 2P) / S + 1`` is not an integer the
filter does not fit and a ``ValueError`` names the numbers; nothing is silently floored (PyTorch
floors, and so drops the last rows and columns of the input).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "conv_output_size",
    "padding_for",
    "conv_param_count",
    "receptive_field",
    "cross_correlate2d",
    "convolve2d",
]

PADDING_MODES = ("valid", "same", "full")


def _check_int(name: str, value, minimum: int) -> int:
    """value as a Python int (NumPy integers welcome), or a ValueError naming it."""
    # bool is an int subclass, but True as a filter size is a mistake, not a 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r} of type {type(value).__name__}.")
    value = int(value)
    if value < minimum:
        bound = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}.")
    return value


def _show(value: float) -> str:
    """A non-integer quotient the way a person writes it: 4.5, 2.33 (never rounded to an int)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    if float(text) == round(value):
        text = f"{value:.6g}"
    return text


def conv_output_size(n: int, f: int, stride: int = 1, pad: int = 0) -> int:
    """Twin of notebook 01's conv_output_size: the output size of a convolution or pooling.

    out = (W - F + 2P) / S + 1, for an input of size W (one spatial dimension), a filter of
    size F, stride S and P zeros on each side.

    Args:
        n: input size W, a positive int.
        f: filter size F, a positive int.
        stride: S, a positive int.
        pad: P, an int >= 0.

    Returns:
        The output size, an int >= 1.

    Raises:
        ValueError: an argument is not an int of the right sign; the filter is larger than the
            padded input (F > W + 2P); or S does not divide W - F + 2P. The message shows the
            formula with the numbers. torch.nn.functional.conv2d floors instead.
    """
    n = _check_int("n (the input size W)", n, 1)
    f = _check_int("f (the filter size F)", f, 1)
    stride = _check_int("stride (S)", stride, 1)
    pad = _check_int("pad (P)", pad, 0)
    span = n - f + 2 * pad
    if span < 0:
        raise ValueError(
            f"filter does not fit: F = {f} is larger than the padded input "
            f"W + 2P = {n} + {2 * pad} = {n + 2 * pad}. Use a smaller filter or more padding."
        )
    if span % stride != 0:
        value = span / stride + 1
        raise ValueError(
            f"filter does not fit: (W - F + 2P) / S + 1 = ({n} - {f} + {2 * pad}) / {stride} + 1 "
            f"= {_show(value)} is not an integer. Choose P or S so that S divides "
            f"W - F + 2P = {span}."
        )
    return span // stride + 1


def padding_for(mode: str, f: int) -> int:
    """Twin of notebook 01's padding_for: zeros added on each side for a padding mode.

    - "valid": P = 0, output W - F + 1.
    - "same": P = floor(F / 2) = (F - 1) / 2 for odd F, output W (at stride 1). An even F
      cannot keep the size with the same padding on both sides, so it raises.
    - "full": P = F - 1, output W + F - 1 (every position where filter and input overlap).

    Args:
        mode: "valid", "same" or "full".
        f: filter size F, a positive int.

    Returns:
        P, an int >= 0.

    Raises:
        ValueError: unknown mode, F not a positive int, or even F with "same".
        (torch.nn.functional.conv2d's padding="same" pads an even filter unevenly instead.)
    """
    if mode not in PADDING_MODES:
        raise ValueError(f'mode must be "valid", "same" or "full", got {mode!r}.')
    f = _check_int("f (the filter size F)", f, 1)
    if mode == "valid":
        return 0
    if mode == "full":
        return f - 1
    if f % 2 == 0:
        raise ValueError(
            f'"same" padding needs an odd filter size, got F = {f}: keeping the size needs '
            f"F - 1 = {f - 1} zeros in all, which cannot be split equally between the two sides. "
            "Use an odd F."
        )
    return (f - 1) // 2


def conv_param_count(c_in: int, c_out: int, f: int | Sequence[int], bias: bool = True) -> int:
    """Twin of notebook 01's conv_param_count: learnable parameters of a conv layer.

    count = C_out * (C_in * FH * FW + 1) with a bias, C_out * C_in * FH * FW without.
    Same as sum(p.numel() for p in torch.nn.Conv2d(c_in, c_out, f, bias=bias).parameters()).

    Args:
        c_in: input channels C_in, a positive int.
        c_out: filters C_out, a positive int.
        f: filter size, an int F (square, FH = FW = F) or a pair (FH, FW).
        bias: whether each filter has a bias.

    Returns:
        The number of parameters, an int.
    """
    c_in = _check_int("c_in", c_in, 1)
    c_out = _check_int("c_out", c_out, 1)
    if isinstance(f, Sequence) and not isinstance(f, str):
        if len(f) != 2:
            raise ValueError(f"f must be an int or a pair (FH, FW), got {f!r}.")
        fh, fw = f
    else:
        fh = fw = f
    fh = _check_int("filter height FH", fh, 1)
    fw = _check_int("filter width FW", fw, 1)
    return c_out * (c_in * fh * fw + (1 if bias else 0))


def receptive_field(layers: Sequence[Sequence[int]]) -> int:
    """Twin of notebook 01's receptive_field: input pixels seen by one output of a stack.

    Walking from the input: r = 1 and jump = 1; each layer (K, S) does r += (K - 1) * jump,
    then jump *= S. Three 3x3 stride-1 convs give 7; a (2, 2) pool after a 3x3 conv gives 4.

    Args:
        layers: a list of (kernel, stride) pairs of positive ints, input side first.

    Returns:
        The receptive field size along one dimension, an int (1 for an empty list).
    """
    size, jump = 1, 1
    for index, layer in enumerate(layers):
        if isinstance(layer, str) or not isinstance(layer, Sequence) or len(layer) != 2:
            raise ValueError(f"layers[{index}] must be a pair (kernel, stride), got {layer!r}.")
        kernel, stride = layer
        kernel = _check_int(f"layers[{index}] kernel", kernel, 1)
        stride = _check_int(f"layers[{index}] stride", stride, 1)
        size += (kernel - 1) * jump
        jump *= stride
    return size


def _as_2d_pair(x, k) -> tuple[torch.Tensor, torch.Tensor]:
    """Both operands as floating tensors of one dtype on one device; NumPy and lists -> float64."""
    # ascontiguousarray: NumPy views such as k[::-1, ::-1] or np.rot90(x) have negative strides,
    # which torch cannot wrap.
    x_t = (
        x
        if isinstance(x, torch.Tensor)
        else torch.as_tensor(np.ascontiguousarray(x, dtype=np.float64))
    )
    k_t = (
        k
        if isinstance(k, torch.Tensor)
        else torch.as_tensor(np.ascontiguousarray(k, dtype=np.float64))
    )
    if x_t.dim() != 2 or k_t.dim() != 2:
        raise ValueError(
            f"x and k must be 2-D (H, W) and (KH, KW), got shapes {tuple(x_t.shape)} "
            f"and {tuple(k_t.shape)}."
        )
    if x_t.device != k_t.device:
        k_t = k_t.to(x_t.device)
    dtype = torch.result_type(x_t, k_t)
    if not dtype.is_floating_point:
        dtype = torch.float64
    x_t, k_t = x_t.to(dtype), k_t.to(dtype)
    (h, w), (kh, kw) = x_t.shape, k_t.shape
    if kh > h or kw > w:
        raise ValueError(
            f"kernel is larger than the input: k has shape ({kh}, {kw}), x has shape ({h}, {w}). "
            "Valid mode needs KH <= H and KW <= W."
        )
    return x_t, k_t


def cross_correlate2d(x, k) -> torch.Tensor:
    """Twin of notebook 01's cross_correlate2d: valid-mode 2-D cross-correlation.

    out[i, j] = sum_{p, q} x[i + p, j + q] * k[p, q]; this is what deep learning (and
    torch.nn.functional.conv2d) calls "convolution": the kernel is not flipped.

    Args:
        x: input, shape (H, W): a tensor, NumPy array or nested list.
        k: kernel, shape (KH, KW), KH <= H and KW <= W.

    Returns:
        out: tensor of shape (H - KH + 1, W - KW + 1), on x's device; float64 for NumPy or
        list inputs, else the floating dtype of the two tensors.
    """
    x_t, k_t = _as_2d_pair(x, k)
    out = F.conv2d(x_t[None, None], k_t[None, None])  # (1, 1, H_out, W_out)
    return out[0, 0]  # (H_out, W_out)


def convolve2d(x, k) -> torch.Tensor:
    """Twin of notebook 01's convolve2d: valid-mode true 2-D convolution.

    out[i, j] = sum_{p, q} x[i + p, j + q] * k[KH - 1 - p, KW - 1 - q]: cross-correlation with
    the kernel flipped in both directions (scipy.signal.convolve2d(x, k, mode="valid")).
    Lecture vector: x = [[0, 80, 40], [20, 40, 0], [0, 0, 40]], k = [[0, .25], [.5, 1]]
    -> [[45, 110], [40, 40]].

    Args:
        x: input, shape (H, W): a tensor, NumPy array or nested list.
        k: kernel, shape (KH, KW), KH <= H and KW <= W.

    Returns:
        out: tensor of shape (H - KH + 1, W - KW + 1), device and dtype as cross_correlate2d.
    """
    x_t, k_t = _as_2d_pair(x, k)
    return cross_correlate2d(x_t, torch.flip(k_t, dims=(0, 1)))
