"""Deliberately wrong notebook 02 functions, one per common mistake, named for it.

Each is a plain NumPy implementation that is right except for its one mistake, so a check
must fail it with the hint that names that mistake. The right versions they start from are
the private helpers below (collected in ``CORRECT``); they are independent of the notebook's
solutions, and the checks must pass them too.

The last group breaks the rules instead of the math: it lets PyTorch, the reference twins or
SciPy do the work, directly or through a helper function.
"""

from __future__ import annotations

import importlib
import types

import numpy as np

# --- the right versions, with a switch per mistake ----------------------------------------------


def _affine_forward(x, w, b, flatten=True):
    x_in = x.reshape(x.shape[0], -1) if flatten else x  # (N, D)
    return x_in @ w + b, (x, w, b)


def _affine_backward(dout, cache, reshape_dx=True, bias_gradient=True):
    x, w, b = cache
    dx = dout @ w.T  # (N, D)
    if reshape_dx:
        dx = dx.reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout  # (D, M)
    db = dout.sum(axis=0) if bias_gradient else np.zeros_like(b)
    return dx, dw, db


def _relu_forward(x):
    return np.maximum(x, 0), x


def _relu_backward(dout, cache, gate_on_dout=False):
    x = cache
    gate = dout if gate_on_dout else x
    return dout * (gate > 0)


def _conv_forward(x, w, b, conv_param, flip=False, bias=True, padding="both", use_stride=True):
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, c, h, width = x.shape
    f, _, hh, ww = w.shape
    h_out = 1 + (h + 2 * pad - hh) // stride
    w_out = 1 + (width + 2 * pad - ww) // stride
    sides = {"both": (pad, pad), "after": (0, 2 * pad)}[padding]
    x_pad = np.pad(x, ((0, 0), (0, 0), sides, sides))
    kernel = w[:, :, ::-1, ::-1] if flip else w
    step = stride if use_stride else 1
    out = np.zeros((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = x_pad[:, :, i * step : i * step + hh, j * step : j * step + ww]
            out[:, :, i, j] = np.tensordot(window, kernel, axes=([1, 2, 3], [1, 2, 3]))
    if bias:
        out += b[None, :, None, None]
    return out, (x, w, b, conv_param)


def _conv_backward(dout, cache, dw_one_position=False, bias_gradient=True):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    hh, ww = w.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for n in range(x.shape[0]):
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                rows = slice(i * stride, i * stride + hh)
                cols = slice(j * stride, j * stride + ww)
                window = x_pad[n, :, rows, cols]  # (C, HH, WW)
                upstream = dout[n, :, i, j][:, None, None, None]  # (F, 1, 1, 1)
                dx_pad[n, :, rows, cols] += (upstream * w).sum(axis=0)
                if dw_one_position:
                    dw = upstream * window[None]  # overwritten at every position
                else:
                    dw += upstream * window[None]
    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    db = dout.sum(axis=(0, 2, 3)) if bias_gradient else np.zeros_like(b)
    return dx, dw, db


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
    x, pool_param = cache
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


def _dropout_forward(x, dropout_param, scale=True, p_is_keep=False, at_test=False, seeded=True):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if seeded and "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    keep = p if p_is_keep else 1 - p
    if mode == "test" and not at_test:
        return x.copy(), (dropout_param, None)
    mask = (np.random.rand(*x.shape) < keep) / (keep if scale else 1.0)
    return x * mask, (dropout_param, mask)


def _dropout_backward(dout, cache, scale=True):
    dropout_param, mask = cache
    if dropout_param["mode"] == "test":
        return dout.copy()
    if not scale:
        return dout * (mask != 0)
    return dout * mask


def _softmax_loss(scores, y, shift=True, average=True, log_of_probs=False):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True) if shift else scores
    exps = np.exp(shifted)
    probs = exps / exps.sum(axis=1, keepdims=True)
    log_probs = np.log(probs) if log_of_probs else shifted - np.log(exps.sum(axis=1, keepdims=True))
    divisor = n if average else 1
    loss = -log_probs[np.arange(n), y].sum() / divisor
    dscores = probs.copy()
    dscores[np.arange(n), y] -= 1
    return loss, dscores / divisor


def _svm_loss(scores, y, count_correct_class=False):
    n = scores.shape[0]
    correct = scores[np.arange(n), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    if not count_correct_class:
        margins[np.arange(n), y] = 0
    loss = margins.sum() / n
    positive = (margins > 0).astype(np.float64)
    positive[np.arange(n), y] = 0
    positive[np.arange(n), y] = -positive.sum(axis=1)
    return loss, positive / n


def _bce_loss(logits, y, lecture_sign=False):
    s = 1 / (1 + np.exp(-logits))
    if lecture_sign:
        loss = np.mean(-y * np.log(s) + (1 - y) * np.log(1 - s))
    else:
        loss = np.mean(np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits))))
    return loss, (s - y) / logits.size


