"""Checks for notebook 07's matching of detections to ground truth: ``match_detections``.

An ``Exercise`` of ``_engine``: the notebook's worked example as a public case, hidden cases
drawn at grading time, the twin (greedy matching by descending score on
``course_utils.reference.detection.box_iou``) and the known mistakes, each named by its
identifier (``match_detections/tp_by_detection``).

Its answer, indices and flags, is what ``Returns`` does not compare, so ``_judge_match`` judges
it: both must equal the twin's exactly. On small cases two mistakes can give the same wrong
answer, so a hint is given only when exactly one known mistake explains it (``_proved``, which
``evaluation`` shares).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from autograder.checks._engine import (
    Attempt,
    Case,
    CaseFailure,
    CheckResult,
    Exercise,
    Hint,
    Mistake,
    check,
    describe_answer,
    diagnose,
    twin,
)
from course_utils.reference import detection as detection_reference
from course_utils.reference import evaluation as reference

__all__ = ["check_match_detections"]


# --- match_detections ---------------------------------------------------------------------------

# The notebook's worked example: ground truth G0 and G1, five detections whose best IoUs are
# 90/110, 1, exactly 0.5, 0 and 90/110.
_WORKED_GT = np.array([[0.0, 0, 10, 10], [20, 0, 30, 10]])
_WORKED_BOXES = np.array(
    [[1.0, 0, 11, 10], [0, 0, 10, 10], [20, 0, 30, 5], [40, 0, 50, 10], [21, 0, 31, 10]]
)
_WORKED_SCORES = np.array([0.6, 0.9, 0.8, 0.7, 0.5])


def _random_boxes(rng: np.random.Generator, count: int, extent: float = 100.0) -> np.ndarray:
    """``count`` boxes (count, 4) inside an ``extent``-pixel square, sides 10 to 40 pixels."""
    corner = rng.uniform(0, extent - 40, (count, 2))
    sides = rng.uniform(10, 40, (count, 2))
    return np.concatenate([corner, corner + sides], axis=1)


def _jittered(rng: np.random.Generator, boxes: np.ndarray, sigma: float) -> np.ndarray:
    """Each box with N(0, sigma) pixels added to every coordinate, at least 1 pixel wide."""
    moved = boxes + rng.normal(0, sigma, boxes.shape)
    moved[:, 2:] = np.maximum(moved[:, 2:], moved[:, :2] + 1)
    return moved


def _noisy_detections(
    rng: np.random.Generator, gt_boxes: np.ndarray, max_copies: int, max_strays: int
) -> np.ndarray:
    """What a detector finds: 0 to ``max_copies`` jittered copies of each ground-truth box
    (the second and later ones duplicates) and 0 to ``max_strays`` boxes anywhere, shuffled."""
    copies = rng.integers(0, max_copies + 1, len(gt_boxes))
    found = _jittered(rng, np.repeat(gt_boxes, copies, axis=0), float(rng.uniform(2, 3)))
    strays = _random_boxes(rng, int(rng.integers(0, max_strays + 1)))
    boxes = np.concatenate([found.reshape(-1, 4), strays])
    return boxes[rng.permutation(len(boxes))]


def _match_cases() -> list[Case]:
    # The notebook's worked examples; then the cases that tell the known mistakes apart.
    rng = np.random.default_rng(7007)
    gt4 = _random_boxes(rng, 4)
    noisy = _noisy_detections(rng, gt4, 3, 2)[:12]
    no_boxes = np.zeros((0, 4))
    return [
        Case(
            "worked example at IoU 0.5 (detection 2 has IoU exactly 0.5, which counts)",
            (_WORKED_BOXES, _WORKED_SCORES, _WORKED_GT, 0.5),
        ),
        Case("worked example at IoU 0.75", (_WORKED_BOXES, _WORKED_SCORES, _WORKED_GT, 0.75)),
        Case(
            "the best box decides: three detections overlap ground-truth box 0 best; the "
            "second (IoU 95/105) overlaps box 1 enough too (85/115)",
            (
                np.array([[0.0, 0, 10, 10], [0.5, 0, 10.5, 10], [0, 0, 10, 10]]),
                np.array([0.9, 0.8, 0.7]),
                np.array([[0.0, 0, 10, 10], [2, 0, 12, 10]]),
                0.5,
            ),
        ),
        Case(
            "equal scores keep their input order: three detections scoring 0.7",
            (
                np.array([[50.0, 50, 60, 60], [0, 0, 10, 10], [0, 0, 10, 10]]),
                np.array([0.7, 0.7, 0.7]),
                np.array([[0.0, 0, 10, 10]]),
                0.5,
            ),
        ),
        Case(
            "no ground truth: the worked example's detections, gt_boxes of shape (0, 4)",
            (_WORKED_BOXES, _WORKED_SCORES, no_boxes, 0.5),
        ),
        Case("no detections: boxes (0, 4), scores (0,)", (no_boxes, np.zeros(0), _WORKED_GT, 0.5)),
        Case(
            f"{len(noisy)} noisy detections of 4 ground-truth boxes",
            (noisy, rng.uniform(0, 1, len(noisy)), gt4, 0.5),
        ),
    ]


def _exact_half_case(rng: np.random.Generator, name: str) -> Case:
    """Integer ground-truth boxes of even height; detection 0, the best-scoring one, is the
    top half of box 0, whose IoU with it is exactly 1/2. (First in the input too, so that
    matching in input order, another mistake, gives the right answer here.)"""
    gt_boxes = np.round(_random_boxes(rng, int(rng.integers(1, 4))))
    gt_boxes[:, 3] = gt_boxes[:, 1] + 2 * np.ceil((gt_boxes[:, 3] - gt_boxes[:, 1]) / 2)
    x1, y1, x2, y2 = gt_boxes[0]
    others = _noisy_detections(rng, gt_boxes, 2, 2)[:12]
    boxes = np.concatenate([[[x1, y1, x2, (y1 + y2) / 2]], others])
    scores = np.concatenate([[rng.uniform(0.9, 1.0)], rng.uniform(0, 0.9, len(others))])
    return Case(
        f"{name}: {len(gt_boxes)} ground-truth box(es), {len(boxes)} detections, IoU threshold "
        "0.5; detection 0, the best, is the top half of a box (IoU exactly 0.5)",
        (boxes, scores, gt_boxes, 0.5),
    )


def _hidden_match_cases(rng: np.random.Generator) -> list[Case]:
    """Six images: one without ground truth, one whose scores tie (steps of 0.2), three of up
    to 6 ground-truth boxes and 15 detections (jittered copies and strays) at an IoU threshold
    of 0.3, 0.5 or 0.7, and one whose best detection has IoU exactly 0.5."""
    cases = []
    for i in range(5):
        name = f"hidden {i + 1}"
        threshold = float(rng.choice([0.3, 0.5, 0.7]))
        gt_boxes = _random_boxes(rng, 0 if i == 0 else int(rng.integers(1, 7)))
        if i == 0:
            boxes = _random_boxes(rng, int(rng.integers(1, 7)))
        else:
            boxes = _noisy_detections(rng, gt_boxes, 3, 3)[:15]
        scores = rng.uniform(0, 1, len(boxes))
        note = ""
        if i == 1:
            scores = rng.choice([0.2, 0.4, 0.6, 0.8], len(boxes))
            note = ", scores in steps of 0.2 (ties)"
        cases.append(
            Case(
                f"{name}: {len(gt_boxes)} ground-truth box(es), {len(boxes)} detections, IoU "
                f"threshold {threshold:g}{note}",
                (boxes, scores, gt_boxes, threshold),
            )
        )
    cases.append(_exact_half_case(rng, "hidden 6"))
    return cases


def _matched(boxes, scores, gt_boxes, iou_threshold=0.5) -> tuple[np.ndarray, np.ndarray]:
    """The twin's (tp, order): bool (K,) and int64 (K,)."""
    tp, order = reference.match_detections(
        *(torch.from_numpy(np.array(a, dtype=np.float64)) for a in (boxes, scores, gt_boxes)),
        iou_threshold,
    )
    return tp.numpy(), order.numpy()


