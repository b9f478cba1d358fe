"""The checks of notebook 07's anchors and detector evaluation pass the notebook's solutions and
fail every known mistake, naming it."""

import numpy as np
import pytest

from autograder.checks import (
    check_average_precision,
    check_generate_anchors,
    check_match_detections,
    check_mean_average_precision,
)
from autograder.checks import evaluation as evaluation_checks
from autograder.checks import matching as matching_checks
from tests.check_harness import standard_check_tests
from tests.solutions import load_solutions
from tests.wrong import detection as wrong

FUNCTIONS = {
    "check_generate_anchors": ("generate_anchors",),
    "check_match_detections": ("match_detections",),
    "check_average_precision": ("average_precision",),
    "check_mean_average_precision": ("mean_average_precision",),
}
MISTAKES = [
    (
        check_generate_anchors,
        (wrong.generate_anchors_ratio_inverted,),
        "generate_anchors/ratio_inverted",
    ),
    (check_generate_anchors, (wrong.generate_anchors_cell_corner,), "generate_anchors/cell_corner"),
    (
        check_generate_anchors,
        (wrong.generate_anchors_sizes_ratios_swapped,),
        "generate_anchors/sizes_ratios_swapped",
    ),
    (
        check_generate_anchors,
        (wrong.generate_anchors_column_major,),
        "generate_anchors/column_major",
    ),
    (
        check_match_detections,
        (wrong.match_detections_ground_truth_twice,),
        "match_detections/ground_truth_twice",
    ),
    (
        check_match_detections,
        (wrong.match_detections_input_order,),
        "match_detections/input_order",
    ),
    (
        check_match_detections,
        (wrong.match_detections_strict_threshold,),
        "match_detections/strict_threshold",
    ),
    (
        check_match_detections,
        (wrong.match_detections_best_free_box,),
        "match_detections/best_free_box",
    ),
    (
        check_match_detections,
        (wrong.match_detections_tp_by_detection,),
        "match_detections/tp_by_detection",
    ),
    (
        check_match_detections,
        (wrong.match_detections_ascending_order,),
        "match_detections/ascending_order",
    ),
    (
        check_match_detections,
        (wrong.match_detections_unstable_sort,),
        "match_detections/unstable_sort",
    ),
    (
        check_average_precision,
        (wrong.average_precision_no_envelope,),
        "average_precision/no_envelope",
    ),
    (
        check_average_precision,
        (wrong.average_precision_over_detections,),
        "average_precision/over_detections",
    ),
    (
        check_average_precision,
        (wrong.average_precision_zero_without_ground_truth,),
        "average_precision/zero_without_ground_truth",
    ),
    (
        check_mean_average_precision,
        (wrong.mean_average_precision_class_agnostic,),
        "mean_average_precision/class_agnostic",
    ),
    (
        check_mean_average_precision,
        (wrong.mean_average_precision_absent_classes_zero,),
        "mean_average_precision/absent_classes_zero",
    ),
    (
        check_mean_average_precision,
        (wrong.mean_average_precision_per_image,),
        "mean_average_precision/per_image",
    ),
    (
        check_mean_average_precision,
        (wrong.mean_average_precision_scores_not_reordered,),
        "mean_average_precision/scores_not_reordered",
    ),
]

TestStandardChecks = standard_check_tests(
    "07_detection_segmentation",
    FUNCTIONS,
    modules=[evaluation_checks, matching_checks],
    mistakes=MISTAKES,
    wrong=wrong,
)


def _solution(name):
    return getattr(load_solutions("07_detection_segmentation"), name)


def test_check_match_detections_accepts_tp_as_zeros_and_ones():
    solve = _solution("match_detections")  # loaded outside the check, which guards its calls

    def match_detections(boxes, scores, gt_boxes, iou_threshold=0.5):
        tp, order = solve(boxes, scores, gt_boxes, iou_threshold)
        return tp.astype(np.int64), order

    assert check_match_detections(match_detections).passed == 7


def test_check_match_detections_refuses_an_order_of_floats_and_names_what_gives_ints():
    solve = _solution("match_detections")  # loaded outside the check, which guards its calls

    def match_detections(boxes, scores, gt_boxes, iou_threshold=0.5):
        tp, order = solve(boxes, scores, gt_boxes, iou_threshold)
        return tp, order.astype(np.float64)

    with pytest.raises(AssertionError, match="integer indices.*gives int64"):
        check_match_detections(match_detections)


def test_check_average_precision_accepts_a_zero_dimensional_array():
    solve = _solution("average_precision")

    def average_precision(tp, num_gt, method="all"):
        return np.array(solve(tp, num_gt, method))

    assert check_average_precision(average_precision).passed == 10


def test_check_average_precision_refuses_a_list_and_says_a_number_was_expected():
    solve = _solution("average_precision")

    def average_precision(tp, num_gt, method="all"):
        return [solve(tp, num_gt, method)]

    with pytest.raises(AssertionError, match="must return ap as a number"):
        check_average_precision(average_precision)
