"""course_utils.reference.evaluation against worked examples computed by hand, against the
PASCAL VOC development kit's algorithm as published (VOCevaldet.m and VOCap.m, transcribed
below loop for loop, with continuous box coordinates), and on the edge cases of its contract.

The worked examples are the ones notebook 07 writes out for the student; the notebook's own
NumPy solutions are compared with the twins at the end.
"""

import itertools
import math

import numpy as np
import pytest
import torch

from course_utils.reference import evaluation as ref
from tests.solutions import load_solutions

DOUBLE = torch.float64


def _t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=DOUBLE)


# --- generate_anchors ------------------------------------------------------------------------


def test_generate_anchors_reproduces_the_worked_example_by_hand():
    # Notebook 07's worked example: a 1 x 2 feature map, stride 16, sizes (8, 16), ratios
    # (0.25, 1, 4). Position (0, 0) has its centre at (0.5 * 16, 0.5 * 16) = (8, 8), position
    # (0, 1) at (1.5 * 16, 8) = (24, 8). Size 8, r = 0.25: w = 8 / sqrt(0.25) = 16,
    # h = 8 * 0.5 = 4, so (8 - 8, 8 - 2, 8 + 8, 8 + 2) = (0, 6, 16, 10); r = 1: 8 x 8 ->
    # (4, 4, 12, 12); r = 4: w = 8 / 2 = 4, h = 16 -> (6, 0, 10, 16). Size 16: r = 0.25 ->
    # 32 x 8 -> (-8, 4, 24, 12); r = 1 -> (0, 0, 16, 16); r = 4 -> 8 x 32 -> (4, -8, 12, 24).
    # Position (0, 1) repeats them 16 pixels to the right.
    first = [
        [0, 6, 16, 10],
        [4, 4, 12, 12],
        [6, 0, 10, 16],
        [-8, 4, 24, 12],
        [0, 0, 16, 16],
        [4, -8, 12, 24],
    ]
    second = [[x1 + 16, y1, x2 + 16, y2] for x1, y1, x2, y2 in first]
    got = ref.generate_anchors((1, 2), 16, (8, 16), (0.25, 1.0, 4.0))
    assert got.dtype == DOUBLE and got.shape == (12, 4)
    assert got.tolist() == first + second


def _anchors_by_the_definition(feature_hw, stride, sizes, ratios):
    """The contract read literally: nested loops, one box at a time, from centre and sides."""
    rows = []
    for i, j, size, r in itertools.product(
        range(feature_hw[0]), range(feature_hw[1]), sizes, ratios
    ):
        cx, cy = (j + 0.5) * stride, (i + 0.5) * stride
        w, h = size / math.sqrt(r), size * math.sqrt(r)
        rows.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    return torch.tensor(rows, dtype=DOUBLE)


@pytest.mark.parametrize(
    "feature_hw, stride, sizes, ratios",
    [
        ((3, 2), 8, (32,), (0.5, 1.0, 2.0)),
        ((2, 2), 16, (128, 256, 512), (0.5, 1.0, 2.0)),  # Faster R-CNN's 9 anchors per position
        ((1, 5), 4.5, (10, 3), (3.0, 0.2, 1.0, 0.7)),
        ((4, 1), 32, (64,), (1.0,)),
    ],
)
def test_generate_anchors_equals_the_definition_loop_for_loop(feature_hw, stride, sizes, ratios):
    got = ref.generate_anchors(feature_hw, stride, sizes, ratios)
    torch.testing.assert_close(got, _anchors_by_the_definition(feature_hw, stride, sizes, ratios))


def test_generate_anchors_have_area_size_squared_and_height_over_width_the_ratio():
    sizes, ratios = (12.0, 40.0), (0.3, 1.0, 2.5)
    anchors = ref.generate_anchors((2, 3), 10, sizes, ratios)
    w, h = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    expected = [(s * s, r) for s in sizes for r in ratios] * 6
    torch.testing.assert_close(w * h, _t([a for a, _ in expected]))
    torch.testing.assert_close(h / w, _t([r for _, r in expected]))