def _eval_numerical_gradient_array(f, x, df, h=1e-5, centred=True, restore=True, copy=False):
    grad = np.zeros_like(x)
    target = x.copy() if copy else x
    base = None if centred else f(target).copy()
    for index in np.ndindex(*x.shape):
        old = target[index]
        target[index] = old + h
        positive = f(target).copy()
        if centred:
            target[index] = old - h
            negative = f(target).copy()
            grad[index] = np.sum((positive - negative) * df) / (2 * h)
        else:
            grad[index] = np.sum((positive - base) * df) / h
        if restore:
            target[index] = old
    return grad


# The right versions, for the tests that make sure a check passes a correct implementation.
CORRECT = types.SimpleNamespace(
    affine_forward=_affine_forward,
    affine_backward=_affine_backward,
    relu_forward=_relu_forward,
    relu_backward=_relu_backward,
    conv_forward_naive=_conv_forward,
    conv_backward_naive=_conv_backward,
    max_pool_forward_naive=_max_pool_forward,
    max_pool_backward_naive=_max_pool_backward,
    avg_pool_forward=_avg_pool_forward,
    avg_pool_backward=_avg_pool_backward,
    dropout_forward=_dropout_forward,
    dropout_backward=_dropout_backward,
    softmax_loss=_softmax_loss,
    svm_loss=_svm_loss,
    bce_loss=_bce_loss,
    eval_numerical_gradient_array=_eval_numerical_gradient_array,
)


# --- affine and ReLU -----------------------------------------------------------------------------


def affine_forward_no_flatten(x, w, b):
    return _affine_forward(x, w, b, flatten=False)


def affine_backward_dx_not_reshaped(dout, cache):
    return _affine_backward(dout, cache, reshape_dx=False)


def affine_backward_no_bias_gradient(dout, cache):
    return _affine_backward(dout, cache, bias_gradient=False)


def relu_backward_on_dout(dout, cache):
    return _relu_backward(dout, cache, gate_on_dout=True)


# --- convolution ---------------------------------------------------------------------------------


def conv_forward_flipped_kernel(x, w, b, conv_param):
    return _conv_forward(x, w, b, conv_param, flip=True)


def conv_forward_no_bias(x, w, b, conv_param):
    return _conv_forward(x, w, b, conv_param, bias=False)


def conv_forward_one_sided_padding(x, w, b, conv_param):
    return _conv_forward(x, w, b, conv_param, padding="after")


def conv_forward_stride_ignored(x, w, b, conv_param):
    return _conv_forward(x, w, b, conv_param, use_stride=False)


def conv_forward_channels_last(x, w, b, conv_param):
    out, cache = _conv_forward(x, w, b, conv_param)
    return out.transpose(0, 2, 3, 1), cache  # (N, H_out, W_out, F): NHWC


def conv_backward_dw_one_position(dout, cache):
    return _conv_backward(dout, cache, dw_one_position=True)


def conv_backward_no_bias_gradient(dout, cache):
    return _conv_backward(dout, cache, bias_gradient=False)


