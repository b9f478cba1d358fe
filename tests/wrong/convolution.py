"""Deliberately wrong notebook 02 convolutions, one per common mistake, named for it.

Each is a plain NumPy implementation that is right except for its one mistake, so a check
must fail it with the hint that names that mistake. The right versions they start from are
the private helpers below (collected in ``CORRECT``); they are independent of the notebook's
solutions, and the checks must pass them too.

The last group breaks the rules instead of the math: it lets PyTorch or SciPy do the work,
through a helper function.
"""

import types

import numpy as np

# --- the right versions, with a switch per mistake ----------------------------------------------


def _conv_forward(x, w, b, conv_param, flip=False, bias=True, padding="both", stride_windows=True):
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, c, h, width = x.shape
    f, _, hh, ww = w.shape
    h_out = 1 + (h + 2 * pad - hh) // stride
    w_out = 1 + (width + 2 * pad - ww) // stride
    sides = {"both": (pad, pad), "after": (0, 2 * pad), "before": (2 * pad, 0)}[padding]
    x_pad = np.pad(x, ((0, 0), (0, 0), sides, sides))
    kernel = w[:, :, ::-1, ::-1] if flip else w
    step = stride if stride_windows else 1
    out = np.zeros((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = x_pad[:, :, i * step : i * step + hh, j * step : j * step + ww]
            out[:, :, i, j] = np.tensordot(window, kernel, axes=([1, 2, 3], [1, 2, 3]))
    if bias:
        out += b[None, :, None, None]
    return out, (x, w, b, conv_param)


def _conv_backward(dout, cache, dw_position=None, bias_gradient=True):
    """dw_position "last" or "first": dw is one output position's contribution."""
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
                if dw_position == "last" or (dw_position == "first" and n == i == j == 0):
                    dw = upstream * window[None]  # overwritten at (each, or the first) position
                elif dw_position is None:
                    dw += upstream * window[None]
    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    db = dout.sum(axis=(0, 2, 3)) if bias_gradient else np.zeros_like(b)
    return dx, dw, db


# The right versions, for the tests that make sure a check passes a correct implementation.
CORRECT = types.SimpleNamespace(
    conv_forward_naive=_conv_forward,
    conv_backward_naive=_conv_backward,
)


# --- convolution ---------------------------------------------------------------------------------


def conv_forward_flipped_kernel(x, w, b, conv_param):
    return _conv_forward(x, w, b, conv_param, flip=True)


def conv_forward_no_bias(x, w, b, conv_param):
    return _conv_forward(x, w, b, conv_param, bias=False)


def conv_forward_one_sided_padding(x, w, b, conv_param):
    return _conv_forward(x, w, b, conv_param, padding="after")


def conv_forward_one_sided_padding_before(x, w, b, conv_param):
    return _conv_forward(x, w, b, conv_param, padding="before")


def conv_forward_stride_ignored(x, w, b, conv_param):
    return _conv_forward(x, w, b, {**conv_param, "stride": 1})


def conv_forward_window_not_strided(x, w, b, conv_param):
    """The output size counts the stride, the windows do not."""
    return _conv_forward(x, w, b, conv_param, stride_windows=False)


def conv_forward_channels_last(x, w, b, conv_param):
    out, cache = _conv_forward(x, w, b, conv_param)
    return out.transpose(0, 2, 3, 1), cache  # (N, H_out, W_out, F): NHWC


def conv_backward_dw_one_position(dout, cache):
    return _conv_backward(dout, cache, dw_position="last")


def conv_backward_dw_first_position_only(dout, cache):
    return _conv_backward(dout, cache, dw_position="first")


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


# --- breaking the rules: another library does the work -------------------------------------------


def _torch_conv(x, w, b, stride, pad):
    import torch
    import torch.nn.functional as F

    out = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, pad)
    return out.numpy()


def conv_forward_calls_torch_through_helper(x, w, b, conv_param):
    out = _torch_conv(x, w, b, conv_param["stride"], conv_param["pad"])
    return out, (x, w, b, conv_param)


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
