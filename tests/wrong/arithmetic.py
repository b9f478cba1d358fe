"""Deliberately wrong implementations of notebook 01's functions, one per common mistake.

Each must FAIL its check, and the check's hint must name the mistake
(tests/unit/test_checks_arithmetic.py).
"""

import math

import numpy as np


def conv_output_size_floors(n, f, stride=1, pad=0):
    return (n - f + 2 * pad) // stride + 1


def conv_output_size_no_plus_one(n, f, stride=1, pad=0):
    if (n - f + 2 * pad) % stride:
        raise ValueError("does not fit")
    return (n - f + 2 * pad) // stride


def conv_output_size_one_sided_pad(n, f, stride=1, pad=0):
    if (n - f + pad) % stride or n - f + pad < 0:
        raise ValueError("does not fit")
    return (n - f + pad) // stride + 1


def conv_output_size_asserts(n, f, stride=1, pad=0):
    assert (n - f + 2 * pad) % stride == 0 and n - f + 2 * pad >= 0
    return (n - f + 2 * pad) // stride + 1


def conv_output_size_returns_float(n, f, stride=1, pad=0):
    size = (n - f + 2 * pad) / stride + 1
    if size != int(size) or n - f + 2 * pad < 0:
        raise ValueError(f"{size} is not an integer")
    return size


def padding_for_same_ceil(mode, f):
    if mode not in ("valid", "same", "full"):
        raise ValueError(mode)
    if mode == "valid":
        return 0
    if mode == "full":
        return f - 1
    if f % 2 == 0:
        raise ValueError("even")
    return math.ceil(f / 2)


def padding_for_full_twice(mode, f):
    if mode not in ("valid", "same", "full"):
        raise ValueError(mode)
    if mode == "valid":
        return 0
    if mode == "full":
        return 2 * (f - 1)
    if f % 2 == 0:
        raise ValueError("even")
    return f // 2


def padding_for_even_same_allowed(mode, f):
    if mode not in ("valid", "same", "full"):
        raise ValueError(mode)
    return {"valid": 0, "same": f // 2, "full": f - 1}[mode]


def conv_param_count_no_bias(c_in, c_out, f, bias=True):
    return c_out * c_in * f * f


def conv_param_count_no_channels(c_in, c_out, f, bias=True):
    return c_out * (f * f + int(bias))


def receptive_field_ignores_strides(layers):
    return 1 + sum(k - 1 for k, _ in layers)


def receptive_field_own_stride(layers):
    field, jump = 1, 1
    for k, s in layers:
        jump *= s
        field += (k - 1) * jump
    return field


def cross_correlate2d_flipped_kernel(x, k):
    return convolve2d_right(x, k)


def convolve2d_not_flipped(x, k):
    return cross_correlate2d_right(x, k)


def cross_correlate2d_returns_list(x, k):
    return cross_correlate2d_right(x, k).tolist()


def cross_correlate2d_full_mode(x, k):
    kh, kw = k.shape
    padded = np.pad(x, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    return cross_correlate2d_right(padded, k)


def cross_correlate2d_in_place(x, k):
    out = cross_correlate2d_right(x, k)
    x[...] = 0
    return out


# Right implementations the wrong ones build on (kept here so this file stands alone).
def cross_correlate2d_right(x, k):
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i : i + kh, j : j + kw] * k)
    return out


def convolve2d_right(x, k):
    return cross_correlate2d_right(x, k[::-1, ::-1])


def nhwc_to_nchw_by_reshape(x):
    n, h, w, c = x.shape
    return x.reshape(n, c, h, w)