def test_generate_anchors_centres_lie_at_the_middle_of_each_cell_in_row_major_order():
    anchors = ref.generate_anchors((2, 3), 8, (5,), (1.0, 2.0))  # (2 * 3 * 2, 4)
    centres = ((anchors[:, :2] + anchors[:, 2:]) / 2)[::2]  # one per position
    assert centres.tolist() == [[4, 4], [12, 4], [20, 4], [4, 12], [12, 12], [20, 12]]


def test_generate_anchors_returns_the_requested_device_and_dtype():
    anchors = ref.generate_anchors([2, 2], 16, [32], [1.0], device="cpu", dtype=torch.float32)
    assert anchors.dtype == torch.float32 and anchors.device.type == "cpu"


@pytest.mark.parametrize(
    "args, message",
    [
        (((0, 2), 16, (8,), (1.0,)), "feature_hw"),
        (((2.5, 2), 16, (8,), (1.0,)), "feature_hw"),
        (((2, 2), 0, (8,), (1.0,)), "stride"),
        (((2, 2), 16, (), (1.0,)), "sizes"),
        (((2, 2), 16, (8,), (1.0, -2.0)), "aspect_ratios"),
    ],
)
def test_generate_anchors_refuses_bad_arguments_by_name(args, message):
    with pytest.raises(ValueError, match=message):
        ref.generate_anchors(*args)


# --- match_detections ----------------------------------------------------------------------------

# Notebook 07's worked example: two ground-truth boxes, five detections.
GT = _t([[0, 0, 10, 10], [20, 0, 30, 10]])
DETECTIONS = _t(
    [
        [1, 0, 11, 10],  # IoU with GT 0: 9 * 10 / (100 + 100 - 90) = 90 / 110 = 0.818
        [0, 0, 10, 10],  # identical to GT 0: IoU 1
        [20, 0, 30, 5],  # inside GT 1: 50 / 100 = 0.5, exactly the threshold
        [40, 0, 50, 10],  # overlaps nothing
        [21, 0, 31, 10],  # IoU with GT 1: 90 / 110 = 0.818
    ]
)
SCORES = _t([0.6, 0.9, 0.8, 0.7, 0.5])


def test_match_detections_reproduces_the_worked_example_by_hand():
    # Score order: 1 (0.9), 2 (0.8), 3 (0.7), 0 (0.6), 4 (0.5).
    # 1 takes GT 0 (IoU 1): TP. 2 takes GT 1 (IoU 0.5 >= 0.5): TP. 3 overlaps nothing: FP.
    # 0's best is GT 0 (0.818) but 1 matched it: FP (a duplicate). 4's best is GT 1 (0.818),
    # matched by 2: FP.
    tp, order = ref.match_detections(DETECTIONS, SCORES, GT, 0.5)
    assert order.dtype == torch.int64 and tp.dtype == torch.bool
    assert order.tolist() == [1, 2, 3, 0, 4]
    assert tp.tolist() == [True, True, False, False, False]


def test_match_detections_at_iou_075_leaves_the_half_overlap_to_a_later_detection():
    # At 0.75, detection 2 (IoU 0.5) is an FP and leaves GT 1 free, so 4 (0.818) takes it.
    tp, order = ref.match_detections(DETECTIONS, SCORES, GT, 0.75)
    assert order.tolist() == [1, 2, 3, 0, 4]
    assert tp.tolist() == [True, False, False, False, True]


@pytest.mark.parametrize(
    "gt, threshold",
    [
        ([[0, 0, 4, 4]], 0.5),  # (0,0,4,2) vs (0,0,4,4): 8 / 16 = 0.5 exactly
        ([[0, 0, 4, 1]], 0.5),  # (0,0,4,2) vs (0,0,4,1): 4 / 8 = 0.5 exactly
        ([[0, 0, 4, 8]], 0.25),  # 8 / 32 = 0.25 exactly
    ],
)
def test_match_detections_counts_an_iou_exactly_at_the_threshold(gt, threshold):
    tp, _ = ref.match_detections(_t([[0, 0, 4, 2]]), _t([0.9]), _t(gt), threshold)
    assert tp.tolist() == [True]


