"""Checks for notebook 07's boxes: intersection over union, non-maximum suppression, and
non-maximum suppression within each class.

Each check is an ``Exercise``: its cases, the twin in ``course_utils.reference.detection``
(compared in float64) and the known mistakes (inclusive pixel coordinates in IoU, NMS without
sorting or with ``>=``, NMS across classes), run by the engine in ``_engine``.

An array answer (the IoU matrix) is judged by the engine's ``Returns``, never with its
channels-last hint; ``Keep`` judges indices, compared exactly. Notebook 07's later sections are
checked in ``grid_detector`` (box encoding, the YOLO-style loss), ``matching``, ``evaluation``
and ``segmentation`` (transposed convolution, the pixel-wise loss).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from autograder.checks._engine import (
    Attempt,
    Case,
    CaseFailure,
    CheckResult,
    Exercise,
    Mistake,
    NotApplicable,
    Returns,
    check,
    describe_answer,
    diagnose,
    twin,
)
from course_utils.reference import detection as reference

__all__ = ["check_box_iou", "check_nms", "check_batched_nms"]


# --- shared by notebook 07's checks: random boxes -------------------------------------------------


def random_boxes(rng: np.random.Generator, k: int, extent: float = 40.0) -> np.ndarray:
    """k boxes (x1, y1, x2, y2) with corners in [0, extent] and sides in [1, extent / 2]."""
    top_left = rng.uniform(0, extent, size=(k, 2))
    sides = rng.uniform(1, extent / 2, size=(k, 2))
    return np.concatenate([top_left, top_left + sides], axis=1)


# --- IoU ------------------------------------------------------------------------------------------

_BOX_A = np.array([[0.0, 0.0, 4.0, 4.0]])
_BOXES_B = np.array(
    [
        [2.0, 2.0, 6.0, 6.0],  # the worked example: 4 / 28 = 1/7
        [0.0, 0.0, 4.0, 4.0],  # identical: 1
        [5.0, 5.0, 7.0, 7.0],  # disjoint: 0
        [4.0, 0.0, 8.0, 4.0],  # touching along an edge: 0
        [1.0, 1.0, 3.0, 3.0],  # inside: 4 / 16
    ]
)


def _iou_cases() -> list[Case]:
    rng = np.random.default_rng(701)
    return [
        Case(
            "worked example (0,0,4,4) vs (2,2,6,6), identical, disjoint, touching, inside",
            (_BOX_A, _BOXES_B),
        ),
        Case("batch: 6 boxes against 4", (random_boxes(rng, 6), random_boxes(rng, 4))),
        Case(
            "disjoint boxes diagonally apart",
            (np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[5.0, 5.0, 9.0, 8.0]])),
        ),
        Case("one box against 7 (wide and tall)", (random_boxes(rng, 1), random_boxes(rng, 7))),
    ]


def _hidden_iou_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        n, m = (int(v) for v in rng.integers(1, 9, size=2))
        extent = float(rng.uniform(10, 200))
        cases.append(
            Case(
                f"hidden {i + 1}: {n} boxes against {m}",
                (random_boxes(rng, n, extent), random_boxes(rng, m, extent)),
            )
        )
    return cases


def _iou_inclusive(boxes1, boxes2):
    return twin(reference.box_iou, boxes1 + [0, 0, 1, 1], boxes2 + [0, 0, 1, 1])


def _iou_union_with_intersection(boxes1, boxes2):
    iou = twin(reference.box_iou, boxes1, boxes2)  # inter / union
    area1 = np.prod(boxes1[:, 2:] - boxes1[:, :2], axis=1)[:, None]
    area2 = np.prod(boxes2[:, 2:] - boxes2[:, :2], axis=1)[None, :]
    inter = iou * (area1 + area2) / (1 + iou)
    if not np.any(inter > 0):
        raise NotApplicable
    return inter / (area1 + area2)


def _iou_unclipped(boxes1, boxes2):
    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    sides = bottom_right - top_left
    if np.all(sides >= 0):
        raise NotApplicable
    inter = sides[..., 0] * sides[..., 1]
    area1 = np.prod(boxes1[:, 2:] - boxes1[:, :2], axis=1)[:, None]
    area2 = np.prod(boxes2[:, 2:] - boxes2[:, :2], axis=1)[None, :]
    return inter / (area1 + area2 - inter)


BOX_IOU = Exercise(
    "box_iou",
    args=("boxes1", "boxes2"),
    public=_iou_cases,
    hidden=_hidden_iou_cases,
    judge=Returns(
        partial(twin, reference.box_iou),
        what="iou",
        layout_hint=False,
        mistakes=(
            Mistake(
                "inclusive_pixels",
                "your IoU uses inclusive pixel coordinates, width x2 - x1 + 1. These boxes are "
                "continuous (as in torchvision): the width is x2 - x1 and the area (x2 - x1) * "
                "(y2 - y1), with no + 1.",
                _iou_inclusive,
            ),
            Mistake(
                "union_counts_intersection_twice",
                "your union counts the intersection twice: union = area1 + area2 - intersection.",
                _iou_union_with_intersection,
            ),
            Mistake(
                "unclipped_sides",
                "for boxes that do not overlap, bottom_right - top_left is negative; clip the "
                "sides at 0 (np.clip(..., 0, None)) before multiplying, or two negative sides "
                "give a positive area.",
                _iou_unclipped,
            ),
        ),
    ),
)


@check
def check_box_iou(box_iou: Callable, cases: str = "public") -> CheckResult:
    """Check ``box_iou(boxes1, boxes2) -> (N, M)``: IoU of boxes (x1, y1, x2, y2) in continuous
    coordinates (area (x2 - x1) * (y2 - y1)), as torchvision.ops.box_iou."""
    return BOX_IOU.run(cases, box_iou)


# --- non-maximum suppression ----------------------------------------------------------------------


def _as_indices(value: Any, name: str) -> np.ndarray:
    """The answer must be a 1-D ndarray of integers (int64 preferred)."""
    if type(value) is not np.ndarray:
        raise CaseFailure(
            f"{name} must return keep as a numpy.ndarray of int64 indices; it returned "
            f"{describe_answer(value)}. Build it with np.array(kept, dtype=np.int64)."
        )
    if value.ndim != 1 or (value.size and value.dtype.kind not in "iu"):
        raise CaseFailure(
            f"{name} must return keep as a 1-D array of integer indices (dtype int64); it "
            f"returned shape {value.shape} and dtype {value.dtype}. "
            "Build it with np.array(kept, dtype=np.int64)."
        )
    return value.astype(np.int64)


@dataclass(frozen=True)
class Keep:
    """Judge a function that returns ``keep``, indices into its inputs: inputs left unchanged,
    the indices (in their order) equal to ``twin``'s (the case's arguments -> indices), else
    explained by the first mistake whose prediction equals them."""

    twin: Callable[..., Any]
    mistakes: Sequence[Mistake] = ()

    def __call__(self, attempt: Attempt, case: Case) -> None:
        attempt.unchanged(case)
        got = _as_indices(attempt.call_case(case), attempt.name)
        expected = self.twin(*case.fresh()[0]).astype(np.int64)
        if np.array_equal(got, expected):
            return None
        args, kwargs = case.fresh()
        hint = diagnose(self.mistakes, args, got.tolist(), lambda v: np.asarray(v).tolist(), kwargs)
        raise CaseFailure(f"returned keep = {got.tolist()}, expected {expected.tolist()}.", hint)


def _greedy(boxes, scores, threshold, order, suppress) -> list[int]:
    iou = twin(reference.box_iou, boxes, boxes)
    suppressed = np.zeros(len(boxes), dtype=bool)
    kept = []
    for index in order:
        if suppressed[index]:
            continue
        kept.append(int(index))
        suppressed |= suppress(iou[index], threshold)
    return kept


def _nms_input_order(boxes, scores, iou_threshold):
    return np.array(
        _greedy(boxes, scores, iou_threshold, range(len(boxes)), np.greater), dtype=np.int64
    )


def _nms_unordered_output(boxes, scores, iou_threshold):
    keep = twin(reference.nms, boxes, scores, iou_threshold).astype(np.int64)
    return np.sort(keep)


def _nms_greater_equal(boxes, scores, iou_threshold):
    order = np.argsort(-scores, kind="stable")
    return np.array(_greedy(boxes, scores, iou_threshold, order, np.greater_equal), dtype=np.int64)


def _cluster(rng: np.random.Generator, centre: tuple[float, float], count: int, size: float):
    jitter = rng.normal(0, size / 8, size=(count, 4))
    cx, cy = centre
    base = np.array([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2])
    boxes = base + jitter
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    return boxes


def _nms_cases() -> list[Case]:
    rng = np.random.default_rng(702)
    hand = np.array(
        [[0.0, 0.0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9], [21, 20, 31, 30]]
    )
    # The best box comes last: suppressing in input order keeps the weaker ones instead.
    chain = np.array([[0.0, 0, 10, 10], [2, 0, 12, 10], [4, 0, 14, 10]])
    # IoU of (0,0,4,4) and (0,0,4,2) is 8 / 16 = 0.5 exactly: equal to the threshold, kept.
    equal = np.array([[0.0, 0, 4, 4], [0, 0, 4, 2], [10, 10, 14, 14]])
    clusters = np.concatenate(
        [
            _cluster(rng, (15, 15), 4, 12),
            _cluster(rng, (40, 20), 3, 16),
            _cluster(rng, (25, 45), 3, 10),
        ]
    )
    return [
        Case(
            "hand example: two clusters and a near-duplicate, threshold 0.5",
            (hand, np.array([0.9, 0.8, 0.7, 0.95, 0.6]), 0.5),
        ),
        Case("the best box comes last, threshold 0.3", (chain, np.array([0.5, 0.7, 0.9]), 0.3)),
        Case(
            "IoU exactly equal to the threshold 0.5 (kept)",
            (equal, np.array([0.9, 0.8, 0.7]), 0.5),
        ),
        Case(
            "10 noisy detections of 3 objects, threshold 0.4",
            (clusters, rng.permutation(np.linspace(0.1, 0.95, 10)), 0.4),
        ),
        Case("a single box", (np.array([[1.0, 2, 3, 4]]), np.array([0.3]), 0.5)),
    ]


def _hidden_nms_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        objects = int(rng.integers(1, 5))
        boxes = np.concatenate(
            [
                _cluster(rng, tuple(rng.uniform(10, 90, size=2)), int(rng.integers(1, 6)), 15)
                for _ in range(objects)
            ]
        )
        scores = rng.permutation(np.linspace(0.05, 0.99, len(boxes)))
        threshold = float(rng.choice([0.3, 0.4, 0.5, 0.6, 0.7]))
        cases.append(
            Case(
                f"hidden {i + 1}: {len(boxes)} detections of {objects} objects, "
                f"threshold {threshold}",
                (boxes, scores, threshold),
            )
        )
    equal = np.array([[0.0, 0, 8, 8], [0, 0, 8, 4]])
    cases.append(Case("hidden: IoU equal to the threshold", (equal, np.array([0.4, 0.6]), 0.5)))
    return cases


NMS = Exercise(
    "nms",
    args=("boxes", "scores", "iou_threshold"),
    public=_nms_cases,
    hidden=_hidden_nms_cases,
    judge=Keep(
        partial(twin, reference.nms),
        (
            Mistake(
                "not_sorted_by_score",
                "you suppressed in the input order. Sort by decreasing score first "
                "(order = np.argsort(-scores)) and always keep the best remaining box: otherwise "
                "a weak box can remove a better one.",
                _nms_input_order,
            ),
            Mistake(
                "returns_index_order",
                "you kept the right boxes but returned them in index order; return keep in "
                "decreasing score order (the order in which NMS keeps them).",
                _nms_unordered_output,
            ),
            Mistake(
                "suppresses_equal_iou",
                "you suppressed boxes whose IoU EQUALS the threshold: remove a box only when its "
                "IoU with a kept box is greater than iou_threshold (>, as torchvision.ops.nms).",
                _nms_greater_equal,
            ),
        ),
    ),
)


@check
def check_nms(nms: Callable, cases: str = "public") -> CheckResult:
    """Check ``nms(boxes, scores, iou_threshold) -> keep``: int64 indices of the kept boxes in
    decreasing score order; a box is dropped when its IoU with a kept box is > iou_threshold."""
    return NMS.run(cases, nms)


def _batched_nms_cases() -> list[Case]:
    rng = np.random.default_rng(703)
    # A person on a horse: two boxes overlapping a lot, of different classes; both are kept.
    rider = np.array([[10.0, 5, 30, 40], [8, 6, 32, 42], [50, 50, 60, 60], [51, 50, 61, 60]])
    mixed = np.concatenate([_cluster(rng, (20, 20), 5, 14), _cluster(rng, (45, 40), 5, 14)])
    return [
        Case(
            "overlapping boxes of different classes are both kept",
            (rider, np.array([0.9, 0.8, 0.7, 0.6]), np.array([0, 1, 2, 2]), 0.5),
        ),
        Case(
            "10 detections of 2 objects, 3 classes, threshold 0.4",
            (mixed, rng.permutation(np.linspace(0.1, 0.9, 10)), rng.integers(0, 3, size=10), 0.4),
        ),
        Case(
            "one class only (same as nms)",
            (mixed[:5], np.linspace(0.9, 0.5, 5), np.zeros(5, dtype=np.int64), 0.5),
        ),
    ]


def _hidden_batched_nms_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for case in _hidden_nms_cases(rng)[:5]:
        boxes, scores, threshold = case.args
        labels = rng.integers(0, int(rng.integers(2, 5)), size=len(boxes))
        cases.append(Case(case.name + ", several classes", (boxes, scores, labels, threshold)))
    return cases


def _nms_across_classes(boxes, scores, labels, iou_threshold):
    return twin(reference.nms, boxes, scores, iou_threshold).astype(np.int64)


def _batched_grouped_by_class(boxes, scores, labels, iou_threshold):
    keep = twin(reference.batched_nms, boxes, scores, labels, iou_threshold).astype(np.int64)
    return keep[np.argsort(labels[keep], kind="stable")]


BATCHED_NMS = Exercise(
    "batched_nms",
    args=("boxes", "scores", "labels", "iou_threshold"),
    public=_batched_nms_cases,
    hidden=_hidden_batched_nms_cases,
    judge=Keep(
        partial(twin, reference.batched_nms),
        (
            Mistake(
                "across_classes",
                "you ran NMS across classes: boxes of different labels suppressed each other. "
                "Run nms separately on the boxes of each label (labels == k) and gather the "
                "indices.",
                _nms_across_classes,
            ),
            Mistake(
                "grouped_by_class",
                "you kept the right boxes but grouped by class; sort the gathered indices by "
                "decreasing score (keep[np.argsort(-scores[keep])]).",
                _batched_grouped_by_class,
            ),
        ),
    ),
)


@check
def check_batched_nms(batched_nms: Callable, cases: str = "public") -> CheckResult:
    """Check ``batched_nms(boxes, scores, labels, iou_threshold) -> keep``: NMS within each
    class, kept indices (int64) in decreasing score order, as torchvision.ops.batched_nms."""
    return BATCHED_NMS.run(cases, batched_nms)
