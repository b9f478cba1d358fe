"""Deliberately wrong notebook 04 normalisations and initialisations, one per mistake, named for it.

Each is a complete NumPy implementation that is right except for its one mistake, so a check
must fail it, with the hint whose id is ``<exercise>/<mistake>``: the function's name minus the
exercise's, e.g. ``layernorm_forward_over_batch_axis`` <-> ``layernorm_forward/over_batch_axis``
(``spatial_groupnorm_forward_interleaved_groups`` <-> ``spatial_groupnorm_forward/interleaved_groups``,
``kaiming_normal_fan_out`` <-> ``kaiming_normal/fan_out``). ``MISTAKES`` lists them by exercise.

The right versions they start from are the private helpers below (collected in ``CORRECT``);
they are independent of the notebook's solutions and of the twins (dict caches, the staged
backward for group norm), and the checks must pass them too. A backward mistake is paired
with the right forward: a backward check calls ``check(forward, backward)``.
"""

from __future__ import annotations

import types

import numpy as np

RELU_GAIN = np.sqrt(2.0)  # the contract's default gain
# --- the right versions, with a switch per mistake ----------------------------------------------


def _layernorm_forward(x, gamma, beta, ln_param, axis=1, ddof=0, affine_first=False):
    """Layer norm of x (N, D): statistics of each row over its D features (axis=1)."""
    eps = ln_param.get("eps", 1e-5)
    if affine_first:
        x = gamma * x + beta
    mu = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, ddof=ddof, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    out = x_hat if affine_first else gamma * x_hat + beta
    return out, {"x": x, "gamma": gamma, "eps": eps}


def _layernorm_backward(dout, cache, mean_term=True, var_term=True, axis=1):
    """Closed form over the features of each example (axis=1), recomputed from x."""
    x, gamma, eps = cache["x"], cache["gamma"], cache["eps"]
    d = x.shape[axis]
    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)  # (N, 1)
    x_hat = (x - x.mean(axis=1, keepdims=True)) / std
    g = dout * gamma  # (N, D)
    dx = g
    if mean_term:
        dx = dx - g.sum(axis=axis, keepdims=True) / d
    if var_term:
        dx = dx - x_hat * (g * x_hat).sum(axis=axis, keepdims=True) / d
    return dx / std, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