def test_match_detections_marks_a_detection_whose_best_box_is_taken_false_even_if_another_is_free():
    # VOC's rule: the best-IoU box decides. GT A = (0,0,10,10), B = (2,0,12,10).
    # Detection 0 = A exactly takes A. Detection 1 = (0.5,0,10.5,10): IoU with A is
    # 9.5 * 10 / (100 + 100 - 95) = 95 / 105 = 0.905, with B 8.5 * 10 / (200 - 85) = 0.739.
    # Its best box A is taken, so it is a false positive although B (0.739 >= 0.5) is free.
    gt = _t([[0, 0, 10, 10], [2, 0, 12, 10]])
    tp, order = ref.match_detections(_t([[0, 0, 10, 10], [0.5, 0, 10.5, 10]]), _t([0.9, 0.8]), gt)
    assert order.tolist() == [0, 1] and tp.tolist() == [True, False]


def test_match_detections_breaks_score_ties_by_input_order():
    # Two identical detections with equal scores on one box: the first in the input wins.
    boxes = _t([[50, 50, 60, 60], [0, 0, 10, 10], [0, 0, 10, 10]])
    tp, order = ref.match_detections(boxes, _t([0.7, 0.7, 0.7]), _t([[0, 0, 10, 10]]))
    assert order.tolist() == [0, 1, 2] and tp.tolist() == [False, True, False]


def test_match_detections_breaks_iou_ties_by_the_first_ground_truth_box():
    # (5,0,15,10) overlaps both GT boxes by 50 / 150 = 1/3: the first (index 0) is its best.
    gt = _t([[0, 0, 10, 10], [10, 0, 20, 10]])
    tp, _ = ref.match_detections(_t([[5, 0, 15, 10], [10, 0, 20, 10]]), _t([0.9, 0.8]), gt, 0.3)
    assert tp.tolist() == [True, True]  # the second detection then finds box 1 free


def test_match_detections_matches_each_ground_truth_box_at_most_once():
    rng = np.random.default_rng(3)
    gt = _t([[0, 0, 10, 10]])
    boxes = torch.from_numpy(np.array([[0.0, 0, 10, 10]]) + rng.normal(0, 0.3, (8, 4)))
    tp, _ = ref.match_detections(boxes, torch.from_numpy(rng.uniform(size=8)), gt, 0.5)
    assert int(tp.sum()) == 1 and tp[0]


def test_match_detections_with_no_ground_truth_marks_every_detection_false():
    tp, order = ref.match_detections(DETECTIONS, SCORES, torch.zeros(0, 4, dtype=DOUBLE))
    assert order.tolist() == [1, 2, 3, 0, 4] and tp.tolist() == [False] * 5


def test_match_detections_with_no_detections_returns_empty_arrays():
    tp, order = ref.match_detections(torch.zeros(0, 4, dtype=DOUBLE), _t([]), GT)
    assert tp.shape == (0,) and tp.dtype == torch.bool
    assert order.shape == (0,) and order.dtype == torch.int64


@pytest.mark.parametrize("threshold", [0, 0.0, 1.5, True, "0.5"])
def test_match_detections_refuses_a_threshold_outside_zero_to_one(threshold):
    with pytest.raises(ValueError, match="iou_threshold"):
        ref.match_detections(DETECTIONS, SCORES, GT, threshold)


def test_match_detections_refuses_scores_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"scores must be a tensor of shape \(K,\) = \(5,\)"):
        ref.match_detections(DETECTIONS, SCORES[:3], GT)


# --- average_precision ---------------------------------------------------------------------------

# Notebook 07's worked example: 7 detections in score order, 4 ground-truth boxes.
TP = [1, 0, 1, 0, 0, 1, 1]


def test_average_precision_all_points_reproduces_the_worked_example_by_hand():
    # rank k:       1    2    3    4    5    6    7
    # precision:    1   1/2  2/3  2/4  2/5  3/6  4/7
    # recall:      1/4  1/4  2/4  2/4  2/4  3/4   1
    # envelope:     1   2/3  2/3  4/7  4/7  4/7  4/7   (the largest precision from rank k on)
    # Recall changes at the true positives 1, 3, 6, 7, each by 1/4:
    # AP = (1 + 2/3 + 4/7 + 4/7) / 4 = (21 + 14 + 12 + 12) / 21 / 4 = 59/84 = 0.70238...
    assert ref.average_precision(torch.tensor(TP, dtype=torch.bool), 4) == pytest.approx(59 / 84)


