"""Each wrong implementation of notebook 07's evaluation exercises (tests/wrong/detection.py)
differs from the reference on a small case, the worked example of its exercise where that is
enough, so a check built on these cases can catch it. Where the mistake is a simple
transformation of the right answer (anchors reordered or shifted), the test says which, so a
check can recognise the mistake and name it.
"""

import math

import numpy as np
import pytest
import torch

from course_utils.reference import evaluation as ref
from tests.wrong import detection as wrong

# The notebook's worked examples (see tests/unit/test_reference_evaluation.py for the hand
# arithmetic).
ANCHOR_ARGS = ((1, 2), 16, (8, 16), (0.25, 1.0, 4.0))
GT = np.array([[0.0, 0, 10, 10], [20, 0, 30, 10]])
DETECTIONS = np.array(
    [[1.0, 0, 11, 10], [0, 0, 10, 10], [20, 0, 30, 5], [40, 0, 50, 10], [21, 0, 31, 10]]
)
SCORES = np.array([0.6, 0.9, 0.8, 0.7, 0.5])
TP = np.array([1, 0, 1, 0, 0, 1, 1], dtype=bool)


def _anchors(*args) -> np.ndarray:
    return ref.generate_anchors(*args).numpy()


def _map_example():
    detections = [
        (
            np.array([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]),
            np.array([0.9, 0.8, 0.6]),
            np.array([0, 0, 1]),
        ),
        (np.array([[5.0, 5, 15, 15], [5, 5, 15, 15]]), np.array([0.7, 0.5]), np.array([1, 0])),
    ]
    ground_truth = [
        (np.array([[0.0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0, 1])),
        (np.array([[5.0, 5, 15, 15]]), np.array([0])),
    ]
    return detections, ground_truth


def _torch_scene(detections, ground_truth):
    return (
        [tuple(torch.from_numpy(a) for a in d) for d in detections],
        [tuple(torch.from_numpy(a) for a in g) for g in ground_truth],
    )


# --- generate_anchors ------------------------------------------------------------------------


def test_anchors_with_the_ratio_inverted_are_the_anchors_of_the_reciprocal_ratios():
    got = wrong.generate_anchors_ratio_inverted(*ANCHOR_ARGS)
    assert not np.allclose(got, _anchors(*ANCHOR_ARGS))
    hw, stride, sizes, ratios = ANCHOR_ARGS
    np.testing.assert_allclose(got, _anchors(hw, stride, sizes, [1 / r for r in ratios]))


def test_anchors_centred_at_the_cell_corner_are_shifted_by_half_a_stride():
    got = wrong.generate_anchors_cell_corner(*ANCHOR_ARGS)
    assert not np.allclose(got, _anchors(*ANCHOR_ARGS))
    np.testing.assert_allclose(got, _anchors(*ANCHOR_ARGS) - 16 / 2)


def test_anchors_with_sizes_and_ratios_swapped_hold_the_same_boxes_in_another_order():
    got = wrong.generate_anchors_sizes_ratios_swapped(*ANCHOR_ARGS)
    right = _anchors(*ANCHOR_ARGS)
    assert not np.allclose(got, right)
    reordered = right.reshape(2, 2, 3, 4).transpose(0, 2, 1, 3).reshape(-1, 4)  # (HW, R, S, 4)
    np.testing.assert_allclose(got, reordered)


def test_anchors_in_column_major_order_hold_the_same_boxes_in_another_order():
    args = ((3, 2), 8, (16,), (0.5, 2.0))  # non-square, so the positions differ
    got = wrong.generate_anchors_column_major(*args)
    right = _anchors(*args)
    assert not np.allclose(got, right)
    reordered = right.reshape(3, 2, 2, 4).transpose(1, 0, 2, 3).reshape(-1, 4)  # (W, H, A, 4)
    np.testing.assert_allclose(got, reordered)


def test_anchors_in_column_major_order_equal_the_reference_on_a_single_row():
    # The worked example's 1 x 2 map cannot tell the orders apart: a check needs H, W > 1.
    got = wrong.generate_anchors_column_major(*ANCHOR_ARGS)
    np.testing.assert_allclose(got, _anchors(*ANCHOR_ARGS))


# --- match_detections ----------------------------------------------------------------------------


def _reference_match(threshold=0.5):
    tp, order = ref.match_detections(
        torch.from_numpy(DETECTIONS), torch.from_numpy(SCORES), torch.from_numpy(GT), threshold
    )
    return tp.tolist(), order.tolist()


@pytest.mark.parametrize(
    "impl, expected_tp",
    [
        # Detections 0 and 4 are duplicates of taken boxes: counted again.
        (wrong.match_detections_ground_truth_twice, [True, True, False, True, True]),
        # Detection 0 (0.6) comes first in the input and takes GT 0 from detection 1 (0.9).
        (wrong.match_detections_input_order, [False, True, False, True, False]),
        # Detection 2's IoU is exactly 0.5: refused, so 4 takes GT 1.
        (wrong.match_detections_strict_threshold, [True, False, False, False, True]),
    ],
)
def test_each_wrong_matching_differs_from_the_reference_on_the_worked_example(impl, expected_tp):
    right_tp, right_order = _reference_match()
    assert right_tp == [True, True, False, False, False]
    tp, order = impl(DETECTIONS, SCORES, GT, 0.5)
    assert order.tolist() == right_order  # the order is right; the verdicts are not
    assert tp.tolist() == expected_tp != right_tp


def test_matching_to_the_best_free_box_lets_a_duplicate_claim_a_second_box():
    # Both detections overlap GT 0 best; the second overlaps GT 1 by 85/115 too, and the third
    # is GT 0 again. Right: [T, F, F]; the best free box gives the second GT 1.
    boxes = np.array([[0.0, 0, 10, 10], [0.5, 0, 10.5, 10], [0, 0, 10, 10]])
    scores = np.array([0.9, 0.8, 0.7])
    gt = np.array([[0.0, 0, 10, 10], [2, 0, 12, 10]])
    tp, order = wrong.match_detections_best_free_box(boxes, scores, gt, 0.5)
    right_tp, _ = ref.match_detections(*(torch.from_numpy(a) for a in (boxes, scores, gt)), 0.5)
    assert right_tp.tolist() == [True, False, False]
    assert tp.tolist() == [True, True, False]


def test_verdicts_stored_by_detection_are_the_right_verdicts_in_input_order():
    right_tp, order = _reference_match()
    tp, got_order = wrong.match_detections_tp_by_detection(DETECTIONS, SCORES, GT, 0.5)
    assert got_order.tolist() == order
    assert tp.tolist() == [False, True, True, False, False]  # detections 1 and 2
    assert tp[order].tolist() == right_tp


def test_wrong_sorts_give_the_ascending_order_or_reverse_equal_scores():
    _, order = _reference_match()
    assert wrong.match_detections_ascending_order(DETECTIONS, SCORES, GT)[1].tolist() == order[::-1]
    equal = np.array([0.7, 0.7, 0.7])
    boxes = np.array([[50.0, 50, 60, 60], [0, 0, 10, 10], [0, 0, 10, 10]])
    tp, order = wrong.match_detections_unstable_sort(boxes, equal, GT[:1])
    assert order.tolist() == [2, 1, 0] and tp.tolist() == [True, False, False]


# --- average_precision ---------------------------------------------------------------------------


def test_average_precision_without_the_envelope_gives_the_raw_area():
    # (1 + 2/3 + 3/6 + 4/7) / 4 = 115/168 instead of 59/84.
    assert wrong.average_precision_no_envelope(TP, 4) == pytest.approx(115 / 168)
    assert ref.average_precision(torch.from_numpy(TP), 4) == pytest.approx(59 / 84)


def test_average_precision_over_detections_divides_recall_by_the_seven_detections():
    # Recall steps of 1/7 instead of 1/4: 59/84 * 4/7 = 59/147 ("all");
    # "11point": recall 1/7, 1/7, 2/7, 2/7, 2/7, 3/7, 4/7 never reaches 0.6. t = 0, 0.1: 1;
    # t = 0.2 (ranks 3-7): 2/3; t = 0.3, 0.4, 0.5 (ranks 6-7): 4/7; t >= 0.6: 0.
    # (2 + 2/3 + 3 * 4/7) / 11 = (42 + 14 + 36) / 21 / 11 = 92/231 instead of 5/7.
    assert wrong.average_precision_over_detections(TP, 4) == pytest.approx(59 / 147)
    assert wrong.average_precision_over_detections(TP, 4, "11point") == pytest.approx(92 / 231)
    assert ref.average_precision(torch.from_numpy(TP), 4, "11point") == pytest.approx(5 / 7)


@pytest.mark.parametrize(
    "impl", [wrong.average_precision_no_envelope, wrong.average_precision_over_detections]
)
def test_wrong_average_precisions_still_agree_on_the_edge_cases(impl):
    # So a check must use cases like the worked example to tell them apart.
    assert math.isnan(impl(np.array([], dtype=bool), 0))
    assert impl(np.array([], dtype=bool), 3) == 0.0
    assert impl(np.array([True, True]), 2) == pytest.approx(1.0)


def test_average_precision_zero_without_ground_truth_differs_only_there():
    assert wrong.average_precision_zero_without_ground_truth(np.zeros(2, dtype=bool), 0) == 0.0
    assert wrong.average_precision_zero_without_ground_truth(TP, 4) == pytest.approx(59 / 84)


# --- mean_average_precision ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "impl, expected_map",
    [
        # Image 1's class-1 detection (0.7) takes image 1's class-0 box: class 1 gets two true
        # positives for its one box, tp = [1, 1], recall 1 then 2, AP 1 + 1 = 2 (above 1, a
        # sign of the mistake), and mAP (5/6 + 2) / 2 = 17/12.
        (wrong.mean_average_precision_class_agnostic, 17 / 12),
        # Class 2 (no ground truth) counted as 0: (5/6 + 1/2 + 0) / 3 = 4/9.
        (wrong.mean_average_precision_absent_classes_zero, 4 / 9),
        # Per image: image 0 has class 0 tp = [1, 0] (AP 1) and class 1 tp = [1] (AP 1); image
        # 1 has class 0 tp = [1] (AP 1) and no class-1 box. Every average is 1.
        (wrong.mean_average_precision_per_image, 1.0),
    ],
)
def test_each_wrong_mean_average_precision_differs_from_the_reference(impl, expected_map):
    detections, ground_truth = _map_example()
    right_map, _ = ref.mean_average_precision(*_torch_scene(detections, ground_truth), 3)
    got_map, got_per_class = impl(detections, ground_truth, 3)
    assert right_map == pytest.approx(2 / 3)
    assert got_map != pytest.approx(right_map)
    assert got_map == pytest.approx(expected_map)
    assert got_per_class.shape == (3,)


