"""Deliberately wrong implementations of notebook 06's deterministic augmentations, one per
common mistake.

Each must FAIL its check, and the check's hint must name the mistake
(tests/unit/test_checks_augment.py).
"""

import numpy as np


def _shifted(x, dy, dx):
    C, H, W = x.shape
    out = np.zeros_like(x)
    if abs(dy) < H and abs(dx) < W:
        out[:, max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = x[
            :, max(-dy, 0) : H - max(dy, 0), max(-dx, 0) : W - max(dx, 0)
        ]
    return out


def translate_rolls(x, dy, dx):
    return np.roll(x, (dy, dx), axis=(1, 2))


def translate_swapped(x, dy, dx):
    return _shifted(x, dx, dy)


def translate_reversed(x, dy, dx):
    return _shifted(x, -dy, -dx)


def _bilinear(x, ys, xs, outside_is_zero=True):
    C, H, W = x.shape
    y0 = np.floor(ys).astype(np.int64)
    x0 = np.floor(xs).astype(np.int64)
    wy, wx = ys - y0, xs - x0
    out = np.zeros((C,) + ys.shape)
    for oy, ox, weight in (
        (0, 0, (1 - wy) * (1 - wx)),
        (0, 1, (1 - wy) * wx),
        (1, 0, wy * (1 - wx)),
        (1, 1, wy * wx),
    ):
        rows, cols = y0 + oy, x0 + ox
        inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
        values = x[:, np.clip(rows, 0, H - 1), np.clip(cols, 0, W - 1)]
        out += (np.where(inside, weight, 0.0) if outside_is_zero else weight) * values
    return out


def bilinear_sample_swapped(x, ys, xs):
    return _bilinear(x, xs, ys)


def bilinear_sample_nearest(x, ys, xs):
    return _bilinear(x, np.round(ys), np.round(xs))


def bilinear_sample_floor(x, ys, xs):
    """Only the top-left neighbour of each point, unblended."""
    return _bilinear(x, np.floor(ys), np.floor(xs))


def bilinear_sample_clamped(x, ys, xs):
    H, W = x.shape[1:]
    return _bilinear(x, np.clip(ys, 0, H - 1), np.clip(xs, 0, W - 1))


def _rotate(x, degrees, scale, sign=1.0, centred=True, radians=False, invert_scale=False):
    C, H, W = x.shape
    cy, cx = ((H - 1) / 2, (W - 1) / 2) if centred else (0.0, 0.0)
    v, u = np.meshgrid(np.arange(H) - cy, np.arange(W) - cx, indexing="ij")
    t = sign * (degrees if radians else np.deg2rad(degrees))
    s = 1 / scale if invert_scale else scale
    xs = cx + (np.cos(t) * u - np.sin(t) * v) / s
    ys = cy + (np.sin(t) * u + np.cos(t) * v) / s
    return _bilinear(x, ys, xs)


def rotate_scale_clockwise(x, degrees, scale=1.0):
    return _rotate(x, degrees, scale, sign=-1.0)


def rotate_scale_multiplies_scale(x, degrees, scale=1.0):
    return _rotate(x, degrees, scale, invert_scale=True)


def rotate_scale_about_corner(x, degrees, scale=1.0):
    return _rotate(x, degrees, scale, centred=False)


def rotate_scale_degrees_as_radians(x, degrees, scale=1.0):
    return _rotate(x, degrees, scale, radians=True)


def adjust_intensity_about_zero(x, contrast, brightness):
    return np.clip(x * contrast + brightness, 0.0, 1.0)


def adjust_intensity_unclipped(x, contrast, brightness):
    return (x - x.mean()) * contrast + x.mean() + brightness


def adjust_intensity_channel_mean(x, contrast, brightness):
    m = x.mean(axis=(1, 2), keepdims=True)
    return np.clip((x - m) * contrast + m + brightness, 0.0, 1.0)