def test_average_precision_eleven_points_reproduces_the_worked_example_by_hand():
    # t = 0, 0.1, 0.2: every rank has recall >= t, the best precision is 1.
    # t = 0.3, 0.4, 0.5: ranks 3-7, best 2/3. t = 0.6, 0.7: ranks 6-7, best 4/7.
    # t = 0.8, 0.9, 1.0: rank 7, 4/7. AP = (3 * 1 + 3 * 2/3 + 5 * 4/7) / 11 = (55/7) / 11 = 5/7.
    ap = ref.average_precision(torch.tensor(TP), 4, method="11point")
    assert ap == pytest.approx(5 / 7)


def test_average_precision_without_the_envelope_would_differ_on_the_worked_example():
    # At rank 3 the precision is 2/3 (envelope 2/3) but at rank 6 it is 3/6 while the envelope
    # is 4/7: the raw area (1 + 2/3 + 1/2 + 4/7) / 4 = 115/168 is what the envelope replaces.
    assert ref.average_precision(torch.tensor(TP), 4) != pytest.approx(115 / 168)


@pytest.mark.parametrize(
    "tp, num_gt, method, expected",
    [
        ([1, 1, 1], 3, "all", 1.0),  # every detection right, every box found
        ([1, 1, 1], 3, "11point", 1.0),
        ([1, 0, 1], 4, "all", (1 + 2 / 3) / 4),  # recall stops at 2/4: (1 + 2/3) / 4 = 5/12
        ([1, 0, 1], 4, "11point", (3 * 1 + 3 * 2 / 3) / 11),  # t >= 0.6 unreachable: 5/11
        ([0, 0, 0, 1], 1, "all", 1 / 4),  # three false positives first: precision 1/4 at recall 1
        ([0, 0, 0, 1], 1, "11point", 1 / 4),
        ([], 3, "all", 0.0),  # no detections: nothing found
        ([], 3, "11point", 0.0),
        ([0, 0], 2, "all", 0.0),  # only false positives
        ([1, 0, 0, 0, 0], 1, "all", 1.0),  # false positives after the last find cost nothing
    ],
)
def test_average_precision_on_small_cases_computed_by_hand(tp, num_gt, method, expected):
    ap = ref.average_precision(torch.tensor(tp, dtype=torch.bool), num_gt, method)
    assert ap == pytest.approx(expected)


@pytest.mark.parametrize("method", ["all", "11point"])
@pytest.mark.parametrize("tp", [[], [0, 0]])
def test_average_precision_without_ground_truth_is_nan(tp, method):
    assert math.isnan(ref.average_precision(torch.tensor(tp, dtype=torch.bool), 0, method))


def test_average_precision_eleven_points_counts_a_recall_of_exactly_three_tenths_at_t_03():
    # num_gt = 10, tp = [1, 1, 1, 0, 1]: recall 0.1, 0.2, 0.3, 0.3, 0.4 and precision 1, 1, 1,
    # 3/4, 4/5. At t = 3/10 the rank with recall exactly 3/10 (precision 1) counts, so
    # AP = (4 * 1 + 0.8) / 11 = 4.8 / 11. (With np.arange(0, 1.1, 0.1), t = 0.30000000000000004
    # would skip it and give (3 + 0.8 + 0.8) / 11 = 4.6 / 11.)
    ap = ref.average_precision(torch.tensor([1, 1, 1, 0, 1]), 10, "11point")
    assert ap == pytest.approx(4.8 / 11, abs=1e-15)


@pytest.mark.parametrize(
    "tp, num_gt, message",
    [
        ([1, 1, 1], 2, "only num_gt = 2"),
        ([1, 0], -1, "non-negative int"),
        ([1, 0], 2.0, "non-negative int"),
        ([2, 0], 2, "0/1"),
    ],
)
def test_average_precision_refuses_inconsistent_arguments(tp, num_gt, message):
    with pytest.raises(ValueError, match=message):
        ref.average_precision(torch.tensor(tp), num_gt)


