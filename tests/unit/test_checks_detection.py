"""The checks of notebook 07's boxes (IoU, NMS, NMS per class) pass right implementations and
fail each wrong one, naming its mistake."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import checks
from autograder.checks import detection as detection_checks
from course_utils.reference import detection as reference
from tests.check_harness import implementations, numpy_twin, standard_check_tests
from tests.solutions import load_solutions
from tests.wrong import detection as wrong

CORRECT = wrong.CORRECT

# check -> the names of the functions it takes, in notebook order.
FUNCTIONS = {
    "check_box_iou": ("box_iou",),
    "check_nms": ("nms",),
    "check_batched_nms": ("batched_nms",),
}


MISTAKES = [
    (checks.check_box_iou, (wrong.box_iou_inclusive_pixels,), "box_iou/inclusive_pixels"),
    (
        checks.check_box_iou,
        (wrong.box_iou_union_counts_intersection_twice,),
        "box_iou/union_counts_intersection_twice",
    ),
    (checks.check_box_iou, (wrong.box_iou_unclipped_sides,), "box_iou/unclipped_sides"),
    (checks.check_nms, (wrong.nms_not_sorted_by_score,), "nms/not_sorted_by_score"),
    (checks.check_nms, (wrong.nms_suppresses_equal_iou,), "nms/suppresses_equal_iou"),
    (checks.check_nms, (wrong.nms_returns_index_order,), "nms/returns_index_order"),
    (checks.check_nms, (wrong.nms_returns_list,), "numpy.ndarray of int64"),
    (
        checks.check_batched_nms,
        (wrong.batched_nms_across_classes,),
        "batched_nms/across_classes",
    ),
    (
        checks.check_batched_nms,
        (wrong.batched_nms_grouped_by_class,),
        "batched_nms/grouped_by_class",
    ),
]

# In seed 5's first failing case the kept boxes' score order is their index order, so
# suppressing in input order gives the same keep, and that mistake, listed first, is named.
NAMED_OTHERWISE_IN_HIDDEN = {wrong.nms_returns_index_order}


TestStandardChecks = standard_check_tests(
    "07_detection_segmentation",
    FUNCTIONS,
    modules=[detection_checks],
    others=implementations(FUNCTIONS, CORRECT),
    twins=implementations(FUNCTIONS, reference, numpy_twin),
    mistakes=MISTAKES,
    hidden_mistakes=MISTAKES,
    named_otherwise_in_hidden=NAMED_OTHERWISE_IN_HIDDEN,
    wrong=wrong,
)


def test_a_failure_names_the_function_the_case_and_the_inputs():
    with pytest.raises(AssertionError) as failure:
        checks.check_box_iou(wrong.box_iou_inclusive_pixels)
    first, inputs, *_ = str(failure.value).splitlines()
    assert first.startswith('box_iou_inclusive_pixels: case "worked example')
    assert inputs == "  inputs: boxes1 (1, 4), boxes2 (5, 4)"


def test_an_unwritten_function_is_told_it_is_not_written_yet():
    def nms(boxes, scores, iou_threshold):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        checks.check_nms(nms)


def test_a_float32_answer_is_judged_to_float32_precision():
    solutions = load_solutions("07_detection_segmentation")

    def box_iou(boxes1, boxes2):
        return (solutions.box_iou(boxes1, boxes2) * (1 + 1e-6)).astype(np.float32)

    result = checks.check_box_iou(box_iou)
    assert result.passed == result.total
    with pytest.raises(AssertionError, match="float64 answers must agree"):
        checks.check_box_iou(lambda boxes1, boxes2: box_iou(boxes1, boxes2).astype(np.float64))
