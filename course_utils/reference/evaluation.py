"""Twins of notebook 07's evaluation functions: anchors, matching detections to the ground
truth, average precision and its mean over classes (PASCAL VOC's measure of a detector).

    anchors = generate_anchors((4, 4), 16, sizes=(16, 32), aspect_ratios=(0.5, 1.0, 2.0))
    tp, order = match_detections(boxes, scores, gt_boxes, iou_threshold=0.5)
    ap = average_precision(tp, num_gt=len(gt_boxes), method="all")
    mean_ap, ap_per_class = mean_average_precision(detections, ground_truth, num_classes=3)

Every twin takes tensors on any device (CPU, CUDA, MPS) in float32 or float64 and returns
results on the input's device; ``generate_anchors`` takes plain numbers and a ``device``.

Conventions (the rules of the PASCAL VOC development kit, with two differences said below):
- Boxes are ``(x1, y1, x2, y2)`` in continuous pixel coordinates, as in
  ``course_utils.reference.detection.box_iou``: area ``(x2 - x1) * (y2 - y1)``. (The VOC
  devkit counts inclusive pixels, ``x2 - x1 + 1``; we do not, like torchvision and COCO.)
- Detections are ranked by decreasing score with a STABLE sort: equal scores keep their input
  order (in ``mean_average_precision``: image by image, each image's detections in input order).
- A detection is a true positive when the ground-truth box with which it has the largest IoU
  (the first such box on a tie) has IoU >= iou_threshold (equal counts) and has not been
  matched by a higher-ranked detection; otherwise it is a false positive. A ground-truth box
  is matched at most once, so a duplicate detection is a false positive. (VOC's "difficult"
  boxes, which are ignored there, do not exist here.)
- Average precision needs no ground truth to be undefined: with no ground-truth box it is
  ``nan``, and ``mean_average_precision`` leaves such classes out of its mean.
- The 11-point thresholds are ``t = k / 10`` for k = 0, ..., 10, computed as divisions, so a
  recall of exactly 3/10 counts at t = 0.3. (``np.arange(0, 1.1, 0.1)`` and
  ``np.linspace(0, 1, 11)`` hold 0.30000000000000004 there and would not count it.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from course_utils.reference.detection import box_iou

__all__ = [
    "generate_anchors",
    "match_detections",
    "average_precision",
    "mean_average_precision",
]

AP_METHODS = ("all", "11point")


# --- anchors -------------------------------------------------------------------------------------


def _positive_numbers(name: str, values, what: str) -> list[float]:
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        values = (values,)
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a sequence of positive numbers ({what}), got {values!r}."
        ) from None
    if not numbers or any(not (v > 0 and math.isfinite(v)) for v in numbers):
        raise ValueError(
            f"{name} must be a non-empty sequence of positive numbers ({what}), got {values!r}."
        )
    return numbers


def generate_anchors(
    feature_hw: Sequence[int],
    stride: float,
    sizes: Sequence[float],
    aspect_ratios: Sequence[float],
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Twin of notebook 07's generate_anchors: the reference boxes of a feature map.

    Position (i, j) of an H x W feature map whose cells are ``stride`` pixels apart has its
    centre at ((j + 0.5) * stride, (i + 0.5) * stride) in the image. There, for each size s
    (in sizes' order) and within it each ratio r = h / w (in aspect_ratios' order), one anchor
    of area s**2:
        w = s / sqrt(r),  h = s * sqrt(r),  box = (cx - w/2, cy - h/2, cx + w/2, cy + h/2).
    Rows come position by position in row-major order (i, then j), then size, then ratio:
        row = ((i * W + j) * len(sizes) + size_index) * len(aspect_ratios) + ratio_index.
    Anchors are not clipped to the image. (torchvision's AnchorGenerator differs: its ratios
    vary slowest, it centres anchors on the cell corners j * stride, and it rounds the sizes.)

    Args:
        feature_hw: (H, W), the feature map's height and width, positive ints.
        stride: pixels between neighbouring positions, a positive number.
        sizes: anchor sides s (the square root of the area), positive numbers.
        aspect_ratios: ratios r = h / w, positive numbers (r > 1 is tall, r < 1 wide).
        device: where the result lives (default: the CPU).
        dtype: of the result (default float64).

    Returns:
        anchors: shape (H * W * len(sizes) * len(aspect_ratios), 4), rows (x1, y1, x2, y2).
    """
    try:
        height, width = (int(v) for v in feature_hw)
        valid = all(float(v) == int(v) for v in feature_hw) and height >= 1 and width >= 1
    except (TypeError, ValueError):
        valid = False
    if not valid or isinstance(feature_hw, (str, bytes)):
        raise ValueError(
            f"feature_hw must be (H, W), two positive ints, got {feature_hw!r}. Pass the "
            "feature map's spatial size, e.g. (4, 4)."
        )
    (stride,) = _positive_numbers("stride", stride, "pixels between positions")
    sizes = _positive_numbers("sizes", sizes, "anchor sides in pixels")
    ratios = _positive_numbers("aspect_ratios", aspect_ratios, "h / w")

    sqrt_r = torch.tensor(ratios, dtype=torch.float64, device=device).sqrt()  # (R,)
    side = torch.tensor(sizes, dtype=torch.float64, device=device)[:, None]  # (S, 1)
    half_w = (side / sqrt_r / 2).reshape(-1)  # (S * R,), size-major
    half_h = (side * sqrt_r / 2).reshape(-1)  # (S * R,)
    half = torch.stack([-half_w, -half_h, half_w, half_h], dim=1)  # (S * R, 4)

    rows = torch.arange(height, dtype=torch.float64, device=device)
    cols = torch.arange(width, dtype=torch.float64, device=device)
    cy, cx = torch.meshgrid((rows + 0.5) * stride, (cols + 0.5) * stride, indexing="ij")  # (H, W)
    centres = torch.stack([cx, cy, cx, cy], dim=-1).reshape(-1, 1, 4)  # (H * W, 1, 4), row-major
    return (centres + half[None]).reshape(-1, 4).to(dtype)  # (H * W * S * R, 4)