def test_average_precision_refuses_an_unknown_method():
    with pytest.raises(ValueError, match='"all" or "11point"'):
        ref.average_precision(torch.tensor([1]), 1, method="coco")


# --- the PASCAL VOC devkit, transcribed --------------------------------------------------------


def _voc_ap(rec: np.ndarray, prec: np.ndarray) -> float:
    """VOCap.m: sentinels at both ends, the envelope from the right, the area at recall changes."""
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[i] - mrec[i - 1]) * mpre[i]))


def _voc_ap_2007(rec: np.ndarray, prec: np.ndarray) -> float:
    """VOCevaldet.m's VOC2007 branch: for t = 0:0.1:1, p = max(prec(rec >= t)), 0 if empty."""
    ap = 0.0
    for k in range(11):
        above = prec[rec >= k / 10]
        ap += (above.max() if above.size else 0.0) / 11
    return ap


def _voc_evaldet(dets, gts, cls, minoverlap, use_07):
    """VOCevaldet.m for one class, loop for loop: all the class's detections of all images
    sorted by decreasing confidence (MATLAB's sort is stable), each assigned to the
    ground-truth box of its image with the largest overlap (strictly larger replaces), a true
    positive when ovmax >= minoverlap and that box is not yet detected. Widths are x2 - x1."""
    ids, confidence, bb = [], [], []
    for image, (boxes, scores, labels) in enumerate(dets):
        for box, score, label in zip(boxes.tolist(), scores.tolist(), labels.tolist()):
            if label == cls:
                ids.append(image)
                confidence.append(score)
                bb.append(box)
    gt = [
        {"BB": [b for b, lab in zip(boxes.tolist(), labels.tolist()) if lab == cls]}
        for boxes, labels in gts
    ]
    for g in gt:
        g["det"] = [False] * len(g["BB"])
    npos = sum(len(g["BB"]) for g in gt)
    si = sorted(range(len(confidence)), key=lambda d: -confidence[d])  # stable
    nd = len(si)
    tp, fp = np.zeros(nd), np.zeros(nd)
    for d in range(nd):
        i, box = ids[si[d]], bb[si[d]]
        ovmax, jmax = -math.inf, None
        for j, bbgt in enumerate(gt[i]["BB"]):
            bi = [max(box[0], bbgt[0]), max(box[1], bbgt[1]), min(box[2], bbgt[2])]
            bi.append(min(box[3], bbgt[3]))
            iw, ih = bi[2] - bi[0], bi[3] - bi[1]
            if iw > 0 and ih > 0:
                ua = (box[2] - box[0]) * (box[3] - box[1])
                ua += (bbgt[2] - bbgt[0]) * (bbgt[3] - bbgt[1]) - iw * ih
                ov = iw * ih / ua
                if ov > ovmax:
                    ovmax, jmax = ov, j
        if ovmax >= minoverlap:
            if not gt[i]["det"][jmax]:
                tp[d] = 1
                gt[i]["det"][jmax] = True
            else:
                fp[d] = 1
        else:
            fp[d] = 1
    if npos == 0:
        return math.nan, tp
    fp, tpc = np.cumsum(fp), np.cumsum(tp)
    rec, prec = tpc / npos, tpc / (fp + tpc)
    return (_voc_ap_2007(rec, prec) if use_07 else _voc_ap(rec, prec)), tp


