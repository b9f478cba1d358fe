"""Checks for notebook 07, detection and segmentation.

Each check calls the student's NumPy function on fresh arrays, compares with the twin in
``course_utils.reference.detection`` (in float64) and, when the answer equals what a known
mistake computes on the same inputs, names the mistake: inclusive pixel coordinates in IoU,
NMS without sorting or with ``>=``, NMS across classes, rows and columns swapped in the grid
encoding, losses averaged over the wrong count, transposed-convolution padding ignored or
added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from autograder.checks import _legacy_rules as _rules
from autograder.checks._compare import (
    Case,
    CaseFailure,
    CheckResult,
    Mistake,
    NotApplicable,
    as_float,
    as_float64_array,
    call_student,
    check_inputs_unchanged,
    compare_arrays,
    describe_answer,
    diagnose,
    expect_tuple,
    run_check,
    select_cases,
    tolerance_for,
)
from autograder.checks._engine import check
from course_utils.reference import detection as reference

__all__ = [
    "check_box_iou",
    "check_nms",
    "check_batched_nms",
    "check_encode_boxes",
    "check_yolo_loss",
    "check_conv_transpose_forward",
    "check_pixel_softmax_loss",
]


# --- shared helpers ------------------------------------------------------------------------------


def _tensor(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    return value


def _twin(twin: Callable, *args: Any) -> Any:
    """Call a reference twin on NumPy arguments; tensors come back as float64 ndarrays."""
    result = twin(*(_tensor(a) for a in args))
    if isinstance(result, tuple):
        return tuple(
            r.detach().cpu().numpy().astype(np.float64) if isinstance(r, torch.Tensor) else r
            for r in result
        )
    return result.detach().cpu().numpy().astype(np.float64)


def _guarded(name: str, impls: Sequence[Callable], run: Callable[..., CheckResult]) -> CheckResult:
    """Refuse banned libraries (torch, course_utils, scipy, ...), then run on guarded versions."""
    _rules.refuse_banned(name, *impls)
    try:
        return run(*(_rules.guard(impl, name) for impl in impls))
    except _rules.BannedCall as banned:
        raise AssertionError(str(banned)) from None


def _display_name(impl: Callable, default: str) -> str:
    name = getattr(impl, "__name__", "")
    return name if name.isidentifier() else default


def _compare(
    got: np.ndarray, expected: np.ndarray, what: str, mistakes: Sequence[Mistake], case: Case
) -> float:
    """compare_arrays, with the hint of a mistake whose prediction equals ``got``."""
    try:
        return compare_arrays(
            got, expected, what=what, tol=tolerance_for(got), swapped_layout_hint=False
        )
    except CaseFailure as failure:
        hint = diagnose(mistakes, case, got, lambda v: np.asarray(v, dtype=np.float64))
        raise CaseFailure(f"{failure}\n  Hint: {hint}" if hint else str(failure)) from None


def _random_boxes(rng: np.random.Generator, k: int, extent: float = 40.0) -> np.ndarray:
    """k boxes (x1, y1, x2, y2) with corners in [0, extent] and sides in [1, extent / 2]."""
    top_left = rng.uniform(0, extent, size=(k, 2))
    sides = rng.uniform(1, extent / 2, size=(k, 2))
    return np.concatenate([top_left, top_left + sides], axis=1)


# --- IoU -----------------------------------------------------------------------------------------

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
        Case("batch: 6 boxes against 4", (_random_boxes(rng, 6), _random_boxes(rng, 4))),
        Case(
            "disjoint boxes diagonally apart",
            (np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[5.0, 5.0, 9.0, 8.0]])),
        ),
        Case("one box against 7 (wide and tall)", (_random_boxes(rng, 1), _random_boxes(rng, 7))),
    ]


def _hidden_iou_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        n, m = (int(v) for v in rng.integers(1, 9, size=2))
        extent = float(rng.uniform(10, 200))
        cases.append(
            Case(
                f"hidden {i + 1}: {n} boxes against {m}",
                (_random_boxes(rng, n, extent), _random_boxes(rng, m, extent)),
            )
        )
    return cases


def _iou_inclusive(boxes1, boxes2):
    return _twin(reference.box_iou, boxes1 + [0, 0, 1, 1], boxes2 + [0, 0, 1, 1])


def _iou_union_with_intersection(boxes1, boxes2):
    iou = _twin(reference.box_iou, boxes1, boxes2)  # inter / union
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


_IOU_MISTAKES = [
    Mistake(
        "your IoU uses inclusive pixel coordinates, width x2 - x1 + 1. These boxes are "
        "continuous (as in torchvision): the width is x2 - x1 and the area (x2 - x1) * (y2 - y1), "
        "with no + 1.",
        _iou_inclusive,
    ),
    Mistake(
        "your union counts the intersection twice: union = area1 + area2 - intersection.",
        _iou_union_with_intersection,
    ),
    Mistake(
        "for boxes that do not overlap, bottom_right - top_left is negative; clip the sides at 0 "
        "(np.clip(..., 0, None)) before multiplying, or two negative sides give a positive area.",
        _iou_unclipped,
    ),
]


@check
def check_box_iou(box_iou: Callable, cases: str = "public") -> CheckResult:
    """Check ``box_iou(boxes1, boxes2) -> (N, M)``: IoU of boxes (x1, y1, x2, y2) in continuous
    coordinates (area (x2 - x1) * (y2 - y1)), as torchvision.ops.box_iou."""
    name = _display_name(box_iou, "box_iou")
    arg_names = ("boxes1", "boxes2")

    def run(impl: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, impl, name, arg_names)
            got = as_float64_array(call_student(impl, case, name).value, name, "iou")
            expected = _twin(reference.box_iou, *case.fresh()[0])
            return _compare(got, expected, "iou", _IOU_MISTAKES, case)

        chosen = select_cases(cases, _iou_cases, _hidden_iou_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=arg_names)

    return _guarded(name, [box_iou], run)


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


def _greedy(boxes, scores, threshold, order, suppress) -> list[int]:
    iou = _twin(reference.box_iou, boxes, boxes)
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
    keep = _twin(reference.nms, boxes, scores, iou_threshold).astype(np.int64)
    return np.sort(keep)


def _nms_greater_equal(boxes, scores, iou_threshold):
    order = np.argsort(-scores, kind="stable")
    return np.array(_greedy(boxes, scores, iou_threshold, order, np.greater_equal), dtype=np.int64)


def _nms_mistakes() -> list[Mistake]:
    return [
        Mistake(
            "you suppressed in the input order. Sort by decreasing score first "
            "(order = np.argsort(-scores)) and always keep the best remaining box: otherwise a "
            "weak box can remove a better one.",
            _nms_input_order,
        ),
        Mistake(
            "you kept the right boxes but returned them in index order; return keep in "
            "decreasing score order (the order in which NMS keeps them).",
            _nms_unordered_output,
        ),
        Mistake(
            "you suppressed boxes whose IoU EQUALS the threshold: remove a box only when its IoU "
            "with a kept box is greater than iou_threshold (>, as torchvision.ops.nms).",
            _nms_greater_equal,
        ),
    ]


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
        Case(
            "the best box comes last, threshold 0.3",
            (chain, np.array([0.5, 0.7, 0.9]), 0.3),
        ),
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


def _check_keep(
    name: str,
    impl: Callable,
    cases: str,
    public: Callable[[], list[Case]],
    hidden: Callable[[np.random.Generator], list[Case]],
    twin: Callable,
    mistakes: list[Mistake],
    arg_names: tuple[str, ...],
) -> CheckResult:
    def run(guarded: Callable) -> CheckResult:
        def evaluate(case: Case) -> None:
            check_inputs_unchanged(case, guarded, name, arg_names)
            got = _as_indices(call_student(guarded, case, name).value, name)
            expected = _twin(twin, *case.fresh()[0]).astype(np.int64)
            if np.array_equal(got, expected):
                return None
            body = f"returned keep = {got.tolist()}, expected {expected.tolist()}."
            hint = diagnose(mistakes, case, got.tolist(), lambda v: np.asarray(v).tolist())
            raise CaseFailure(body + (f"\n  Hint: {hint}" if hint else ""))

        chosen = select_cases(cases, public, hidden, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=arg_names)

    return _guarded(name, [impl], run)


@check
def check_nms(nms: Callable, cases: str = "public") -> CheckResult:
    """Check ``nms(boxes, scores, iou_threshold) -> keep``: int64 indices of the kept boxes in
    decreasing score order; a box is dropped when its IoU with a kept box is > iou_threshold."""
    return _check_keep(
        _display_name(nms, "nms"),
        nms,
        cases,
        _nms_cases,
        _hidden_nms_cases,
        reference.nms,
        _nms_mistakes(),
        ("boxes", "scores", "iou_threshold"),
    )


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
    return _twin(reference.nms, boxes, scores, iou_threshold).astype(np.int64)


def _batched_grouped_by_class(boxes, scores, labels, iou_threshold):
    keep = _twin(reference.batched_nms, boxes, scores, labels, iou_threshold).astype(np.int64)
    return keep[np.argsort(labels[keep], kind="stable")]


@check
def check_batched_nms(batched_nms: Callable, cases: str = "public") -> CheckResult:
    """Check ``batched_nms(boxes, scores, labels, iou_threshold) -> keep``: NMS within each
    class, kept indices (int64) in decreasing score order, as torchvision.ops.batched_nms."""
    mistakes = [
        Mistake(
            "you ran NMS across classes: boxes of different labels suppressed each other. Run "
            "nms separately on the boxes of each label (labels == k) and gather the indices.",
            _nms_across_classes,
        ),
        Mistake(
            "you kept the right boxes but grouped by class; sort the gathered indices by "
            "decreasing score (keep[np.argsort(-scores[keep])]).",
            _batched_grouped_by_class,
        ),
    ]
    return _check_keep(
        _display_name(batched_nms, "batched_nms"),
        batched_nms,
        cases,
        _batched_nms_cases,
        _hidden_batched_nms_cases,
        reference.batched_nms,
        mistakes,
        ("boxes", "scores", "labels", "iou_threshold"),
    )


# --- the grid detector: encoding -----------------------------------------------------------------


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


_ENCODE_MISTAKES = [
    Mistake(
        "rows and columns are swapped: the ROW index comes from y, i = floor(cy / cell), and the "
        "COLUMN from x, j = floor(cx / cell); write target[:, i, j].",
        lambda *args: _encode(*args, swap=True),
    ),
    Mistake(
        "rows and columns are swapped: your values are right but written at target[:, j, i]. "
        "The ROW index comes from y, i = floor(cy / cell), the COLUMN from x; write "
        "target[:, i, j].",
        lambda *args: _encode(*args, written_transposed=True),
    ),
    Mistake(
        "tw and th are the SQUARE ROOTS of the box's width and height over image_size: "
        "sqrt((x2 - x1) / image_size).",
        lambda *args: _encode(*args, no_sqrt=True),
    ),
    Mistake(
        "tx and ty are the centre's position inside its cell, cx / cell - j (in [0, 1]), not "
        "inside the whole image.",
        lambda *args: _encode(*args, image_offsets=True),
    ),
    Mistake(
        "when two centres fall in one cell, the FIRST box in the list keeps it; yours let a "
        "later box overwrite it.",
        lambda *args: _encode(*args, last_wins=True),
    ),
]


def _encode_cases() -> list[Case]:
    rng = np.random.default_rng(704)
    scattered = np.array([[4.0, 4, 28, 20], [40, 8, 60, 30], [10, 40, 26, 62], [34, 36, 50, 50]])
    return [
        Case(
            "worked example: (4, 4, 28, 20) of class 2, 64 pixels, S = 4",
            (np.array([[4.0, 4, 28, 20]]), np.array([2]), 4, 3, 64),
        ),
        Case(
            "4 boxes in different cells",
            (scattered, np.array([0, 1, 2, 1]), 4, 3, 64),
        ),
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
            (_random_boxes(rng, 4, 90.0), rng.integers(0, 5, size=4), 7, 5, 112),
        ),
    ]


def _hidden_encode_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        s = int(rng.integers(2, 8))
        size = s * int(rng.integers(8, 20))
        classes = int(rng.integers(1, 6))
        k = int(rng.integers(1, 6))
        boxes = _random_boxes(rng, k, size * 0.6)
        cases.append(
            Case(
                f"hidden {i + 1}: {k} boxes, S = {s}, {classes} classes, {size} pixels",
                (boxes, rng.integers(0, classes, size=k), s, classes, size),
            )
        )
    return cases


@check
def check_encode_boxes(encode_boxes: Callable, cases: str = "public") -> CheckResult:
    """Check ``encode_boxes(boxes, labels, grid_size, num_classes, image_size) -> target``
    (5 + C, S, S): [tx, ty, tw, th, objectness, one-hot class] in the cell of each centre."""
    name = _display_name(encode_boxes, "encode_boxes")
    arg_names = ("boxes", "labels", "grid_size", "num_classes", "image_size")

    def run(impl: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, impl, name, arg_names)
            got = as_float64_array(call_student(impl, case, name).value, name, "target")
            args = case.fresh()[0]
            expected = _twin(reference.encode_boxes, *args)
            if got.shape == expected.shape[1:] + expected.shape[:1] and got.shape != expected.shape:
                raise CaseFailure(
                    f"target has shape {got.shape}, expected {expected.shape}.\n  Hint: channels "
                    "come first, (5 + C, S, S), like the network's output (N, 5 + C, S, S)."
                )
            return _compare(got, expected, "target", _ENCODE_MISTAKES, case)

        chosen = select_cases(cases, _encode_cases, _hidden_encode_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=arg_names)

    return _guarded(name, [encode_boxes], run)


# --- losses: the grid detector's and the pixel-wise one --------------------------------------------


def _check_loss(
    name: str,
    impl: Callable,
    cases: str,
    public: Callable[[], list[Case]],
    hidden: Callable[[np.random.Generator], list[Case]],
    twin: Callable,
    arg_names: tuple[str, ...],
    grad_name: str,
    mistakes: list[tuple[str, Callable]],
) -> CheckResult:
    """A loss returns (loss, grad). ``mistakes`` are (hint, predict -> (loss, grad)) pairs; a
    hint is given when the student's loss, or their gradient, equals the prediction's."""
    loss_mistakes = [Mistake(h, lambda *a, p=p: np.asarray(p(*a)[0])) for h, p in mistakes]
    grad_mistakes = [Mistake(h, lambda *a, p=p: p(*a)[1]) for h, p in mistakes]

    def run(guarded: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, guarded, name, arg_names)
            value = call_student(guarded, case, name).value
            loss, grad = expect_tuple(value, name, ("loss", grad_name))
            loss = np.asarray(as_float(loss, name, "the loss"))
            grad = as_float64_array(grad, name, grad_name)
            expected_loss, expected_grad = _twin(twin, *case.fresh()[0])
            error = _compare(loss, np.asarray(expected_loss), "loss", loss_mistakes, case)
            return max(error, _compare(grad, expected_grad, grad_name, grad_mistakes, case))

        chosen = select_cases(cases, public, hidden, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=arg_names)

    return _guarded(name, [impl], run)


def _yolo_numpy(pred, target, lambda_coord=5.0, lambda_noobj=0.5, **mistake):
    """yolo_loss in NumPy (autograd-free), with switches that reproduce known mistakes."""
    n, _, s, _ = pred.shape
    obj = target[:, 4]
    noobj_weight = 1.0 if mistake.get("no_lambda_noobj") else lambda_noobj
    weight = obj + noobj_weight * (1 - obj)
    where = np.ones_like(obj) if mistake.get("coords_everywhere") else obj
    cls_where = np.ones_like(obj) if mistake.get("class_everywhere") else obj
    p = torch.from_numpy(np.array(pred, copy=True)).requires_grad_(True)
    t = torch.from_numpy(np.array(target, copy=True))
    xy = p[:, 0:2] if mistake.get("no_sigmoid") else torch.sigmoid(p[:, 0:2])
    w = torch.from_numpy(where)[:, None]
    coords = (w * (xy - t[:, 0:2]) ** 2).sum() + (w * (p[:, 2:4] - t[:, 2:4]) ** 2).sum()
    z = p[:, 4]
    bce = z.clamp(min=0) - z * t[:, 4] + torch.log1p(torch.exp(-z.abs()))
    classes = -(
        torch.from_numpy(cls_where)[:, None] * t[:, 5:] * torch.log_softmax(p[:, 5:], dim=1)
    ).sum()
    divisor = n * s * s if mistake.get("per_cell") else n
    loss = (lambda_coord * coords + (torch.from_numpy(weight) * bce).sum() + classes) / divisor
    loss.backward()
    return loss.item(), p.grad.numpy()


def _yolo_mistake(switch: str, applies: Callable[..., bool] = lambda *a: True) -> Callable:
    def predict(*args):
        if not applies(*args):
            raise NotApplicable
        return _yolo_numpy(*args, **{switch: True})

    return predict


def _yolo_case(rng: np.random.Generator, n: int, s: int, c: int, size: int, scale: float = 2.0):
    targets = []
    for _ in range(n):
        k = int(rng.integers(1, s * s // 2 + 2))
        boxes = _random_boxes(rng, k, size * 0.7)
        labels = rng.integers(0, c, size=k)
        targets.append(_twin(reference.encode_boxes, boxes, labels, s, c, size))
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


@check
def check_yolo_loss(yolo_loss: Callable, cases: str = "public") -> CheckResult:
    """Check ``yolo_loss(pred, target, lambda_coord=5.0, lambda_noobj=0.5) -> (loss, dpred)``:
    position (sigmoid), scale, objectness (BCE, no-object cells weighted lambda_noobj) and class
    (softmax cross-entropy) terms, summed over cells and averaged over the N images."""
    mistakes = [
        (
            "your loss is averaged over every cell (N * S * S); YOLO sums over the cells and "
            "averages over the N images only: divide by N.",
            _yolo_mistake("per_cell"),
        ),
        (
            "the cells without an object are not down-weighted: multiply their objectness loss by "
            "lambda_noobj (the weight is obj + lambda_noobj * (1 - obj)).",
            _yolo_mistake("no_lambda_noobj"),
        ),
        (
            "the position and scale terms count in every cell; only the cells responsible for a "
            "box (obj = target[:, 4] == 1) have a box to match: multiply them by obj.",
            _yolo_mistake("coords_everywhere"),
        ),
        (
            "the class term counts in every cell; only cells with an object have a class: "
            "multiply the cross-entropy by obj.",
            _yolo_mistake("class_everywhere"),
        ),
        (
            "the position terms compare the raw outputs p0, p1 with tx, ty; pass them through the "
            "sigmoid first, (sigmoid(p0) - tx)^2, and remember sigmoid' = s (1 - s) in dpred.",
            _yolo_mistake("no_sigmoid"),
        ),
    ]
    return _check_loss(
        _display_name(yolo_loss, "yolo_loss"),
        yolo_loss,
        cases,
        _yolo_cases,
        _hidden_yolo_cases,
        reference.yolo_loss,
        ("pred", "target", "lambda_coord", "lambda_noobj"),
        "dpred",
        mistakes,
    )


def _pixel_cases() -> list[Case]:
    rng = np.random.default_rng(706)

    def case(name, n, c, h, w, scale=2.0):
        scores = rng.standard_normal((n, c, h, w)) * scale
        return Case(name, (scores, rng.integers(0, c, size=(n, h, w))))

    return [
        case("2 images, 3 classes, 4x5 pixels", 2, 3, 4, 5),
        case("1 image, 4 classes, 3x3 pixels", 1, 4, 3, 3),
        case("3 images, 2 classes, 2x6 pixels", 3, 2, 2, 6),
        case("scores of size ~1000 (subtract the maximum)", 2, 3, 3, 2, scale=1000.0),
    ]


def _hidden_pixel_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        n, c = int(rng.integers(1, 4)), int(rng.integers(2, 6))
        h, w = (int(v) for v in rng.integers(1, 7, size=2))
        scores = rng.standard_normal((n, c, h, w)) * (3.0 if i else 500.0)
        cases.append(
            Case(
                f"hidden {i + 1}: {n} image(s), {c} classes, {h}x{w} pixels",
                (scores, rng.integers(0, c, size=(n, h, w))),
            )
        )
    return cases


def _pixel_scaled(by: Callable[[np.ndarray], int]) -> Callable:
    def predict(scores, y):
        factor = by(y)
        if factor == 1:
            raise NotApplicable
        loss, grad = _twin(reference.pixel_softmax_loss, scores, y)
        return np.asarray(loss) * factor, grad * factor

    return predict


@check
def check_pixel_softmax_loss(pixel_softmax_loss: Callable, cases: str = "public") -> CheckResult:
    """Check ``pixel_softmax_loss(scores, y) -> (loss, dscores)``: scores (N, C, H, W), labels
    (N, H, W); softmax cross-entropy over axis 1 averaged over all N * H * W pixels."""
    mistakes = [
        (
            "your loss (and gradient) is N * H * W times too large: it is summed over the pixels. "
            "Average over all N * H * W pixels, and divide the gradient by N * H * W too.",
            _pixel_scaled(lambda y: y.size),
        ),
        (
            "your loss is H * W times too large: you averaged over the N images only. Average "
            "over all N * H * W pixels (as F.cross_entropy does).",
            _pixel_scaled(lambda y: y.shape[1] * y.shape[2]),
        ),
        (
            "your loss is N times too large: you averaged over each image's pixels and summed "
            "over the images. Average over all N * H * W pixels.",
            _pixel_scaled(lambda y: y.shape[0]),
        ),
    ]
    return _check_loss(
        _display_name(pixel_softmax_loss, "pixel_softmax_loss"),
        pixel_softmax_loss,
        cases,
        _pixel_cases,
        _hidden_pixel_cases,
        reference.pixel_softmax_loss,
        ("scores", "y"),
        "dscores",
        mistakes,
    )


# --- transposed convolution ----------------------------------------------------------------------


def _conv_transpose(x, w, b, conv_param) -> np.ndarray:
    return _twin(reference.conv_transpose_forward, x, w, b, conv_param)[0]


def _transpose_pad_ignored(x, w, b, conv_param):
    if conv_param["pad"] == 0:
        raise NotApplicable
    return _conv_transpose(x, w, b, {"stride": conv_param["stride"], "pad": 0})


def _transpose_pad_added(x, w, b, conv_param):
    pad = conv_param["pad"]
    if pad == 0:
        raise NotApplicable
    full = _conv_transpose(x, w, np.zeros_like(b), {"stride": conv_param["stride"], "pad": 0})
    padded = np.pad(full, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return padded + b.reshape(1, -1, 1, 1)


def _transpose_conv_layout(x, w, b, conv_param):
    if w.shape[0] != w.shape[1]:
        raise NotApplicable
    return _conv_transpose(x, w.transpose(1, 0, 2, 3).copy(), b, conv_param)


def _transpose_no_bias(x, w, b, conv_param):
    if not np.any(b):
        raise NotApplicable
    return _conv_transpose(x, w, np.zeros_like(b), conv_param)


_TRANSPOSE_MISTAKES = [
    Mistake(
        "the padding was ignored: your output is the full scatter, of size (H - 1) * S + HH. "
        "A transposed convolution REMOVES P rows and columns from every side: "
        "H_out = (H - 1) * S - 2P + HH, out = full[:, :, P:-P, P:-P] (for P > 0).",
        _transpose_pad_ignored,
    ),
    Mistake(
        "the padding was added instead of removed: your output is (H - 1) * S + 2P + HH tall. "
        "In a transposed convolution P CROPS the full result: H_out = (H - 1) * S - 2P + HH.",
        _transpose_pad_added,
    ),
    Mistake(
        "you read w as a convolution's (F, C, HH, WW); a transposed convolution's w has shape "
        "(C_in, F, HH, WW): input channels first, so out channel f uses w[c, f].",
        _transpose_conv_layout,
    ),
    Mistake(
        "your output is right except for the bias: add b[f] to every output of channel f.",
        _transpose_no_bias,
    ),
]


def _transpose_case(rng, name, n, c, f, h, w, k, stride, pad) -> Case:
    return Case(
        name,
        (
            rng.standard_normal((n, c, h, w)),
            rng.standard_normal((c, f, k, k)),
            rng.standard_normal(f),
            {"stride": stride, "pad": pad},
        ),
    )


def _transpose_cases() -> list[Case]:
    rng = np.random.default_rng(707)
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    ones = np.ones((1, 1, 2, 2))
    return [
        Case(
            "worked example: 2x2 input, 2x2 ones, stride 2",
            (x, ones, np.zeros(1), {"stride": 2, "pad": 0}),
        ),
        Case(
            "worked example: stride 1 (overlaps add)",
            (x, ones, np.zeros(1), {"stride": 1, "pad": 0}),
        ),
        _transpose_case(
            rng,
            "kernel 4, stride 2, pad 1 doubles 3x3 to 6x6, 2 -> 2 channels",
            2,
            2,
            2,
            3,
            3,
            4,
            2,
            1,
        ),
        _transpose_case(
            rng,
            "kernel 3, stride 2, pad 1, 3 -> 3 channels, non-square 3x5",
            1,
            3,
            3,
            3,
            5,
            3,
            2,
            1,
        ),
        _transpose_case(rng, "kernel 3, stride 1, pad 1 keeps 4x4", 2, 2, 4, 4, 4, 3, 1, 1),
        _transpose_case(rng, "kernel 5, stride 3, pad 2", 1, 2, 2, 3, 2, 5, 3, 2),
    ]


def _hidden_transpose_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(6):
        while True:
            k, stride, pad = (
                int(rng.integers(1, 6)),
                int(rng.integers(1, 4)),
                int(rng.integers(0, 3)),
            )
            h, w = (int(v) for v in rng.integers(1, 6, size=2))
            if i == 1 and pad == 0:
                continue  # at least one padded case, so a forgotten padding always shows
            if min(h, w) - 1 >= 0 and (min(h, w) - 1) * stride - 2 * pad + k >= 1:
                break
        n = 1 if i == 0 else int(rng.integers(1, 4))
        c, f = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        cases.append(
            _transpose_case(
                rng,
                f"hidden {i + 1}: {n} image(s) {c}x{h}x{w}, {f} filters {k}x{k}, stride "
                f"{stride}, pad {pad}",
                n,
                c,
                f,
                h,
                w,
                k,
                stride,
                pad,
            )
        )
    return cases


@check
def check_conv_transpose_forward(
    conv_transpose_forward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``conv_transpose_forward(x, w, b, conv_param) -> (out, cache)``: w (C_in, F, HH, WW),
    out (N, F, (H - 1) * S - 2P + HH, (W - 1) * S - 2P + WW), as F.conv_transpose2d."""
    name = _display_name(conv_transpose_forward, "conv_transpose_forward")
    arg_names = ("x", "w", "b", "conv_param")

    def run(impl: Callable) -> CheckResult:
        def evaluate(case: Case) -> float:
            check_inputs_unchanged(case, impl, name, arg_names)
            out, _ = expect_tuple(call_student(impl, case, name).value, name, ("out", "cache"))
            got = as_float64_array(out, name, "out")
            expected = _conv_transpose(*case.fresh()[0])
            return _compare(got, expected, "out", _TRANSPOSE_MISTAKES, case)

        chosen = select_cases(cases, _transpose_cases, _hidden_transpose_cases, name)
        return run_check(name, chosen, evaluate, kind=cases, arg_names=arg_names)

    return _guarded(name, [conv_transpose_forward], run)
