"""Notebook 07's two networks learn in the fast configuration.

The networks, the targets and the training loop are the notebook's own
(``course_utils.detection_models`` with the knobs of the notebook's setup cell, loaded by
``tests/solutions.py``); the losses and the box decoding are the reference twins
(``course_utils.reference.detection``). So the test fails when a change to the networks, the
data, the twins or the knobs would leave the students' detector or segmenter short of the
targets: recall and precision of at least 0.6 at IoU 0.5 for the detector, a mean IoU of at
least 0.5 over the three shape classes for the segmenter. (The fast runs reach about 0.95
recall and 0.96 precision, and a mean IoU of about 0.93, in about 10 and 17 seconds of CPU
time on one core.)
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.detection_models import (
    FCNSegmenter,
    GridDetector,
    detection_recall_precision,
    grid_targets,
    segmentation_iou,
    train_network,
)
from course_utils.reference import detection as ref
from course_utils.shapes import make_shapes
from tests.solutions import load_solutions

TARGET_RECALL = 0.6
TARGET_PRECISION = 0.6
TARGET_MEAN_IOU = 0.5

pytestmark = pytest.mark.slow


@functools.cache
def _setup():
    """The notebook's knobs and its training and test sets."""
    knobs = load_solutions("07_detection_segmentation")
    if not knobs.FAST:
        pytest.skip("the targets are for the fast configuration; unset CNN_COURSE_FAST")
    train = make_shapes(knobs.NUM_TRAIN, image_size=knobs.IMAGE_SIZE, seed=knobs.SEED)
    test = make_shapes(knobs.NUM_TEST, image_size=knobs.IMAGE_SIZE, seed=knobs.SEED + 1)
    return knobs, train, test


def test_grid_detector_finds_the_test_shapes_in_the_fast_configuration():
    knobs, train, test = _setup()
    torch.manual_seed(knobs.SEED)
    targets = grid_targets(train.boxes, train.labels, knobs.GRID_SIZE, 3, knobs.IMAGE_SIZE)
    object_prior = targets[:, 4].mean().item()
    size_prior = (targets[:, 2:4].sum() / (2 * targets[:, 4].sum())).item()
    detector = GridDetector(
        num_classes=3,
        width=knobs.WIDTH,
        num_stages=int(math.log2(knobs.IMAGE_SIZE // knobs.GRID_SIZE)),
        object_prior=object_prior,
        size_prior=size_prior,
    )
    train_network(
        detector,
        lambda pred, target: ref.yolo_loss(pred, target)[0],
        (torch.from_numpy(train.images), targets),
        knobs.DETECTOR_EPOCHS,
        lr=knobs.LEARNING_RATE,
        batch_size=knobs.BATCH_SIZE,
        generator=torch.Generator().manual_seed(knobs.SEED),
        verbose=False,
    )
    detector.eval()
    with torch.no_grad():
        pred = detector(torch.from_numpy(test.images))
    detections = ref.decode_predictions(
        pred, knobs.IMAGE_SIZE, score_threshold=knobs.SCORE_THRESHOLD, iou_threshold=0.5
    )
    recall, precision = detection_recall_precision(detections, test.boxes, test.labels, 0.5)
    assert recall >= TARGET_RECALL and precision >= TARGET_PRECISION, (
        f"the detector reached recall {recall:.2f} and precision {precision:.2f} on "
        f"{len(test)} test images; expected at least {TARGET_RECALL} and {TARGET_PRECISION}"
    )


def test_fcn_segmenter_labels_the_test_shapes_in_the_fast_configuration():
    knobs, train, test = _setup()
    torch.manual_seed(knobs.SEED)
    class_weights = torch.tensor([1.0] + [knobs.FOREGROUND_WEIGHT] * 3)
    segmenter = FCNSegmenter(num_classes=3, width=knobs.WIDTH)
    train_network(
        segmenter,
        lambda scores, y: F.cross_entropy(scores, y, weight=class_weights),
        (torch.from_numpy(train.images), torch.from_numpy(train.masks)),
        knobs.SEGMENTER_EPOCHS,
        lr=knobs.LEARNING_RATE,
        batch_size=knobs.BATCH_SIZE,
        generator=torch.Generator().manual_seed(knobs.SEED),
        verbose=False,
    )
    segmenter.eval()
    with torch.no_grad():
        predicted = segmenter(torch.from_numpy(test.images)).argmax(dim=1).numpy()
    ious = segmentation_iou(predicted, test.masks, num_classes=3)
    assert ious.mean() >= TARGET_MEAN_IOU, (
        f"the segmenter reached IoUs {np.round(ious, 3).tolist()} (mean {ious.mean():.3f}) on "
        f"{len(test)} test images; expected a mean of at least {TARGET_MEAN_IOU}"
    )