def _random_scene(rng, num_images, num_classes, integer_scores=False):
    """Images with a few objects each and noisy detections around them, plus strays."""
    dets, gts = [], []
    for _ in range(num_images):
        g = int(rng.integers(0, 5))
        top_left = rng.uniform(0, 60, (g, 2))
        gt_boxes = np.concatenate([top_left, top_left + rng.uniform(8, 30, (g, 2))], 1)
        gt_labels = rng.integers(0, num_classes, g)
        copies = rng.integers(0, 4, g)
        det_boxes = np.repeat(gt_boxes, copies, axis=0) + rng.normal(0, 3, (copies.sum(), 4))
        det_labels = np.repeat(gt_labels, copies)
        flip = rng.uniform(size=len(det_labels)) < 0.15  # some with the wrong class
        det_labels[flip] = rng.integers(0, num_classes, flip.sum())
        strays = int(rng.integers(0, 3))
        corner = rng.uniform(0, 80, (strays, 2))
        det_boxes = np.concatenate([det_boxes, np.concatenate([corner, corner + 10], 1)])
        det_boxes[:, 2:] = np.maximum(det_boxes[:, 2:], det_boxes[:, :2] + 1)
        det_labels = np.concatenate([det_labels, rng.integers(0, num_classes, strays)])
        k = len(det_boxes)
        scores = rng.integers(1, 5, k) / 5 if integer_scores else rng.uniform(size=k)
        dets.append((_t(det_boxes), _t(scores), torch.from_numpy(det_labels)))
        gts.append((_t(gt_boxes).reshape(-1, 4), torch.from_numpy(gt_labels)))
    return dets, gts


@pytest.mark.parametrize("method", ["all", "11point"])
@pytest.mark.parametrize("threshold", [0.5, 0.75, 0.3])
@pytest.mark.parametrize("seed", range(4))
def test_mean_average_precision_equals_the_voc_devkit_per_class(seed, threshold, method):
    rng = np.random.default_rng(seed)
    dets, gts = _random_scene(rng, num_images=6, num_classes=3, integer_scores=seed % 2 == 1)
    mean_ap, per_class = ref.mean_average_precision(dets, gts, 3, threshold, method)
    expected = [_voc_evaldet(dets, gts, c, threshold, method == "11point")[0] for c in range(3)]
    np.testing.assert_allclose(per_class.numpy(), expected, rtol=1e-12, equal_nan=True)
    present = [v for v in expected if not math.isnan(v)]
    assert mean_ap == pytest.approx(
        sum(present) / len(present) if present else math.nan, nan_ok=True
    )


@pytest.mark.parametrize("seed", range(6))
def test_match_detections_and_average_precision_equal_the_voc_devkit_on_one_image(seed):
    rng = np.random.default_rng(100 + seed)
    dets, gts = _random_scene(rng, num_images=1, num_classes=1, integer_scores=seed % 2 == 0)
    (boxes, scores, _), (gt_boxes, _) = dets[0], gts[0]
    expected_ap, expected_tp = _voc_evaldet(dets, gts, 0, 0.5, use_07=False)
    tp, order = ref.match_detections(boxes, scores, gt_boxes, 0.5)
    assert tp.tolist() == expected_tp.astype(bool).tolist()
    ap = ref.average_precision(tp, len(gt_boxes))
    assert ap == pytest.approx(expected_ap, nan_ok=True)
    recall = np.cumsum(expected_tp) / max(len(gt_boxes), 1)
    precision = np.cumsum(expected_tp) / np.arange(1, len(expected_tp) + 1)
    if len(gt_boxes):
        assert ref.average_precision(tp, len(gt_boxes), "11point") == pytest.approx(
            _voc_ap_2007(recall, precision)
        )


# --- mean_average_precision ----------------------------------------------------------------------


def _worked_map_example():
    """Notebook 07's worked example: two images, classes 0 and 1 present, class 2 absent."""
    detections = [
        (
            _t([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]]),
            _t([0.9, 0.8, 0.6]),
            torch.tensor([0, 0, 1]),
        ),
        (_t([[5, 5, 15, 15], [5, 5, 15, 15]]), _t([0.7, 0.5]), torch.tensor([1, 0])),
    ]
    ground_truth = [
        (_t([[0, 0, 10, 10], [20, 20, 30, 30]]), torch.tensor([0, 1])),
        (_t([[5, 5, 15, 15]]), torch.tensor([0])),
    ]
    return detections, ground_truth


