"""The checks of notebook 07's boxes (IoU, NMS, NMS per class) pass the notebook's solutions and
fail every known mistake, naming it."""

import numpy as np
import pytest

from autograder.checks import check_batched_nms, check_box_iou, check_nms
from tests.check_harness import fails_each_mistake, passes_the_solution
from tests.solutions import load_solutions
from tests.wrong import detection as wrong

test_check_passes_the_notebook_solution = passes_the_solution(
    "07_detection_segmentation",
    {
        "check_box_iou": ("box_iou",),
        "check_nms": ("nms",),
        "check_batched_nms": ("batched_nms",),
    },
)

test_check_fails_a_wrong_implementation_and_names_the_mistake = fails_each_mistake(
    [
        (check_box_iou, (wrong.box_iou_inclusive_pixels,), "box_iou/inclusive_pixels"),
        (
            check_box_iou,
            (wrong.box_iou_union_counts_intersection_twice,),
            "box_iou/union_counts_intersection_twice",
        ),
        (check_box_iou, (wrong.box_iou_unclipped_sides,), "box_iou/unclipped_sides"),
        (check_nms, (wrong.nms_not_sorted_by_score,), "nms/not_sorted_by_score"),
        (check_nms, (wrong.nms_suppresses_equal_iou,), "nms/suppresses_equal_iou"),
        (check_nms, (wrong.nms_returns_index_order,), "nms/returns_index_order"),
        (check_nms, (wrong.nms_returns_list,), "numpy.ndarray of int64"),
        (check_batched_nms, (wrong.batched_nms_across_classes,), "batched_nms/across_classes"),
        (
            check_batched_nms,
            (wrong.batched_nms_grouped_by_class,),
            "batched_nms/grouped_by_class",
        ),
    ]
)


@pytest.mark.parametrize(
    "check, impl",
    [
        (check_box_iou, wrong.box_iou_inclusive_pixels),
        (check_nms, wrong.nms_not_sorted_by_score),
        (check_batched_nms, wrong.batched_nms_across_classes),
    ],
)
def test_hidden_cases_fail_the_same_mistakes(check, impl):
    with pytest.raises(AssertionError, match="hidden"):
        check(impl, cases="hidden")


def test_a_failure_names_the_function_the_case_and_the_inputs():
    with pytest.raises(AssertionError) as failure:
        check_box_iou(wrong.box_iou_inclusive_pixels)
    first, inputs, *_ = str(failure.value).splitlines()
    assert first.startswith('box_iou_inclusive_pixels: case "worked example')
    assert inputs == "  inputs: boxes1 (1, 4), boxes2 (5, 4)"


def test_an_unwritten_function_is_told_it_is_not_written_yet():
    def nms(boxes, scores, iou_threshold):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not written yet"):
        check_nms(nms)


def test_a_float32_answer_is_judged_to_float32_precision():
    solutions = load_solutions("07_detection_segmentation")

    def box_iou(boxes1, boxes2):
        return (solutions.box_iou(boxes1, boxes2) * (1 + 1e-6)).astype(np.float32)

    result = check_box_iou(box_iou)
    assert result.passed == result.total
    with pytest.raises(AssertionError, match="float64 answers must agree"):
        check_box_iou(lambda boxes1, boxes2: box_iou(boxes1, boxes2).astype(np.float64))
