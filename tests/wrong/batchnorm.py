"""Deliberately wrong notebook 04 functions, one per common mistake, named for it.

Each is a plain NumPy implementation that is right except for its one mistake, so a check
must fail it with the hint that names that mistake (``batchnorm_forward_eps_outside_sqrt`` is
diagnosed as ``batchnorm_forward/eps_outside_sqrt``). The right versions they start from are
the private helpers below (collected in ``CORRECT``); they are independent of the notebook's
solutions (another cache, another backward formula), and the checks must pass them too.
"""

import types

import numpy as np

# --- the right versions, with a switch per mistake ----------------------------------------------


def _batchnorm_forward(
    x,
    gamma,
    beta,
    bn_param,
    ddof=0,
    running_ddof=0,
    swap_momentum=False,
    test_on_batch=False,
    eps_outside=False,
    store=True,
):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(d))
    running_var = bn_param.get("running_var", np.zeros(d))
    if mode == "train" or test_on_batch:
        mu, var = x.mean(axis=0), x.var(axis=0, ddof=ddof)
    else:
        mu, var = running_mean, running_var
    std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    x_hat = (x - mu) / std  # (N, D)
    out = gamma * x_hat + beta
    if mode == "train":
        keep = 1 - momentum if swap_momentum else momentum
        new_mean = keep * running_mean + (1 - keep) * mu
        new_var = keep * running_var + (1 - keep) * x.var(axis=0, ddof=running_ddof)
        if store:
            bn_param["running_mean"] = new_mean
            bn_param["running_var"] = new_var
    # A cache of another shape than the notebook's: a dict.
    return out, {"x": x, "gamma": gamma, "eps": eps}


def _batchnorm_backward(dout, cache, dvar_path=True, dmu_path=True, dgamma_with_x=False):
    """Staged backward, recomputing the statistics from x (the cache holds x, gamma, eps)."""
    x, gamma, eps = cache["x"], cache["gamma"], cache["eps"]
    n = x.shape[0]
    mu = x.mean(axis=0)
    x_mu = x - mu
    var = (x_mu**2).mean(axis=0)
    std = np.sqrt(var + eps)
    x_hat = x_mu / std
    dx_hat = dout * gamma
    dx = dx_hat / std
    dvar = np.sum(dx_hat * x_mu, axis=0) * -0.5 / std**3
    if dvar_path:
        dx = dx + dvar * 2 * x_mu / n
    if dmu_path:
        dmu = -np.sum(dx_hat, axis=0) / std + dvar * np.mean(-2 * x_mu, axis=0)
        dx = dx + dmu / n
    dgamma = np.sum(dout * (x if dgamma_with_x else x_hat), axis=0)
    return dx, dgamma, np.sum(dout, axis=0)


def _batchnorm_backward_alt(dout, cache):
    x, gamma, eps = cache["x"], cache["gamma"], cache["eps"]
    x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx = gamma / np.sqrt(x.var(axis=0) + eps) * (dout - dbeta / len(x) - x_hat * dgamma / len(x))
    return dx, dgamma, dbeta


def _to_rows(x):
    n, c, h, w = x.shape
    return np.moveaxis(x, 1, -1).reshape(-1, c)  # (N*H*W, C)


def _from_rows(rows, shape):
    n, c, h, w = shape
    return np.moveaxis(rows.reshape(n, h, w, c), -1, 1)  # (N, C, H, W)


def _spatial_batchnorm_forward(x, gamma, beta, bn_param, **mistake):
    out, cache = _batchnorm_forward(_to_rows(x), gamma, beta, bn_param, **mistake)
    return _from_rows(out, x.shape), (x.shape, cache)


def _spatial_batchnorm_backward(
    dout, cache, dgamma_over_batch_only=False, dbeta_over_batch_only=False, **mistake
):
    shape, flat_cache = cache
    dx, dgamma, dbeta = _batchnorm_backward(_to_rows(dout), flat_cache, **mistake)
    if dbeta_over_batch_only:
        dbeta = np.sum(dout, axis=0)  # (C, H, W): summed over N only
    if dgamma_over_batch_only:
        x_hat = _from_rows(
            (flat_cache["x"] - flat_cache["x"].mean(axis=0))
            / np.sqrt(flat_cache["x"].var(axis=0) + flat_cache["eps"]),
            shape,
        )
        dgamma = np.sum(dout * x_hat, axis=0)  # (C, H, W): summed over N only
    return _from_rows(dx, shape), dgamma, dbeta


def _spatial_forward_over(x, gamma, beta, bn_param, axes):
    """Spatial batch norm with its statistics over the wrong axes (training mode)."""
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    out = gamma[None, :, None, None] * (x - mu) / np.sqrt(var + eps) + beta[None, :, None, None]
    _, cache = _spatial_batchnorm_forward(x, gamma, beta, bn_param)
    return out, cache


CORRECT = types.SimpleNamespace(
    batchnorm_forward=_batchnorm_forward,
    batchnorm_backward=_batchnorm_backward,
    batchnorm_backward_alt=_batchnorm_backward_alt,
    spatial_batchnorm_forward=_spatial_batchnorm_forward,
    spatial_batchnorm_backward=_spatial_batchnorm_backward,
)


# --- batchnorm_forward ----------------------------------------------------------------------------


def batchnorm_forward_unbiased_var(x, gamma, beta, bn_param):
    return _batchnorm_forward(x, gamma, beta, bn_param, ddof=1, running_ddof=1)


