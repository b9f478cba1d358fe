"""Deliberately wrong notebook 02 pooling layers, one per common mistake, named for it.

Each is a plain NumPy implementation that is right except for its one mistake, so a check
must fail it with the hint that names that mistake. The right versions they start from are
the private helpers below (collected in ``CORRECT``); they are independent of the notebook's
solutions, and the checks must pass them too.
"""

import types

import numpy as np

# --- the right versions, with a switch per mistake ----------------------------------------------


def _pool_windows(x, pool_param):
    hh, ww, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    for i in range(1 + (x.shape[2] - hh) // stride):
        for j in range(1 + (x.shape[3] - ww) // stride):
            yield i, j, slice(i * stride, i * stride + hh), slice(j * stride, j * stride + ww)


def _pool_shape(x, pool_param):
    hh, ww, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    return (
        x.shape[0],
        x.shape[1],
        1 + (x.shape[2] - hh) // stride,
        1 + (x.shape[3] - ww) // stride,
    )


def _max_pool_forward(x, pool_param):
    out = np.zeros(_pool_shape(x, pool_param))
    for i, j, rows, cols in _pool_windows(x, pool_param):
        out[:, :, i, j] = x[:, :, rows, cols].max(axis=(2, 3))
    return out, (x, pool_param)


def _max_pool_backward(dout, cache, route="first"):
    x, pool_param = cache[:2]  # the reference forward keeps more
    dx = np.zeros_like(x)
    for i, j, rows, cols in _pool_windows(x, pool_param):
        window = x[:, :, rows, cols]  # (N, C, HH, WW)
        if route == "first":
            flat = window.reshape(*window.shape[:2], -1)
            where = np.zeros_like(flat, dtype=bool)
            np.put_along_axis(where, flat.argmax(axis=2)[..., None], True, axis=2)
            where = where.reshape(window.shape)
        elif route == "ties":
            where = window == window.max(axis=(2, 3), keepdims=True)
        else:  # "all"
            where = np.ones_like(window, dtype=bool)
        dx[:, :, rows, cols] += where * dout[:, :, i, j][:, :, None, None]
    return dx


def _avg_pool_forward(x, pool_param, divide=True):
    out = np.zeros(_pool_shape(x, pool_param))
    for i, j, rows, cols in _pool_windows(x, pool_param):
        total = x[:, :, rows, cols].sum(axis=(2, 3))
        out[:, :, i, j] = (
            total / (rows.stop - rows.start) / (cols.stop - cols.start) if divide else total
        )
    return out, (x, pool_param)


def _avg_pool_backward(dout, cache, divide=True):
    x, pool_param = cache
    size = pool_param["pool_height"] * pool_param["pool_width"] if divide else 1
    dx = np.zeros_like(x)
    for i, j, rows, cols in _pool_windows(x, pool_param):
        dx[:, :, rows, cols] += dout[:, :, i, j][:, :, None, None] / size
    return dx


# The right versions, for the tests that make sure a check passes a correct implementation.
CORRECT = types.SimpleNamespace(
    max_pool_forward_naive=_max_pool_forward,
    max_pool_backward_naive=_max_pool_backward,
    avg_pool_forward=_avg_pool_forward,
    avg_pool_backward=_avg_pool_backward,
)


# --- max pooling ---------------------------------------------------------------------------------


def max_pool_forward_stride_ignored(x, pool_param):
    return _max_pool_forward(x, {**pool_param, "stride": 1})


def max_pool_forward_channels_last(x, pool_param):
    out, cache = _max_pool_forward(x, pool_param)
    return out.transpose(0, 2, 3, 1), cache  # NHWC


def max_pool_backward_all_ties(dout, cache):
    return _max_pool_backward(dout, cache, route="ties")


def max_pool_backward_all_elements(dout, cache):
    return _max_pool_backward(dout, cache, route="all")


# --- average pooling -----------------------------------------------------------------------------


def avg_pool_forward_not_divided(x, pool_param):
    return _avg_pool_forward(x, pool_param, divide=False)


def avg_pool_forward_stride_ignored(x, pool_param):
    return _avg_pool_forward(x, {**pool_param, "stride": 1})


def avg_pool_forward_channels_last(x, pool_param):
    out, cache = _avg_pool_forward(x, pool_param)
    return out.transpose(0, 2, 3, 1), cache  # NHWC


def avg_pool_backward_not_divided(dout, cache):
    return _avg_pool_backward(dout, cache, divide=False)