def _greedy(
    boxes,
    scores,
    gt_boxes,
    iou_threshold=0.5,
    *,
    in_input_order: bool = False,
    once: bool = True,
    strict: bool = False,
    best_free: bool = False,
    by_detection: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """PASCAL VOC's greedy matching, or a mistaken variant of it: ``(tp, order)``.

    ``in_input_order``: match in the input's order (``order`` is still by score);
    ``once=False``: a matched box can be matched again; ``strict``: IoU > threshold;
    ``best_free``: the best box not yet matched; ``by_detection``: ``tp[d]`` for detection d
    instead of for ``order[k]``.
    """
    order = np.argsort(-scores, kind="stable")
    iou = np.zeros((len(boxes), len(gt_boxes)))
    if len(boxes) and len(gt_boxes):
        iou = twin(detection_reference.box_iou, boxes, gt_boxes)  # (K, G)
    matched = np.zeros(len(gt_boxes), dtype=bool)
    positive = np.zeros(len(boxes), dtype=bool)  # by detection index
    for d in np.arange(len(boxes)) if in_input_order else order:
        if not len(gt_boxes):
            break
        overlaps = np.where(matched, -1.0, iou[d]) if best_free else iou[d]  # (G,)
        g = int(np.argmax(overlaps))
        enough = overlaps[g] > iou_threshold if strict else overlaps[g] >= iou_threshold
        if enough and not (once and matched[g]):
            positive[d] = matched[g] = True
    return (positive if by_detection else positive[order]), order


MATCH_MISTAKES = [
    Mistake(
        "ground_truth_twice",
        "a ground-truth box can be matched only once: a second detection of the same box (a "
        "duplicate) is a false positive. Keep a matched flag per ground-truth box.",
        lambda *args: _greedy(*args, once=False),
    ),
    Mistake(
        "input_order",
        "you matched the detections in the order they came; visit them by decreasing score "
        '(order = np.argsort(-scores, kind="stable")), so the most confident detection of an '
        "object claims it first.",
        lambda *args: _greedy(*args, in_input_order=True),
    ),
    Mistake(
        "strict_threshold",
        "a detection whose IoU EQUALS iou_threshold is a true positive (IoU >= threshold, "
        "PASCAL VOC's rule); you used >.",
        lambda *args: _greedy(*args, strict=True),
    ),
    Mistake(
        "best_free_box",
        "the best box decides: take the ground-truth box of largest IoU among ALL of them; "
        "when it is already matched the detection is a duplicate, a false positive, even if "
        "another, free box overlaps it enough. You chose the best box not yet matched.",
        lambda *args: _greedy(*args, best_free=True),
    ),
    Mistake(
        "tp_by_detection",
        "right verdicts, wrong places: tp[k] is the verdict of detection order[k] (the k-th "
        "best), not of detection k. Fill tp in the order you visit the detections.",
        lambda *args: _greedy(*args, by_detection=True),
    ),
]


UNSTABLE_SORT = Hint(
    "unstable_sort",
    "your order sorts the scores downwards, but equal scores must keep their input order (a "
    "stable sort): np.argsort(scores)[::-1] reverses them, and np.argsort(-scores) without "
    'kind="stable" may shuffle them. Use np.argsort(-scores, kind="stable").',
)
ASCENDING_ORDER = Hint(
    "ascending_order",
    "your order lists the detections by INCREASING score; the best comes first: "
    'np.argsort(-scores, kind="stable").',
)


def _sorted_how(order: np.ndarray, scores: np.ndarray) -> Hint | None:
    """The mistake a wrong order proves by itself: downwards but not stable, or upwards."""
    steps = np.diff(scores[order])
    if np.all(steps <= 0):
        return UNSTABLE_SORT
    if np.all(steps >= 0):
        return ASCENDING_ORDER
    return None


_SHOWN = 16  # index and flag arrays up to this length are shown whole in a diagnosis


def _listed(values: np.ndarray) -> str:
    """``[1, 2, 3, 0, 4]`` (bools as 1 and 0), or the first _SHOWN values and a count."""
    items = [str(int(v)) if v.dtype.kind in "biu" else f"{v:g}" for v in values[:_SHOWN]]
    more = f", ... ({len(values)} in all)" if len(values) > _SHOWN else ""
    return "[" + ", ".join(items) + more + "]"


def _as_order(value: Any, name: str, count: int) -> np.ndarray:
    """``order``: an integer ndarray (count,) holding each of 0, ..., count - 1 once."""
    if type(value) is not np.ndarray:
        raise CaseFailure(
            f"{name} must return order as a numpy.ndarray of int64 indices; it returned "
            f"{describe_answer(value)}."
        )
    if value.dtype.kind not in "iu":
        raise CaseFailure(
            f"order must hold integer indices into boxes; its dtype is {value.dtype}. "
            'np.argsort(-scores, kind="stable") gives int64.'
        )
    if value.shape != (count,):
        raise CaseFailure(f"order has shape {value.shape}, expected ({count},): one per box.")
    if not np.array_equal(np.sort(value), np.arange(count)):
        raise CaseFailure(
            f"order must hold each index 0, ..., {count - 1} exactly once (the detections, "
            f"sorted); it holds {_listed(value)}."
        )
    return value.astype(np.int64)


def _as_flags(value: Any, name: str, count: int) -> np.ndarray:
    """``tp``: an ndarray (count,) of booleans (or of 0 and 1)."""
    if type(value) is not np.ndarray:
        raise CaseFailure(
            f"{name} must return tp as a numpy.ndarray of booleans; it returned "
            f"{describe_answer(value)}."
        )
    if value.shape != (count,):
        raise CaseFailure(f"tp has shape {value.shape}, expected ({count},): one per box.")
    if value.dtype.kind not in "biuf":
        raise CaseFailure(
            f"tp must hold booleans (True for a true positive); its dtype is {value.dtype}."
        )
    if not np.isin(value, (0, 1)).all():
        raise CaseFailure(
            f"tp must hold booleans (True for a true positive); it holds {_listed(value)}."
        )
    return value.astype(bool)


def _compare_order(got: np.ndarray, expected: np.ndarray, scores: np.ndarray) -> None:
    wrong = np.flatnonzero(got != expected)
    if not wrong.size:
        return
    k = int(wrong[0])
    mine, right = int(got[k]), int(expected[k])
    why = (
        "equal scores keep their input order"
        if scores[mine] == scores[right]
        else f"scores {scores[mine]:.3g} and {scores[right]:.3g}"
    )
    raise CaseFailure(
        "order is not the detections by decreasing score:\n"
        f"  expected {_listed(expected)}, got {_listed(got)};\n"
        f"  order[{k}] is {mine}, expected {right} ({why}).",
        _sorted_how(got, scores),
    )


def _compare_flags(got: np.ndarray, expected: np.ndarray, order: np.ndarray) -> None:
    wrong = np.flatnonzero(got != expected)
    if not wrong.size:
        return
    k = int(wrong[0])
    raise CaseFailure(
        f"order is right, but tp differs in {wrong.size} of its {len(got)} flags (1 = true "
        f"positive):\n  expected {_listed(expected)}, got {_listed(got)};\n"
        f"  tp[{k}] (detection {int(order[k])}) is {bool(got[k])}, expected {bool(expected[k])}."
    )


def _proved(
    mistakes: Sequence[Mistake],
    args: tuple,
    got: Any,
    convert: Callable[[Any], Any] | None = None,
    kwargs: dict | None = None,
) -> Hint | None:
    """The hint of the one mistake whose prediction equals ``got``; None when no mistake, or
    more than one, explains it (on a small case two mistakes can give the same answer, and
    then neither is proved)."""
    found = [
        hint
        for mistake in mistakes
        if (hint := diagnose([mistake], args, got, convert, kwargs)) is not None
    ]
    return found[0] if len(found) == 1 else None


def _judge_match(attempt: Attempt, case: Case) -> None:
    """order exactly the twin's, then tp exactly the twin's, as booleans."""
    attempt.unchanged(case)  # it must not change its inputs in place
    tp, order = attempt.tuple(attempt.call_case(case), ("tp", "order"))
    args = case.fresh()[0]
    expected_tp, expected_order = _matched(*args)  # the twin
    got_order = _as_order(order, attempt.name, len(expected_order))  # integer indices
    got_tp = _as_flags(tp, attempt.name, len(expected_tp))  # bool, or 0 and 1
    try:
        _compare_order(got_order, expected_order, args[1])
        _compare_flags(got_tp, expected_tp, got_order)
    except CaseFailure as failure:
        raise failure.with_hint(_proved(MATCH_MISTAKES, args, (got_tp, got_order))) from None


MATCH_DETECTIONS = Exercise(
    "match_detections",
    args=("boxes", "scores", "gt_boxes", "iou_threshold"),
    public=_match_cases,
    hidden=_hidden_match_cases,
    judge=_judge_match,
)


@check
def check_match_detections(match_detections: Callable, cases: str = "public") -> CheckResult:
    """Check ``match_detections(boxes, scores, gt_boxes, iou_threshold) -> (tp, order)``:
    order (int, (K,)) the detections by decreasing score, stably; tp (bool, (K,)) PASCAL VOC's
    greedy verdicts, tp[k] for detection order[k]. Both must equal the twin's exactly."""
    return MATCH_DETECTIONS.run(cases, match_detections)