def test_mean_average_precision_reproduces_the_worked_example_by_hand():
    # Class 0, 2 boxes: 0.9 (image 0) TP; 0.8 (image 0, IoU 81/119 = 0.68 with the box
    # already taken) FP; 0.5 (image 1) TP. tp = [1, 0, 1]: precision 1, 1/2, 2/3 at recall
    # 1/2, 1/2, 1; AP = (1 + 2/3) / 2 = 5/6.
    # Class 1, 1 box: 0.7 (image 1, which has no class-1 box) FP; 0.6 (image 0) TP.
    # tp = [0, 1]: precision 1/2 at recall 1; AP = 1/2.
    # Class 2: no ground truth, nan, left out. mAP = (5/6 + 1/2) / 2 = 2/3.
    detections, ground_truth = _worked_map_example()
    mean_ap, per_class = ref.mean_average_precision(detections, ground_truth, 3)
    assert per_class.dtype == DOUBLE and per_class.shape == (3,)
    assert per_class[:2].tolist() == pytest.approx([5 / 6, 1 / 2]) and math.isnan(per_class[2])
    assert mean_ap == pytest.approx(2 / 3)


def test_mean_average_precision_eleven_points_on_the_worked_example():
    # Class 0: t <= 0.5 -> 1, t >= 0.6 -> 2/3: (6 + 5 * 2/3) / 11 = (28/3) / 11 = 28/33.
    # Class 1: every t reaches recall 1 only at rank 2 (precision 1/2); t = 0 too: 1/2.
    detections, ground_truth = _worked_map_example()
    mean_ap, per_class = ref.mean_average_precision(detections, ground_truth, 3, method="11point")
    assert per_class[:2].tolist() == pytest.approx([28 / 33, 1 / 2])
    assert mean_ap == pytest.approx((28 / 33 + 1 / 2) / 2)


def test_mean_average_precision_leaves_out_a_class_with_detections_but_no_ground_truth():
    detections, ground_truth = _worked_map_example()
    boxes, scores, labels = detections[1]
    detections[1] = (
        torch.cat([boxes, _t([[40, 40, 50, 50]])]),
        torch.cat([scores, _t([0.99])]),
        torch.cat([labels, torch.tensor([2])]),
    )
    mean_ap, per_class = ref.mean_average_precision(detections, ground_truth, 3)
    assert math.isnan(per_class[2]) and mean_ap == pytest.approx(2 / 3)


def test_mean_average_precision_without_any_ground_truth_is_nan():
    detections, _ = _worked_map_example()
    empty = [(torch.zeros(0, 4, dtype=DOUBLE), torch.zeros(0, dtype=torch.int64))] * 2
    mean_ap, per_class = ref.mean_average_precision(detections, empty, 3)
    assert math.isnan(mean_ap) and torch.isnan(per_class).all()


def test_mean_average_precision_ranks_equal_scores_image_by_image():
    # Equal scores across images: image 0's false positive ranks before image 1's true one.
    detections = [
        (_t([[50, 50, 60, 60]]), _t([0.5]), torch.tensor([0])),
        (_t([[0, 0, 10, 10]]), _t([0.5]), torch.tensor([0])),
    ]
    ground_truth = [
        (torch.zeros(0, 4, dtype=DOUBLE), torch.zeros(0, dtype=torch.int64)),
        (_t([[0, 0, 10, 10]]), torch.tensor([0])),
    ]
    assert ref.mean_average_precision(detections, ground_truth, 1)[0] == pytest.approx(1 / 2)
    assert ref.mean_average_precision(detections[::-1], ground_truth[::-1], 1)[0] == 1.0


def test_mean_average_precision_refuses_mismatched_images_and_labels():
    detections, ground_truth = _worked_map_example()
    with pytest.raises(ValueError, match="same images"):
        ref.mean_average_precision(detections, ground_truth[:1], 3)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        ref.mean_average_precision(detections, ground_truth, 1)


# --- devices and dtypes ---------------------------------------------------------------------------


def test_the_twins_take_float32_and_give_the_float64_answers():
    detections, ground_truth = _worked_map_example()
    as_float32 = [(b.float(), s.float(), lab) for b, s, lab in detections]
    gt_float32 = [(b.float(), lab) for b, lab in ground_truth]
    mean_ap, per_class = ref.mean_average_precision(as_float32, gt_float32, 3)
    assert mean_ap == pytest.approx(2 / 3) and per_class.dtype == DOUBLE
    tp, order = ref.match_detections(DETECTIONS.float(), SCORES.float(), GT.float())
    assert tp.tolist() == [True, True, False, False, False] and order.tolist() == [1, 2, 3, 0, 4]


