"""Checks for notebook 07's anchors and detector evaluation: ``generate_anchors``,
``average_precision``, ``mean_average_precision`` (``match_detections`` is in ``matching``).

Each is an ``Exercise`` of ``_engine``: the notebook's worked examples as public cases, hidden
cases drawn at grading time, the twin in ``course_utils.reference.evaluation``, and the known
mistakes, each named by its identifier (``generate_anchors/ratio_inverted``).

The anchors are an array compared with the twin's (``Returns``). The other two answer with
what ``Returns`` does not compare, so each has a judge function: ``average_precision`` returns
a number, and ``mean_average_precision`` a number and an array, both with ``nan`` where AP is
undefined, which must be ``nan`` exactly there and agree to float64 precision elsewhere. On
the small cases of these exercises two mistakes can give the same wrong answer, so a hint is
given only when exactly one known mistake explains it (``_proved``, from ``matching``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from autograder.checks._engine import (
    FLOAT64,
    Attempt,
    Case,
    CaseFailure,
    CheckResult,
    Exercise,
    Mistake,
    Returns,
    check,
    compare_arrays,
    not_applicable,
    tolerance_for,
    twin,
)
from autograder.checks.matching import _greedy, _jittered, _proved, _random_boxes
from course_utils.reference import evaluation as reference

__all__ = [
    "check_generate_anchors",
    "check_average_precision",
    "check_mean_average_precision",
]


# --- generate_anchors ---------------------------------------------------------------------------


def _anchor_cases() -> list[Case]:
    # The notebook's worked examples, and a non-square map: a 1 x 2 map cannot tell
    # row-major from column-major positions.
    return [
        Case("worked example: 1x2 map, stride 16, sizes (8, 16), ratios (0.25, 1, 4)",
             ((1, 2), 16, (8, 16), (0.25, 1, 4))),
        Case("Faster R-CNN's nine anchors on a 2x2 map, stride 16",
             ((2, 2), 16, (128, 256, 512), (0.5, 1, 2))),
        Case("non-square map: H = 3, W = 2, stride 8, size 32, ratios (0.5, 1, 2)",
             ((3, 2), 8, (32,), (0.5, 1, 2))),
        Case("one anchor: 1x1 map, stride 4, size 6, ratio 1", ((1, 1), 4, (6,), (1,))),
    ]  # fmt: skip


def _hidden_anchor_cases(rng: np.random.Generator) -> list[Case]:
    """Maps up to 6 x 6 (the first one non-square, both sides above 1), strides from 4 to 32,
    1-3 sizes in [8, 256] and 1-4 ratios in [0.2, 5] (the second case has several of each, so
    their order shows)."""
    cases = []
    for i in range(5):
        if i == 0:
            height, width = (int(v) for v in rng.choice(np.arange(2, 7), size=2, replace=False))
        else:
            height, width = (int(v) for v in rng.integers(1, 7, size=2))
        stride = float(rng.choice([4, 8, 16, 32, 12.5]))
        num_sizes = 2 if i == 1 else int(rng.integers(1, 4))
        num_ratios = 3 if i == 1 else int(rng.integers(1, 5))
        sizes = tuple(float(v) for v in np.round(rng.uniform(8, 256, num_sizes), 1))
        ratios = tuple(float(v) for v in np.round(rng.uniform(0.2, 5, num_ratios), 2))
        cases.append(
            Case(
                f"hidden {i + 1}: {height}x{width} map, stride {stride:g}, {num_sizes} "
                f"size(s), {num_ratios} ratio(s)",
                ((height, width), stride, sizes, ratios),
            )
        )
    return cases


def _anchors(feature_hw, stride, sizes, aspect_ratios) -> np.ndarray:
    return twin(reference.generate_anchors, feature_hw, stride, sizes, aspect_ratios)


def _reordered(feature_hw, sizes, aspect_ratios, anchors: np.ndarray, axes: tuple) -> np.ndarray:
    height, width = feature_hw
    grid = anchors.reshape(height, width, len(sizes), len(aspect_ratios), 4)
    return grid.transpose(*axes, 4).reshape(-1, 4)


GENERATE_ANCHORS = Exercise(
    "generate_anchors",
    args=("feature_hw", "stride", "sizes", "aspect_ratios"),
    public=_anchor_cases,
    hidden=_hidden_anchor_cases,
    judge=Returns(
        _anchors,
        mistakes=[
            Mistake(
                "ratio_inverted",
                "your anchors are wide where they should be tall: the ratio is r = h / w, so "
                "w = s / sqrt(r) and h = s * sqrt(r) (r = 2 is twice as tall as wide).",
                lambda hw, stride, sizes, ratios: _anchors(
                    hw, stride, sizes, tuple(1 / r for r in ratios)
                ),
            ),
            Mistake(
                "cell_corner",
                "your anchors are centred on the cells' top-left corners (j * stride, "
                "i * stride); position (i, j) has its centre at ((j + 0.5) * stride, "
                "(i + 0.5) * stride).",
                lambda hw, stride, sizes, ratios: _anchors(hw, stride, sizes, ratios) - stride / 2,
            ),
            Mistake(
                "sizes_ratios_swapped",
                "right boxes, wrong order: within a position loop over sizes, and within each "
                "size over ratios (for s in sizes: for r in aspect_ratios); you let the ratios "
                "vary slowest, as torchvision does.",
                lambda hw, stride, sizes, ratios: _reordered(
                    hw, sizes, ratios, _anchors(hw, stride, sizes, ratios), (0, 1, 3, 2)
                ),
            ),
            Mistake(
                "column_major",
                "right boxes, wrong order: positions go row by row (i outer, j inner: all of "
                "row 0 first), not column by column.",
                lambda hw, stride, sizes, ratios: _reordered(
                    hw, sizes, ratios, _anchors(hw, stride, sizes, ratios), (1, 0, 2, 3)
                ),
            ),
        ],
    ),
)


@check
def check_generate_anchors(generate_anchors: Callable, cases: str = "public") -> CheckResult:
    """Check ``generate_anchors(feature_hw, stride, sizes, aspect_ratios) -> anchors``, float64
    (H * W * len(sizes) * len(aspect_ratios), 4): per position in row-major order, centre
    ((j + 0.5) * stride, (i + 0.5) * stride); per size, per ratio r = h / w: w = s / sqrt(r),
    h = s * sqrt(r)."""
    return GENERATE_ANCHORS.run(cases, generate_anchors)


# --- average_precision ----------------------------------------------------------------------------

# The notebook's worked example: seven ranked detections, four ground-truth boxes.
_WORKED_TP = np.array([1, 0, 1, 0, 0, 1, 1], dtype=bool)


def _flags(*values: int) -> np.ndarray:
    return np.array(values, dtype=bool)


def _ap_cases() -> list[Case]:
    return [
        Case('worked example: tp [1, 0, 1, 0, 0, 1, 1], num_gt 4, "all" (59/84)',
             (_WORKED_TP, 4), {"method": "all"}),
        Case('worked example, "11point" (5/7)', (_WORKED_TP, 4), {"method": "11point"}),
        Case('worked example, method left at its default ("all")', (_WORKED_TP, 4)),
        Case('perfect: tp [1, 1, 1], num_gt 3, "all"', (_flags(1, 1, 1), 3), {"method": "all"}),
        Case('perfect, "11point"', (_flags(1, 1, 1), 3), {"method": "11point"}),
        Case('recall never reaches 1: tp [1, 0, 1], num_gt 4, "all" (5/12)',
             (_flags(1, 0, 1), 4), {"method": "all"}),
        Case('recall never reaches 1, "11point" (5/11)', (_flags(1, 0, 1), 4),
             {"method": "11point"}),
        Case('false positives first: tp [0, 0, 0, 1], num_gt 1, "all" (1/4)',
             (_flags(0, 0, 0, 1), 1), {"method": "all"}),
        Case('no detections: tp [], num_gt 3 (AP 0)', (_flags(), 3), {"method": "all"}),
        Case('no ground truth: tp [0, 0], num_gt 0 (AP undefined: nan)', (_flags(0, 0), 0),
             {"method": "all"}),
    ]  # fmt: skip


def _hidden_ap_cases(rng: np.random.Generator) -> list[Case]:
    """Six rankings of 1 to 40 detections, each a true positive with a chance falling from 0.9
    at the top to 0.1 at the bottom (so the envelope matters), both methods; num_gt is the
    true positives plus 0 to 3, never a multiple of 5, so no recall but 0, 0.5 and 1 lands
    exactly on an 11-point threshold t = k / 10, and the grade does not hinge on how the
    thresholds are built (np.arange(0, 1.1, 0.1), as in the VOC devkit's Python ports, misses a
    recall of exactly 0.3). Then no detections, and no ground truth."""
    cases = []
    for i in range(6):
        count = int(rng.integers(1, 41))
        tp = rng.random(count) < np.linspace(0.9, 0.1, count)
        num_gt = int(tp.sum()) + int(rng.integers(0, 4))
        while num_gt % 5 == 0:
            num_gt += 1
        method = ("all", "11point")[i % 2]
        cases.append(
            Case(
                f"hidden {i + 1}: {count} detections ({int(tp.sum())} true), num_gt {num_gt}, "
                f'"{method}"',
                (tp, num_gt),
                {"method": method},
            )
        )
    num_gt, count = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    return [
        *cases,
        Case(f'hidden 7: no detections, num_gt {num_gt}, "11point"', (_flags(), num_gt),
             {"method": "11point"}),
        Case(f'hidden 8: {count} false positives, num_gt 0, "11point"',
             (np.zeros(count, dtype=bool), 0), {"method": "11point"}),
    ]  # fmt: skip


def _ap(tp, num_gt, method="all") -> float:
    return reference.average_precision(torch.from_numpy(np.array(tp)), num_gt, method)


def _area(tp, num_gt, method="all", *, envelope=True, recall_over=None) -> float:
    """Average precision as ``average_precision`` defines it, without checking its inputs
    (more true positives than num_gt are fine), or a mistaken variant: ``envelope=False``
    sums the raw precision; ``recall_over`` divides recall by another number than num_gt."""
    if num_gt == 0:
        return math.nan
    hits = np.asarray(tp, dtype=np.float64)
    if hits.size == 0:
        return 0.0
    found = np.cumsum(hits)  # (K,)
    precision = found / np.arange(1, len(hits) + 1)
    recall = found / (num_gt if recall_over is None else recall_over)
    if envelope:
        precision = np.maximum.accumulate(precision[::-1])[::-1]
    if method == "all":
        return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))
    reached = [precision[recall >= t] for t in np.arange(11) / 10]
    return float(sum(p.max() if p.size else 0.0 for p in reached) / 11)


AP_MISTAKES = [
    Mistake(
        "no_envelope",
        "you summed the raw precision at each recall step; PASCAL uses its monotone "
        "envelope, the best precision at that rank or any later one: "
        "p_interp = np.maximum.accumulate(precision[::-1])[::-1].",
        lambda tp, num_gt, method="all": (
            _area(tp, num_gt, method, envelope=False) if method == "all" else not_applicable()
        ),
    ),
    Mistake(
        "over_detections",
        "recall divides by the number of ground-truth boxes (num_gt), not by the number of "
        "detections: boxes never found must lower AP.",
        lambda tp, num_gt, method="all": _area(tp, num_gt, method, recall_over=len(tp)),
    ),
    Mistake(
        "zero_without_ground_truth",
        "with no ground-truth box AP is undefined: return float('nan').",
        lambda tp, num_gt, method="all": 0.0 if num_gt == 0 else not_applicable(),
    ),
]


def _compare_number(got: float, expected: float, what: str) -> float:
    """Raise ``CaseFailure`` when ``got`` differs from ``expected`` (nan equals only nan);
    else the relative error."""
    if math.isnan(expected) or math.isnan(got):
        if math.isnan(expected) and math.isnan(got):
            return 0.0
        raise CaseFailure(f"{what} is {got:.6g}, expected {expected:.6g}.")
    tol = FLOAT64
    error = abs(got - expected)
    if error > tol.atol + tol.rtol * abs(expected):
        raise CaseFailure(
            f"{what} is {got:.6g}, expected {expected:.6g} (error {error:.3g}; allowed "
            f"{tol.rtol:.0e} relative: {tol.why})."
        )
    return error / max(1e-8, abs(got) + abs(expected))


def _judge_ap(attempt: Attempt, case: Case) -> float:
    """A number (a 0-d array too), equal to the twin's to float64 precision; nan for nan."""
    attempt.unchanged(case)
    got = attempt.number(attempt.call_case(case), "ap")
    args, kwargs = case.fresh()
    try:
        return _compare_number(got, _ap(*args, **kwargs), "ap")
    except CaseFailure as failure:
        hint = _proved(AP_MISTAKES, args, np.asarray(got), np.asarray, kwargs)
        raise failure.with_hint(hint) from None


