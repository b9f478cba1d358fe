"""Checks for notebook 07's segmentation: transposed convolution and the pixel-wise loss.

Each check is an ``Exercise``: its cases, the twin in ``course_utils.reference.detection``
(compared in float64) and the known mistakes (the padding ignored or added, the loss averaged
over the wrong count, ...), run by the engine in ``_engine``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

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
from autograder.checks.losses import LossAndGradient
from course_utils.reference import detection as reference

__all__ = ["check_conv_transpose_forward", "check_pixel_softmax_loss"]


# --- transposed convolution -----------------------------------------------------------------------


def _conv_transpose(x, w, b, conv_param) -> np.ndarray:
    return twin(reference.conv_transpose_forward, x, w, b, conv_param)[0]


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


def _transpose_case(rng, name, n, c, f, h, w, k, stride, pad) -> Case:
    """Images x (n, c, h, w), filters w (c, f, k, k) and biases (f,), drawn in that order."""
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
    # name, then n, c, f, h, w, k, stride, pad
    drawn = [
        ("kernel 4, stride 2, pad 1 doubles 3x3 to 6x6, 2 -> 2 channels", 2, 2, 2, 3, 3, 4, 2, 1),
        ("kernel 3, stride 2, pad 1, 3 -> 3 channels, non-square 3x5", 1, 3, 3, 3, 5, 3, 2, 1),
        ("kernel 3, stride 1, pad 1 keeps 4x4", 2, 2, 4, 4, 4, 3, 1, 1),
        ("kernel 5, stride 3, pad 2", 1, 2, 2, 3, 2, 5, 3, 2),
    ]
    return [
        Case(
            "worked example: 2x2 input, 2x2 ones, stride 2",
            (x, ones, np.zeros(1), {"stride": 2, "pad": 0}),
        ),
        Case(
            "worked example: stride 1 (overlaps add)",
            (x, ones, np.zeros(1), {"stride": 1, "pad": 0}),
        ),
        *(_transpose_case(rng, *sizes) for sizes in drawn),
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
        name = (
            f"hidden {i + 1}: {n} image(s) {c}x{h}x{w}, {f} filters {k}x{k}, stride {stride}, "
            f"pad {pad}"
        )
        cases.append(_transpose_case(rng, name, n, c, f, h, w, k, stride, pad))
    return cases


CONV_TRANSPOSE_FORWARD = Exercise(
    "conv_transpose_forward",
    args=("x", "w", "b", "conv_param"),
    public=_transpose_cases,
    hidden=_hidden_transpose_cases,
    judge=Returns(
        _conv_transpose,
        parts=("out", "cache"),
        compared=("out",),
        mistakes=(
            Mistake(
                "padding_ignored",
                "the padding was ignored: your output is the full scatter, of size (H - 1) * S "
                "+ HH. A transposed convolution REMOVES P rows and columns from every side: "
                "H_out = (H - 1) * S - 2P + HH, out = full[:, :, P:-P, P:-P] (for P > 0).",
                _transpose_pad_ignored,
            ),
            Mistake(
                "padding_added",
                "the padding was added instead of removed: your output is (H - 1) * S + 2P + HH "
                "tall. In a transposed convolution P CROPS the full result: H_out = (H - 1) * S "
                "- 2P + HH.",
                _transpose_pad_added,
            ),
            Mistake(
                "conv_weight_layout",
                "you read w as a convolution's (F, C, HH, WW); a transposed convolution's w has "
                "shape (C_in, F, HH, WW): input channels first, so out channel f uses w[c, f].",
                _transpose_conv_layout,
            ),
            Mistake(
                "no_bias",
                "your output is right except for the bias: add b[f] to every output of channel f.",
                _transpose_no_bias,
            ),
        ),
        layout_hint=False,
    ),
)


@check
def check_conv_transpose_forward(
    conv_transpose_forward: Callable, cases: str = "public"
) -> CheckResult:
    """Check ``conv_transpose_forward(x, w, b, conv_param) -> (out, cache)``: w (C_in, F, HH, WW),
    out (N, F, (H - 1) * S - 2P + HH, (W - 1) * S - 2P + WW), as F.conv_transpose2d."""
    return CONV_TRANSPOSE_FORWARD.run(cases, conv_transpose_forward)


# --- the pixel-wise loss --------------------------------------------------------------------------


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
        loss, grad = twin(reference.pixel_softmax_loss, scores, y)
        return np.asarray(loss) * factor, grad * factor

    return predict


PIXEL_SOFTMAX_LOSS = Exercise(
    "pixel_softmax_loss",
    args=("scores", "y"),
    public=_pixel_cases,
    hidden=_hidden_pixel_cases,
    judge=LossAndGradient(
        partial(twin, reference.pixel_softmax_loss),
        "dscores",
        (
            Mistake(
                "summed",
                "your loss (and gradient) is N * H * W times too large: it is summed over the "
                "pixels. Average over all N * H * W pixels, and divide the gradient by N * H * W "
                "too.",
                _pixel_scaled(lambda y: y.size),
            ),
            Mistake(
                "averaged_over_images",
                "your loss is H * W times too large: you averaged over the N images only. "
                "Average over all N * H * W pixels (as F.cross_entropy does).",
                _pixel_scaled(lambda y: y.shape[1] * y.shape[2]),
            ),
            Mistake(
                "summed_over_images",
                "your loss is N times too large: you averaged over each image's pixels and "
                "summed over the images. Average over all N * H * W pixels.",
                _pixel_scaled(lambda y: y.shape[0]),
            ),
        ),
    ),
)


@check
def check_pixel_softmax_loss(pixel_softmax_loss: Callable, cases: str = "public") -> CheckResult:
    """Check ``pixel_softmax_loss(scores, y) -> (loss, dscores)``: scores (N, C, H, W), labels
    (N, H, W); softmax cross-entropy over axis 1 averaged over all N * H * W pixels."""
    return PIXEL_SOFTMAX_LOSS.run(cases, pixel_softmax_loss)
