"""The checks of notebook 06's deterministic augmentations pass the notebook's solutions and
fail every known mistake, naming it."""

import pytest

from autograder.checks import (
    check_adjust_intensity,
    check_bilinear_sample,
    check_rotate_scale,
    check_translate,
)
from tests.check_harness import fails_each_mistake, passes_the_solution
from tests.wrong import augment as wrong

test_check_passes_the_notebook_solution = passes_the_solution(
    "06_training_and_transfer",
    {
        "check_translate": ("translate",),
        "check_bilinear_sample": ("bilinear_sample",),
        "check_rotate_scale": ("rotate_scale",),
        "check_adjust_intensity": ("adjust_intensity",),
    },
)

test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(
    [
        (check_translate, (wrong.translate_rolls,), "translate/rolls"),
        (check_translate, (wrong.translate_swapped,), "translate/swapped"),
        (check_translate, (wrong.translate_reversed,), "translate/reversed"),
        (check_bilinear_sample, (wrong.bilinear_sample_swapped,), "bilinear_sample/swapped"),
        (check_bilinear_sample, (wrong.bilinear_sample_nearest,), "bilinear_sample/nearest"),
        (check_bilinear_sample, (wrong.bilinear_sample_floor,), "bilinear_sample/floor"),
        (check_bilinear_sample, (wrong.bilinear_sample_clamped,), "bilinear_sample/clamped"),
        (check_rotate_scale, (wrong.rotate_scale_clockwise,), "rotate_scale/clockwise"),
        (
            check_rotate_scale,
            (wrong.rotate_scale_multiplies_scale,),
            "rotate_scale/multiplies_scale",
        ),
        (check_rotate_scale, (wrong.rotate_scale_about_corner,), "rotate_scale/about_corner"),
        (
            check_rotate_scale,
            (wrong.rotate_scale_degrees_as_radians,),
            "rotate_scale/degrees_as_radians",
        ),
        (
            check_adjust_intensity,
            (wrong.adjust_intensity_about_zero,),
            "adjust_intensity/about_zero",
        ),
        (
            check_adjust_intensity,
            (wrong.adjust_intensity_unclipped,),
            "adjust_intensity/unclipped",
        ),
        (
            check_adjust_intensity,
            (wrong.adjust_intensity_channel_mean,),
            "adjust_intensity/channel_mean",
        ),
    ]
)


def test_augmentation_checks_refuse_torch_inside_the_function():
    import torch

    def translate_with_torch(x, dy, dx):
        return torch.roll(torch.from_numpy(x), (dy, dx), dims=(1, 2)).numpy()

    with pytest.raises(AssertionError, match="NumPy exercise"):
        check_translate(translate_with_torch)


def test_a_function_that_changes_its_input_is_told_to_work_on_a_copy():
    def translate(x, dy, dx):
        x[...] = wrong.translate_rolls(x, dy, dx)
        return x

    with pytest.raises(AssertionError, match=r"changed its input x in place"):
        check_translate(translate)