AVERAGE_PRECISION = Exercise(
    "average_precision",
    args=("tp", "num_gt"),
    public=_ap_cases,
    hidden=_hidden_ap_cases,
    judge=_judge_ap,
)


@check
def check_average_precision(average_precision: Callable, cases: str = "public") -> CheckResult:
    """Check ``average_precision(tp, num_gt, method="all") -> ap``, a float: the area under the
    monotone precision envelope ("all", VOC 2010 on) or its mean at recall t = 0, 0.1, ..., 1
    ("11point", VOC 2007); 0.0 without detections, nan without ground truth."""
    return AVERAGE_PRECISION.run(cases, average_precision)


# --- mean_average_precision -----------------------------------------------------------------------


@dataclass(frozen=True)
class _PerImage:
    """A list over images (``detections`` or ``ground_truth``) in a case: the function gets
    ``entries``, and a diagnosis names the list by its size, not by its arrays."""

    entries: list

    def __repr__(self) -> str:
        boxes = sum(len(entry[0]) for entry in self.entries)
        return f"({len(self.entries)} images, {boxes} boxes)"


def _scene_case(name: str, detections: list, ground_truth: list, num_classes: int, **kwargs):
    return Case(name, (_PerImage(detections), _PerImage(ground_truth), num_classes), kwargs)


