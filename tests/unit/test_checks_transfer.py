"""The checks of notebook 06 pass the notebook's solutions and fail every known mistake, naming it."""

import pytest

from autograder.checks import (
    check_adjust_intensity,
    check_bilinear_sample,
    check_elastic_field,
    check_param_groups,
    check_random_flip,
    check_replace_head,
    check_rotate_scale,
    check_set_trainable,
    check_translate,
)
from tests.solutions import load_solutions
from tests.wrong import transfer as wrong

CHECKS = {
    "random_flip": check_random_flip,
    "translate": check_translate,
    "bilinear_sample": check_bilinear_sample,
    "rotate_scale": check_rotate_scale,
    "elastic_field": check_elastic_field,
    "adjust_intensity": check_adjust_intensity,
    "replace_head": check_replace_head,
    "set_trainable": check_set_trainable,
    "param_groups": check_param_groups,
}


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("06_training_and_transfer")


@pytest.mark.parametrize("name", sorted(CHECKS))
@pytest.mark.parametrize("kind", ["public", "hidden"])
def test_check_passes_the_notebook_solution(solutions, name, kind, capsys):
    result = CHECKS[name](getattr(solutions, name), cases=kind)
    assert result.passed == result.total > 0
    assert f"{name}: {result.total}/{result.total} {kind} cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check, impl, mistake",
    [
        (check_random_flip, wrong.random_flip_vertical, "flipped the rows"),
        (check_random_flip, wrong.random_flip_always, "always flipped"),
        (check_random_flip, wrong.random_flip_global_random, "draw from the rng you are given"),
        (check_random_flip, wrong.random_flip_changes_values, "must not change any pixel"),
        (check_translate, wrong.translate_rolls, "wraps around"),
        (check_translate, wrong.translate_swapped, "swapped dy and dx"),
        (check_translate, wrong.translate_reversed, "the other way"),
        (check_bilinear_sample, wrong.bilinear_sample_swapped, "swapped ys and xs"),
        (check_bilinear_sample, wrong.bilinear_sample_nearest, "nearest pixel"),
        (check_bilinear_sample, wrong.bilinear_sample_clamped, "counts as 0"),
        (check_rotate_scale, wrong.rotate_scale_clockwise, "clockwise"),
        (check_rotate_scale, wrong.rotate_scale_multiplies_scale, "multiplied by scale"),
        (check_rotate_scale, wrong.rotate_scale_about_corner, "top-left corner"),
        (check_rotate_scale, wrong.rotate_scale_degrees_as_radians, "np.deg2rad"),
        (check_elastic_field, wrong.elastic_field_not_smoothed, "smooth the noise"),
        (check_elastic_field, wrong.elastic_field_unnormalised_kernel, "by its sum"),
        (check_elastic_field, wrong.elastic_field_global_random, "draw from the rng"),
        (check_elastic_field, wrong.elastic_field_alpha_ignored, "doubling alpha"),
        (check_elastic_field, wrong.elastic_field_one_map, r"shape \(32, 32\), expected"),
        (check_adjust_intensity, wrong.adjust_intensity_about_zero, "about the mean"),
        (check_adjust_intensity, wrong.adjust_intensity_unclipped, "clip the result"),
        (check_adjust_intensity, wrong.adjust_intensity_channel_mean, "one mean per channel"),
        (check_replace_head, wrong.replace_head_no_return, "return the model"),
        (check_replace_head, wrong.replace_head_hard_coded_features, "model._fc.in_features"),
        (check_replace_head, wrong.replace_head_frozen, "must be trainable"),
        (check_replace_head, wrong.replace_head_appends_layer, "expected an nn.Linear"),
        (check_set_trainable, wrong.set_trainable_first_blocks, "FIRST num_blocks"),
        (check_set_trainable, wrong.set_trainable_forgets_top_layers, "_conv_head and"),
        (check_set_trainable, wrong.set_trainable_head_frozen, "always learn"),
        (check_set_trainable, wrong.set_trainable_off_by_one, "off-by-one"),
        (check_set_trainable, wrong.set_trainable_never_freezes, "nothing is frozen"),
        (check_set_trainable, wrong.set_trainable_no_range_check, "raise ValueError"),
        (check_param_groups, wrong.param_groups_lr_swapped, "learning rates are swapped"),
        (check_param_groups, wrong.param_groups_includes_frozen, "frozen parameter"),
        (check_param_groups, wrong.param_groups_head_twice, "more than one group"),
        (check_param_groups, wrong.param_groups_generators, "list of dicts"),
    ],
)
def test_check_fails_a_wrong_implementation_and_names_the_mistake(check, impl, mistake):
    with pytest.raises(AssertionError, match=mistake):
        check(impl)


def test_augmentation_checks_refuse_torch_inside_the_function():
    import torch

    def translate_with_torch(x, dy, dx):
        return torch.roll(torch.from_numpy(x), (dy, dx), dims=(1, 2)).numpy()

    with pytest.raises(AssertionError, match="NumPy exercise"):
        check_translate(translate_with_torch)


def test_a_stub_fails_with_not_written_yet():
    def set_trainable(model, num_blocks):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        check_set_trainable(set_trainable)
