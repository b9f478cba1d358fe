"""The checks of notebook 07's segmentation (transposed convolution, the pixel-wise loss) pass
the notebook's solutions and fail every known mistake, naming it."""

import pytest

from autograder.checks import check_conv_transpose_forward, check_pixel_softmax_loss
from tests.check_harness import fails_each_mistake, passes_the_solution
from tests.wrong import detection as wrong

test_check_passes_the_notebook_solution = passes_the_solution(
    "07_detection_segmentation",
    {
        "check_conv_transpose_forward": ("conv_transpose_forward",),
        "check_pixel_softmax_loss": ("pixel_softmax_loss",),
    },
)

test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(
    [
        (
            check_conv_transpose_forward,
            (wrong.conv_transpose_forward_padding_ignored,),
            "conv_transpose_forward/padding_ignored",
        ),
        (
            check_conv_transpose_forward,
            (wrong.conv_transpose_forward_padding_added,),
            "conv_transpose_forward/padding_added",
        ),
        (
            check_conv_transpose_forward,
            (wrong.conv_transpose_forward_conv_weight_layout,),
            "conv_transpose_forward/conv_weight_layout",
        ),
        (
            check_conv_transpose_forward,
            (wrong.conv_transpose_forward_no_bias,),
            "conv_transpose_forward/no_bias",
        ),
        (check_pixel_softmax_loss, (wrong.pixel_softmax_loss_summed,), "pixel_softmax_loss/summed"),
        (
            check_pixel_softmax_loss,
            (wrong.pixel_softmax_loss_averaged_over_images,),
            "pixel_softmax_loss/averaged_over_images",
        ),
        (
            check_pixel_softmax_loss,
            (wrong.pixel_softmax_loss_summed_over_images,),
            "pixel_softmax_loss/summed_over_images",
        ),
        (check_pixel_softmax_loss, (wrong.pixel_softmax_loss_uses_torch,), "NumPy exercise"),
    ]
)


@pytest.mark.parametrize(
    "check, impl",
    [
        (check_conv_transpose_forward, wrong.conv_transpose_forward_padding_ignored),
        (check_pixel_softmax_loss, wrong.pixel_softmax_loss_summed),
    ],
)
def test_hidden_cases_fail_the_same_mistakes(check, impl):
    with pytest.raises(AssertionError, match="hidden"):
        check(impl, cases="hidden")
