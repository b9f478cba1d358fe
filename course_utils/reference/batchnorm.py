"""Twins of notebook 04's functions: batch normalisation, forward and backward, flat and spatial.

Every twin takes tensors on any device (CPU, CUDA, MPS) in float32 or float64 and returns
tensors on the input's device and in its dtype. Forward functions return ``(out, cache)``;
a backward twin takes only the cache its own forward returned.

``bn_param = {"mode": "train" or "test", "eps": 1e-5, "momentum": 0.9, "running_mean",
"running_var"}``; ``eps`` and ``momentum`` take those defaults when absent, and the running
statistics start at zeros when absent (CS231n). In training mode

    mu = mean(x, axis=0),  var = mean((x - mu)^2, axis=0)    (the BIASED variance, 1/N)
    x_hat = (x - mu) / sqrt(var + eps),  out = gamma * x_hat + beta
    running_mean = momentum * running_mean + (1 - momentum) * mu      (likewise running_var)

and the running statistics are stored back into ``bn_param`` (as tensors on x's device). In
test mode ``x_hat = (x - running_mean) / sqrt(running_var + eps)`` and nothing is stored.

How this maps onto ``torch.nn.BatchNorm1d`` / ``BatchNorm2d`` (the unit tests check it):
- their ``momentum`` is our ``1 - momentum`` (their default 0.1 is our 0.9);
- the forward pass normalises with the biased variance in both, so ``out`` is identical;
- their running variance is updated with the UNBIASED batch variance ``var * N / (N - 1)``
  (``N * H * W`` values per channel for the spatial layer), ours with the biased one. From
  the same running variance, one step apart they differ by exactly
  ``(1 - momentum) * var / (N - 1)``; starting both from zeros with a fixed batch size, theirs
  is ours times ``N / (N - 1)`` at every step;
- their running variance starts at ones, ours at zeros.

Training mode needs at least two values per statistic: with a batch of one (N = 1, or
N * H * W = 1 for the spatial layer) the variance is 0 and ``x_hat`` is 0 whatever the input,
so the twins raise ``ValueError``, as PyTorch does ("Expected more than 1 value per channel").
Test mode takes any batch size, N = 1 included. Backward is defined for training mode only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
]

DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.9


def _show(value) -> str:
    """A value for an error message: strings in double quotes (as in the contract), else repr."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _settings(bn_param: dict) -> tuple[str, float, float]:
    """(mode, eps, momentum) from bn_param, checked, with the contract's defaults."""
    if not isinstance(bn_param, dict):
        raise ValueError(
            f'bn_param must be a dict with keys "mode" and optionally "eps", "momentum", '
            f'"running_mean", "running_var"; got {type(bn_param).__name__}.'
        )
    if "mode" not in bn_param:
        raise ValueError(
            f'bn_param has no "mode"; set bn_param["mode"] to "train" or "test" (got keys '
            f"{sorted(bn_param)})."
        )
    mode = bn_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f'bn_param["mode"] must be "train" or "test", got {_show(mode)}.')
    eps = bn_param.get("eps", DEFAULT_EPS)
    momentum = bn_param.get("momentum", DEFAULT_MOMENTUM)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise ValueError(f'bn_param["eps"] must be a number >= 0, got {_show(eps)}.')
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise ValueError(f'bn_param["momentum"] must be a number in [0, 1], got {_show(momentum)}.')
    if not 0 <= momentum <= 1:
        raise ValueError(f'bn_param["momentum"] must be in [0, 1], got {_show(momentum)}.')
    return mode, float(eps), float(momentum)


def _running(bn_param: dict, key: str, like: torch.Tensor, d: int) -> torch.Tensor:
    """bn_param[key] as a tensor of shape (D,) on like's device and dtype; zeros when absent."""
    value = bn_param.get(key)
    if value is None:
        return torch.zeros(d, dtype=like.dtype, device=like.device)
    tensor = torch.as_tensor(value).to(device=like.device, dtype=like.dtype)
    if tuple(tensor.shape) != (d,):
        raise ValueError(
            f'bn_param["{key}"] must have shape ({d},), one value per feature, got shape '
            f"{tuple(tensor.shape)}."
        )
    return tensor


def _require_tensor(name: str, value, layout: str, dim: int) -> None:
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor of shape {layout}, got {type(value).__name__}."
        )
    if value.dim() != dim:
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(value.shape)}.")


# --- batch normalisation of (N, D) ---------------------------------------------------------------


