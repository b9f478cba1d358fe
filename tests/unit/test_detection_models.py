"""Notebook 07's networks and metrics: shapes, initial priors, targets, recall and IoU."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_utils.detection_models import (
    FCNSegmenter,
    GridDetector,
    conv_backbone,
    detection_recall_precision,
    grid_targets,
    ranked_matches,
    segmentation_iou,
    train_network,
)
from course_utils.reference import evaluation
from course_utils.reference.detection import encode_boxes
from course_utils.shapes import make_shapes


def test_conv_backbone_halves_the_size_at_every_stage():
    net = conv_backbone(width=4, num_stages=4)
    assert net(torch.zeros(2, 3, 64, 64)).shape == (2, 16, 4, 4)
    assert conv_backbone(width=4, num_stages=2)(torch.zeros(1, 3, 32, 48)).shape == (1, 8, 8, 12)


def test_conv_backbone_refuses_zero_stages():
    with pytest.raises(ValueError, match="num_stages=0"):
        conv_backbone(width=4, num_stages=0)


def test_grid_detector_outputs_five_plus_c_channels_per_cell():
    detector = GridDetector(num_classes=3, width=4)
    assert detector(torch.rand(2, 3, 64, 64)).shape == (2, 8, 4, 4)
    detector = GridDetector(num_classes=5, width=4, num_stages=3)
    assert detector(torch.rand(1, 3, 64, 64)).shape == (1, 10, 8, 8)


def test_grid_detector_starts_every_cell_at_the_priors():
    detector = GridDetector(width=4, object_prior=0.125, size_prior=0.45).eval()
    with torch.no_grad():
        pred = detector(torch.rand(3, 3, 64, 64))
    objectness = torch.sigmoid(pred[:, 4])
    assert torch.allclose(objectness, torch.full_like(objectness, 0.125), atol=0.01)
    assert torch.allclose(pred[:, 2:4], torch.full_like(pred[:, 2:4], 0.45), atol=0.05)


def test_grid_detector_refuses_a_prior_outside_zero_one():
    with pytest.raises(ValueError, match="object_prior must be in"):
        GridDetector(object_prior=1.0)


def test_fcn_segmenter_scores_every_pixel_for_background_and_each_class():
    segmenter = FCNSegmenter(num_classes=3, width=4)
    assert segmenter(torch.rand(2, 3, 64, 64)).shape == (2, 4, 64, 64)
    assert segmenter(torch.rand(1, 3, 32, 48)).shape == (1, 4, 32, 48)


def test_fcn_segmenter_upsamples_with_transposed_convolutions():
    segmenter = FCNSegmenter(width=4)
    upsamplers = [m for m in segmenter.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.kernel_size, m.stride, m.padding) for m in upsamplers] == [
        ((4, 4), (2, 2), (1, 1))
    ] * 2


def test_grid_targets_stack_encode_boxes_of_every_image():
    data = make_shapes(5, seed=3)
    targets = grid_targets(data.boxes, data.labels, 4, 3, 64)
    assert targets.shape == (5, 8, 4, 4) and targets.dtype == torch.float32
    for n in range(5):
        expected = encode_boxes(
            torch.from_numpy(data.boxes[n]).double(), torch.from_numpy(data.labels[n]), 4, 3, 64
        )
        torch.testing.assert_close(targets[n], expected.float())


def _detections(boxes, labels, scores=None):
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    labels = torch.tensor(labels, dtype=torch.int64)
    scores = torch.ones(len(boxes)) if scores is None else torch.tensor(scores)
    return boxes, scores, labels


TRUE_BOXES = [np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])]
TRUE_LABELS = [np.array([0, 2])]


def test_recall_and_precision_are_one_for_the_true_boxes():
    detections = [_detections(TRUE_BOXES[0], [0, 2])]
    assert detection_recall_precision(detections, TRUE_BOXES, TRUE_LABELS) == (1.0, 1.0)


def test_a_detection_of_the_wrong_class_is_not_right():
    detections = [_detections(TRUE_BOXES[0], [1, 2])]
    assert detection_recall_precision(detections, TRUE_BOXES, TRUE_LABELS) == (0.5, 0.5)


def test_a_detection_needs_iou_at_least_the_threshold():
    # [0, 0, 10, 10] against [5, 0, 15, 10]: intersection 50, union 150, IoU 1/3.
    detections = [_detections([[5.0, 0.0, 15.0, 10.0]], [0])]
    assert detection_recall_precision(detections, TRUE_BOXES, TRUE_LABELS, 0.5) == (0.0, 0.0)
    assert detection_recall_precision(detections, TRUE_BOXES, TRUE_LABELS, 0.3) == (0.5, 1.0)


def test_a_second_detection_of_the_same_shape_counts_as_wrong():
    detections = [_detections([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 9.0]], [0, 0], [0.6, 0.9])]
    recall, precision = detection_recall_precision(detections, TRUE_BOXES, TRUE_LABELS)
    assert (recall, precision) == (0.5, 0.5)


def test_no_detections_give_recall_zero_and_precision_one():
    detections = [_detections(np.zeros((0, 4)), [])]
    assert detection_recall_precision(detections, TRUE_BOXES, TRUE_LABELS) == (0.0, 1.0)


def test_a_detection_whose_best_box_is_taken_is_wrong_even_when_another_box_is_free():
    # PASCAL VOC's rule. Boxes A = (0,0,10,10) and B = (2,0,12,10), both class 0. The first
    # detection is A itself; the second, (0.5,0,10.5,10), has IoU 95/105 with A and 85/115
    # with B: its best box A is taken, so it is wrong although B would match it at 0.5.
    truth = [np.array([[0.0, 0.0, 10.0, 10.0], [2.0, 0.0, 12.0, 10.0]])]
    detections = [_detections([[0.0, 0.0, 10.0, 10.0], [0.5, 0.0, 10.5, 10.0]], [0, 0], [0.9, 0.8])]
    assert detection_recall_precision(detections, truth, [np.array([0, 0])]) == (0.5, 0.5)


def test_ranked_matches_pools_a_class_over_images_as_mean_average_precision_does():
    rng = np.random.default_rng(0)
    detections, ground_truth = [], []
    for _ in range(4):
        gt = rng.uniform(0, 40, (3, 2))
        gt_boxes = np.concatenate([gt, gt + rng.uniform(5, 20, (3, 2))], 1)
        boxes = np.repeat(gt_boxes, 2, axis=0) + rng.normal(0, 2, (6, 4))
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        labels = rng.integers(0, 2, 6)
        detections.append((boxes, rng.uniform(size=6), labels))
        ground_truth.append((gt_boxes, rng.integers(0, 2, 3)))

    def match(boxes, scores, gt_boxes, iou_threshold):
        tp, order = evaluation.match_detections(
            torch.from_numpy(boxes),
            torch.from_numpy(scores),
            torch.from_numpy(gt_boxes),
            iou_threshold,
        )
        return tp.numpy(), order.numpy()

    as_tensors = (
        [tuple(torch.from_numpy(a) for a in d) for d in detections],
        [tuple(torch.from_numpy(a) for a in g) for g in ground_truth],
    )
    _, ap_per_class = evaluation.mean_average_precision(*as_tensors, 2)
    for label in range(2):
        tp, num_gt = ranked_matches(detections, ground_truth, label, match)
        assert tp.dtype == bool and num_gt == sum(int((g[1] == label).sum()) for g in ground_truth)
        ap = evaluation.average_precision(torch.from_numpy(tp), num_gt)
        assert ap == pytest.approx(ap_per_class[label].item())


def test_segmentation_iou_is_intersection_over_union_per_shape_class():
    true = np.array([[[0, 1, 1, 2]]])
    pred = np.array([[[1, 1, 0, 2]]])
    # class 1: intersection 1 pixel, union 3; class 2: 1 of 1; class 3: absent from both.
    np.testing.assert_allclose(segmentation_iou(pred, true, 3), [1 / 3, 1.0, 0.0])


def test_segmentation_iou_refuses_masks_of_different_shapes():
    with pytest.raises(ValueError, match="same shape"):
        segmentation_iou(np.zeros((1, 4, 4)), np.zeros((1, 4, 5)))


def test_train_network_lowers_the_loss_of_a_tiny_regression():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=generator)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
    with torch.random.fork_rng():  # a fixed start: from some random ones 20 epochs fall short
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
    losses = train_network(
        model,
        lambda out, target: ((out[:, 0] - target) ** 2).mean(),
        (x, y),
        epochs=20,
        lr=0.1,
        batch_size=16,
        generator=generator,
        verbose=False,
    )
    assert len(losses) == 20
    assert losses[-1] < 0.01 * losses[0]
    assert not math.isnan(losses[-1])


def test_train_network_refuses_zero_epochs():
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        train_network(
            torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, (torch.zeros(1, 1),) * 2, 0
        )
