"""The checks of notebook 07's segmentation (transposed convolution, the pixel-wise loss) pass
right implementations and fail each wrong one, naming its mistake."""

from __future__ import annotations

import pytest

from autograder import checks
from autograder.checks import segmentation as segmentation_checks
from autograder.course import HIDDEN_SEED_VARIABLE
from course_utils.reference import detection as reference
from tests.check_harness import (
    assert_names_the_mistake,
    fails_each_mistake,
    numpy_twin,
    passes_implementations,
    passes_the_solution,
)
from tests.kernel_grading import grades_through_a_kernel
from tests.wrong import detection as wrong

CORRECT = wrong.CORRECT

# check -> the names of the functions it takes, in notebook order.
FUNCTIONS = {
    "check_conv_transpose_forward": ("conv_transpose_forward",),
    "check_pixel_softmax_loss": ("pixel_softmax_loss",),
}


def test_every_check_is_exported_from_autograder_checks():
    for name in segmentation_checks.__all__:
        assert getattr(checks, name) is getattr(segmentation_checks, name)
        assert name in checks.__all__


test_check_passes_the_notebook_solution = passes_the_solution(
    "07_detection_segmentation", FUNCTIONS
)

test_check_passes_an_independent_numpy_implementation = passes_implementations(
    [
        (getattr(checks, check), tuple(getattr(CORRECT, n) for n in names))
        for check, names in FUNCTIONS.items()
    ],
    seed="7",
)

test_check_passes_numpy_wrappers_of_the_reference_twins = passes_implementations(
    [
        (getattr(checks, check), tuple(numpy_twin(getattr(reference, n)) for n in names))
        for check, names in FUNCTIONS.items()
    ],
    seed="11",
    allow_torch=True,
)

MISTAKES = [
    (
        checks.check_conv_transpose_forward,
        (wrong.conv_transpose_forward_padding_ignored,),
        "conv_transpose_forward/padding_ignored",
    ),
    (
        checks.check_conv_transpose_forward,
        (wrong.conv_transpose_forward_padding_added,),
        "conv_transpose_forward/padding_added",
    ),
    (
        checks.check_conv_transpose_forward,
        (wrong.conv_transpose_forward_conv_weight_layout,),
        "conv_transpose_forward/conv_weight_layout",
    ),
    (
        checks.check_conv_transpose_forward,
        (wrong.conv_transpose_forward_no_bias,),
        "conv_transpose_forward/no_bias",
    ),
    (
        checks.check_pixel_softmax_loss,
        (wrong.pixel_softmax_loss_summed,),
        "pixel_softmax_loss/summed",
    ),
    (
        checks.check_pixel_softmax_loss,
        (wrong.pixel_softmax_loss_averaged_over_images,),
        "pixel_softmax_loss/averaged_over_images",
    ),
    (
        checks.check_pixel_softmax_loss,
        (wrong.pixel_softmax_loss_summed_over_images,),
        "pixel_softmax_loss/summed_over_images",
    ),
    (checks.check_pixel_softmax_loss, (wrong.pixel_softmax_loss_uses_torch,), "NumPy exercise"),
]

test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(MISTAKES)

test_through_a_kernel_the_checks_pass_the_solution_and_name_each_mistake = grades_through_a_kernel(
    "07_detection_segmentation", list(FUNCTIONS.items()), MISTAKES, wrong
)

# A banned library is refused before any case is drawn.
HIDDEN_MISTAKES = [m for m in MISTAKES if m[1][-1] is not wrong.pixel_softmax_loss_uses_torch]
# Reading w as (F, C_in, HH, WW) cannot even run when C_in != F, as in seed 5's first failing
# case: the student is shown their ValueError, and only a square w can name the mistake.
NAMED_OTHERWISE_IN_HIDDEN = {wrong.conv_transpose_forward_conv_weight_layout}


@pytest.mark.parametrize(
    "check, impls, mistake", HIDDEN_MISTAKES, ids=[m[1][-1].__name__ for m in HIDDEN_MISTAKES]
)
def test_hidden_cases_fail_the_same_wrong_implementation(check, impls, mistake, monkeypatch):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "5")
    with pytest.raises(AssertionError, match="hidden cases fail") as failure:
        check(*impls, cases="hidden")
    if impls[-1] not in NAMED_OTHERWISE_IN_HIDDEN:
        assert_names_the_mistake(str(failure.value), mistake)
