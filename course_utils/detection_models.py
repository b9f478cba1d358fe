"""Notebook 07's networks: a YOLO-style grid detector and a fully convolutional segmenter.

    detector = GridDetector(width=16)             # (N, 3, 64, 64) -> (N, 5 + 3, 4, 4)
    segmenter = FCNSegmenter(width=16)            # (N, 3, 64, 64) -> (N, 1 + 3, 64, 64)
    targets = grid_targets(boxes, labels, grid_size=4, num_classes=3, image_size=64)
    losses = train_network(detector, loss_of, (images, targets), epochs=4)
    recall, precision = detection_recall_precision(detections, true_boxes, true_labels)
    tp, num_gt = ranked_matches(detections, ground_truth, label, match=match_detections)
    ious = segmentation_iou(predicted_masks, true_masks, num_classes=3)

Both networks are built of the same stage, a 3x3 convolution, batch normalisation and a ReLU.
Batch normalisation is what lets these small networks learn in a few epochs at Adam's larger
learning rates: every stage sees inputs of a stable scale whatever the layers before it do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from course_utils.reference.detection import encode_boxes
from course_utils.reference.evaluation import match_detections

__all__ = [
    "conv_stage",
    "conv_backbone",
    "GridDetector",
    "FCNSegmenter",
    "grid_targets",
    "train_network",
    "detection_recall_precision",
    "ranked_matches",
    "segmentation_iou",
]


def conv_stage(c_in: int, c_out: int, pool: bool = True) -> nn.Sequential:
    """3x3 convolution (padding 1), BatchNorm2d, ReLU and, when pool, a 2x2 max-pool.

    (N, c_in, H, W) -> (N, c_out, H, W), or (N, c_out, H / 2, W / 2) with pool. The convolution
    has no bias: the batch norm's beta right after it would cancel it.
    """
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def _stage_widths(width: int, num_stages: int) -> list[int]:
    """width, 2 width, 4 width, 4 width, ...: channels double until 4 * width, then stay."""
    return [width * min(2**k, 4) for k in range(num_stages)]


def conv_backbone(width: int = 16, num_stages: int = 4, in_channels: int = 3) -> nn.Sequential:
    """num_stages conv stages (conv_stage with pooling), each halving the height and width.

    Channels: in_channels -> width -> 2 width -> 4 width -> 4 width ... So
    (N, 3, 64, 64) -> (N, 4 width, 4, 4) with the default four stages: one output position
    per 16x16 cell, each seeing a receptive field of 46x46 pixels around its cell.
    """
    if width < 1 or num_stages < 1:
        raise ValueError(
            f"width and num_stages must be positive ints, got width={width!r}, "
            f"num_stages={num_stages!r}."
        )
    channels = [in_channels, *_stage_widths(width, num_stages)]
    return nn.Sequential(*(conv_stage(a, b) for a, b in zip(channels[:-1], channels[1:])))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class GridDetector(nn.Module):
    """A YOLO-style grid detector: conv_backbone then a 1x1 convolution per cell.

    (N, 3, H, W) -> pred (N, 5 + C, H / 2**num_stages, W / 2**num_stages), channels
    [tx, ty, tw, th, objectness, class_0, ..., class_{C-1}] as raw outputs, the layout of
    course_utils.reference.detection.encode_boxes, yolo_loss and decode_predictions.

    The head starts where the targets are on average, so that training begins by learning
    where objects are instead of first unlearning a bad guess:
        objectness bias = log(p / (1 - p)) with p = object_prior, the share of cells that
            hold an object (sigmoid(bias) = p: the loss of always answering "no object" is
            then small, and the first gradients do not flood the network);
        tw, th biases = size_prior, the typical sqrt(box side / image side);
        the head's weights are small (std 0.01), so every cell starts at these priors.

    Args:
        num_classes: C.
        width: channels of the first stage (see conv_backbone).
        num_stages: downsampling stages; the grid is H / 2**num_stages cells per side.
        object_prior: expected share of cells with an object, in (0, 1).
        size_prior: initial tw and th, e.g. sqrt(16 / 64) = 0.5 for 16-pixel boxes in
            64-pixel images.
    """

    def __init__(
        self,
        num_classes: int = 3,
        width: int = 16,
        num_stages: int = 4,
        object_prior: float = 0.1,
        size_prior: float = 0.5,
    ):
        super().__init__()
        if not 0 < object_prior < 1:
            raise ValueError(f"object_prior must be in (0, 1), got {object_prior!r}.")
        self.backbone = conv_backbone(width, num_stages)
        self.head = nn.Conv2d(_stage_widths(width, num_stages)[-1], 5 + num_classes, 1)
        with torch.no_grad():
            nn.init.normal_(self.head.weight, std=0.01)
            self.head.bias.zero_()
            self.head.bias[2:4] = size_prior
            self.head.bias[4] = _logit(object_prior)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


class FCNSegmenter(nn.Module):
    """A fully convolutional segmenter: an encoder that halves the size twice, a decoder of
    two transposed convolutions (kernel 4, stride 2, pad 1) that double it twice.

    (N, 3, H, W) -> scores (N, 1 + C, H, W), H and W divisible by 4; class 0 is the
    background, class 1 + k the k-th shape, as in course_utils.shapes masks.

        encoder: conv_stage(3, w) + pool           H/2
                 conv_stage(w, 2w) + pool          H/4
                 conv_stage(2w, 2w), conv_stage(2w, 2w)    at H/4, to widen the receptive field
        decoder: ConvTranspose2d(2w, w, 4, 2, 1), BatchNorm2d, ReLU     H/2
                 ConvTranspose2d(w, 1 + C, 4, 2, 1)                     H, the class scores

    Args:
        num_classes: C, the classes besides the background.
        width: w, channels of the first stage.
    """

    def __init__(self, num_classes: int = 3, width: int = 16):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            conv_stage(3, w),
            conv_stage(w, 2 * w),
            conv_stage(2 * w, 2 * w, pool=False),
            conv_stage(2 * w, 2 * w, pool=False),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, 1 + num_classes, 4, stride=2, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def grid_targets(
    boxes: Sequence, labels: Sequence, grid_size: int, num_classes: int, image_size: int
) -> torch.Tensor:
    """The grid detector's targets for a whole dataset: encode_boxes of every image, stacked.

    Args:
        boxes: per image, a (K_i, 4) array of boxes (x1, y1, x2, y2) in pixels.
        labels: per image, a (K_i,) integer array of classes in [0, num_classes).
        grid_size, num_classes, image_size: as in encode_boxes.

    Returns:
        targets: float32 tensor of shape (N, 5 + num_classes, grid_size, grid_size).
    """
    if len(boxes) != len(labels):
        raise ValueError(
            f"boxes and labels must list the same images, got {len(boxes)} and {len(labels)}."
        )
    targets = [
        encode_boxes(
            torch.as_tensor(np.asarray(image_boxes, dtype=np.float64)).reshape(-1, 4),
            torch.as_tensor(np.asarray(image_labels, dtype=np.int64)).reshape(-1),
            grid_size,
            num_classes,
            image_size,
        )
        for image_boxes, image_labels in zip(boxes, labels)
    ]
    return torch.stack(targets).float()  # (N, 5 + C, S, S)


def train_network(
    model: nn.Module,
    loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    tensors: Sequence[torch.Tensor],
    epochs: int,
    lr: float = 1e-2,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    generator: torch.Generator | None = None,
    verbose: bool = True,
) -> list[float]:
    """Train with Adam on shuffled mini-batches; return the mean loss of every epoch.

    Prints, per epoch, the CPU seconds of this process (all its threads) and the wall-clock
    seconds: on a shared machine the wall clock also counts time spent waiting for a core.

    Args:
        model: the network; moved to device and left in training mode.
        loss_of: loss_of(model(x), y) -> 0-dimensional tensor.
        tensors: (x, y), x (N, ...) inputs and y (N, ...) targets, on any device.
        epochs: passes over the data.
        lr: Adam's peak learning rate. A one-cycle schedule warms up to it over the first 15%
            of the steps and then lowers it along a cosine to nearly 0 by the last step: a
            high rate early moves fast, a low rate late settles the weights.
        batch_size: images per step.
        device: where to train.
        generator: a seeded torch.Generator for the shuffling (None: torch's global one).
        verbose: print each epoch's loss, and its CPU and wall seconds.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
    model.to(device).train()
    x_all, y_all = tensors
    steps = epochs * math.ceil(len(x_all) / batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=steps, pct_start=0.15
    )
    cpu_start, wall_start, losses = time.process_time(), time.perf_counter(), []
    for epoch in range(epochs):
        total, seen = 0.0, 0
        order = torch.randperm(len(x_all), generator=generator)
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            x, y = x_all[index].to(device), y_all[index].to(device)
            loss = loss_of(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total, seen = total + loss.item() * len(x), seen + len(x)
        losses.append(total / seen)
        if verbose:
            print(
                f"epoch {epoch + 1:2d}: loss {losses[-1]:.3f} "
                f"(CPU {time.process_time() - cpu_start:.0f} s, "
                f"wall {time.perf_counter() - wall_start:.0f} s)"
            )
    return losses


def _class_matches(boxes, scores, labels, truth, truth_labels, label, iou_threshold):
    """match_detections (VOC's rule) on one image's detections and boxes of class ``label``."""
    mine, theirs = labels == label, truth_labels == label
    return match_detections(boxes[mine], scores[mine], truth[theirs], iou_threshold)


def detection_recall_precision(
    detections: Sequence,
    true_boxes: Sequence,
    true_labels: Sequence,
    iou_threshold: float = 0.5,
) -> tuple[float, float]:
    """Recall and precision of detections, PASCAL VOC style.

    In each image and class, detections are taken in decreasing score order; one is right
    when the true box of its class with which it has the largest IoU has IoU at least
    iou_threshold and is not yet matched (course_utils.reference.evaluation.match_detections).
    recall = right / true boxes, precision = right / detections (1.0 when there are none).

    Args:
        detections: per image, (boxes (K, 4), scores (K,), labels (K,)) tensors, as
            course_utils.reference.detection.decode_predictions returns them.
        true_boxes: per image, (T, 4) arrays (x1, y1, x2, y2).
        true_labels: per image, (T,) integer arrays.
        iou_threshold: least IoU of a right detection.
    """
    right = found = total = 0
    for (boxes, scores, labels), truth, truth_labels in zip(detections, true_boxes, true_labels):
        truth = torch.as_tensor(np.asarray(truth), dtype=torch.float64).reshape(-1, 4)
        truth_labels = torch.as_tensor(np.asarray(truth_labels)).reshape(-1)
        boxes, scores = boxes.detach().cpu().double(), scores.detach().cpu()
        labels = labels.detach().cpu()
        total += len(truth)
        found += len(boxes)
        for label in torch.unique(labels).tolist():
            tp, _ = _class_matches(boxes, scores, labels, truth, truth_labels, label, iou_threshold)
            right += int(tp.sum())
    recall = right / total if total else 1.0
    precision = right / found if found else 1.0
    return recall, precision


def ranked_matches(
    detections: Sequence,
    ground_truth: Sequence,
    label: int,
    match: Callable,
    iou_threshold: float = 0.5,
) -> tuple[np.ndarray, int]:
    """The true-positive flags of one class's detections in all images, ranked together.

    In every image, ``match`` (the student's match_detections, or any function with its
    contract) matches the detections of class ``label`` against the image's true boxes of that class;
    the flags of all images are then ranked by decreasing score (stable, image by image), as
    mean_average_precision ranks them. Feed the result to average_precision or to
    course_utils.plots_detection.plot_precision_recall.

    Args:
        detections: per image, (boxes (K, 4), scores (K,), labels (K,)) NumPy arrays.
        ground_truth: per image, (boxes (G, 4), labels (G,)) NumPy arrays.
        label: the class.
        match: (boxes, scores, gt_boxes, iou_threshold) -> (tp (K,), order (K,)), NumPy.
        iou_threshold: least IoU of a true positive.

    Returns:
        tp: bool array (K_all,), in decreasing score order; num_gt: the class's true boxes.
    """
    scores_all, tp_all, num_gt = [], [], 0
    for (boxes, scores, labels), (gt_boxes, gt_labels) in zip(detections, ground_truth):
        boxes, scores, labels = (np.asarray(a) for a in (boxes, scores, labels))
        gt_boxes, gt_labels = np.asarray(gt_boxes).reshape(-1, 4), np.asarray(gt_labels)
        mine, theirs = labels == label, gt_labels == label
        tp, order = match(boxes[mine], scores[mine], gt_boxes[theirs], iou_threshold)
        scores_all.append(scores[mine][np.asarray(order)])
        tp_all.append(np.asarray(tp, dtype=bool))
        num_gt += int(theirs.sum())
    if not tp_all:
        return np.zeros(0, dtype=bool), num_gt
    ranked = np.argsort(-np.concatenate(scores_all), kind="stable")
    return np.concatenate(tp_all)[ranked], num_gt


def segmentation_iou(pred_masks, true_masks, num_classes: int = 3) -> np.ndarray:
    """IoU of each shape class between predicted and true masks, over all images together.

    iou[k] = |pred == 1 + k and true == 1 + k| / |pred == 1 + k or true == 1 + k| (0 when
    neither has the class). Masks: (N, H, W) integers, 0 the background.

    Returns:
        iou: float64 array of shape (num_classes,).
    """
    pred = np.asarray(pred_masks)
    true = np.asarray(true_masks)
    if pred.shape != true.shape:
        raise ValueError(
            f"pred_masks and true_masks must have the same shape (N, H, W), got {pred.shape} "
            f"and {true.shape}."
        )
    ious = np.zeros(num_classes)
    for k in range(num_classes):
        inter = np.sum((pred == 1 + k) & (true == 1 + k))
        union = np.sum((pred == 1 + k) | (true == 1 + k))
        ious[k] = inter / union if union else 0.0
    return ious