def _unwrapped(args: tuple) -> tuple:
    return tuple(a.entries if isinstance(a, _PerImage) else a for a in args)


def _worked_scene(extended: bool = False) -> tuple[list, list]:
    """The notebook's worked example (two images, three classes); ``extended`` adds image 2
    (a class-2 box, no detection) and image 3 (a class-1 detection, no box)."""
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
    if extended:
        detections += [
            (np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)),
            (np.array([[0.0, 0, 5, 5]]), np.array([0.95]), np.array([1])),
        ]
        ground_truth += [
            (np.array([[30.0, 30, 40, 40]]), np.array([2])),
            (np.zeros((0, 4)), np.zeros(0, dtype=np.int64)),
        ]
    return detections, ground_truth


def _random_scene(
    rng: np.random.Generator,
    num_images: int,
    num_classes: int,
    absent: int | None = None,
    quantised: bool = False,
) -> tuple[list, list]:
    """Images of 0 to 5 ground-truth boxes of the classes other than ``absent``; detections
    are jittered copies (one in five with a wrong class) and strays of any class."""
    present = [c for c in range(num_classes) if c != absent]
    detections, ground_truth = [], []
    for _ in range(num_images):
        gt_boxes = _random_boxes(rng, int(rng.integers(0, 6)))
        gt_labels = rng.choice(present, len(gt_boxes)).astype(np.int64)
        copies = rng.integers(0, 3, len(gt_boxes))
        found = _jittered(rng, np.repeat(gt_boxes, copies, axis=0), float(rng.uniform(2, 3)))
        labels = np.repeat(gt_labels, copies)
        relabel = rng.random(len(labels)) < 0.2
        labels[relabel] = rng.integers(0, num_classes, int(relabel.sum()))
        strays = _random_boxes(rng, int(rng.integers(0, 3)))
        boxes = np.concatenate([found.reshape(-1, 4), strays])
        labels = np.concatenate([labels, rng.integers(0, num_classes, len(strays))])
        shuffle = rng.permutation(len(boxes))
        scores = (
            rng.choice([0.2, 0.4, 0.6, 0.8], len(boxes))
            if quantised
            else rng.uniform(0, 1, len(boxes))
        )
        detections.append((boxes[shuffle], scores, labels[shuffle].astype(np.int64)))
        ground_truth.append((gt_boxes, gt_labels))
    return detections, ground_truth


