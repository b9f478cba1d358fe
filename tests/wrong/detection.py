"""Deliberately wrong implementations of notebook 07's functions, one per common mistake.

Each must FAIL its check, and the check's hint must name the mistake (tests/unit/
test_checks_detection.py, test_checks_grid_detector.py, test_checks_segmentation.py and
test_checks_evaluation.py). The right versions they start from (``CORRECT``) must pass.
"""

import warnings

import numpy as np


def _areas(boxes, plus):
    return (boxes[:, 2] - boxes[:, 0] + plus) * (boxes[:, 3] - boxes[:, 1] + plus)


def _iou(boxes1, boxes2, plus=0.0, clip=True, subtract=True):
    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    sides = bottom_right - top_left + plus
    if clip:
        sides = np.clip(sides, 0, None)
    inter = sides[..., 0] * sides[..., 1]
    union = _areas(boxes1, plus)[:, None] + _areas(boxes2, plus)[None, :]
    return inter / (union - inter if subtract else union)


def box_iou_inclusive_pixels(boxes1, boxes2):
    return _iou(boxes1, boxes2, plus=1.0)


def box_iou_union_counts_intersection_twice(boxes1, boxes2):
    return _iou(boxes1, boxes2, subtract=False)


def box_iou_unclipped_sides(boxes1, boxes2):
    return _iou(boxes1, boxes2, clip=False)


def _greedy(boxes, order, iou_threshold, greater_equal=False):
    iou = _iou(boxes, boxes)
    suppressed = np.zeros(len(boxes), dtype=bool)
    kept = []
    for index in order:
        if suppressed[index]:
            continue
        kept.append(index)
        suppressed |= iou[index] >= iou_threshold if greater_equal else iou[index] > iou_threshold
    return np.array(kept, dtype=np.int64)


def nms_not_sorted_by_score(boxes, scores, iou_threshold):
    return _greedy(boxes, range(len(boxes)), iou_threshold)


def nms_suppresses_equal_iou(boxes, scores, iou_threshold):
    return _greedy(boxes, np.argsort(-scores, kind="stable"), iou_threshold, greater_equal=True)


def nms_returns_index_order(boxes, scores, iou_threshold):
    return np.sort(_greedy(boxes, np.argsort(-scores, kind="stable"), iou_threshold))


def nms_returns_list(boxes, scores, iou_threshold):
    return _greedy(boxes, np.argsort(-scores, kind="stable"), iou_threshold).tolist()


def batched_nms_across_classes(boxes, scores, labels, iou_threshold):
    return _greedy(boxes, np.argsort(-scores, kind="stable"), iou_threshold)


def batched_nms_grouped_by_class(boxes, scores, labels, iou_threshold):
    kept = []
    for label in np.unique(labels):
        index = np.flatnonzero(labels == label)
        kept.extend(index[_greedy(boxes[index], np.argsort(-scores[index]), iou_threshold)])
    return np.array(kept, dtype=np.int64)


