"""course_utils.augment: the twins against independent computations, and the batch augmenter."""

import math

import numpy as np
import pytest
import torch

from course_utils import augment


def test_translate_moves_the_content_and_lets_zeros_in():
    x = torch.tensor([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]])
    # The notebook's worked example: down 1, left 1.
    assert torch.equal(augment.translate(x, 1, -1), torch.tensor([[[0.0, 0, 0], [2, 3, 0]]]))
    assert torch.equal(augment.translate(x, 0, 3), torch.zeros_like(x))


def test_bilinear_sample_is_exact_on_a_linear_image_and_zero_outside():
    x = torch.arange(12.0, dtype=torch.float64).reshape(1, 3, 4)  # 4r + c
    ys = torch.tensor([[0.5, 1.5, 0.25]], dtype=torch.float64)
    xs = torch.tensor([[0.5, 2.5, 1.75]], dtype=torch.float64)
    assert torch.allclose(augment.bilinear_sample(x, ys, xs), (4 * ys + xs)[None])
    # Half the weight on the missing row -1: 0.5 * x[0, 0, 1] = 0.5.
    out = augment.bilinear_sample(
        x, torch.tensor([[-0.5]]).double(), torch.tensor([[1.0]]).double()
    )
    assert out.item() == pytest.approx(0.5)


def test_rotate_scale_by_90_degrees_equals_rot90_counter_clockwise():
    x = torch.rand(2, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = torch.rot90(x, 1, dims=(1, 2))  # counter-clockwise as displayed
    assert torch.allclose(augment.rotate_scale(x, 90.0), expected, atol=1e-12)


def test_rotate_scale_by_two_magnifies_the_centre():
    x = torch.zeros(1, 5, 5, dtype=torch.float64)
    x[0, 2, 3] = 1.0  # one pixel right of the centre
    out = augment.rotate_scale(x, 0.0, 2.0)
    # Output column j reads column 2 + (j - 2) / 2: column 4 reads 3, column 3 reads 2.5.
    assert out[0, 2, 4] == pytest.approx(1.0)
    assert out[0, 2, 3] == pytest.approx(0.5)
    assert out[0, 2, 2] == pytest.approx(0.0)


def test_elastic_field_is_reproducible_smooth_and_proportional_to_alpha():
    first = augment.elastic_field((30, 40), 5.0, 4.0, np.random.default_rng(3))
    again = augment.elastic_field((30, 40), 5.0, 4.0, np.random.default_rng(3))
    double = augment.elastic_field((30, 40), 10.0, 4.0, np.random.default_rng(3))
    assert first.shape == (2, 30, 40)
    assert torch.equal(first, again)
    assert torch.allclose(double, 2 * first)
    a, b = first[:, :, :-1].flatten(), first[:, :, 1:].flatten()
    assert np.corrcoef(a.numpy(), b.numpy())[0, 1] > 0.8


def test_gaussian_kernel_sums_to_one_with_radius_three_sigma():
    kernel = augment.gaussian_kernel(2.0)
    assert len(kernel) == 2 * math.ceil(6.0) + 1
    assert kernel.sum() == pytest.approx(1.0)


def test_adjust_intensity_keeps_the_mean_when_nothing_clips():
    x = 0.4 + 0.2 * torch.rand(3, 4, 4, dtype=torch.float64)
    out = augment.adjust_intensity(x, 1.5, 0.0)
    assert out.mean().item() == pytest.approx(x.mean().item())
    assert (out - out.mean()).std().item() == pytest.approx(1.5 * x.std().item())


def test_augment_batch_is_the_identity_with_every_range_at_zero():
    images = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    out = augment.augment_batch(
        images,
        np.random.default_rng(0),
        flip=False,
        max_shift=0.0,
        max_degrees=0.0,
        scale_range=(1.0, 1.0),
        max_contrast=0.0,
        max_brightness=0.0,
    )
    assert torch.allclose(out, images, atol=1e-6)


def test_augment_batch_flips_exactly_when_only_flipping_is_on():
    images = torch.rand(16, 1, 6, 6, generator=torch.Generator().manual_seed(2))
    out = augment.augment_batch(
        images,
        np.random.default_rng(5),
        max_shift=0.0,
        max_degrees=0.0,
        scale_range=(1.0, 1.0),
        max_contrast=0.0,
        max_brightness=0.0,
    )
    flipped = [torch.allclose(o, i.flip(-1), atol=1e-6) for o, i in zip(out, images)]
    kept = [torch.allclose(o, i, atol=1e-6) for o, i in zip(out, images)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 0 < sum(flipped) < len(images)


def test_augmented_batches_cover_every_image_once_per_epoch_and_repeat_with_the_seed():
    images = torch.rand(10, 1, 8, 8)
    labels = torch.arange(10)
    batches = augment.AugmentedBatches(images, labels, batch_size=4, seed=0)
    assert len(batches) == 3
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(10))
    first = [x for x, _ in augment.AugmentedBatches(images, labels, batch_size=4, seed=7)]
    second = [x for x, _ in augment.AugmentedBatches(images, labels, batch_size=4, seed=7)]
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert all(float(x.min()) >= 0.0 and float(x.max()) <= 1.0 for x in first)