def _map_cases() -> list[Case]:
    worked, extended = _worked_scene(), _worked_scene(extended=True)
    seeded = _random_scene(np.random.default_rng(7009), 4, 3)
    return [
        _scene_case(
            "worked example: 2 images, 3 classes, iou_threshold and method left at their "
            'defaults (0.5, "all"): ap [5/6, 1/2, nan], mAP 2/3',
            *worked,
            3,
        ),
        _scene_case(
            'worked example, "11point": ap [28/33, 1/2, nan]',
            *worked,
            3,
            iou_threshold=0.5,
            method="11point",
        ),
        _scene_case(
            "worked example with image 2 (a class-2 box, no detections) and image 3 (a class-1 "
            'detection scoring 0.95, no ground truth), "all": ap [5/6, 1/3, 0], mAP 7/18',
            *extended,
            3,
            iou_threshold=0.5,
            method="all",
        ),
        _scene_case(
            'the same four images, "11point": ap [28/33, 1/3, 0], mAP 13/33',
            *extended,
            3,
            iou_threshold=0.5,
            method="11point",
        ),
        _scene_case(
            'random scene: 4 images, 3 classes, IoU 0.5, "all"',
            *seeded,
            3,
            iou_threshold=0.5,
            method="all",
        ),
    ]


def _hidden_map_cases(rng: np.random.Generator) -> list[Case]:
    """Four scenes of 2 to 8 images and 2 to 5 classes, at IoU 0.5 or 0.75, both methods; in
    the first and the third one class has no ground truth; the second has tied scores."""
    cases = []
    for i in range(4):
        num_images, num_classes = int(rng.integers(2, 9)), int(rng.integers(2, 6))
        absent = int(rng.integers(0, num_classes)) if i % 2 == 0 else None
        scene = _random_scene(rng, num_images, num_classes, absent, quantised=i == 1)
        threshold = float(rng.choice([0.5, 0.75]))
        method = ("all", "11point")[i % 2]
        notes = (", one class without ground truth" if absent is not None else "") + (
            ", scores in steps of 0.2 (ties)" if i == 1 else ""
        )
        cases.append(
            _scene_case(
                f"hidden {i + 1}: {num_images} images, {num_classes} classes, IoU {threshold:g}, "
                f'"{method}"{notes}',
                *scene,
                num_classes,
                iou_threshold=threshold,
                method=method,
            )
        )
    return cases


