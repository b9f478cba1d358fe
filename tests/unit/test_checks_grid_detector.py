"""The checks of notebook 07's grid detector (box encoding, the YOLO-style loss) pass right
implementations and fail each wrong one, naming its mistake."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import grid_detector as grid_checks
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
from tests.solutions import load_solutions
from tests.wrong import detection as wrong

CORRECT = wrong.CORRECT

# check -> the names of the functions it takes, in notebook order.
FUNCTIONS = {
    "check_encode_boxes": ("encode_boxes",),
    "check_yolo_loss": ("yolo_loss",),
}


def test_every_check_is_exported_from_autograder_checks():
    for name in grid_checks.__all__:
        assert getattr(checks, name) is getattr(grid_checks, name)
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

test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(MISTAKES)

test_through_a_kernel_the_checks_pass_the_solution_and_name_each_mistake = grades_through_a_kernel(
    "07_detection_segmentation", list(FUNCTIONS.items()), MISTAKES, wrong
)


@pytest.mark.parametrize(
    "check, impls, mistake", MISTAKES, ids=[m[1][-1].__name__ for m in MISTAKES]
)
def test_hidden_cases_fail_the_same_wrong_implementation(check, impls, mistake, monkeypatch):
    monkeypatch.setenv(HIDDEN_SEED_VARIABLE, "5")
    with pytest.raises(AssertionError, match="hidden cases fail") as failure:
        check(*impls, cases="hidden")
    assert_names_the_mistake(str(failure.value), mistake)


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
