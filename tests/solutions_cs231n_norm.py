"""Right layer and group normalisation written the way CS231n's assignment 2 leads students to.

The checks must pass these as they pass the notebook's solutions: they are correct, but built
differently. Layer norm transposes x and reuses batch-norm code along axis 0 (CS231n's hint:
"layer norm is batch norm on the transposed data, with gamma and beta applied after"); group
norm reshapes x to (N, G, C // G, H, W) and takes the statistics over axes (2, 3, 4); the
backward passes are the staged ones, with CS231n-style tuple caches of their own.
"""

from __future__ import annotations

import numpy as np


def layernorm_forward(x, gamma, beta, ln_param):
    """x (N, D), gamma, beta (D,) -> out (N, D), cache; by batch norm on x.T (D, N)."""
    eps = ln_param.get("eps", 1e-5)
    x_t = x.T  # (D, N): the examples are now the columns, as features are in batch norm
    mu = np.mean(x_t, axis=0)  # (N,)
    xmu = x_t - mu  # (D, N)
    var = np.mean(xmu**2, axis=0)  # (N,)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat_t = xmu * ivar  # (D, N)
    xhat = xhat_t.T  # (N, D)
    out = gamma * xhat + beta
    cache = (xhat, gamma, xmu, ivar, sqrtvar, var, eps)
    return out, cache


def layernorm_backward(dout, cache):
    """dout (N, D) -> dx (N, D), dgamma, dbeta (D,); batch norm's staged backward on the
    transpose, gamma and beta outside it."""
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    D, N = xmu.shape
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat_t = (dout * gamma).T  # (D, N)
    divar = np.sum(dxhat_t * xmu, axis=0)
    dxmu1 = dxhat_t * ivar
    dsqrtvar = -1.0 / (sqrtvar**2) * divar
    dvar = 0.5 * 1.0 / np.sqrt(var + eps) * dsqrtvar
    dsq = 1.0 / D * np.ones((D, N)) * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0)
    dx2 = 1.0 / D * np.ones((D, N)) * dmu
    dx = (dx1 + dx2).T  # (N, D)
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """x (N, C, H, W), gamma, beta (1, C, 1, 1) -> out (N, C, H, W), cache."""
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    x_group = np.reshape(x, (N, G, C // G, H, W))
    mean = np.mean(x_group, axis=(2, 3, 4), keepdims=True)  # (N, G, 1, 1, 1)
    var = np.var(x_group, axis=(2, 3, 4), keepdims=True)
    x_groupnorm = (x_group - mean) / np.sqrt(var + eps)
    x_norm = np.reshape(x_groupnorm, (N, C, H, W))
    out = x_norm * gamma + beta
    cache = (G, x, x_norm, mean, var, beta, gamma, eps)
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """dout (N, C, H, W) -> dx (N, C, H, W), dgamma, dbeta (1, C, 1, 1); staged."""
    G, x, x_norm, mean, var, beta, gamma, eps = cache
    N, C, H, W = dout.shape
    dbeta = np.sum(dout, axis=(0, 2, 3), keepdims=True)
    dgamma = np.sum(dout * x_norm, axis=(0, 2, 3), keepdims=True)

    dx_norm = dout * gamma
    dx_groupnorm = dx_norm.reshape((N, G, C // G, H, W))
    x_group = x.reshape((N, G, C // G, H, W))
    dvar = np.sum(
        dx_groupnorm * -1.0 / 2 * (x_group - mean) / (var + eps) ** (3.0 / 2),
        axis=(2, 3, 4),
        keepdims=True,
    )
    N_GROUP = C // G * H * W
    dmean1 = np.sum(dx_groupnorm * -1.0 / np.sqrt(var + eps), axis=(2, 3, 4), keepdims=True)
    dmean2_var = dvar * -2.0 / N_GROUP * np.sum(x_group - mean, axis=(2, 3, 4), keepdims=True)
    dmean = dmean1 + dmean2_var
    dx_group1 = dx_groupnorm * 1.0 / np.sqrt(var + eps)
    dx_group2_mean = dmean * 1.0 / N_GROUP
    dx_group3_var = dvar * 2.0 / N_GROUP * (x_group - mean)
    dx_group = dx_group1 + dx_group2_mean + dx_group3_var
    dx = dx_group.reshape((N, C, H, W))
    return dx, dgamma, dbeta