def _mean_ap(detections, ground_truth, num_classes, iou_threshold=0.5, method="all"):
    """The twin's (map, ap_per_class) on NumPy arguments."""
    tensors = [[tuple(torch.from_numpy(a) for a in entry) for entry in part]
               for part in (detections, ground_truth)]  # fmt: skip
    mean_ap, ap_per_class = reference.mean_average_precision(
        *tensors, num_classes, iou_threshold, method
    )
    return mean_ap, ap_per_class.numpy()


def _class_ap(images, c, iou_threshold, method, agnostic, reordered) -> float:
    """AP of class c over ``images``; ``agnostic``: detections matched against the boxes of
    every class; ``reordered=False``: the tp flags paired with the scores in input order."""
    scores_c, tp_c, num_gt = [np.zeros(0)], [np.zeros(0, dtype=bool)], 0
    for (boxes, scores, labels), (gt_boxes, gt_labels) in images:
        mine, theirs = labels == c, gt_labels == c
        tp, order = _greedy(
            boxes[mine], scores[mine], gt_boxes if agnostic else gt_boxes[theirs], iou_threshold
        )
        scores_c.append(scores[mine][order] if reordered else scores[mine])
        tp_c.append(tp)
        num_gt += int(theirs.sum())
    if not num_gt:
        return math.nan
    ranked = np.argsort(-np.concatenate(scores_c), kind="stable")
    return _area(np.concatenate(tp_c)[ranked], num_gt, method)


def _map_variant(
    detections,
    ground_truth,
    num_classes,
    iou_threshold=0.5,
    method="all",
    *,
    agnostic: bool = False,
    absent: float = math.nan,
    per_image: bool = False,
    reordered: bool = True,
) -> tuple[float, np.ndarray]:
    """``mean_average_precision`` as a mistaken code computes it: ``agnostic`` (classes
    ignored in matching), ``absent`` (the AP of a class without ground truth), ``per_image``
    (the mean of per-image APs), ``reordered=False`` (scores not put in tp's order)."""
    images = list(zip(detections, ground_truth))
    groups = [[image] for image in images] if per_image else [images]
    aps = np.array(
        [
            [
                _class_ap(g, c, iou_threshold, method, agnostic, reordered)
                for c in range(num_classes)
            ]
            for g in groups
        ]
    )  # (groups, C)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ap_per_class = np.nanmean(aps, axis=0)  # (C,), nan where no group has ground truth
    ap_per_class[np.isnan(ap_per_class)] = absent
    present = ~np.isnan(ap_per_class)
    return (float(ap_per_class[present].mean()) if present.any() else math.nan), ap_per_class