@pytest.mark.cuda
def test_the_evaluation_twins_run_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    anchors = ref.generate_anchors((1, 2), 16, (8, 16), (0.25, 1.0, 4.0), device="cuda")
    assert anchors.device.type == "cuda"
    assert anchors.cpu().equal(ref.generate_anchors((1, 2), 16, (8, 16), (0.25, 1.0, 4.0)))
    tp, order = ref.match_detections(DETECTIONS.cuda(), SCORES.cuda(), GT.cuda())
    assert tp.device.type == order.device.type == "cuda"
    assert tp.tolist() == [True, True, False, False, False] and order.tolist() == [1, 2, 3, 0, 4]
    assert ref.average_precision(torch.tensor(TP, device="cuda"), 4) == pytest.approx(59 / 84)
    detections, ground_truth = _worked_map_example()
    on_cuda = [tuple(t.cuda() for t in d) for d in detections]
    gt_cuda = [tuple(t.cuda() for t in g) for g in ground_truth]
    mean_ap, per_class = ref.mean_average_precision(on_cuda, gt_cuda, 3)
    assert per_class.device.type == "cuda" and mean_ap == pytest.approx(2 / 3)


# --- the notebook's NumPy solutions agree with the twins -----------------------------------------


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("07_detection_segmentation")


def _numpy(scene):
    dets, gts = scene
    return (
        [tuple(t.numpy() for t in d) for d in dets],
        [tuple(t.numpy() for t in g) for g in gts],
    )


@pytest.mark.parametrize("seed", range(5))
def test_the_notebook_solutions_equal_the_twins_on_random_scenes(solutions, seed):
    rng = np.random.default_rng(200 + seed)
    scene = _random_scene(rng, num_images=5, num_classes=3, integer_scores=seed % 2 == 0)
    dets, gts = _numpy(scene)
    for method, threshold in itertools.product(("all", "11point"), (0.5, 0.75)):
        got_map, got_per_class = solutions.mean_average_precision(dets, gts, 3, threshold, method)
        want_map, want_per_class = ref.mean_average_precision(*scene, 3, threshold, method)
        assert isinstance(got_per_class, np.ndarray) and got_per_class.dtype == np.float64
        np.testing.assert_allclose(
            got_per_class, want_per_class.numpy(), rtol=1e-12, equal_nan=True
        )
        assert got_map == pytest.approx(want_map, rel=1e-12, nan_ok=True)
    for (boxes, scores, _), (gt_boxes, _) in zip(*scene):
        got_tp, got_order = solutions.match_detections(
            boxes.numpy(), scores.numpy(), gt_boxes.numpy()
        )
        want_tp, want_order = ref.match_detections(boxes, scores, gt_boxes)
        assert got_order.tolist() == want_order.tolist() and got_tp.tolist() == want_tp.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_the_notebook_anchors_and_average_precision_equal_the_twins(solutions, seed):
    rng = np.random.default_rng(300 + seed)
    hw = tuple(int(v) for v in rng.integers(1, 6, 2))
    stride = float(rng.choice([4, 8, 16, 12.5]))
    sizes = tuple(rng.uniform(8, 200, int(rng.integers(1, 4))))
    ratios = tuple(rng.uniform(0.2, 5, int(rng.integers(1, 5))))
    got = solutions.generate_anchors(hw, stride, sizes, ratios)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    np.testing.assert_allclose(
        got, ref.generate_anchors(hw, stride, sizes, ratios).numpy(), rtol=1e-12, atol=1e-12
    )
    tp = rng.uniform(size=int(rng.integers(0, 30))) < 0.5
    num_gt = int(tp.sum() + rng.integers(0, 4))
    for method in ("all", "11point"):
        got_ap = solutions.average_precision(tp, num_gt, method)
        want_ap = ref.average_precision(torch.from_numpy(tp), num_gt, method)
        assert got_ap == pytest.approx(want_ap, rel=1e-12, abs=1e-15, nan_ok=True)