def batchnorm_forward(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, bn_param: dict):
    """Twin of notebook 04's batchnorm_forward: x (N, D), gamma, beta (D,) -> out (N, D), cache.

    running = momentum * running + (1 - momentum) * batch_stat (momentum 0.9 by default), with
    the biased batch variance (divide by N). torch.nn.BatchNorm1d's momentum is our 1 - momentum,
    and its running variance is unbiased (see the module docstring for the exact mapping).

    Args:
        x: input, shape (N, D).
        gamma: scale, shape (D,).
        beta: shift, shape (D,).
        bn_param: {"mode": "train" or "test", "eps" (default 1e-5), "momentum" (default 0.9),
            "running_mean", "running_var" (each (D,), zeros when absent)}. Training mode
            stores the updated running statistics back into it, as tensors.

    Returns:
        out: shape (N, D).
        cache: (mode, x_hat (N, D), gamma (D,), inv_std (D,)), inv_std = 1 / sqrt(var + eps),
            with the batch variance in training mode and the running one in test mode.

    Raises:
        ValueError: a mode other than "train" or "test", eps < 0, momentum outside [0, 1],
            shapes that do not match, or training mode with a batch of one.
    """
    _require_tensor("x", x, "(N, D)", 2)
    n, d = x.shape
    for name, value in (("gamma", gamma), ("beta", beta)):
        _require_tensor(name, value, f"({d},)", 1)
        if value.shape[0] != d:
            raise ValueError(
                f"{name} must have shape ({d},), one value per feature of x {tuple(x.shape)}, "
                f"got shape {tuple(value.shape)}."
            )
    mode, eps, momentum = _settings(bn_param)
    running_mean = _running(bn_param, "running_mean", x, d)
    running_var = _running(bn_param, "running_var", x, d)
    if mode == "train":
        if n < 2:
            raise ValueError(
                f"training mode needs at least 2 values per feature to estimate a variance, got "
                f"a batch of {n}: the variance would be 0 and every output beta. Use a batch of "
                'at least 2, or bn_param["mode"] = "test".'
            )
        mu = x.mean(dim=0)  # (D,)
        var = x.var(dim=0, unbiased=False)  # (D,)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    inv_std = torch.rsqrt(var + eps)  # (D,)
    x_hat = (x - mu) * inv_std  # (N, D)
    out = gamma * x_hat + beta
    return out, (mode, x_hat, gamma, inv_std)


def _train_cache(cache, name: str):
    mode, x_hat, gamma, inv_std = cache
    if mode != "train":
        raise ValueError(
            f"{name} is defined for training mode only; this cache comes from a forward pass "
            'with bn_param["mode"] = "test".'
        )
    return x_hat, gamma, inv_std


def batchnorm_backward(dout: torch.Tensor, cache):
    """Twin of notebook 04's batchnorm_backward (staged, as in the lecture): dout (N, D) ->
    (dx (N, D), dgamma (D,), dbeta (D,)), with the cache of training-mode batchnorm_forward.

        dx_hat = dout * gamma
        dvar   = sum(dx_hat * (x - mu)) * -1/2 * (var + eps)^(-3/2)
        dmu    = sum(-dx_hat / sqrt(var + eps)) + dvar * mean(-2 (x - mu))
        dx     = dx_hat / sqrt(var + eps) + dvar * 2 (x - mu) / N + dmu / N
        dgamma = sum(dout * x_hat),  dbeta = sum(dout)      (sums over the batch axis)
    """
    x_hat, gamma, inv_std = _train_cache(cache, "batchnorm_backward")
    n = dout.shape[0]
    x_mu = x_hat / inv_std  # (N, D), x - mu
    dx_hat = dout * gamma  # (N, D)
    dvar = (dx_hat * x_mu).sum(dim=0) * -0.5 * inv_std**3  # (D,)
    dmu = (-dx_hat * inv_std).sum(dim=0) + dvar * (-2 * x_mu).mean(dim=0)  # (D,)
    dx = dx_hat * inv_std + dvar * 2 * x_mu / n + dmu / n
    return dx, (dout * x_hat).sum(dim=0), dout.sum(dim=0)


def batchnorm_backward_alt(dout: torch.Tensor, cache):
    """Twin of notebook 04's batchnorm_backward_alt (closed form): dout (N, D) ->
    (dx (N, D), dgamma (D,), dbeta (D,)), with the cache of training-mode batchnorm_forward.

        dx = gamma / (N sqrt(var + eps)) * (N dout - sum(dout) - x_hat * sum(dout * x_hat))
    """
    x_hat, gamma, inv_std = _train_cache(cache, "batchnorm_backward_alt")
    n = dout.shape[0]
    dbeta = dout.sum(dim=0)  # (D,)
    dgamma = (dout * x_hat).sum(dim=0)  # (D,)
    dx = (gamma * inv_std / n) * (n * dout - dbeta - x_hat * dgamma)  # (N, D)
    return dx, dgamma, dbeta