def test_scores_left_in_input_order_pair_the_flags_with_the_wrong_detections():
    # Image 0 lists its class-0 detections worst first: tp = [T, F] is for scores [0.9, 0.5],
    # not [0.5, 0.9]. Ranked with image 1's false positive (0.7): right tp [T, F, F], AP 1;
    # mispaired [F, F, T], AP 1/3.
    detections = [
        (np.array([[1.0, 1, 11, 11], [0, 0, 10, 10]]), np.array([0.5, 0.9]), np.array([0, 0])),
        (np.array([[50.0, 50, 60, 60]]), np.array([0.7]), np.array([0])),
    ]
    ground_truth = [
        (np.array([[0.0, 0, 10, 10]]), np.array([0])),
        (np.zeros((0, 4)), np.zeros(0, dtype=np.int64)),
    ]
    right_map, _ = ref.mean_average_precision(*_torch_scene(detections, ground_truth), 1)
    got_map, _ = wrong.mean_average_precision_scores_not_reordered(detections, ground_truth, 1)
    assert right_map == pytest.approx(1.0)
    assert got_map == pytest.approx(1 / 3)
    worked = wrong.mean_average_precision_scores_not_reordered(*_map_example(), 3)[0]
    assert worked == pytest.approx(2 / 3)  # each image's detections already best first