def _encode(
    boxes,
    labels,
    grid_size,
    num_classes,
    image_size,
    swap=False,
    root=np.sqrt,
    row_from_x=False,
    offsets_in_image=False,
    last_wins=False,
):
    cell = image_size / grid_size
    target = np.zeros((5 + num_classes, grid_size, grid_size))
    for (x1, y1, x2, y2), label in zip(boxes, labels):
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        i = min(int(cy // cell), grid_size - 1)
        j = min(int(cx // cell), grid_size - 1)
        if row_from_x:
            i, j = j, i
        row, column = (j, i) if swap else (i, j)  # the cell read and written
        if target[4, row, column] and not last_wins:
            continue
        values = [cx / cell - j, cy / cell - i, root((x2 - x1) / image_size)]
        if offsets_in_image:
            values[:2] = [cx / image_size, cy / image_size]
        values += [root((y2 - y1) / image_size), 1.0]
        if last_wins:
            target[:, row, column] = 0.0  # a later box replaces the earlier one
        target[:5, row, column] = values
        target[5 + int(label), row, column] = 1.0
    return target


def encode_boxes_rows_and_columns_swapped(boxes, labels, grid_size, num_classes, image_size):
    return _encode(boxes, labels, grid_size, num_classes, image_size, swap=True)


def encode_boxes_no_square_root(boxes, labels, grid_size, num_classes, image_size):
    return _encode(boxes, labels, grid_size, num_classes, image_size, root=lambda v: v)


def encode_boxes_channels_last(boxes, labels, grid_size, num_classes, image_size):
    return _encode(boxes, labels, grid_size, num_classes, image_size).transpose(1, 2, 0)


def encode_boxes_row_from_x(boxes, labels, grid_size, num_classes, image_size):
    return _encode(boxes, labels, grid_size, num_classes, image_size, row_from_x=True)


def encode_boxes_offsets_in_image(boxes, labels, grid_size, num_classes, image_size):
    return _encode(boxes, labels, grid_size, num_classes, image_size, offsets_in_image=True)


def encode_boxes_last_box_wins(boxes, labels, grid_size, num_classes, image_size):
    return _encode(boxes, labels, grid_size, num_classes, image_size, last_wins=True)


def _yolo(
    pred,
    target,
    lambda_coord,
    lambda_noobj,
    divisor=None,
    noobj=None,
    everywhere=False,
    class_everywhere=False,
    sigmoid=True,
):
    n, _, s, _ = pred.shape
    obj = target[:, 4]
    where = np.ones_like(obj) if everywhere else obj
    class_where = np.ones_like(obj) if class_everywhere else obj
    weight = obj + (lambda_noobj if noobj is None else noobj) * (1 - obj)
    xy = 1 / (1 + np.exp(-pred[:, 0:2])) if sigmoid else pred[:, 0:2]
    coords = np.sum(where[:, None] * (xy - target[:, 0:2]) ** 2)
    coords += np.sum(where[:, None] * (pred[:, 2:4] - target[:, 2:4]) ** 2)
    z = pred[:, 4]
    bce = np.maximum(z, 0) - z * obj + np.log1p(np.exp(-np.abs(z)))
    shifted = pred[:, 5:] - pred[:, 5:].max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    classes = -np.sum(class_where[:, None] * target[:, 5:] * log_probs)
    divisor = n if divisor is None else divisor
    loss = (lambda_coord * coords + np.sum(weight * bce) + classes) / divisor
    dpred = np.zeros_like(pred)
    dxy = xy * (1 - xy) if sigmoid else 1.0
    dpred[:, 0:2] = lambda_coord * where[:, None] * 2 * (xy - target[:, 0:2]) * dxy
    dpred[:, 2:4] = lambda_coord * where[:, None] * 2 * (pred[:, 2:4] - target[:, 2:4])
    dpred[:, 4] = weight * (1 / (1 + np.exp(-z)) - obj)
    dpred[:, 5:] = class_where[:, None] * (np.exp(log_probs) - target[:, 5:])
    return loss, dpred / divisor


def yolo_loss_averaged_over_cells(pred, target, lambda_coord=5.0, lambda_noobj=0.5):
    n, _, s, _ = pred.shape
    return _yolo(pred, target, lambda_coord, lambda_noobj, divisor=n * s * s)


def yolo_loss_no_noobj_weight(pred, target, lambda_coord=5.0, lambda_noobj=0.5):
    return _yolo(pred, target, lambda_coord, lambda_noobj, noobj=1.0)


def yolo_loss_coordinates_in_every_cell(pred, target, lambda_coord=5.0, lambda_noobj=0.5):
    return _yolo(pred, target, lambda_coord, lambda_noobj, everywhere=True)


def yolo_loss_class_in_every_cell(pred, target, lambda_coord=5.0, lambda_noobj=0.5):
    return _yolo(pred, target, lambda_coord, lambda_noobj, class_everywhere=True)


def yolo_loss_no_sigmoid(pred, target, lambda_coord=5.0, lambda_noobj=0.5):
    return _yolo(pred, target, lambda_coord, lambda_noobj, sigmoid=False)


def _transpose(x, w, b, stride, crop, extra):
    n, _, h, width = x.shape
    _, f, hh, ww = w.shape
    full = np.zeros((n, f, (h - 1) * stride + hh, (width - 1) * stride + ww))
    for i in range(h):
        for j in range(width):
            patch = np.einsum("nc,cfpq->nfpq", x[:, :, i, j], w)
            full[:, :, i * stride : i * stride + hh, j * stride : j * stride + ww] += patch
    if crop:
        full = full[:, :, crop : full.shape[2] - crop, crop : full.shape[3] - crop]
    if extra:
        full = np.pad(full, ((0, 0), (0, 0), (extra, extra), (extra, extra)))
    return full + b.reshape(1, -1, 1, 1)


def conv_transpose_forward_padding_ignored(x, w, b, conv_param):
    out = _transpose(x, w, b, conv_param["stride"], 0, 0)
    return out, (x, w, b, conv_param)


def conv_transpose_forward_padding_added(x, w, b, conv_param):
    out = _transpose(x, w, b, conv_param["stride"], 0, conv_param["pad"])
    return out, (x, w, b, conv_param)


def conv_transpose_forward_conv_weight_layout(x, w, b, conv_param):
    out = _transpose(x, w.transpose(1, 0, 2, 3), b, conv_param["stride"], conv_param["pad"], 0)
    return out, (x, w, b, conv_param)


def conv_transpose_forward_no_bias(x, w, b, conv_param):
    out = _transpose(x, w, np.zeros_like(b), conv_param["stride"], conv_param["pad"], 0)
    return out, (x, w, b, conv_param)


def _pixel(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n, h, w = np.indices(y.shape)
    losses = -log_probs[n, y, h, w]
    grad = np.exp(log_probs)
    grad[n, y, h, w] -= 1
    return losses, grad


def pixel_softmax_loss_summed(scores, y):
    losses, grad = _pixel(scores, y)
    return losses.sum(), grad


def pixel_softmax_loss_averaged_over_images(scores, y):
    losses, grad = _pixel(scores, y)
    return losses.sum() / y.shape[0], grad / y.shape[0]


def pixel_softmax_loss_summed_over_images(scores, y):
    losses, grad = _pixel(scores, y)
    pixels = y.shape[1] * y.shape[2]
    return losses.sum() / pixels, grad / pixels


# --- the right versions ------------------------------------------------------------------------


def _nms(boxes, scores, iou_threshold):
    return _greedy(boxes, np.argsort(-scores, kind="stable"), iou_threshold)


def _batched_nms(boxes, scores, labels, iou_threshold):
    kept = batched_nms_grouped_by_class(boxes, scores, labels, iou_threshold)
    return kept[np.argsort(-scores[kept], kind="stable")]


def _yolo_loss(pred, target, lambda_coord=5.0, lambda_noobj=0.5):
    return _yolo(pred, target, lambda_coord, lambda_noobj)


def _conv_transpose_forward(x, w, b, conv_param):
    out = _transpose(x, w, b, conv_param["stride"], conv_param["pad"], 0)
    return out, (x, w, b, conv_param)


def _pixel_softmax_loss(scores, y):
    losses, grad = _pixel(scores, y)
    return losses.mean(), grad / y.size


class CORRECT:
    """The right versions, independent of the notebook's solutions: every check must pass them."""

    box_iou = staticmethod(_iou)
    nms = staticmethod(_nms)
    batched_nms = staticmethod(_batched_nms)
    encode_boxes = staticmethod(_encode)
    yolo_loss = staticmethod(_yolo_loss)
    conv_transpose_forward = staticmethod(_conv_transpose_forward)
    pixel_softmax_loss = staticmethod(_pixel_softmax_loss)


# --- breaking the rules instead of the math ------------------------------------------------------


def pixel_softmax_loss_uses_torch(scores, y):
    import torch
    import torch.nn.functional as F

    scores_t = torch.from_numpy(scores).requires_grad_(True)
    loss = F.cross_entropy(scores_t, torch.from_numpy(y))
    loss.backward()
    return loss.item(), scores_t.grad.numpy()


# --- anchors (generate_anchors/<mistake>) ------------------------------------------------------


def _anchors(feature_hw, stride, sizes, aspect_ratios, offset=0.5, invert=False, order="ijsr"):
    height, width = feature_hw
    rows = {}
    for i in range(height):
        for j in range(width):
            cx, cy = (j + offset) * stride, (i + offset) * stride
            for s, size in enumerate(sizes):
                for r, ratio in enumerate(aspect_ratios):
                    root = np.sqrt(1 / ratio if invert else ratio)
                    w, h = size / root, size * root
                    key = {"i": i, "j": j, "s": s, "r": r}
                    rows[tuple(key[c] for c in order)] = [
                        cx - w / 2,
                        cy - h / 2,
                        cx + w / 2,
                        cy + h / 2,
                    ]
    return np.array([rows[k] for k in sorted(rows)], dtype=np.float64).reshape(-1, 4)


def generate_anchors_ratio_inverted(feature_hw, stride, sizes, aspect_ratios):
    # Reads r as w / h: w = size * sqrt(r), h = size / sqrt(r).
    return _anchors(feature_hw, stride, sizes, aspect_ratios, invert=True)


def generate_anchors_cell_corner(feature_hw, stride, sizes, aspect_ratios):
    # Centres at (j * stride, i * stride), the cell's top-left corner.
    return _anchors(feature_hw, stride, sizes, aspect_ratios, offset=0.0)


def generate_anchors_sizes_ratios_swapped(feature_hw, stride, sizes, aspect_ratios):
    # Ratios in the outer loop and sizes in the inner one (torchvision's order).
    return _anchors(feature_hw, stride, sizes, aspect_ratios, order="ijrs")


def generate_anchors_column_major(feature_hw, stride, sizes, aspect_ratios):
    # Positions column by column (j outer, i inner).
    return _anchors(feature_hw, stride, sizes, aspect_ratios, order="jisr")


# --- matching (match_detections/<mistake>) -----------------------------------------------------


def _match(boxes, scores, gt_boxes, iou_threshold, visit="score", once=True, strict=False):
    order = np.argsort(-scores, kind="stable")
    visiting = order if visit == "score" else np.arange(len(scores))
    matched = np.zeros(len(gt_boxes), dtype=bool)
    positive = np.zeros(len(scores), dtype=bool)  # by detection index
    iou = _iou(boxes, gt_boxes) if len(gt_boxes) else np.zeros((len(boxes), 0))
    for d in visiting:
        if not len(gt_boxes):
            continue
        g = int(np.argmax(iou[d]))
        enough = iou[d, g] > iou_threshold if strict else iou[d, g] >= iou_threshold
        if enough and not (once and matched[g]):
            positive[d] = matched[g] = True
    return positive[order], order


def match_detections_ground_truth_twice(boxes, scores, gt_boxes, iou_threshold=0.5):
    # Forgets which ground-truth boxes are taken: every duplicate is a true positive.
    return _match(boxes, scores, gt_boxes, iou_threshold, once=False)


def match_detections_input_order(boxes, scores, gt_boxes, iou_threshold=0.5):
    # Matches in the order the detections come, not by decreasing score (order is right).
    return _match(boxes, scores, gt_boxes, iou_threshold, visit="input")


def match_detections_strict_threshold(boxes, scores, gt_boxes, iou_threshold=0.5):
    # IoU > threshold: an overlap exactly at the threshold is a false positive.
    return _match(boxes, scores, gt_boxes, iou_threshold, strict=True)


def match_detections_best_free_box(boxes, scores, gt_boxes, iou_threshold=0.5):
    # Takes the best ground-truth box NOT YET MATCHED, so a duplicate can claim another box.
    order = np.argsort(-scores, kind="stable")
    tp = np.zeros(len(order), dtype=bool)
    matched = np.zeros(len(gt_boxes), dtype=bool)
    for k, d in enumerate(order):
        if matched.all():
            break
        iou = np.where(matched, -1.0, _iou(boxes[d : d + 1], gt_boxes)[0])
        g = np.argmax(iou)
        if iou[g] >= iou_threshold:
            tp[k] = matched[g] = True
    return tp, order


def match_detections_tp_by_detection(boxes, scores, gt_boxes, iou_threshold=0.5):
    # Right verdicts, stored at the detection's own index instead of its rank.
    order = np.argsort(-scores, kind="stable")
    tp = np.zeros(len(order), dtype=bool)
    if len(gt_boxes):
        iou = _iou(boxes, gt_boxes)
        matched = np.zeros(len(gt_boxes), dtype=bool)
        for d in order:
            g = np.argmax(iou[d])
            if iou[d, g] >= iou_threshold and not matched[g]:
                tp[d] = matched[g] = True
    return tp, order


def _match_in(order, boxes, gt_boxes, iou_threshold):
    tp = np.zeros(len(order), dtype=bool)
    if len(gt_boxes):
        iou = _iou(boxes[order], gt_boxes)
        matched = np.zeros(len(gt_boxes), dtype=bool)
        for k in range(len(order)):
            g = np.argmax(iou[k])
            if iou[k, g] >= iou_threshold and not matched[g]:
                tp[k] = matched[g] = True
    return tp, order


def match_detections_ascending_order(boxes, scores, gt_boxes, iou_threshold=0.5):
    # np.argsort sorts upwards: the least confident detection is visited first.
    return _match_in(np.argsort(scores), boxes, gt_boxes, iou_threshold)


def match_detections_unstable_sort(boxes, scores, gt_boxes, iou_threshold=0.5):
    # Descending by reversing an ascending sort: equal scores come out in reverse input order.
    return _match_in(np.argsort(scores)[::-1], boxes, gt_boxes, iou_threshold)


# --- average precision (average_precision/<mistake>) -------------------------------------------


def _curve(tp, divisor):
    tp = np.asarray(tp, dtype=float)
    found = np.cumsum(tp)
    precision = found / np.arange(1, len(tp) + 1)
    recall = found / divisor
    return tp, precision, recall


def _area(tp, num_gt, method, envelope=True, over_detections=False):
    if num_gt == 0:
        return float("nan")
    if len(tp) == 0:
        return 0.0
    tp, precision, recall = _curve(tp, len(tp) if over_detections else num_gt)
    if envelope:
        precision = np.maximum.accumulate(precision[::-1])[::-1]
    if method == "all":
        steps = np.diff(np.concatenate([[0.0], recall]))
        return float(np.sum(steps * precision))
    return float(
        sum(
            (precision[recall >= t].max() if np.any(recall >= t) else 0.0)
            for t in np.arange(11) / 10
        )
        / 11
    )


def average_precision_no_envelope(tp, num_gt, method="all"):
    # The area under the raw, zigzag precision (no maximum over later ranks). (For "11point"
    # the maximum over recall >= t is the envelope already, so only "all" differs.)
    return _area(tp, num_gt, method, envelope=False)


def average_precision_over_detections(tp, num_gt, method="all"):
    # recall = true positives / number of DETECTIONS instead of / num_gt.
    return _area(tp, num_gt, method, over_detections=True)


def average_precision_zero_without_ground_truth(tp, num_gt, method="all"):
    # Guards the division by num_gt with an AP of 0 instead of nan.
    if num_gt == 0:
        return 0.0
    return _area(tp, num_gt, method)


# --- mean average precision (mean_average_precision/<mistake>) ---------------------------------


def _solution_match(boxes, scores, gt_boxes, iou_threshold):
    return _match(boxes, scores, gt_boxes, iou_threshold)


def _map(
    detections,
    ground_truth,
    num_classes,
    iou_threshold,
    method,
    agnostic=False,
    absent=None,
    reorder=True,
):
    ap_per_class = np.full(num_classes, np.nan)
    for c in range(num_classes):
        scores_c, tp_c, num_gt = [], [], 0
        for (boxes, scores, labels), (gt_boxes, gt_labels) in zip(detections, ground_truth):
            mine, theirs = labels == c, gt_labels == c
            candidates = np.ones(len(gt_labels), dtype=bool) if agnostic else theirs
            tp, order = _solution_match(
                boxes[mine], scores[mine], gt_boxes[candidates], iou_threshold
            )
            scores_c.append(scores[mine][order] if reorder else scores[mine])
            tp_c.append(tp)
            num_gt += int(theirs.sum())
        if num_gt:
            ranked = np.argsort(-np.concatenate(scores_c), kind="stable")
            tp_all = np.concatenate(tp_c)[ranked]
            ap_per_class[c] = _area(tp_all, num_gt, method)
        elif absent is not None:
            ap_per_class[c] = absent
    present = ~np.isnan(ap_per_class)
    return (float(ap_per_class[present].mean()) if present.any() else float("nan")), ap_per_class


def mean_average_precision_class_agnostic(
    detections, ground_truth, num_classes, iou_threshold=0.5, method="all"
):
    # Matches a detection against the ground-truth boxes of EVERY class (labels ignored).
    return _map(detections, ground_truth, num_classes, iou_threshold, method, agnostic=True)


def mean_average_precision_absent_classes_zero(
    detections, ground_truth, num_classes, iou_threshold=0.5, method="all"
):
    # Counts a class without ground truth as AP 0 in the mean instead of leaving it out.
    return _map(detections, ground_truth, num_classes, iou_threshold, method, absent=0.0)


def mean_average_precision_per_image(
    detections, ground_truth, num_classes, iou_threshold=0.5, method="all"
):
    # Averages the AP of each image (per class) instead of ranking all images' detections together.
    per_image = []
    for image_dets, image_gt in zip(detections, ground_truth):
        per_image.append(_map([image_dets], [image_gt], num_classes, iou_threshold, method)[1])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ap_per_class = np.nanmean(np.array(per_image), axis=0)
    present = ~np.isnan(ap_per_class)
    return (float(ap_per_class[present].mean()) if present.any() else float("nan")), ap_per_class


def mean_average_precision_scores_not_reordered(
    detections, ground_truth, num_classes, iou_threshold=0.5, method="all"
):
    # Pairs match_detections' tp (in score order) with the scores in their input order.
    return _map(detections, ground_truth, num_classes, iou_threshold, method, reorder=False)
