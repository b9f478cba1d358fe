"""The checks of notebook 07's grid detector (box encoding, the YOLO-style loss) pass right
implementations and fail each wrong one, naming its mistake."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import grid_detector as grid_checks
from course_utils.reference import detection as reference
from tests.check_harness import implementations, numpy_twin, standard_check_tests
from tests.solutions import load_solutions
from tests.wrong import detection as wrong

CORRECT = wrong.CORRECT

# check -> the names of the functions it takes, in notebook order.
FUNCTIONS = {
    "check_encode_boxes": ("encode_boxes",),
    "check_yolo_loss": ("yolo_loss",),
}


MISTAKES = [
    (checks.check_encode_boxes, (wrong.encode_boxes_row_from_x,), "encode_boxes/row_from_x"),
    (
        checks.check_encode_boxes,
        (wrong.encode_boxes_rows_and_columns_swapped,),
        "encode_boxes/rows_and_columns_swapped",
    ),
    (
        checks.check_encode_boxes,
        (wrong.encode_boxes_no_square_root,),
        "encode_boxes/no_square_root",
    ),
    (
        checks.check_encode_boxes,
        (wrong.encode_boxes_offsets_in_image,),
        "encode_boxes/offsets_in_image",
    ),
    (
        checks.check_encode_boxes,
        (wrong.encode_boxes_last_box_wins,),
        "encode_boxes/last_box_wins",
    ),
    (
        checks.check_encode_boxes,
        (wrong.encode_boxes_channels_last,),
        "encode_boxes/channels_last",
    ),
    (
        checks.check_yolo_loss,
        (wrong.yolo_loss_averaged_over_cells,),
        "yolo_loss/averaged_over_cells",
    ),
    (checks.check_yolo_loss, (wrong.yolo_loss_no_noobj_weight,), "yolo_loss/no_noobj_weight"),
    (
        checks.check_yolo_loss,
        (wrong.yolo_loss_coordinates_in_every_cell,),
        "yolo_loss/coordinates_in_every_cell",
    ),
    (
        checks.check_yolo_loss,
        (wrong.yolo_loss_class_in_every_cell,),
        "yolo_loss/class_in_every_cell",
    ),
    (checks.check_yolo_loss, (wrong.yolo_loss_no_sigmoid,), "yolo_loss/no_sigmoid"),
]

TestStandardChecks = standard_check_tests(
    "07_detection_segmentation",
    FUNCTIONS,
    modules=[grid_checks],
    others=implementations(FUNCTIONS, CORRECT),
    twins=implementations(FUNCTIONS, reference, numpy_twin),
    mistakes=MISTAKES,
    hidden_mistakes=MISTAKES,
    wrong=wrong,
)


def test_a_loss_gradient_off_by_one_in_a_million_gets_no_hint():
    solutions = load_solutions("07_detection_segmentation")

    def yolo_loss(pred, target, lambda_coord=5.0, lambda_noobj=0.5):
        loss, dpred = solutions.yolo_loss(pred, target, lambda_coord, lambda_noobj)
        return loss, dpred * (1 + 1e-6)

    with pytest.raises(AssertionError) as failure:
        checks.check_yolo_loss(yolo_loss)
    assert "dpred has the right shape" in str(failure.value)
    assert "Hint:" not in str(failure.value)


def test_a_float32_loss_and_gradient_are_judged_to_float32_precision():
    solutions = load_solutions("07_detection_segmentation")

    def yolo_loss(pred, target, lambda_coord=5.0, lambda_noobj=0.5):
        loss, dpred = solutions.yolo_loss(pred, target, lambda_coord, lambda_noobj)
        return np.float32(loss), (dpred * (1 + 1e-6)).astype(np.float32)

    result = checks.check_yolo_loss(yolo_loss)
    assert result.passed == result.total
