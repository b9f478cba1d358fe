"""Checks for notebook 06's deterministic augmentations: NumPy functions on one image (C, H, W).

``translate``, ``bilinear_sample``, ``rotate_scale`` and ``adjust_intensity`` are compared with
their twins in ``course_utils.augment`` (which sample with ``torch.nn.functional.grid_sample``),
and a wrong answer is explained by the known mistake that computes it (``Returns``). The random
augmentations, judged by what must hold whatever the random numbers, are in
``random_augment``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.checks._engine import (
    Case,
    CheckResult,
    Exercise,
    Mistake,
    NotApplicable,
    Returns,
    check,
    twin,
)
from course_utils import augment as reference

__all__ = [
    "check_translate",
    "check_bilinear_sample",
    "check_rotate_scale",
    "check_adjust_intensity",
]


def _image(rng: np.random.Generator, c: int, h: int, w: int) -> np.ndarray:
    return rng.random((c, h, w))


def _compared(
    name: str,
    args: tuple[str, ...],
    public: Callable[[], list[Case]],
    hidden: Callable[[np.random.Generator], list[Case]],
    function: Callable,
    *mistakes: Mistake,
) -> Exercise:
    """The exercise of a deterministic function: its answer compared with ``function``'s
    (the twin in ``course_utils.augment``), a wrong one explained by one of ``mistakes``."""
    return Exercise(
        name,
        args=args,
        public=public,
        hidden=hidden,
        judge=Returns(lambda *case_args: twin(function, *case_args), mistakes=mistakes),
    )


# --- translate -----------------------------------------------------------------------------------


def _translate_cases() -> list[Case]:
    rng = np.random.default_rng(602)
    x = _image(rng, 2, 6, 7)
    return [
        Case("down 2, right 3", (x, 2, 3)),
        Case("up 1, right 4", (x, -1, 4)),
        Case("left 5 only", (x, 0, -5)),
        Case("no shift", (x, 0, 0)),
        Case("a shift larger than the image (only zeros)", (x, 6, 0)),
        Case("RGB 3x5x9, up 2, left 1", (_image(rng, 3, 5, 9), -2, -1)),
    ]


def _hidden_translate_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(6):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(3, 12)), int(rng.integers(3, 12))
        dy, dx = int(rng.integers(-h + 1, h)), int(rng.integers(-w + 1, w))
        cases.append(Case(f"hidden {i + 1}: shift ({dy}, {dx})", (_image(rng, c, h, w), dy, dx)))
    return cases


def _translate_rolled(x, dy, dx):
    if dy == 0 and dx == 0:
        raise NotApplicable
    return np.roll(x, (dy, dx), axis=(1, 2))


def _translate_swapped(x, dy, dx):
    if dy == dx or abs(dx) >= x.shape[1] or abs(dy) >= x.shape[2]:
        raise NotApplicable
    return twin(reference.translate, x, dx, dy)


def _translate_reversed(x, dy, dx):
    if dy == 0 and dx == 0:
        raise NotApplicable
    return twin(reference.translate, x, -dy, -dx)


TRANSLATE = _compared(
    "translate",
    ("x", "dy", "dx"),
    _translate_cases,
    _hidden_translate_cases,
    reference.translate,
    Mistake(
        "rolls",
        "your output wraps around: what leaves on one side comes back on the other "
        "(np.roll). A camera that moves sees new, unknown pixels at the border: fill "
        "them with zeros.",
        _translate_rolled,
    ),
    Mistake(
        "swapped",
        "you swapped dy and dx: dy counts rows (axis 1), dx columns (axis 2).",
        _translate_swapped,
    ),
    Mistake(
        "reversed",
        "you moved the content the other way: out[c, i, j] = x[c, i - dy, j - dx], so a "
        "positive dy moves the content DOWN.",
        _translate_reversed,
    ),
)


@check
def check_translate(translate: Callable, cases: str = "public") -> CheckResult:
    """Check ``translate(x, dy, dx)``: content moved down dy and right dx, zeros coming in."""
    return TRANSLATE.run(cases, translate)


# --- bilinear_sample -----------------------------------------------------------------------------


def _bilinear_cases() -> list[Case]:
    rng = np.random.default_rng(603)
    x = np.arange(12.0).reshape(1, 3, 4)  # x[0, r, c] = 4r + c
    ys_grid, xs_grid = np.meshgrid(np.arange(3.0), np.arange(4.0), indexing="ij")
    return [
        Case("integer positions give the pixels back", (x, ys_grid, xs_grid)),
        Case(
            "half-way points: 4r + c is linear, so bilinear is exact",
            (x, np.array([[0.5, 1.5, 0.25]]), np.array([[0.5, 2.5, 1.75]])),
        ),
        Case(
            "points near and beyond the border (pixels outside count as 0)",
            (x, np.array([[-0.5, 2.5, 1.0, -3.0]]), np.array([[1.0, 3.0, 3.5, 0.0]])),
        ),
        Case(
            "RGB 3x5x6 read at 4x7 random points",
            (_image(rng, 3, 5, 6), rng.uniform(-1, 5, (4, 7)), rng.uniform(-1, 6, (4, 7))),
        ),
    ]


def _hidden_bilinear_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(2, 10)), int(rng.integers(2, 10))
        ho, wo = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        ys = rng.uniform(-1.5, h + 0.5, (ho, wo))
        xs = rng.uniform(-1.5, w + 0.5, (ho, wo))
        cases.append(Case(f"hidden {i + 1}", (_image(rng, c, h, w), ys, xs)))
    return cases


def _bilinear_swapped(x, ys, xs):
    if np.allclose(ys, xs):
        raise NotApplicable
    return twin(reference.bilinear_sample, x, xs, ys)


def _bilinear_nearest(x, ys, xs):
    if np.allclose(ys, np.round(ys)) and np.allclose(xs, np.round(xs)):
        raise NotApplicable
    return twin(reference.bilinear_sample, x, np.round(ys), np.round(xs))


def _bilinear_floor(x, ys, xs):
    if np.allclose(ys, np.floor(ys)) and np.allclose(xs, np.floor(xs)):
        raise NotApplicable
    return twin(reference.bilinear_sample, x, np.floor(ys), np.floor(xs))


def _bilinear_border(x, ys, xs):
    h, w = x.shape[1:]
    if np.all((ys >= 0) & (ys <= h - 1) & (xs >= 0) & (xs <= w - 1)):
        raise NotApplicable
    return twin(reference.bilinear_sample, x, np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1))


BILINEAR_SAMPLE = _compared(
    "bilinear_sample",
    ("x", "ys", "xs"),
    _bilinear_cases,
    _hidden_bilinear_cases,
    reference.bilinear_sample,
    Mistake(
        "swapped",
        "you swapped ys and xs: ys are rows (axis 1 of x), xs columns (axis 2).",
        _bilinear_swapped,
    ),
    Mistake(
        "nearest",
        "you took the nearest pixel (rounding). Bilinear interpolation blends the four "
        "surrounding pixels with the weights (1 - wy)(1 - wx), (1 - wy) wx, wy (1 - wx), "
        "wy wx.",
        _bilinear_nearest,
    ),
    Mistake(
        "floor",
        "you read only the top-left pixel x[c, floor(y), floor(x)]: blend it with its "
        "three neighbours, weighted by how close the point is to each.",
        _bilinear_floor,
    ),
    Mistake(
        "clamped",
        "you clamped the positions to the image, which repeats the border pixels; here a "
        "pixel outside the image counts as 0 (a neighbour that does not exist "
        "contributes nothing).",
        _bilinear_border,
    ),
)


@check
def check_bilinear_sample(bilinear_sample: Callable, cases: str = "public") -> CheckResult:
    """Check ``bilinear_sample(x, ys, xs) -> (C, H_out, W_out)`` against ``grid_sample``."""
    return BILINEAR_SAMPLE.run(cases, bilinear_sample)


# --- rotate_scale --------------------------------------------------------------------------------


def _rotate_cases() -> list[Case]:
    rng = np.random.default_rng(604)
    x = _image(rng, 3, 7, 7)
    return [
        Case("90 degrees, scale 1", (x, 90.0, 1.0)),
        Case("30 degrees, scale 1", (x, 30.0, 1.0)),
        Case("no rotation, scale 2 (zoom in)", (x, 0.0, 2.0)),
        Case("-20 degrees, scale 0.8, non-square 2x6x9", (_image(rng, 2, 6, 9), -20.0, 0.8)),
    ]


def _hidden_rotate_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(4):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(3, 12)), int(rng.integers(3, 12))
        degrees, scale = float(rng.uniform(-180, 180)), float(rng.uniform(0.5, 2.0))
        cases.append(
            Case(
                f"hidden {i + 1}: {degrees:.1f} degrees, scale {scale:.2f}",
                (_image(rng, c, h, w), degrees, scale),
            )
        )
    return cases


def _rotate_clockwise(x, degrees, scale=1.0):
    if degrees % 180 == 0:
        raise NotApplicable
    return twin(reference.rotate_scale, x, -degrees, scale)


def _rotate_scale_inverted(x, degrees, scale=1.0):
    if scale == 1:
        raise NotApplicable
    return twin(reference.rotate_scale, x, degrees, 1 / scale)


def _rotate_about_corner(x, degrees, scale=1.0):
    h, w = x.shape[1:]
    v, u = np.meshgrid(np.arange(h, dtype=float), np.arange(w, dtype=float), indexing="ij")
    t = np.deg2rad(degrees)
    xs = (np.cos(t) * u - np.sin(t) * v) / scale
    ys = (np.sin(t) * u + np.cos(t) * v) / scale
    return twin(reference.bilinear_sample, x, ys, xs)


def _rotate_radians(x, degrees, scale=1.0):
    if degrees == 0:
        raise NotApplicable
    return twin(reference.rotate_scale, x, float(np.rad2deg(degrees)), scale)


ROTATE_SCALE = _compared(
    "rotate_scale",
    ("x", "degrees", "scale"),
    _rotate_cases,
    _hidden_rotate_cases,
    reference.rotate_scale,
    Mistake(
        "clockwise",
        "your image turns clockwise. Rows grow downwards, so with v down and u right the "
        "input is read at xs = cx + (cos t u - sin t v) / scale, ys = cy + (sin t u + "
        "cos t v) / scale.",
        _rotate_clockwise,
    ),
    Mistake(
        "multiplies_scale",
        "you multiplied by scale where the formula divides: we work backwards from the "
        "output, so to show the image twice as large each output pixel reads half as "
        "far from the centre.",
        _rotate_scale_inverted,
    ),
    Mistake(
        "about_corner",
        "you rotated about the top-left corner (0, 0): subtract the centre ((H - 1) / 2, "
        "(W - 1) / 2) before rotating and add it back after.",
        _rotate_about_corner,
    ),
    Mistake(
        "degrees_as_radians",
        "you passed degrees to np.cos and np.sin, which expect radians: use np.deg2rad(degrees).",
        _rotate_radians,
    ),
)


@check
def check_rotate_scale(rotate_scale: Callable, cases: str = "public") -> CheckResult:
    """Check ``rotate_scale(x, degrees, scale=1.0)``: counter-clockwise about the centre."""
    return ROTATE_SCALE.run(cases, rotate_scale)


# --- adjust_intensity ----------------------------------------------------------------------------


def _intensity_cases() -> list[Case]:
    rng = np.random.default_rng(606)
    x = 0.2 + 0.6 * _image(rng, 3, 5, 6)
    return [
        Case("contrast 1.5, brightness 0", (x, 1.5, 0.0)),
        Case("contrast 0.5, brightness 0.1", (x, 0.5, 0.1)),
        Case("contrast 1, brightness -0.3", (x, 1.0, -0.3)),
        Case("strong contrast 3 (clipped at 0 and 1)", (x, 3.0, 0.05)),
        Case("grey image 1x4x4, contrast 2, brightness 0.2", (_image(rng, 1, 4, 4), 2.0, 0.2)),
    ]


def _hidden_intensity_cases(rng: np.random.Generator) -> list[Case]:
    cases = []
    for i in range(5):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(2, 9)), int(rng.integers(2, 9))
        contrast, brightness = float(rng.uniform(0, 3)), float(rng.uniform(-0.4, 0.4))
        cases.append(Case(f"hidden {i + 1}", (_image(rng, c, h, w), contrast, brightness)))
    return cases


def _intensity_about_zero(x, contrast, brightness):
    if contrast == 1:
        raise NotApplicable
    return np.clip(x * contrast + brightness, 0, 1)


def _intensity_unclipped(x, contrast, brightness):
    out = (x - x.mean()) * contrast + x.mean() + brightness
    if np.all((out >= 0) & (out <= 1)):
        raise NotApplicable
    return out


def _intensity_channel_mean(x, contrast, brightness):
    if x.shape[0] == 1 or contrast == 1:
        raise NotApplicable
    m = x.mean(axis=(1, 2), keepdims=True)
    return np.clip((x - m) * contrast + m + brightness, 0, 1)


ADJUST_INTENSITY = _compared(
    "adjust_intensity",
    ("x", "contrast", "brightness"),
    _intensity_cases,
    _hidden_intensity_cases,
    reference.adjust_intensity,
    Mistake(
        "about_zero",
        "you scaled the pixel values about 0 (x * contrast), which also darkens or "
        "brightens the image. Contrast stretches about the mean: (x - m) * contrast + m.",
        _intensity_about_zero,
    ),
    Mistake(
        "unclipped",
        "some values are outside [0, 1]: clip the result (np.clip(..., 0, 1)).",
        _intensity_unclipped,
    ),
    Mistake(
        "channel_mean",
        "you used one mean per channel, which changes the colours; m is the mean of the "
        "whole image, one number (x.mean()).",
        _intensity_channel_mean,
    ),
)


@check
def check_adjust_intensity(adjust_intensity: Callable, cases: str = "public") -> CheckResult:
    """Check ``adjust_intensity(x, contrast, brightness)``: about the mean, then clipped."""
    return ADJUST_INTENSITY.run(cases, adjust_intensity)