def batchnorm_forward_unbiased_running_var(x, gamma, beta, bn_param):
    return _batchnorm_forward(x, gamma, beta, bn_param, running_ddof=1)


def batchnorm_forward_momentum_swapped(x, gamma, beta, bn_param):
    return _batchnorm_forward(x, gamma, beta, bn_param, swap_momentum=True)


def batchnorm_forward_test_mode_on_batch_stats(x, gamma, beta, bn_param):
    return _batchnorm_forward(x, gamma, beta, bn_param, test_on_batch=True)


def batchnorm_forward_eps_outside_sqrt(x, gamma, beta, bn_param):
    return _batchnorm_forward(x, gamma, beta, bn_param, eps_outside=True)


def batchnorm_forward_forgets_running_stats(x, gamma, beta, bn_param):
    return _batchnorm_forward(x, gamma, beta, bn_param, store=False)


def batchnorm_forward_running_stats_in_new_names(x, gamma, beta, bn_param):
    """The scaffold stores running_mean back; the student updated new_running_mean instead."""
    out, cache = _batchnorm_forward(x, gamma, beta, bn_param, store=False)
    d = x.shape[1]
    bn_param["running_mean"] = bn_param.get("running_mean", np.zeros(d))
    bn_param["running_var"] = bn_param.get("running_var", np.zeros(d))
    return out, cache


# --- batchnorm_backward ---------------------------------------------------------------------------


def batchnorm_backward_no_dvar_path(dout, cache):
    return _batchnorm_backward(dout, cache, dvar_path=False)


def batchnorm_backward_no_dmu_path(dout, cache):
    return _batchnorm_backward(dout, cache, dmu_path=False)


def batchnorm_backward_direct_path_only(dout, cache):
    return _batchnorm_backward(dout, cache, dvar_path=False, dmu_path=False)


def batchnorm_backward_dgamma_with_x(dout, cache):
    return _batchnorm_backward(dout, cache, dgamma_with_x=True)


# --- spatial_batchnorm_forward --------------------------------------------------------------------


def spatial_batchnorm_forward_stats_per_example(x, gamma, beta, bn_param):
    """Statistics over C, H, W for each example (H * W * C values)."""
    return _spatial_forward_over(x, gamma, beta, bn_param, (1, 2, 3))


def spatial_batchnorm_forward_stats_per_position(x, gamma, beta, bn_param):
    """Statistics over N only, one per (c, h, w) position."""
    return _spatial_forward_over(x, gamma, beta, bn_param, (0,))


def spatial_batchnorm_forward_stats_per_image_channel(x, gamma, beta, bn_param):
    """Statistics over H, W only (instance normalisation)."""
    return _spatial_forward_over(x, gamma, beta, bn_param, (2, 3))


def spatial_batchnorm_forward_reshape_without_transpose(x, gamma, beta, bn_param):
    n, c, h, w = x.shape
    out, cache = _batchnorm_forward(x.reshape(-1, c), gamma, beta, bn_param)
    return out.reshape(n, c, h, w), cache


def spatial_batchnorm_forward_stats_per_tensor(x, gamma, beta, bn_param):
    """One mean and one variance for the whole tensor."""
    return _spatial_forward_over(x, gamma, beta, bn_param, (0, 1, 2, 3))


def spatial_batchnorm_forward_unbiased_var(x, gamma, beta, bn_param):
    return _spatial_batchnorm_forward(x, gamma, beta, bn_param, ddof=1, running_ddof=1)


def spatial_batchnorm_forward_unbiased_running_var(x, gamma, beta, bn_param):
    return _spatial_batchnorm_forward(x, gamma, beta, bn_param, running_ddof=1)


def spatial_batchnorm_forward_momentum_swapped(x, gamma, beta, bn_param):
    return _spatial_batchnorm_forward(x, gamma, beta, bn_param, swap_momentum=True)


def spatial_batchnorm_forward_test_mode_on_batch_stats(x, gamma, beta, bn_param):
    return _spatial_batchnorm_forward(x, gamma, beta, bn_param, test_on_batch=True)


def spatial_batchnorm_forward_eps_outside_sqrt(x, gamma, beta, bn_param):
    return _spatial_batchnorm_forward(x, gamma, beta, bn_param, eps_outside=True)


def spatial_batchnorm_forward_forgets_running_stats(x, gamma, beta, bn_param):
    return _spatial_batchnorm_forward(x, gamma, beta, bn_param, store=False)


# --- spatial_batchnorm_backward -------------------------------------------------------------------


def spatial_batchnorm_backward_no_dvar_path(dout, cache):
    return _spatial_batchnorm_backward(dout, cache, dvar_path=False)


def spatial_batchnorm_backward_no_dmu_path(dout, cache):
    return _spatial_batchnorm_backward(dout, cache, dmu_path=False)


def spatial_batchnorm_backward_direct_path_only(dout, cache):
    return _spatial_batchnorm_backward(dout, cache, dvar_path=False, dmu_path=False)


def spatial_batchnorm_backward_dgamma_with_x(dout, cache):
    return _spatial_batchnorm_backward(dout, cache, dgamma_with_x=True)


def spatial_batchnorm_backward_dgamma_over_batch_only(dout, cache):
    return _spatial_batchnorm_backward(dout, cache, dgamma_over_batch_only=True)


def spatial_batchnorm_backward_dbeta_over_batch_only(dout, cache):
    return _spatial_batchnorm_backward(dout, cache, dbeta_over_batch_only=True)
