"""The checks of notebook 07 pass the notebook's solutions and fail every known mistake, naming it."""

import pytest

from autograder.checks import (
    check_batched_nms,
    check_box_iou,
    check_conv_transpose_forward,
    check_encode_boxes,
    check_nms,
    check_pixel_softmax_loss,
    check_yolo_loss,
)
from tests.solutions import load_solutions
from tests.wrong import detection as wrong

CHECKS = {
    "box_iou": check_box_iou,
    "nms": check_nms,
    "batched_nms": check_batched_nms,
    "encode_boxes": check_encode_boxes,
    "yolo_loss": check_yolo_loss,
    "conv_transpose_forward": check_conv_transpose_forward,
    "pixel_softmax_loss": check_pixel_softmax_loss,
}


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("07_detection_segmentation")


@pytest.mark.parametrize("name", sorted(CHECKS))
@pytest.mark.parametrize("kind", ["public", "hidden"])
def test_check_passes_the_notebook_solution(solutions, name, kind, capsys):
    result = CHECKS[name](getattr(solutions, name), cases=kind)
    assert result.passed == result.total > 0
    assert f"{name}: {result.total}/{result.total} {kind} cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check, impl, mistake",
    [
        (check_box_iou, wrong.box_iou_inclusive_pixels, "inclusive pixel coordinates"),
        (check_box_iou, wrong.box_iou_union_counts_intersection_twice, "counts the intersection"),
        (check_box_iou, wrong.box_iou_unclipped_sides, "clip the sides at 0"),
        (check_nms, wrong.nms_not_sorted_by_score, "Sort by decreasing score"),
        (check_nms, wrong.nms_suppresses_equal_iou, "EQUALS the threshold"),
        (check_nms, wrong.nms_returns_index_order, "decreasing score order"),
        (check_nms, wrong.nms_returns_list, "numpy.ndarray of int64"),
        (check_batched_nms, wrong.batched_nms_across_classes, "across classes"),
        (check_batched_nms, wrong.batched_nms_grouped_by_class, "grouped by class"),
        (check_encode_boxes, wrong.encode_boxes_rows_and_columns_swapped, "rows and columns"),
        (check_encode_boxes, wrong.encode_boxes_no_square_root, "SQUARE ROOTS"),
        (check_encode_boxes, wrong.encode_boxes_channels_last, "channels come first"),
        (check_encode_boxes, wrong.encode_boxes_row_from_x, "ROW index comes from y"),
        (check_encode_boxes, wrong.encode_boxes_offsets_in_image, "not inside the whole image"),
        (check_encode_boxes, wrong.encode_boxes_last_box_wins, "FIRST box in the list"),
        (check_yolo_loss, wrong.yolo_loss_averaged_over_cells, "averaged over every cell"),
        (check_yolo_loss, wrong.yolo_loss_no_noobj_weight, "not down-weighted"),
        (check_yolo_loss, wrong.yolo_loss_coordinates_in_every_cell, "count in every cell"),
        (check_yolo_loss, wrong.yolo_loss_no_sigmoid, "through the sigmoid"),
        (
            check_conv_transpose_forward,
            wrong.conv_transpose_forward_padding_ignored,
            "padding was ignored",
        ),
        (
            check_conv_transpose_forward,
            wrong.conv_transpose_forward_padding_added,
            "added instead of removed",
        ),
        (
            check_conv_transpose_forward,
            wrong.conv_transpose_forward_conv_weight_layout,
            r"\(C_in, F, HH, WW\)",
        ),
        (check_conv_transpose_forward, wrong.conv_transpose_forward_no_bias, "except for the bias"),
        (check_pixel_softmax_loss, wrong.pixel_softmax_loss_summed, "summed over the pixels"),
        (
            check_pixel_softmax_loss,
            wrong.pixel_softmax_loss_averaged_over_images,
            "averaged over the N images only",
        ),
        (
            check_pixel_softmax_loss,
            wrong.pixel_softmax_loss_summed_over_images,
            "summed over the images",
        ),
        (check_pixel_softmax_loss, wrong.pixel_softmax_loss_uses_torch, "NumPy exercise"),
    ],
)
def test_check_fails_a_wrong_implementation_and_names_the_mistake(check, impl, mistake):
    with pytest.raises(AssertionError, match=mistake):
        check(impl)


@pytest.mark.parametrize(
    "check, impl",
    [
        (check_box_iou, wrong.box_iou_inclusive_pixels),
        (check_nms, wrong.nms_not_sorted_by_score),
        (check_batched_nms, wrong.batched_nms_across_classes),
        (check_encode_boxes, wrong.encode_boxes_rows_and_columns_swapped),
        (check_yolo_loss, wrong.yolo_loss_no_noobj_weight),
        (check_conv_transpose_forward, wrong.conv_transpose_forward_padding_ignored),
        (check_pixel_softmax_loss, wrong.pixel_softmax_loss_summed),
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
