"""Twins of notebook 07's functions: box IoU, non-maximum suppression, a YOLO-style grid
detector's box encoding and loss, transposed convolution and the pixel-wise softmax loss.

Every twin takes tensors on any device (CPU, CUDA, MPS) in float32 or float64 and returns
tensors on the input's device (and in its dtype, for real-valued results; kept indices are
int64).

Conventions:
- Boxes are ``(x1, y1, x2, y2)`` in continuous pixel coordinates: a box covering the pixels of
  columns 3..5 has ``x1 = 3`` and ``x2 = 6``, and its width is ``x2 - x1`` (no ``+ 1``), as in
  ``torchvision.ops``.
- ``nms`` keeps the highest-scoring box, drops every remaining box whose IoU with it is
  GREATER than the threshold (equal is kept), and repeats; the kept indices come back in
  decreasing score order (as ``torchvision.ops.nms``; equal scores keep their input order).
- ``conv_transpose_forward``'s ``w`` has shape (C_in, F, HH, WW), as
  ``torch.nn.functional.conv_transpose2d``; its output size is ``(H - 1) * S - 2P + HH``.
- The grid detector (``encode_boxes``, ``yolo_loss``, ``decode_predictions``) works on square
  images of side ``image_size`` cut into ``grid_size x grid_size`` cells; its channels are
  ``[tx, ty, tw, th, objectness, class_0, ..., class_{C-1}]`` (see ``encode_boxes``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "box_iou",
    "nms",
    "batched_nms",
    "encode_boxes",
    "yolo_loss",
    "decode_predictions",
    "conv_transpose_forward",
    "pixel_softmax_loss",
]


def _require_boxes(name: str, boxes: torch.Tensor) -> None:
    if not isinstance(boxes, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor of shape (K, 4), got {type(boxes).__name__}."
        )
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{name} must have shape (K, 4) with rows (x1, y1, x2, y2), got shape "
            f"{tuple(boxes.shape)}."
        )


# --- IoU and non-maximum suppression -------------------------------------------------------------


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Areas ``(x2 - x1) * (y2 - y1)`` of boxes (K, 4) -> (K,)."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Twin of notebook 07's box_iou: boxes1 (N, 4), boxes2 (M, 4) -> iou (N, M).

    iou[i, j] = area(b1_i & b2_j) / (area(b1_i) + area(b2_j) - area(b1_i & b2_j)), with
    areas (x2 - x1) * (y2 - y1) in continuous coordinates; disjoint boxes have IoU 0. Equals
    torchvision.ops.box_iou (two boxes of zero area give 0 / 0 = nan there and here).
    """
    _require_boxes("boxes1", boxes1)
    _require_boxes("boxes2", boxes2)
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    sides = (bottom_right - top_left).clamp(min=0)  # (N, M, 2), 0 where they do not overlap
    inter = sides[..., 0] * sides[..., 1]  # (N, M)
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter  # (N, M)
    return inter / union


def _check_threshold(iou_threshold) -> float:
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, (int, float)):
        raise ValueError(f"iou_threshold must be a number, got {iou_threshold!r}.")
    return float(iou_threshold)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Twin of notebook 07's nms: boxes (K, 4), scores (K,) -> keep, int64 indices (K_kept,).

    Greedy: take the highest-scoring remaining box, keep it, and remove every remaining box
    whose IoU with it is > iou_threshold; repeat until none remain. keep lists the kept boxes
    in decreasing score order (equal scores in input order). Equals torchvision.ops.nms.
    """
    _require_boxes("boxes", boxes)
    threshold = _check_threshold(iou_threshold)
    if scores.shape != boxes.shape[:1]:
        raise ValueError(
            f"scores must have shape (K,) = ({boxes.shape[0]},), one per box, got "
            f"{tuple(scores.shape)}."
        )
    order = torch.argsort(scores, descending=True, stable=True)  # (K,)
    iou = box_iou(boxes, boxes)  # (K, K)
    suppressed = torch.zeros(boxes.shape[0], dtype=torch.bool, device=boxes.device)
    keep = []
    for index in order.tolist():
        if suppressed[index]:
            continue
        keep.append(index)
        suppressed |= iou[index] > threshold
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Twin of notebook 07's batched_nms: NMS within each class, boxes of different classes never
    suppress each other. boxes (K, 4), scores (K,), integer labels (K,) -> keep, int64 (K_kept,)
    in decreasing score order. Equals torchvision.ops.batched_nms.
    """
    _require_boxes("boxes", boxes)
    if labels.shape != boxes.shape[:1]:
        raise ValueError(
            f"labels must have shape (K,) = ({boxes.shape[0]},), got {tuple(labels.shape)}."
        )
    kept = [
        torch.nonzero(labels == label).flatten()[
            nms(boxes[labels == label], scores[labels == label], iou_threshold)
        ]
        for label in torch.unique(labels)
    ]
    if not kept:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    keep = torch.cat(kept)  # (K_kept,), grouped by class
    order = torch.argsort(scores[keep], descending=True, stable=True)
    return keep[order]