def conv_forward_fast_loops_over_pixels(x, w, b, conv_param):
    """Right values, but a Python loop over every output pixel and filter."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    f, _, hh, ww = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h_out = 1 + (x_pad.shape[2] - hh) // stride
    w_out = 1 + (x_pad.shape[3] - ww) // stride
    out = np.zeros((x.shape[0], f, h_out, w_out))
    for n in range(x.shape[0]):
        for k in range(f):
            for i in range(h_out):
                for j in range(w_out):
                    window = x_pad[n, :, i * stride : i * stride + hh, j * stride : j * stride + ww]
                    out[n, k, i, j] = np.sum(window * w[k]) + b[k]
    return out, (x, w, b, conv_param)


# --- pooling -------------------------------------------------------------------------------------


def max_pool_forward_channels_last(x, pool_param):
    out, cache = _max_pool_forward(x, pool_param)
    return out.transpose(0, 2, 3, 1), cache  # NHWC


def max_pool_backward_all_ties(dout, cache):
    return _max_pool_backward(dout, cache, route="ties")


def max_pool_backward_all_elements(dout, cache):
    return _max_pool_backward(dout, cache, route="all")


def avg_pool_forward_not_divided(x, pool_param):
    return _avg_pool_forward(x, pool_param, divide=False)


def avg_pool_backward_not_divided(dout, cache):
    return _avg_pool_backward(dout, cache, divide=False)


# --- dropout -------------------------------------------------------------------------------------


def dropout_forward_no_scaling(x, dropout_param):
    return _dropout_forward(x, dropout_param, scale=False)


def dropout_forward_p_as_keep(x, dropout_param):
    return _dropout_forward(x, dropout_param, p_is_keep=True)


def dropout_forward_active_at_test(x, dropout_param):
    return _dropout_forward(x, dropout_param, at_test=True)


def dropout_forward_ignores_seed(x, dropout_param):
    return _dropout_forward(x, dropout_param, seeded=False)


def dropout_backward_no_scaling(dout, cache):
    return _dropout_backward(dout, cache, scale=False)


# --- losses and the numerical gradient -----------------------------------------------------------


def softmax_loss_no_max_subtraction(scores, y):
    return _softmax_loss(scores, y, shift=False)


def softmax_loss_log_of_underflowed_probability(scores, y):
    return _softmax_loss(scores, y, log_of_probs=True)


def softmax_loss_summed(scores, y):
    return _softmax_loss(scores, y, average=False)


def svm_loss_counts_correct_class(scores, y):
    return _svm_loss(scores, y, count_correct_class=True)


def bce_loss_lecture_sign(logits, y):
    return _bce_loss(logits, y, lecture_sign=True)


def eval_numerical_gradient_array_forward_differences(f, x, df, h=1e-5):
    return _eval_numerical_gradient_array(f, x, df, h, centred=False)


def eval_numerical_gradient_array_not_restored(f, x, df, h=1e-5):
    return _eval_numerical_gradient_array(f, x, df, h, restore=False)


def eval_numerical_gradient_array_on_a_copy(f, x, df, h=1e-5):
    return _eval_numerical_gradient_array(f, x, df, h, copy=True)


# --- breaking the rules: another library does the work -------------------------------------------


def _torch_conv(x, w, b, stride, pad):
    import torch
    import torch.nn.functional as F

    out = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, pad)
    return out.numpy()


def conv_forward_calls_torch_through_helper(x, w, b, conv_param):
    out = _torch_conv(x, w, b, conv_param["stride"], conv_param["pad"])
    return out, (x, w, b, conv_param)


def _relu_by_reference(x):
    import torch

    from course_utils import reference

    return reference.relu_forward(torch.from_numpy(x))[0].numpy()


def relu_forward_calls_reference_twin(x):
    return _relu_by_reference(x), x


def _correlate_with_scipy(image, kernel):
    from scipy import signal

    return signal.correlate2d(image, kernel, mode="valid")


def conv_forward_calls_scipy_through_helper(x, w, b, conv_param):
    """scipy.signal.correlate2d per (image, filter, channel); pad and stride 1 only."""
    pad = conv_param["pad"]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = []
    for image in x_pad:
        maps = [sum(_correlate_with_scipy(image[c], k[c]) for c in range(x.shape[1])) for k in w]
        out.append(np.stack(maps) + b[:, None, None])
    return np.stack(out), (x, w, b, conv_param)


def softmax_loss_imports_torch_at_run_time(scores, y):
    """Only a run-time watch sees this: the module name is built while the function runs."""
    torch = importlib.import_module("tor" + "ch")
    loss = torch.nn.functional.cross_entropy(torch.from_numpy(scores), torch.from_numpy(y))
    return _softmax_loss(scores, y)[0] * 0 + float(loss), _softmax_loss(scores, y)[1]
