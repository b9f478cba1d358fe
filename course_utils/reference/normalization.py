"""Twins of notebook 04's normalisations without the batch, and of its initialisation.

Layer normalisation and group normalisation compute batch normalisation's formula over other
axes: the statistics belong to ONE example, so the output of an example never depends on the
rest of its batch, training and test time are the same computation, and there are no running
averages.

    layer norm, x (N, D):          mu, var over the D features of each example
    group norm, x (N, C, H, W):    mu, var over the C/G channels of one group and all H * W
                                   positions, for each example and each of the G groups
    (batch norm, for comparison:   mu, var over the N examples, per feature or channel)

with the BIASED variance (divide by the number of values), ``eps`` inside the square root,
then ``out = gamma * x_hat + beta`` with one gamma and beta per feature (layer norm, shape
(D,)) or per channel (group norm, shape (1, C, 1, 1) as CS231n writes them; spatial batch
norm's are (C,)). ``torch.nn.functional.layer_norm(x, (D,), gamma, beta, eps)`` and
``torch.nn.functional.group_norm(x, G, gamma.flatten(), beta.flatten(), eps)`` compute the
same outputs (the unit tests check it, gradients included).

``kaiming_normal`` draws a weight of the course's layouts from N(0, (gain / sqrt(fan_in))^2),
using the caller's NumPy generator, so that the same generator state gives the same array as
the notebook's function.

Every normalisation twin takes tensors on any device (CPU, CUDA, MPS) in float32 or float64
and returns tensors on the input's device and in its dtype. Forward functions return
``(out, cache)``; a backward twin takes only the cache its own forward returned.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "layernorm_forward",
    "layernorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
    "kaiming_normal",
]

DEFAULT_EPS = 1e-5


def _require_tensor(name: str, value, layout: str, dim: int) -> None:
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor of shape {layout}, got {type(value).__name__}."
        )
    if value.dim() != dim:
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(value.shape)}.")


def _require_shape(name: str, value, shape: tuple[int, ...], what: str) -> None:
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor of shape {shape}, {what}, got {type(value).__name__}."
        )
    if tuple(value.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, {what}, got shape {tuple(value.shape)}.")


def _eps(param, name: str) -> float:
    """param["eps"] (default 1e-5), checked; other keys are ignored."""
    if not isinstance(param, dict):
        raise ValueError(
            f'{name} must be a dict, optionally with "eps" (default {DEFAULT_EPS}); got '
            f"{type(param).__name__}. Pass {{}} for the defaults."
        )
    eps = param.get("eps", DEFAULT_EPS)
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f'{name}["eps"] must be a number >= 0, got {eps!r}.')
    return float(eps)


def _normalise_last(rows: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """x_hat and 1 / sqrt(var + eps) of each row of rows (..., M), over its M values."""
    var, mu = torch.var_mean(rows, dim=-1, correction=0, keepdim=True)  # (..., 1)
    inv_std = torch.rsqrt(var + eps)  # (..., 1)
    return (rows - mu) * inv_std, inv_std


def _backward_last(dx_hat: torch.Tensor, x_hat: torch.Tensor, inv_std: torch.Tensor):
    """dx from dx_hat for x_hat = (x - mean) / sqrt(var + eps) taken over the last axis (M).

    The closed form of batch normalisation's backward, over the last axis instead of the batch:
        dx = inv_std / M * (M dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))
    """
    m = dx_hat.shape[-1]
    total = dx_hat.sum(dim=-1, keepdim=True)  # (..., 1)
    projection = (dx_hat * x_hat).sum(dim=-1, keepdim=True)  # (..., 1)
    return (inv_std / m) * (m * dx_hat - total - x_hat * projection)


# --- layer normalisation of (N, D) ---------------------------------------------------------------


def layernorm_forward(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, ln_param: dict):
    """Twin of notebook 04's layernorm_forward: x (N, D), gamma, beta (D,) -> out (N, D), cache.

    Each example (row) is normalised over its own D features, with the biased variance:
        mu = mean(x, axis=1),  var = mean((x - mu)^2, axis=1)      (N, 1)
        x_hat = (x - mu) / sqrt(var + eps),  out = gamma * x_hat + beta
    The same in training and test mode (there is no mode and no running average); any N,
    N = 1 included. torch.nn.functional.layer_norm(x, (D,), gamma, beta, eps) is the same.

    Args:
        x: input, shape (N, D).
        gamma: scale, shape (D,), one per feature.
        beta: shift, shape (D,).
        ln_param: dict, optionally with "eps" (default 1e-5); other keys are ignored.

    Returns:
        out: shape (N, D).
        cache: (x_hat (N, D), gamma (D,), inv_std (N, 1)), inv_std = 1 / sqrt(var + eps).

    Raises:
        ValueError: shapes that do not match, or eps < 0.
    """
    _require_tensor("x", x, "(N, D)", 2)
    d = x.shape[1]
    for name, value in (("gamma", gamma), ("beta", beta)):
        _require_shape(name, value, (d,), f"one value per feature of x {tuple(x.shape)}")
    x_hat, inv_std = _normalise_last(x, _eps(ln_param, "ln_param"))  # (N, D), (N, 1)
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def layernorm_backward(dout: torch.Tensor, cache):
    """Twin of notebook 04's layernorm_backward: dout (N, D) -> (dx (N, D), dgamma (D,),
    dbeta (D,)), with the cache of layernorm_forward.

        dx_hat = dout * gamma
        dx     = inv_std / D * (D dx_hat - sum_j dx_hat - x_hat * sum_j dx_hat * x_hat)
                 (sums over the features j of each example)
        dgamma = sum_n dout * x_hat,  dbeta = sum_n dout      (sums over the batch)
    """
    x_hat, gamma, inv_std = cache
    _require_shape("dout", dout, tuple(x_hat.shape), "the shape of x")
    dx = _backward_last(dout * gamma, x_hat, inv_std)  # (N, D)
    return dx, (dout * x_hat).sum(dim=0), dout.sum(dim=0)


# --- group normalisation of (N, C, H, W) ---------------------------------------------------------


def _groups(G, c: int) -> int:
    if isinstance(G, bool) or not isinstance(G, numbers.Integral) or G < 1:
        raise ValueError(f"G, the number of groups, must be a positive integer, got {G!r}.")
    if c % G:
        raise ValueError(
            f"G = {G} groups must divide the C = {c} channels ({c} / {G} = {c / G:g} is not an "
            f"integer). Choose G among the divisors of {c}: "
            f"{[g for g in range(1, c + 1) if c % g == 0]}."
        )
    return int(G)


def spatial_groupnorm_forward(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, G: int, gn_param: dict
):
    """Twin of notebook 04's spatial_groupnorm_forward: x (N, C, H, W), gamma, beta
    (1, C, 1, 1), G groups -> out (N, C, H, W), cache.

    The channels are split into G consecutive groups of C / G (channels 0 .. C/G - 1 form
    group 0). For each example n and group g, one mean and one biased variance over the
    C/G * H * W values x[n, group g, :, :]; then x_hat = (x - mu) / sqrt(var + eps) and
    out = gamma * x_hat + beta, with one gamma and beta per CHANNEL, shaped (1, C, 1, 1) as in
    CS231n (spatial batch norm's are (C,)). G = 1 is layer normalisation over (C, H, W);
    G = C is instance normalisation. torch.nn.functional.group_norm(x, G, gamma.flatten(),
    beta.flatten(), eps) is the same.

    Args:
        x: input, shape (N, C, H, W).
        gamma: scale, shape (1, C, 1, 1).
        beta: shift, shape (1, C, 1, 1).
        G: number of groups, a positive integer dividing C.
        gn_param: dict, optionally with "eps" (default 1e-5); other keys are ignored.

    Returns:
        out: shape (N, C, H, W).
        cache: (x_hat (N, C, H, W), gamma (1, C, 1, 1), inv_std (N, G, 1), G).

    Raises:
        ValueError: G that does not divide C, shapes that do not match, or eps < 0.
    """
    _require_tensor("x", x, "(N, C, H, W)", 4)
    n, c, h, w = x.shape
    for name, value in (("gamma", gamma), ("beta", beta)):
        _require_shape(
            name, value, (1, c, 1, 1), f"one value per channel of x {tuple(x.shape)} (CS231n's)"
        )
    groups = _groups(G, c)
    eps = _eps(gn_param, "gn_param")
    rows = x.reshape(n, groups, (c // groups) * h * w)  # (N, G, C/G*H*W)
    x_hat, inv_std = _normalise_last(rows, eps)  # (N, G, C/G*H*W), (N, G, 1)
    x_hat = x_hat.reshape(n, c, h, w)
    return gamma * x_hat + beta, (x_hat, gamma, inv_std, groups)


def spatial_groupnorm_backward(dout: torch.Tensor, cache):
    """Twin of notebook 04's spatial_groupnorm_backward: dout (N, C, H, W) ->
    (dx (N, C, H, W), dgamma (1, C, 1, 1), dbeta (1, C, 1, 1)), with the cache of
    spatial_groupnorm_forward.

    Within each example and group (M = C/G * H * W values), as layer norm's backward:
        dx = inv_std / M * (M dx_hat - sum dx_hat - x_hat * sum dx_hat * x_hat)
    dgamma = sum over N, H, W of dout * x_hat;  dbeta = sum over N, H, W of dout.
    """
    x_hat, gamma, inv_std, groups = cache
    _require_shape("dout", dout, tuple(x_hat.shape), "the shape of x")
    n, c, h, w = dout.shape
    dx_hat = (dout * gamma).reshape(n, groups, -1)  # (N, G, C/G*H*W)
    dx = _backward_last(dx_hat, x_hat.reshape(n, groups, -1), inv_std).reshape(n, c, h, w)
    dgamma = (dout * x_hat).sum(dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1)
    dbeta = dout.sum(dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1)
    return dx, dgamma, dbeta


# --- Kaiming initialisation ----------------------------------------------------------------------


def _fan_in(shape: Sequence[int]) -> int:
    """fan_in of a weight in the course's layouts: D for (D, M); C * HH * WW for (F, C, HH, WW)."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(
            f"shape must be a tuple of sizes, (D, M) or (F, C, HH, WW), got {shape!r}."
        ) from None
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in dims):
        raise ValueError(f"shape must hold positive integer sizes, got {dims!r}.")
    if len(dims) == 2:
        return int(dims[0])  # the course's affine layer computes x @ w with w (D, M)
    if len(dims) == 4:
        _, c, hh, ww = dims
        return int(c * hh * ww)  # each output of a convolution sums C * HH * WW products
    raise ValueError(
        f"kaiming_normal knows the affine weight (D, M) and the convolution weight "
        f"(F, C, HH, WW); got a shape of rank {len(dims)}, {dims!r}."
    )