# --- the grid detector -------------------------------------------------------------------------


def _check_grid(grid_size, num_classes, image_size) -> None:
    for name, value in (
        ("grid_size", grid_size),
        ("num_classes", num_classes),
        ("image_size", image_size),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")


def encode_boxes(
    boxes: torch.Tensor,
    labels: torch.Tensor,
    grid_size: int,
    num_classes: int,
    image_size: int,
) -> torch.Tensor:
    """Twin of notebook 07's encode_boxes: one image's boxes -> the grid detector's target.

    The image (image_size x image_size) is cut into S x S cells of side
    cell = image_size / S. The box whose centre (cx, cy) lies in cell (row i, column j),
    i = floor(cy / cell) and j = floor(cx / cell) (clipped to S - 1), is written there:
        target[0, i, j] = cx / cell - j          (tx, in [0, 1])
        target[1, i, j] = cy / cell - i          (ty)
        target[2, i, j] = sqrt(w / image_size)   (tw, w = x2 - x1)
        target[3, i, j] = sqrt(h / image_size)   (th)
        target[4, i, j] = 1                      (objectness)
        target[5 + label, i, j] = 1              (one-hot class)
    Every other entry is 0. When several centres fall in one cell the FIRST box in the list
    keeps the cell and the later ones are left out.

    Args:
        boxes: (K, 4) rows (x1, y1, x2, y2) in pixels, K >= 0.
        labels: (K,) integer classes in [0, num_classes).
        grid_size: S. num_classes: C. image_size: side of the square image, in pixels.

    Returns:
        target: shape (5 + C, S, S), in boxes' dtype (float64 when boxes are integers).
    """
    _require_boxes("boxes", boxes)
    _check_grid(grid_size, num_classes, image_size)
    if labels.shape != boxes.shape[:1]:
        raise ValueError(
            f"labels must have shape (K,) = ({boxes.shape[0]},), got {tuple(labels.shape)}."
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}), got values from {int(labels.min())} to "
            f"{int(labels.max())}."
        )
    dtype = boxes.dtype if boxes.is_floating_point() else torch.float64
    s = grid_size
    target = torch.zeros(5 + num_classes, s, s, dtype=dtype, device=boxes.device)
    cell = image_size / s
    for box, label in zip(boxes.to(dtype).tolist(), labels.tolist()):
        x1, y1, x2, y2 = box
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        j = min(int(math.floor(cx / cell)), s - 1)
        i = min(int(math.floor(cy / cell)), s - 1)
        if target[4, i, j] == 1:
            continue
        values = [cx / cell - j, cy / cell - i, math.sqrt((x2 - x1) / image_size)]
        values += [math.sqrt((y2 - y1) / image_size), 1.0]
        target[:5, i, j] = torch.tensor(values, dtype=dtype, device=boxes.device)
        target[5 + int(label), i, j] = 1
    return target