def _group_view(x, G, split="consecutive"):
    """x (N, C, H, W) as (N, G, values of a group): the values that share one statistic."""
    n, c, h, w = x.shape
    if split == "consecutive":  # right: channels g*C/G .. (g+1)*C/G - 1 form group g
        return x.reshape(n, G, -1)  # (N, G, C/G*H*W)
    if split == "interleaved":  # channel c in group c % G
        return x.reshape(n, c // G, G, h * w).transpose(0, 2, 1, 3).reshape(n, G, -1)
    if split == "positions":  # (N, H, W, C) cut into G pieces: groups of rows, all channels
        return x.transpose(0, 2, 3, 1).reshape(n, G, -1)
    raise AssertionError(split)


def _from_group_view(rows, shape, split="consecutive"):
    n, c, h, w = shape
    G = rows.shape[1]
    if split == "consecutive":
        return rows.reshape(shape)
    if split == "interleaved":
        return rows.reshape(n, G, c // G, h * w).transpose(0, 2, 1, 3).reshape(shape)
    if split == "positions":
        return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    raise AssertionError(split)


def _spatial_groupnorm_forward(
    x, gamma, beta, G, gn_param, split="consecutive", ddof=0, affine_first=False
):
    eps = gn_param.get("eps", 1e-5)
    if affine_first:
        x = gamma * x + beta
    rows = _group_view(x, G, split)  # (N, G, M)
    mu = rows.mean(axis=2, keepdims=True)
    var = rows.var(axis=2, ddof=ddof, keepdims=True)
    x_hat = _from_group_view((rows - mu) / np.sqrt(var + eps), x.shape, split)
    out = x_hat if affine_first else gamma * x_hat + beta
    return out, {"x": x, "gamma": gamma, "G": G, "eps": eps}


def _spatial_groupnorm_backward(dout, cache, mean_term=True, dgamma_flat=False):
    """Staged backward within each example and group, recomputed from x."""
    x, gamma, G, eps = cache["x"], cache["gamma"], cache["G"], cache["eps"]
    n, c, h, w = x.shape
    rows = x.reshape(n, G, -1)  # (N, G, M)
    m = rows.shape[2]
    mu = rows.mean(axis=2, keepdims=True)
    var = rows.var(axis=2, keepdims=True)
    x_hat = ((rows - mu) / np.sqrt(var + eps)).reshape(x.shape)
    g = (dout * gamma).reshape(n, G, m)
    dvar = np.sum(g * (rows - mu), axis=2, keepdims=True) * -0.5 * (var + eps) ** -1.5
    dmu = -np.sum(g, axis=2, keepdims=True) / np.sqrt(var + eps)  # the other term is 0
    dx = g / np.sqrt(var + eps) + dvar * 2 * (rows - mu) / m
    if mean_term:
        dx = dx + dmu / m
    dgamma = np.sum(dout * x_hat, axis=(0, 2, 3), keepdims=True)  # (1, C, 1, 1)
    dbeta = np.sum(dout, axis=(0, 2, 3), keepdims=True)
    if dgamma_flat:
        dgamma, dbeta = dgamma.reshape(c), dbeta.reshape(c)
    return dx.reshape(x.shape), dgamma, dbeta


def _fan_in(shape, mode="fan_in", conv_channels_only=False):
    if mode == "torch":  # torch.nn.init's rule: every dimension after the first, any rank
        return int(np.prod(shape[1:]))
    if len(shape) == 2:
        d, m = shape
        return m if mode == "fan_out" else d
    if len(shape) == 4:
        f, c, hh, ww = shape
        if mode == "fan_out":
            return f * hh * ww
        return c if conv_channels_only else c * hh * ww
    raise ValueError(f"kaiming_normal takes (D, M) or (F, C, HH, WW), got {shape!r}.")


def _kaiming_normal(
    shape,
    rng,
    gain=RELU_GAIN,
    mode="fan_in",
    use_gain=True,
    variance_as_std=False,
    conv_channels_only=False,
    draw="normal",
):
    fan = _fan_in(shape, mode, conv_channels_only)
    variance = (gain if use_gain else 1.0) ** 2 / fan
    std = variance if variance_as_std else np.sqrt(variance)
    if draw == "normal":
        return rng.normal(0.0, std, size=shape)
    if draw == "global":  # NumPy's global generator instead of rng
        return np.random.standard_normal(shape) * std
    if draw == "uniform":  # the right standard deviation, the wrong law
        limit = std * np.sqrt(3.0)
        return rng.uniform(-limit, limit, size=shape)
    raise AssertionError(draw)


CORRECT = types.SimpleNamespace(
    layernorm_forward=_layernorm_forward,
    layernorm_backward=_layernorm_backward,
    spatial_groupnorm_forward=_spatial_groupnorm_forward,
    spatial_groupnorm_backward=_spatial_groupnorm_backward,
    kaiming_normal=_kaiming_normal,
)


# --- layernorm_forward ----------------------------------------------------------------------------


def layernorm_forward_over_batch_axis(x, gamma, beta, ln_param):
    """Statistics over the batch (axis 0), per feature: that is batch normalisation."""
    return _layernorm_forward(x, gamma, beta, ln_param, axis=0)


def layernorm_forward_unbiased_var(x, gamma, beta, ln_param):
    """Variance divided by D - 1 instead of D."""
    return _layernorm_forward(x, gamma, beta, ln_param, ddof=1)


def layernorm_forward_affine_before_normalising(x, gamma, beta, ln_param):
    """out = normalise(gamma * x + beta) instead of gamma * normalise(x) + beta."""
    return _layernorm_forward(x, gamma, beta, ln_param, affine_first=True)


# --- layernorm_backward (with the right forward) --------------------------------------------------


def layernorm_backward_no_mean_terms(dout, cache):
    """The path through mu left out: no -sum(dx_hat) / D."""
    return _layernorm_backward(dout, cache, mean_term=False)


def layernorm_backward_direct_path_only(dout, cache):
    """Only dx_hat / std: neither the path through mu nor the one through var."""
    return _layernorm_backward(dout, cache, mean_term=False, var_term=False)


def layernorm_backward_sums_over_batch_axis(dout, cache):
    """Batch norm's closed form copied unchanged: its sums run over the batch (axis 0)."""
    return _layernorm_backward(dout, cache, axis=0)


# --- spatial_groupnorm_forward --------------------------------------------------------------------


def spatial_groupnorm_forward_interleaved_groups(x, gamma, beta, G, gn_param):
    """Channels split along the wrong axis, x.reshape(N, C // G, G, H, W): channel c lands in
    group c % G instead of c // (C / G)."""
    return _spatial_groupnorm_forward(x, gamma, beta, G, gn_param, split="interleaved")


def spatial_groupnorm_forward_groups_of_positions(x, gamma, beta, G, gn_param):
    """The wrong axis split: x moved to (N, H, W, C) before reshape(N, G, -1), so a group is a
    band of rows of the map with all channels."""
    return _spatial_groupnorm_forward(x, gamma, beta, G, gn_param, split="positions")


def spatial_groupnorm_forward_ignores_groups(x, gamma, beta, G, gn_param):
    """One statistic per example over all of (C, H, W), whatever G is (G = 1: layer norm)."""
    return _spatial_groupnorm_forward(x, gamma, beta, 1, gn_param)


def spatial_groupnorm_forward_unbiased_var(x, gamma, beta, G, gn_param):
    """Variance divided by C/G * H * W - 1."""
    return _spatial_groupnorm_forward(x, gamma, beta, G, gn_param, ddof=1)


def spatial_groupnorm_forward_affine_before_normalising(x, gamma, beta, G, gn_param):
    """out = normalise(gamma * x + beta) instead of gamma * normalise(x) + beta."""
    return _spatial_groupnorm_forward(x, gamma, beta, G, gn_param, affine_first=True)


# --- spatial_groupnorm_backward (with the right forward) ------------------------------------------


def spatial_groupnorm_backward_no_mean_terms(dout, cache):
    """The path through each group's mean left out."""
    return _spatial_groupnorm_backward(dout, cache, mean_term=False)


def spatial_groupnorm_backward_dgamma_shape_c(dout, cache):
    """Right values, but dgamma and dbeta of shape (C,) instead of gamma's (1, C, 1, 1): a
    near miss (values right after a reshape)."""
    return _spatial_groupnorm_backward(dout, cache, dgamma_flat=True)


# --- kaiming_normal -------------------------------------------------------------------------------


def kaiming_normal_fan_out(shape, rng, gain=RELU_GAIN):
    """fan_out (M for (D, M); F * HH * WW for (F, C, HH, WW)) in place of fan_in."""
    return _kaiming_normal(shape, rng, gain, mode="fan_out")


def kaiming_normal_no_gain(shape, rng, gain=RELU_GAIN):
    """std 1 / sqrt(fan_in): the gain left out (LeCun / Xavier's scale for ReLU networks)."""
    return _kaiming_normal(shape, rng, gain, use_gain=False)


def kaiming_normal_ignores_gain(shape, rng, gain=RELU_GAIN):
    """std sqrt(2 / fan_in) whatever gain is: the gain argument accepted but never used."""
    return _kaiming_normal(shape, rng, RELU_GAIN)


def kaiming_normal_variance_as_std(shape, rng, gain=RELU_GAIN):
    """rng.normal(0, gain**2 / fan_in): the variance passed where the standard deviation goes."""
    return _kaiming_normal(shape, rng, gain, variance_as_std=True)


def kaiming_normal_conv_fan_in_channels(shape, rng, gain=RELU_GAIN):
    """A convolution's fan_in taken as C instead of C * HH * WW (affine weights are right)."""
    return _kaiming_normal(shape, rng, gain, conv_channels_only=True)


def kaiming_normal_torch_layout(shape, rng, gain=RELU_GAIN):
    """torch.nn.init's fan-in, prod(shape[1:]) for any rank: right for a convolution, but an
    affine weight (D, M) gets M (torch's nn.Linear stores (out, in)), and no shape is refused."""
    return _kaiming_normal(shape, rng, gain, mode="torch")


def kaiming_normal_no_value_error(shape, rng, gain=RELU_GAIN):
    """Right for (D, M) and (F, C, HH, WW), but a shape of another rank gets a guessed fan_in
    (prod(shape[1:]), 1 for a vector) instead of a ValueError."""
    if len(shape) in (2, 4):
        return _kaiming_normal(shape, rng, gain)
    return _kaiming_normal(shape, rng, gain, mode="torch")


def kaiming_normal_global_rng(shape, rng, gain=RELU_GAIN):
    """Draws from np.random's global generator: the same rng state does not give the same array."""
    return _kaiming_normal(shape, rng, gain, draw="global")


def kaiming_normal_uniform(shape, rng, gain=RELU_GAIN):
    """A uniform law with the right mean and standard deviation instead of a normal one."""
    return _kaiming_normal(shape, rng, gain, draw="uniform")


MISTAKES = {
    "layernorm_forward": [
        layernorm_forward_over_batch_axis,
        layernorm_forward_unbiased_var,
        layernorm_forward_affine_before_normalising,
    ],
    "layernorm_backward": [
        layernorm_backward_no_mean_terms,
        layernorm_backward_direct_path_only,
        layernorm_backward_sums_over_batch_axis,
    ],
    "spatial_groupnorm_forward": [
        spatial_groupnorm_forward_interleaved_groups,
        spatial_groupnorm_forward_groups_of_positions,
        spatial_groupnorm_forward_ignores_groups,
        spatial_groupnorm_forward_unbiased_var,
        spatial_groupnorm_forward_affine_before_normalising,
    ],
    "spatial_groupnorm_backward": [
        spatial_groupnorm_backward_no_mean_terms,
        spatial_groupnorm_backward_dgamma_shape_c,
    ],
    "kaiming_normal": [
        kaiming_normal_fan_out,
        kaiming_normal_no_gain,
        kaiming_normal_ignores_gain,
        kaiming_normal_variance_as_std,
        kaiming_normal_conv_fan_in_channels,
        kaiming_normal_torch_layout,
        kaiming_normal_no_value_error,
        kaiming_normal_global_rng,
        kaiming_normal_uniform,
    ],
}


def mistake_id(func) -> str:
    """The hint id of a wrong implementation: layernorm_forward_unbiased_var ->
    "layernorm_forward/unbiased_var"."""
    for exercise, funcs in MISTAKES.items():
        if func in funcs:
            return f"{exercise}/{func.__name__.removeprefix(exercise + '_')}"
    raise KeyError(func.__name__)
