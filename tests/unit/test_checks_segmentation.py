"""The checks of notebook 07's segmentation (transposed convolution, the pixel-wise loss) pass
right implementations and fail each wrong one, naming its mistake."""

from __future__ import annotations

from autograder import checks
from autograder.checks import segmentation as segmentation_checks
from course_utils.reference import detection as reference
from tests.check_harness import implementations, numpy_twin, standard_check_tests
from tests.wrong import detection as wrong

CORRECT = wrong.CORRECT

# check -> the names of the functions it takes, in notebook order.
FUNCTIONS = {
    "check_conv_transpose_forward": ("conv_transpose_forward",),
    "check_pixel_softmax_loss": ("pixel_softmax_loss",),
}


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

# A banned library is refused before any case is drawn.
HIDDEN_MISTAKES = [m for m in MISTAKES if m[1][-1] is not wrong.pixel_softmax_loss_uses_torch]
# Reading w as (F, C_in, HH, WW) cannot even run when C_in != F, as in seed 5's first failing
# case: the student is shown their ValueError, and only a square w can name the mistake.
NAMED_OTHERWISE_IN_HIDDEN = {wrong.conv_transpose_forward_conv_weight_layout}


TestStandardChecks = standard_check_tests(
    "07_detection_segmentation",
    FUNCTIONS,
    modules=[segmentation_checks],
    others=implementations(FUNCTIONS, CORRECT),
    twins=implementations(FUNCTIONS, reference, numpy_twin),
    mistakes=MISTAKES,
    hidden_mistakes=HIDDEN_MISTAKES,
    named_otherwise_in_hidden=NAMED_OTHERWISE_IN_HIDDEN,
    wrong=wrong,
)
