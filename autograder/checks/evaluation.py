"""Checks for notebook 07's anchors and detector evaluation: ``generate_anchors``,
``match_detections``, ``average_precision``, ``mean_average_precision``.

Each is an ``Exercise`` of ``_engine``: the notebook's worked examples as public cases, hidden
cases drawn at grading time, the twin in ``course_utils.reference.evaluation``, and the known
mistakes, each named by its identifier (``generate_anchors/ratio_inverted``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.checks._engine import Case, CheckResult, Exercise, Mistake, Returns, check, twin
from course_utils.reference import evaluation as reference

__all__ = ["check_generate_anchors"]


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