def kaiming_normal(
    shape: Sequence[int],
    rng: np.random.Generator,
    gain: float = math.sqrt(2.0),
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Twin of notebook 04's kaiming_normal: a weight drawn from N(0, (gain / sqrt(fan_in))^2).

        fan_in = D               for an affine weight (D, M), the course's x @ w layout
        fan_in = C * HH * WW     for a convolution weight (F, C, HH, WW)
        w = gain / sqrt(fan_in) * rng.standard_normal(shape)

    The draw is ``rng.standard_normal(shape)`` (the same numbers as
    ``rng.normal(0.0, std, shape)``), so from the same generator state this returns the
    array a NumPy implementation that draws that way returns, up to rounding of the scale.
    torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu") has the same
    distribution for a tensor in torch's layouts: nn.Linear stores (M, D), the transpose of
    ours; nn.Conv2d stores (F, C, HH, WW) as we do.

    Args:
        shape: (D, M) or (F, C, HH, WW), positive integers.
        rng: a numpy.random.Generator; the draw advances it.
        gain: the scale gain, sqrt(2) for ReLU (He et al., 2015), 1 for a linear layer.
        device: where the tensor goes (default the CPU).
        dtype: its dtype (default float64).

    Returns:
        w: tensor of shape ``shape``.

    Raises:
        ValueError: a shape of another rank or with sizes < 1, or a gain that is negative or
            not finite.
        TypeError: rng is not a numpy.random.Generator.
    """
    fan_in = _fan_in(shape)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, e.g. np.random.default_rng(0); got "
            f"{type(rng).__name__}."
        )
    if isinstance(gain, bool) or not isinstance(gain, numbers.Real) or not 0 <= gain < math.inf:
        raise ValueError(f"gain must be a finite number >= 0, got {gain!r}.")
    std = float(gain) / math.sqrt(fan_in)
    draw = torch.from_numpy(rng.standard_normal(tuple(shape)))  # float64, the generator's order
    return (draw * std).to(device=device, dtype=dtype)
