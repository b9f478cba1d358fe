"""Deliberately wrong implementations of notebook 06's functions, one per common mistake.

Each must FAIL its check, and the check's hint must name the mistake
(tests/unit/test_checks_transfer.py).
"""

import random

import numpy as np
from torch import nn


def random_flip_vertical(x, rng):
    return x[:, ::-1, :].copy() if rng.random() < 0.5 else x.copy()


def random_flip_always(x, rng):
    rng.random()
    return x[:, :, ::-1].copy()


def random_flip_global_random(x, rng):
    return x[:, :, ::-1].copy() if random.random() < 0.5 else x.copy()


def random_flip_changes_values(x, rng):
    return (x[:, :, ::-1] if rng.random() < 0.5 else x) * 0.5


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


def _smoothed(noise, sigma, normalise=True):
    _, H, W = noise.shape
    r = max(1, int(np.ceil(3 * sigma)))
    t = np.arange(-r, r + 1)
    kernel = np.exp(-(t**2) / (2 * sigma**2))
    if normalise:
        kernel = kernel / kernel.sum()
    padded = np.pad(noise, ((0, 0), (r, r), (0, 0)))
    smooth = sum(k * padded[:, i : i + H, :] for i, k in enumerate(kernel))
    padded = np.pad(smooth, ((0, 0), (0, 0), (r, r)))
    return sum(k * padded[:, :, i : i + W] for i, k in enumerate(kernel))


def elastic_field_not_smoothed(shape, alpha, sigma, rng):
    return alpha * rng.uniform(-1.0, 1.0, size=(2, *shape))


def elastic_field_unnormalised_kernel(shape, alpha, sigma, rng):
    return alpha * _smoothed(rng.uniform(-1.0, 1.0, size=(2, *shape)), sigma, normalise=False)


def elastic_field_global_random(shape, alpha, sigma, rng):
    return alpha * _smoothed(np.random.uniform(-1.0, 1.0, size=(2, *shape)), sigma)


def elastic_field_alpha_ignored(shape, alpha, sigma, rng):
    return 5.0 * _smoothed(rng.uniform(-1.0, 1.0, size=(2, *shape)), sigma)


def elastic_field_one_map(shape, alpha, sigma, rng):
    return alpha * _smoothed(rng.uniform(-1.0, 1.0, size=(1, *shape)), sigma)[0]


def adjust_intensity_about_zero(x, contrast, brightness):
    return np.clip(x * contrast + brightness, 0.0, 1.0)


def adjust_intensity_unclipped(x, contrast, brightness):
    return (x - x.mean()) * contrast + x.mean() + brightness


def adjust_intensity_channel_mean(x, contrast, brightness):
    m = x.mean(axis=(1, 2), keepdims=True)
    return np.clip((x - m) * contrast + m + brightness, 0.0, 1.0)


def replace_head_no_return(model, num_classes):
    model._fc = nn.Linear(model._fc.in_features, num_classes)


def replace_head_hard_coded_features(model, num_classes):
    model._fc = nn.Linear(1280, num_classes)
    return model


def replace_head_frozen(model, num_classes):
    model._fc = nn.Linear(model._fc.in_features, num_classes)
    model._fc.requires_grad_(False)
    return model


def replace_head_appends_layer(model, num_classes):
    model._fc = nn.Sequential(model._fc, nn.Linear(model._fc.out_features, num_classes))
    return model


def _set(model, blocks, top_layers=True, head=True, freeze=True):
    if freeze:
        for p in model.parameters():
            p.requires_grad = False
    modules = [model._fc] if head else []
    modules += list(blocks)
    if blocks and top_layers:
        modules += [model._conv_head, model._bn1]
    for module in modules:
        for p in module.parameters():
            p.requires_grad = True
    return model


def set_trainable_first_blocks(model, num_blocks):
    return _set(model, model._blocks[:num_blocks])


def set_trainable_forgets_top_layers(model, num_blocks):
    return _set(model, model._blocks[len(model._blocks) - num_blocks :], top_layers=False)


def set_trainable_head_frozen(model, num_blocks):
    return _set(model, model._blocks[len(model._blocks) - num_blocks :], head=False)


def set_trainable_off_by_one(model, num_blocks):
    if not 0 <= num_blocks <= len(model._blocks):
        raise ValueError(f"num_blocks out of range: {num_blocks}")
    first = max(0, len(model._blocks) - num_blocks - 1) if num_blocks else len(model._blocks)
    return _set(model, model._blocks[first:])


def set_trainable_never_freezes(model, num_blocks):
    return _set(model, model._blocks[len(model._blocks) - num_blocks :], freeze=False)


def set_trainable_no_range_check(model, num_blocks):
    return _set(
        model, model._blocks[max(0, len(model._blocks) - num_blocks) :] if num_blocks > 0 else []
    )


def param_groups_lr_swapped(model, lr, backbone_factor=0.1):
    head_ids = {id(p) for p in model._fc.parameters()}
    head = [p for p in model._fc.parameters() if p.requires_grad]
    backbone = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    return [{"params": head, "lr": lr * backbone_factor}, {"params": backbone, "lr": lr}]


def param_groups_includes_frozen(model, lr, backbone_factor=0.1):
    head_ids = {id(p) for p in model._fc.parameters()}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return [
        {"params": list(model._fc.parameters()), "lr": lr},
        {"params": backbone, "lr": lr * backbone_factor},
    ]


def param_groups_head_twice(model, lr, backbone_factor=0.1):
    trainable = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": list(model._fc.parameters()), "lr": lr},
        {"params": trainable, "lr": lr * backbone_factor},
    ]


def param_groups_generators(model, lr, backbone_factor=0.1):
    return {"params": model.parameters(), "lr": lr}