# --- spatial batch normalisation of (N, C, H, W) -------------------------------------------------


def spatial_batchnorm_forward(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, bn_param: dict
):
    """Twin of notebook 04's spatial_batchnorm_forward: x (N, C, H, W), gamma, beta (C,) ->
    out (N, C, H, W), cache.

    One mean and one variance per channel, over the N * H * W values of that channel (not per
    position, not over H * W * C): the flat batchnorm_forward applied to x seen as
    (N * H * W, C). Same bn_param as batchnorm_forward, running statistics of shape (C,).
    torch.nn.BatchNorm2d's momentum is our 1 - momentum, and its running variance is
    unbiased, with N * H * W - 1 in the denominator.

    Computed by F.batch_norm on x as it is (no copy to (N * H * W, C)): in training mode it
    writes the batch mean and the UNBIASED batch variance into two fresh buffers (torch's
    momentum 1 keeps the batch statistic alone), and the biased variance is that times
    (M - 1) / M, M = N * H * W.

    Returns:
        out: shape (N, C, H, W), in x's dtype and memory format.
        cache: (mode, x (N, C, H, W), gamma (C,), mu (C,), inv_std (C,)), with
            inv_std = 1 / sqrt(var + eps); mu and var are the batch statistics in training
            mode, the running ones in test mode.
    """
    _require_tensor("x", x, "(N, C, H, W)", 4)
    n, c, h, w = x.shape
    for name, value in (("gamma", gamma), ("beta", beta)):
        _require_tensor(name, value, f"({c},)", 1)
        if value.shape[0] != c:
            raise ValueError(
                f"{name} must have shape ({c},), one value per channel of x {tuple(x.shape)}, "
                f"got shape {tuple(value.shape)}."
            )
    mode, eps, momentum = _settings(bn_param)
    running_mean = _running(bn_param, "running_mean", x, c)
    running_var = _running(bn_param, "running_var", x, c)
    gamma, beta = gamma.to(x.dtype), beta.to(x.dtype)
    values = n * h * w  # M, the values behind each channel's statistics
    if mode == "train":
        if values < 2:
            raise ValueError(
                f"training mode needs at least 2 values per channel, got N * H * W = "
                f"{values} for x {tuple(x.shape)}: the variance would be 0."
            )
        mu = torch.zeros(c, dtype=x.dtype, device=x.device)
        unbiased_var = torch.zeros(c, dtype=x.dtype, device=x.device)
        out = F.batch_norm(x, mu, unbiased_var, gamma, beta, True, 1.0, eps)  # (N, C, H, W)
        var = unbiased_var * ((values - 1) / values)  # (C,), biased
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
        out = F.batch_norm(x, mu, var, gamma, beta, False, 0.0, eps)  # (N, C, H, W)
    inv_std = torch.rsqrt(var + eps)  # (C,)
    return out, (mode, x, gamma, mu, inv_std)


def spatial_batchnorm_backward(dout: torch.Tensor, cache):
    """Twin of notebook 04's spatial_batchnorm_backward: dout (N, C, H, W) ->
    (dx (N, C, H, W), dgamma (C,), dbeta (C,)), with the cache of training-mode
    spatial_batchnorm_forward.

    The closed form of batchnorm_backward_alt, per channel over its M = N * H * W values:
        dx = gamma / (M sqrt(var + eps)) * (M dout - sum(dout) - x_hat * sum(dout * x_hat))
        dgamma = sum(dout * x_hat),  dbeta = sum(dout)
    computed by the kernel behind F.batch_norm's own autograd backward, on x as it is.
    """
    mode, x, gamma, mu, inv_std = cache
    if mode != "train":
        raise ValueError(
            "spatial_batchnorm_backward is defined for training mode only; this cache comes "
            'from a forward pass with bn_param["mode"] = "test".'
        )
    _require_tensor("dout", dout, "(N, C, H, W)", 4)
    if dout.shape != x.shape:
        raise ValueError(
            f"dout must have the shape of x, {tuple(x.shape)}, got {tuple(dout.shape)}."
        )
    # eps only matters in test mode; training mode reads mu and inv_std as they are.
    dx, dgamma, dbeta = torch.ops.aten.native_batch_norm_backward(
        dout.to(x.dtype), x, gamma, None, None, mu, inv_std, True, 0.0, [True, True, True]
    )
    return dx, dgamma, dbeta
