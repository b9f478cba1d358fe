"""Checks for notebook 07's YOLO-style grid detector: the box encoding and the loss.

Each check is an ``Exercise``: its cases, the twin in ``course_utils.reference.detection``
(compared in float64) and the known mistakes (rows and columns swapped in the encoding, the
loss averaged over every cell, ...), run by the engine in ``_engine``: the encoding judged by
``Returns``, the loss by ``losses.LossAndGradient``, which judges any loss that returns
``(loss, grad)``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from autograder.checks._engine import (
    Attempt,
    Case,
    CheckResult,
    Exercise,
    Hint,
    Mistake,
    NotApplicable,
    Returns,
    check,
    twin,
)
from autograder.checks.detection import random_boxes
from autograder.checks.losses import LossAndGradient
from course_utils.reference import detection as reference

__all__ = ["check_encode_boxes", "check_yolo_loss"]


# --- encoding -------------------------------------------------------------------------------------


def _encode(boxes, labels, grid_size, num_classes, image_size, **mistake) -> np.ndarray:
    """encode_boxes in NumPy, with switches that reproduce known mistakes."""
    s = grid_size
    cell = image_size / s
    target = np.zeros((5 + num_classes, s, s))
    changed = False
    for (x1, y1, x2, y2), label in zip(boxes, labels):
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        i = min(int(np.floor(cy / cell)), s - 1)
        j = min(int(np.floor(cx / cell)), s - 1)
        if mistake.get("swap") or mistake.get("written_transposed"):
            i, j = j, i
            changed |= i != j
        if target[4, i, j] == 1 and not mistake.get("last_wins"):
            continue
        changed |= bool(target[4, i, j] == 1)
        if target[4, i, j] == 1:
            target[5:, i, j] = 0
        tx, ty = cx / cell - j, cy / cell - i
        if mistake.get("written_transposed"):
            tx, ty = cx / cell - i, cy / cell - j  # right offsets, written at [:, j, i]
        tw, th = np.sqrt((x2 - x1) / image_size), np.sqrt((y2 - y1) / image_size)
        if mistake.get("no_sqrt"):
            tw, th = (x2 - x1) / image_size, (y2 - y1) / image_size
            changed = True
        if mistake.get("image_offsets"):
            tx, ty = cx / image_size, cy / image_size
            changed = True
        target[:5, i, j] = [tx, ty, tw, th, 1.0]
        target[5 + int(label), i, j] = 1.0
    if not changed:
        raise NotApplicable
    return target


def _encode_cases() -> list[Case]:
    rng = np.random.default_rng(704)
    scattered = np.array([[4.0, 4, 28, 20], [40, 8, 60, 30], [10, 40, 26, 62], [34, 36, 50, 50]])
    return [
        Case(
            "worked example: (4, 4, 28, 20) of class 2, 64 pixels, S = 4",
            (np.array([[4.0, 4, 28, 20]]), np.array([2]), 4, 3, 64),
        ),
        Case("4 boxes in different cells", (scattered, np.array([0, 1, 2, 1]), 4, 3, 64)),
        Case(
            "a tall box left of centre (row and column differ)",
            (np.array([[2.0, 30, 12, 60]]), np.array([1]), 4, 3, 64),
        ),
        Case(
            "two centres in one cell: the first box keeps it",
            (np.array([[2.0, 2, 12, 12], [4, 4, 14, 10]]), np.array([0, 2]), 4, 3, 64),
        ),
        Case(
            "centre on the right and bottom edge (clipped to the last cell)",
            (np.array([[48.0, 48, 64, 64], [60, 0, 64, 64]]), np.array([1, 0]), 2, 2, 64),
        ),
        Case("no boxes", (np.zeros((0, 4)), np.zeros(0, dtype=np.int64), 4, 3, 64)),
        Case(
            "S = 7 on 112 pixels, 5 classes, random boxes",
            (random_boxes(rng, 4, 90.0), rng.integers(0, 5, size=4), 7, 5, 112),
        ),
    ]


def _hidden_encode_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        s = int(rng.integers(2, 8))
        size = s * int(rng.integers(8, 20))
        classes = int(rng.integers(1, 6))
        k = int(rng.integers(1, 6))
        boxes = random_boxes(rng, k, size * 0.6)
        cases.append(
            Case(
                f"hidden {i + 1}: {k} boxes, S = {s}, {classes} classes, {size} pixels",
                (boxes, rng.integers(0, classes, size=k), s, classes, size),
            )
        )
    return cases


_encoded = partial(twin, reference.encode_boxes)


def _channels_last(attempt: Attempt, case: Case, got: np.ndarray) -> Hint | None:
    """A target of shape (S, S, 5 + C) where (5 + C, S, S) was expected."""
    expected = _encoded(*case.fresh()[0])
    if got.shape == expected.shape[1:] + expected.shape[:1] and got.shape != expected.shape:
        return Hint(
            "channels_last",
            "channels come first, (5 + C, S, S), like the network's output (N, 5 + C, S, S).",
        )
    return None


ENCODE_BOXES = Exercise(
    "encode_boxes",
    args=("boxes", "labels", "grid_size", "num_classes", "image_size"),
    public=_encode_cases,
    hidden=_hidden_encode_cases,
    judge=Returns(
        _encoded,
        what="target",
        layout_hint=False,
        mistakes=(
            Mistake(
                "row_from_x",
                "rows and columns are swapped: the ROW index comes from y, i = floor(cy / cell), "
                "and the COLUMN from x, j = floor(cx / cell); write target[:, i, j].",
                partial(_encode, swap=True),
            ),
            Mistake(
                "rows_and_columns_swapped",
                "rows and columns are swapped: your values are right but written at "
                "target[:, j, i]. The ROW index comes from y, i = floor(cy / cell), the COLUMN "
                "from x; write target[:, i, j].",
                partial(_encode, written_transposed=True),
            ),
            Mistake(
                "no_square_root",
                "tw and th are the SQUARE ROOTS of the box's width and height over image_size: "
                "sqrt((x2 - x1) / image_size).",
                partial(_encode, no_sqrt=True),
            ),
            Mistake(
                "offsets_in_image",
                "tx and ty are the centre's position inside its cell, cx / cell - j (in [0, 1]), "
                "not inside the whole image.",
                partial(_encode, image_offsets=True),
            ),
            Mistake(
                "last_box_wins",
                "when two centres fall in one cell, the FIRST box in the list keeps it; yours let "
                "a later box overwrite it.",
                partial(_encode, last_wins=True),
            ),
        ),
        explain=_channels_last,
    ),
)


@check
def check_encode_boxes(encode_boxes: Callable, cases: str = "public") -> CheckResult:
    """Check ``encode_boxes(boxes, labels, grid_size, num_classes, image_size) -> target``
    (5 + C, S, S): [tx, ty, tw, th, objectness, one-hot class] in the cell of each centre."""
    return ENCODE_BOXES.run(cases, encode_boxes)


# --- the loss -------------------------------------------------------------------------------------


def _yolo_numpy(pred, target, lambda_coord=5.0, lambda_noobj=0.5, **mistake):
    """yolo_loss computed here (with autograd), with switches that reproduce known mistakes."""
    n, _, s, _ = pred.shape
    obj = target[:, 4]
    noobj_weight = 1.0 if mistake.get("no_lambda_noobj") else lambda_noobj
    weight = obj + noobj_weight * (1 - obj)
    where = np.ones_like(obj) if mistake.get("coords_everywhere") else obj
    p = torch.from_numpy(np.array(pred, copy=True)).requires_grad_(True)
    t = torch.from_numpy(np.array(target, copy=True))
    xy = p[:, 0:2] if mistake.get("no_sigmoid") else torch.sigmoid(p[:, 0:2])
    w = torch.from_numpy(where)[:, None]
    coords = (w * (xy - t[:, 0:2]) ** 2).sum() + (w * (p[:, 2:4] - t[:, 2:4]) ** 2).sum()
    z = p[:, 4]
    bce = z.clamp(min=0) - z * t[:, 4] + torch.log1p(torch.exp(-z.abs()))
    classes = -(
        torch.from_numpy(obj)[:, None] * t[:, 5:] * torch.log_softmax(p[:, 5:], dim=1)
    ).sum()
    if mistake.get("class_everywhere"):
        # Unmasked, the class term is the same loss (t is 0 in a cell without an object), but
        # its gradient softmax(p) - t is not 0 there: add softmax(p) to dpred, not to the loss.
        if obj.all():
            raise NotApplicable
        logsumexp = torch.logsumexp(p[:, 5:], dim=1)
        classes = classes + (torch.from_numpy(1 - obj) * (logsumexp - logsumexp.detach())).sum()
    divisor = n * s * s if mistake.get("per_cell") else n
    loss = (lambda_coord * coords + (torch.from_numpy(weight) * bce).sum() + classes) / divisor
    loss.backward()
    return loss.item(), p.grad.numpy()


def _yolo_case(rng: np.random.Generator, n: int, s: int, c: int, size: int, scale: float = 2.0):
    targets = []
    for _ in range(n):
        k = int(rng.integers(1, s * s // 2 + 2))
        boxes = random_boxes(rng, k, size * 0.7)
        labels = rng.integers(0, c, size=k)
        targets.append(twin(reference.encode_boxes, boxes, labels, s, c, size))
    pred = rng.standard_normal((n, 5 + c, s, s)) * scale
    return pred, np.stack(targets)


def _yolo_cases() -> list[Case]:
    rng = np.random.default_rng(705)
    pred, target = _yolo_case(rng, 2, 4, 3, 64)
    pred_big, target_big = _yolo_case(rng, 3, 3, 2, 48, scale=40.0)
    pred_one, target_one = _yolo_case(rng, 1, 5, 4, 80)
    return [
        Case("2 images, S = 4, 3 classes", (pred, target)),
        Case("lambda_coord 2, lambda_noobj 0.1", (pred, target, 2.0, 0.1)),
        Case("3 images, S = 3, 2 classes, logits of size ~40", (pred_big, target_big)),
        Case("1 image, S = 5, 4 classes", (pred_one, target_one)),
    ]


def _hidden_yolo_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        n, s, c = int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(1, 5))
        pred, target = _yolo_case(rng, n, s, c, s * 16)
        weights = (float(rng.uniform(1, 6)), float(rng.uniform(0.1, 0.9)))
        cases.append(
            Case(f"hidden {i + 1}: {n} image(s), S = {s}, {c} classes", (pred, target, *weights))
        )
    return cases


YOLO_LOSS = Exercise(
    "yolo_loss",
    args=("pred", "target", "lambda_coord", "lambda_noobj"),
    public=_yolo_cases,
    hidden=_hidden_yolo_cases,
    judge=LossAndGradient(
        partial(twin, reference.yolo_loss),
        "dpred",
        (
            Mistake(
                "averaged_over_cells",
                "your loss is averaged over every cell (N * S * S); YOLO sums over the cells and "
                "averages over the N images only: divide by N.",
                partial(_yolo_numpy, per_cell=True),
            ),
            Mistake(
                "no_noobj_weight",
                "the cells without an object are not down-weighted: multiply their objectness "
                "loss by lambda_noobj (the weight is obj + lambda_noobj * (1 - obj)).",
                partial(_yolo_numpy, no_lambda_noobj=True),
            ),
            Mistake(
                "coordinates_in_every_cell",
                "the position and scale terms count in every cell; only the cells responsible "
                "for a box (obj = target[:, 4] == 1) have a box to match: multiply them by obj.",
                partial(_yolo_numpy, coords_everywhere=True),
            ),
            Mistake(
                "class_in_every_cell",
                "the class term counts in every cell; only cells with an object have a class: "
                "multiply the cross-entropy by obj.",
                partial(_yolo_numpy, class_everywhere=True),
            ),
            Mistake(
                "no_sigmoid",
                "the position terms compare the raw outputs p0, p1 with tx, ty; pass them "
                "through the sigmoid first, (sigmoid(p0) - tx)^2, and remember sigmoid' = "
                "s (1 - s) in dpred.",
                partial(_yolo_numpy, no_sigmoid=True),
            ),
        ),
    ),
)


@check
def check_yolo_loss(yolo_loss: Callable, cases: str = "public") -> CheckResult:
    """Check ``yolo_loss(pred, target, lambda_coord=5.0, lambda_noobj=0.5) -> (loss, dpred)``:
    position (sigmoid), scale, objectness (BCE, no-object cells weighted lambda_noobj) and class
    (softmax cross-entropy) terms, summed over cells and averaged over the N images."""
    return YOLO_LOSS.run(cases, yolo_loss)
