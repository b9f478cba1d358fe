"""The checks of notebook 07's grid detector (box encoding, the YOLO-style loss) pass the
notebook's solutions and fail every known mistake, naming it."""

import numpy as np
import pytest

from autograder.checks import check_encode_boxes, check_yolo_loss
from tests.check_harness import fails_each_mistake, passes_the_solution
from tests.solutions import load_solutions
from tests.wrong import detection as wrong

test_check_passes_the_notebook_solution = passes_the_solution(
    "07_detection_segmentation",
    {"check_encode_boxes": ("encode_boxes",), "check_yolo_loss": ("yolo_loss",)},
)

test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(
    [
        (check_encode_boxes, (wrong.encode_boxes_row_from_x,), "encode_boxes/row_from_x"),
        (
            check_encode_boxes,
            (wrong.encode_boxes_rows_and_columns_swapped,),
            "encode_boxes/rows_and_columns_swapped",
        ),
        (check_encode_boxes, (wrong.encode_boxes_no_square_root,), "encode_boxes/no_square_root"),
        (
            check_encode_boxes,
            (wrong.encode_boxes_offsets_in_image,),
            "encode_boxes/offsets_in_image",
        ),
        (check_encode_boxes, (wrong.encode_boxes_last_box_wins,), "encode_boxes/last_box_wins"),
        (check_encode_boxes, (wrong.encode_boxes_channels_last,), "encode_boxes/channels_last"),
        (
            check_yolo_loss,
            (wrong.yolo_loss_averaged_over_cells,),
            "yolo_loss/averaged_over_cells",
        ),
        (check_yolo_loss, (wrong.yolo_loss_no_noobj_weight,), "yolo_loss/no_noobj_weight"),
        (
            check_yolo_loss,
            (wrong.yolo_loss_coordinates_in_every_cell,),
            "yolo_loss/coordinates_in_every_cell",
        ),
        (
            check_yolo_loss,
            (wrong.yolo_loss_class_in_every_cell,),
            "yolo_loss/class_in_every_cell",
        ),
        (check_yolo_loss, (wrong.yolo_loss_no_sigmoid,), "yolo_loss/no_sigmoid"),
    ]
)


@pytest.mark.parametrize(
    "check, impl",
    [
        (check_encode_boxes, wrong.encode_boxes_rows_and_columns_swapped),
        (check_yolo_loss, wrong.yolo_loss_no_noobj_weight),
    ],
)
def test_hidden_cases_fail_the_same_mistakes(check, impl):
    with pytest.raises(AssertionError, match="hidden"):
        check(impl, cases="hidden")


def test_a_loss_gradient_off_by_one_in_a_million_gets_no_hint():
    solutions = load_solutions("07_detection_segmentation")

    def yolo_loss(pred, target, lambda_coord=5.0, lambda_noobj=0.5):
        loss, dpred = solutions.yolo_loss(pred, target, lambda_coord, lambda_noobj)
        return loss, dpred * (1 + 1e-6)

    with pytest.raises(AssertionError) as failure:
        check_yolo_loss(yolo_loss)
    assert "dpred has the right shape" in str(failure.value)
    assert "Hint:" not in str(failure.value)


def test_a_float32_loss_and_gradient_are_judged_to_float32_precision():
    solutions = load_solutions("07_detection_segmentation")

    def yolo_loss(pred, target, lambda_coord=5.0, lambda_noobj=0.5):
        loss, dpred = solutions.yolo_loss(pred, target, lambda_coord, lambda_noobj)
        return np.float32(loss), (dpred * (1 + 1e-6)).astype(np.float32)

    result = check_yolo_loss(yolo_loss)
    assert result.passed == result.total