def yolo_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    lambda_coord: float = 5.0,
    lambda_noobj: float = 0.5,
):
    """Twin of notebook 07's yolo_loss: pred, target (N, 5 + C, S, S) -> loss, dpred.

    pred holds raw network outputs, target what encode_boxes makes. With obj = target[:, 4]
    (1 in the cells that hold a box) and noobj = 1 - obj, summed over all cells and averaged
    over the N images:
        position:   lambda_coord * obj * [(sigmoid(p0) - tx)^2 + (sigmoid(p1) - ty)^2]
        scale:      lambda_coord * obj * [(p2 - tw)^2 + (p3 - th)^2]
        objectness: (obj + lambda_noobj * noobj) * BCE(logit p4, target obj)
        class:      obj * cross-entropy(softmax(p5..), one-hot target[:, 5:])
    (BCE and cross-entropy computed stably for any finite logits.) loss is a 0-dimensional
    tensor that keeps pred's autograd graph, so it can train a network; dpred (N, 5 + C, S, S)
    is its gradient, computed in closed form.
    """
    if not isinstance(pred, torch.Tensor) or pred.dim() != 4 or pred.shape[1] < 6:
        raise ValueError(
            "pred must be a tensor of shape (N, 5 + C, S, S) with C >= 1, got "
            f"{tuple(getattr(pred, 'shape', ()))}."
        )
    if target.shape != pred.shape:
        raise ValueError(
            f"target must have pred's shape {tuple(pred.shape)}, got {tuple(target.shape)}."
        )
    n = pred.shape[0]
    obj = target[:, 4]  # (N, S, S)
    weight = obj + lambda_noobj * (1 - obj)  # (N, S, S) objectness weight per cell
    xy = torch.sigmoid(pred[:, 0:2])  # (N, 2, S, S)
    position = (obj[:, None] * (xy - target[:, 0:2]) ** 2).sum()
    scale = (obj[:, None] * (pred[:, 2:4] - target[:, 2:4]) ** 2).sum()
    logit = pred[:, 4]  # (N, S, S)
    bce = logit.clamp(min=0) - logit * obj + torch.log1p(torch.exp(-logit.abs()))
    log_probs = torch.log_softmax(pred[:, 5:], dim=1)  # (N, C, S, S)
    classes = -(obj[:, None] * target[:, 5:] * log_probs).sum()
    loss = (lambda_coord * (position + scale) + (weight * bce).sum() + classes) / n

    with torch.no_grad():
        dpred = torch.empty_like(pred)
        dpred[:, 0:2] = lambda_coord * obj[:, None] * 2 * (xy - target[:, 0:2]) * xy * (1 - xy)
        dpred[:, 2:4] = lambda_coord * obj[:, None] * 2 * (pred[:, 2:4] - target[:, 2:4])
        dpred[:, 4] = weight * (torch.sigmoid(logit) - obj)
        dpred[:, 5:] = obj[:, None] * (log_probs.exp() - target[:, 5:])
        dpred /= n
    return loss, dpred


