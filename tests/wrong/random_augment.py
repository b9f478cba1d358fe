"""Deliberately wrong implementations of notebook 06's random augmentations, one per common
mistake.

Each must FAIL its check, and the check's hint must name the mistake
(tests/unit/test_checks_random_augment.py).
"""

import random

import numpy as np


def random_flip_vertical(x, rng):
    return x[:, ::-1, :].copy() if rng.random() < 0.5 else x.copy()


def random_flip_same_every_call(x, rng):
    """Always flips: the same decision at every call."""
    rng.random()
    return x[:, :, ::-1].copy()


def random_flip_global_random(x, rng):
    return x[:, :, ::-1].copy() if random.random() < 0.5 else x.copy()


def random_flip_changes_values(x, rng):
    return (x[:, :, ::-1] if rng.random() < 0.5 else x) * 0.5


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