# --- matching detections to the ground truth ------------------------------------------------------


def _require_boxes(name: str, boxes) -> None:
    if not isinstance(boxes, torch.Tensor) or boxes.dim() != 2 or boxes.shape[1] != 4:
        shape = tuple(boxes.shape) if isinstance(boxes, torch.Tensor) else type(boxes).__name__
        raise ValueError(
            f"{name} must be a tensor of shape (K, 4), rows (x1, y1, x2, y2); got {shape}."
        )


def _check_threshold(iou_threshold) -> float:
    # 0 is refused: every detection would match some ground-truth box, even a disjoint one.
    if (
        isinstance(iou_threshold, bool)
        or not isinstance(iou_threshold, (int, float))
        or not 0 < iou_threshold <= 1
    ):
        raise ValueError(
            f"iou_threshold must be a number in (0, 1], e.g. 0.5 (PASCAL VOC), got "
            f"{iou_threshold!r}."
        )
    return float(iou_threshold)


def _score_order(scores: torch.Tensor) -> torch.Tensor:
    """Indices by decreasing score; equal scores keep their input order."""
    return torch.argsort(scores, descending=True, stable=True)


def match_detections(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    gt_boxes: torch.Tensor,
    iou_threshold: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Twin of notebook 07's match_detections: which detections of one image (and one class)
    are true positives, by PASCAL VOC's greedy rule.

    order = the detections by decreasing score (stable: equal scores keep their input order).
    Visit them in that order. For detection d, take the ground-truth box g with the largest
    IoU(d, g) (the first on a tie). d is a true positive when IoU(d, g) >= iou_threshold and
    g is not matched yet; g is then matched. Otherwise (no ground truth, too little overlap,
    or g already matched by a better detection) d is a false positive, even when another,
    unmatched ground-truth box overlaps it enough.

    Args:
        boxes: detections, shape (K, 4), rows (x1, y1, x2, y2); K may be 0.
        scores: shape (K,), their confidences.
        gt_boxes: ground-truth boxes, shape (G, 4); G may be 0.
        iou_threshold: least IoU of a true positive (equal counts), in (0, 1].

    Returns:
        tp: bool tensor of shape (K,); tp[k] is True when detection order[k] is a true positive.
        order: int64 tensor of shape (K,), indices into boxes by decreasing score.
    """
    _require_boxes("boxes", boxes)
    _require_boxes("gt_boxes", gt_boxes)
    threshold = _check_threshold(iou_threshold)
    if not isinstance(scores, torch.Tensor) or scores.shape != boxes.shape[:1]:
        raise ValueError(
            f"scores must be a tensor of shape (K,) = ({boxes.shape[0]},), one per box, got "
            f"{tuple(getattr(scores, 'shape', ()))}."
        )
    order = _score_order(scores)  # (K,)
    tp = torch.zeros(len(order), dtype=torch.bool, device=boxes.device)
    if len(order) == 0 or len(gt_boxes) == 0:
        return tp, order
    iou = box_iou(boxes[order].double(), gt_boxes.double()).cpu()  # (K, G), best first
    best_iou, best_gt = iou.max(dim=1)  # (K,) each; the first maximum on a tie
    matched = [False] * len(gt_boxes)
    for k, (overlap, g) in enumerate(zip(best_iou.tolist(), best_gt.tolist())):
        if overlap >= threshold and not matched[g]:
            matched[g] = True
            tp[k] = True
    return tp, order


# --- average precision ---------------------------------------------------------------------------


def _check_tp(tp) -> torch.Tensor:
    if not isinstance(tp, torch.Tensor) or tp.dim() != 1:
        raise ValueError(
            "tp must be a 1-D tensor of booleans (or 0/1), one per detection in score order, "
            f"got {tuple(getattr(tp, 'shape', ())) or type(tp).__name__}."
        )
    if tp.dtype != torch.bool and not bool(((tp == 0) | (tp == 1)).all()):
        raise ValueError("tp must hold booleans or 0/1 values, one per detection.")
    return tp.to(torch.float64)


def _check_num_gt(num_gt, true_positives: int) -> int:
    if isinstance(num_gt, bool) or not isinstance(num_gt, int) or num_gt < 0:
        if isinstance(num_gt, torch.Tensor) and num_gt.numel() == 1:
            return _check_num_gt(int(num_gt), true_positives)
        raise ValueError(f"num_gt must be a non-negative int, got {num_gt!r}.")
    if true_positives > num_gt:
        raise ValueError(
            f"tp has {true_positives} true positives but there are only num_gt = {num_gt} "
            "ground-truth boxes; each box can be matched once."
        )
    return num_gt


def average_precision(tp: torch.Tensor, num_gt: int, method: str = "all") -> float:
    """Twin of notebook 07's average_precision: the area under a precision-recall curve.

    With the detections in decreasing score order, after the k-th (k = 1, ..., K):
        precision[k] = (true positives among the first k) / k
        recall[k]    = (true positives among the first k) / num_gt
    The monotone envelope is p_interp[k] = max over k' >= k of precision[k'].
        "all" (PASCAL VOC 2010 on): the area under the envelope, summed where recall changes;
            recall grows by 1 / num_gt at each true positive, so
            AP = (1 / num_gt) * sum over the true positives k of p_interp[k].
        "11point" (VOC 2007): AP = (1/11) * sum over t = 0, 0.1, ..., 1 (t = k / 10) of
            max(precision[k] for recall[k] >= t), 0 when no rank reaches recall t.
    Ground-truth boxes never found count as recall never reached. No detections give 0.0;
    num_gt = 0 gives nan (AP is undefined without ground truth).

    Args:
        tp: shape (K,), bool (or 0/1): is the k-th best detection a true positive.
        num_gt: the number of ground-truth boxes, an int >= the number of true positives.
        method: "all" or "11point".

    Returns:
        ap: a float in [0, 1], or nan when num_gt is 0.
    """
    hits = _check_tp(tp)  # (K,) float64
    if method not in AP_METHODS:
        raise ValueError(f'method must be "all" or "11point", got {method!r}.')
    num_gt = _check_num_gt(num_gt, int(hits.sum().item()))
    if num_gt == 0:
        return math.nan
    if hits.numel() == 0:
        return 0.0
    found = hits.cumsum(0)  # (K,)
    ranks = torch.arange(1, len(hits) + 1, dtype=torch.float64, device=hits.device)
    precision = found / ranks  # (K,)
    if method == "all":
        envelope = precision.flip(0).cummax(0).values.flip(0)  # (K,) max over later ranks
        return float((hits * envelope).sum().item()) / num_gt
    recall = found / num_gt  # (K,)
    thresholds = torch.arange(11, dtype=torch.float64, device=hits.device) / 10  # (11,) k / 10
    reached = recall[None, :] >= thresholds[:, None]  # (11, K)
    best = torch.where(reached, precision[None, :], torch.zeros_like(precision)).amax(dim=1)
    return float(best.sum().item()) / 11


# --- mean average precision over classes ----------------------------------------------------------


def _check_labels(name: str, labels, count: int, num_classes: int) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor) or labels.shape != (count,):
        raise ValueError(
            f"{name} must be a tensor of shape ({count},), one label per box, got "
            f"{tuple(getattr(labels, 'shape', ())) or type(labels).__name__}."
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"{name} must be in [0, num_classes) = [0, {num_classes}), got values from "
            f"{int(labels.min())} to {int(labels.max())}."
        )
    return labels


def mean_average_precision(
    detections: Sequence,
    ground_truth: Sequence,
    num_classes: int,
    iou_threshold: float = 0.5,
    method: str = "all",
) -> tuple[float, torch.Tensor]:
    """Twin of notebook 07's mean_average_precision: PASCAL VOC's mAP over a set of images.

    For each class c: in every image, match_detections matches the image's detections of
    class c against its ground-truth boxes of class c. The detections of class c from all
    images are then ranked together by decreasing score (stable: image by image, each in input
    order, on equal scores), their tp flags follow them, and
        ap[c] = average_precision(tp in that order, num_gt = ground-truth boxes of class c).
    A class with no ground-truth box has ap[c] = nan and is left out of the mean:
        map = mean of ap[c] over the classes with ground truth (nan when there are none).

    Args:
        detections: one entry per image, (boxes (K_i, 4), scores (K_i,), labels (K_i,) ints).
        ground_truth: one entry per image, in the same order, (boxes (G_i, 4), labels (G_i,)).
        num_classes: C; every label is in [0, C).
        iou_threshold: as in match_detections.
        method: "all" or "11point", as in average_precision.

    Returns:
        map: a float (nan when no class has ground truth).
        ap_per_class: float64 tensor of shape (C,), nan for the classes without ground truth.
    """
    if len(detections) != len(ground_truth):
        raise ValueError(
            f"detections and ground_truth must list the same images, got {len(detections)} "
            f"and {len(ground_truth)} entries."
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}.")
    if method not in AP_METHODS:
        raise ValueError(f'method must be "all" or "11point", got {method!r}.')
    images = []
    for n, ((boxes, scores, labels), (gt_boxes, gt_labels)) in enumerate(
        zip(detections, ground_truth)
    ):
        _require_boxes(f"detections[{n}] boxes", boxes)
        _require_boxes(f"ground_truth[{n}] boxes", gt_boxes)
        _check_labels(f"detections[{n}] labels", labels, len(boxes), num_classes)
        _check_labels(f"ground_truth[{n}] labels", gt_labels, len(gt_boxes), num_classes)
        images.append((boxes, scores, labels, gt_boxes, gt_labels))

    device = images[0][0].device if images else None
    ap_per_class = torch.full((num_classes,), math.nan, dtype=torch.float64, device=device)
    for c in range(num_classes):
        class_scores, class_tp, num_gt = [], [], 0
        for boxes, scores, labels, gt_boxes, gt_labels in images:
            mine = labels == c
            num_gt += int((gt_labels == c).sum())
            tp, order = match_detections(
                boxes[mine], scores[mine], gt_boxes[gt_labels == c], iou_threshold
            )
            class_scores.append(scores[mine][order].double().cpu())  # (K_ic,) best first
            class_tp.append(tp.cpu())
        if num_gt == 0:
            continue
        pooled_scores = torch.cat(class_scores) if class_scores else torch.zeros(0)
        pooled_tp = torch.cat(class_tp) if class_tp else torch.zeros(0, dtype=torch.bool)
        ranked = pooled_tp[_score_order(pooled_scores)]  # (K_c,) all images, best first
        ap_per_class[c] = average_precision(ranked, num_gt, method)
    present = ~torch.isnan(ap_per_class)
    mean_ap = float(ap_per_class[present].mean().item()) if bool(present.any()) else math.nan
    return mean_ap, ap_per_class