def decode_predictions(
    pred: torch.Tensor,
    image_size: int,
    score_threshold: float = 0.5,
    iou_threshold: float = 0.5,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The grid detector's raw outputs pred (N, 5 + C, S, S) -> boxes, per image.

    The inverse of encode_boxes: in cell (i, j), cx = (j + sigmoid(p0)) * cell,
    cy = (i + sigmoid(p1)) * cell, w = p2^2 * image_size, h = p3^2 * image_size. A cell's
    score is sigmoid(p4) * (its largest class probability) and its label that class. Cells
    scoring at least score_threshold are kept, then batched_nms (per class) with iou_threshold.

    Returns:
        For each image, (boxes (K, 4), scores (K,), labels (K,) int64), in decreasing score order.
    """
    n, channels, s, _ = pred.shape
    cell = image_size / s
    pred = pred.detach()
    rows = torch.arange(s, device=pred.device, dtype=pred.dtype)[:, None].expand(s, s)
    cols = torch.arange(s, device=pred.device, dtype=pred.dtype)[None, :].expand(s, s)
    results = []
    for p in pred:
        cx = (cols + torch.sigmoid(p[0])) * cell  # (S, S)
        cy = (rows + torch.sigmoid(p[1])) * cell
        w, h = p[2] ** 2 * image_size, p[3] ** 2 * image_size
        boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)  # (S, S, 4)
        probs, labels = torch.softmax(p[5:], dim=0).max(dim=0)  # (S, S) each
        scores = torch.sigmoid(p[4]) * probs
        chosen = scores.flatten() >= score_threshold
        boxes, scores = boxes.reshape(-1, 4)[chosen], scores.flatten()[chosen]
        labels = labels.flatten()[chosen]
        keep = batched_nms(boxes, scores, labels, iou_threshold)
        results.append((boxes[keep], scores[keep], labels[keep]))
    return results


# --- segmentation: learnable upsampling and the pixel-wise loss -----------------------------------


def conv_transpose_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, conv_param: dict):
    """Twin of notebook 07's conv_transpose_forward: x (N, C_in, H, W), w (C_in, F, HH, WW),
    b (F,) -> out (N, F, H_out, W_out), cache.

    Every input pixel scatters a copy of its filter, scaled by its value, into the output:
        full[n, f, i*S + p, j*S + q] += x[n, c, i, j] * w[c, f, p, q]
    then P rows and columns are cropped from every side of full and b[f] is added, so
    H_out = (H - 1) * S - 2P + HH (likewise W_out). Equals
    F.conv_transpose2d(x, w, b, stride=S, padding=P), and is the backward pass (the adjoint)
    of a convolution with the same w, S and P. cache is (x, w, b, conv_param).
    """
    for key in ("stride", "pad"):
        if key not in conv_param:
            raise ValueError(f'conv_param needs "stride" and "pad", got {sorted(conv_param)}.')
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    if x.dim() != 4 or w.dim() != 4 or x.shape[1] != w.shape[0]:
        raise ValueError(
            f"x must be (N, C_in, H, W) and w (C_in, F, HH, WW) with the same C_in, got x "
            f"{tuple(x.shape)} and w {tuple(w.shape)}."
        )
    n, c_in, h, width = x.shape
    _, f, hh, ww = w.shape
    h_out = (h - 1) * stride - 2 * pad + hh
    w_out = (width - 1) * stride - 2 * pad + ww
    if stride < 1 or pad < 0 or h_out < 1 or w_out < 1:
        raise ValueError(
            f"no output: (H - 1) * S - 2P + HH = ({h} - 1) * {stride} - 2 * {pad} + {hh} = "
            f"{h_out} and ({width} - 1) * {stride} - 2 * {pad} + {ww} = {w_out} must be "
            "positive, with S >= 1 and P >= 0. Use less padding."
        )
    columns = torch.einsum("nchw,cfpq->nfpqhw", x, w)  # (N, F, HH, WW, H, W)
    columns = columns.reshape(n, f * hh * ww, h * width)  # (N, F*HH*WW, H*W), fold's layout
    out = F.fold(columns, (h_out, w_out), (hh, ww), padding=pad, stride=stride)  # sums overlaps
    out = out + b.reshape(1, f, 1, 1)  # (N, F, H_out, W_out)
    return out, (x, w, b, conv_param)


def pixel_softmax_loss(scores: torch.Tensor, y: torch.Tensor):
    """Twin of notebook 07's pixel_softmax_loss: scores (N, C, H, W), labels y (N, H, W) ->
    loss, dscores (N, C, H, W).

    Softmax cross-entropy at every pixel, averaged over all N * H * W pixels:
        loss = -(1 / (N H W)) sum_{n,h,w} log softmax(scores[n, :, h, w])[y[n, h, w]]
        dscores = (softmax(scores) - onehot(y)) / (N H W)
    computed stably for any finite scores. Equals F.cross_entropy(scores, y).
    """
    if scores.dim() != 4 or y.shape != (scores.shape[0], *scores.shape[2:]):
        raise ValueError(
            "scores must be (N, C, H, W) and y (N, H, W), got scores "
            f"{tuple(scores.shape)} and y {tuple(y.shape)}."
        )
    y = y.long()
    log_probs = torch.log_softmax(scores, dim=1)  # (N, C, H, W)
    loss = -log_probs.gather(1, y[:, None]).mean()
    dscores = log_probs.exp()
    dscores.scatter_add_(1, y[:, None], -torch.ones_like(y[:, None], dtype=scores.dtype))
    return loss, dscores / y.numel()