MAP_MISTAKES = [
    Mistake(
        "class_agnostic",
        "a detection can only match a ground-truth box of its own class: match each class's "
        "detections against that class's boxes only. (An AP above 1 is a sign: more true "
        "positives than boxes.)",
        lambda *args, **kwargs: _map_variant(*args, **kwargs, agnostic=True),
    ),
    Mistake(
        "absent_classes_zero",
        "a class without ground-truth boxes has no AP (nan) and is left out of the mean; you "
        "counted it as 0.",
        lambda *args, **kwargs: _map_variant(*args, **kwargs, absent=0.0),
    ),
    Mistake(
        "per_image",
        "rank a class's detections of ALL images together by score before computing AP; "
        "averaging per-image APs weighs images, not detections.",
        lambda *args, **kwargs: _map_variant(*args, **kwargs, per_image=True),
    ),
    Mistake(
        "scores_not_reordered",
        "match_detections returns tp in score order (tp[k] is detection order[k]), so pair "
        "it with scores[order], not with the scores in their input order, before ranking "
        "the images' detections together.",
        lambda *args, **kwargs: _map_variant(*args, **kwargs, reordered=False),
    ),
]


def _compare_ap_per_class(got: np.ndarray, expected: np.ndarray) -> float:
    """nan exactly where expected (the classes without ground truth), and the other values
    to float64 precision."""
    if got.shape != expected.shape:
        raise CaseFailure(
            f"ap_per_class has shape {got.shape}, expected {expected.shape}: one AP per class."
        )
    missing = np.isnan(expected)
    wrong = np.flatnonzero(missing != np.isnan(got))
    if wrong.size:
        c = int(wrong[0])
        why = (
            "class {c} has no ground-truth box, so its AP is undefined"
            if missing[c]
            else "class {c} has ground-truth boxes, so its AP is a number"
        ).format(c=c)
        raise CaseFailure(f"ap_per_class[{c}] is {got[c]:.6g}, expected {expected[c]:.6g} ({why}).")
    return compare_arrays(
        np.where(missing, 0.0, got),
        np.where(missing, 0.0, expected),
        what="ap_per_class",
        tol=tolerance_for(got),
    )


def _judge_map(attempt: Attempt, case: Case) -> float:
    """ap_per_class (nan where the twin's is) and then map, each to float64 precision."""
    args, kwargs = case.fresh()
    args = _unwrapped(args)
    mean_ap, ap_per_class = attempt.tuple(attempt.call(args, kwargs), ("map", "ap_per_class"))
    ap_per_class = attempt.array(ap_per_class, "ap_per_class")
    mean_ap = attempt.number(mean_ap, "map")
    expected_map, expected_ap = _mean_ap(*args, **kwargs)
    try:
        error = _compare_ap_per_class(ap_per_class, expected_ap)
        return max(error, _compare_number(mean_ap, expected_map, "map"))
    except CaseFailure as failure:
        args, kwargs = case.fresh()
        hint = _proved(
            MAP_MISTAKES,
            _unwrapped(args),
            (np.asarray(mean_ap), ap_per_class),
            lambda predicted: (np.asarray(predicted[0]), predicted[1]),
            kwargs,
        )
        raise failure.with_hint(hint) from None


MEAN_AVERAGE_PRECISION = Exercise(
    "mean_average_precision",
    args=("detections", "ground_truth", "num_classes"),
    public=_map_cases,
    hidden=_hidden_map_cases,
    judge=_judge_map,
)


@check
def check_mean_average_precision(
    mean_average_precision: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``mean_average_precision(detections, ground_truth, num_classes, iou_threshold=0.5,
    method="all") -> (map, ap_per_class)``: ap_per_class float (C,), nan for the classes
    without ground truth, which map (a float) leaves out of its mean."""
    return MEAN_AVERAGE_PRECISION.run(cases, mean_average_precision)
